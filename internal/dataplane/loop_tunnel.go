//go:build unix

package dataplane

import (
	"syscall"

	"github.com/alba-lb/alba/internal/poller"
)

// evTunneler is a front that can carry the bytes of a switched protocol
// (WebSocket) after a 101: an HTTP/1 connection. HTTP/2 has no upgrades.
type evTunneler interface {
	// switched takes the target's 101, whose head is the first headEnd
	// bytes of the target connection's buffer.
	switched(r *responseHead, headEnd int)
	// tunnel moves what either side has to the other.
	tunnel()
}

// tunnel is the state of an upgraded connection: each direction is open
// until its sender ends it and everything it sent has been passed on.
type tunnel struct {
	up, down       bool // client → target, target → client still open
	upEnd, downEnd bool // the client, the target, has ended its stream
}

// switched relays the 101 and turns the connection into a tunnel.
func (c *evConn) switched(r *responseHead, headEnd int) {
	if c.upOpen {
		// The target switched before the request body was all sent: what
		// follows cannot be told apart from the tunnel's bytes.
		c.endAttempt(false)
		c.fail(502)
		return
	}
	if !c.noReplay {
		c.rb.consume(c.headLen + int(max(c.req.flags.contentLength, 0)))
	}
	c.out = appendResponseHead(c.out, r, frameNone, true, false, nil)
	if c.bc != nil {
		c.bc.buf.consume(headEnd)
	}
	c.state = stTunnel
	c.shared = true
	c.tun = tunnel{up: true, down: true}
	c.cliKeep = false
	c.tunnel()
}

// tunnel moves bytes both ways as each side allows: what one side sends
// is read only once the other has taken what came before. An end of
// stream is passed on as a half close (a TLS close_notify to the client),
// and the connection closes once both directions have ended. The idle
// timeout counts from the last byte moved either way.
func (c *evConn) tunnel() {
	for c.state == stTunnel {
		moved := false
		if c.tun.down {
			if b := c.fromTarget(); len(b) > 0 && c.room() > 0 {
				k := min(len(b), c.room())
				c.out = append(c.out, b[:k]...)
				c.tookFromTarget(k)
				moved = true
			}
			flushed := c.flush()
			if c.state != stTunnel {
				return // the client went away
			}
			if flushed && len(c.fromTarget()) == 0 {
				if !c.tun.downEnd {
					n, eof, err := c.readTarget()
					if err != nil {
						c.close()
						return
					}
					moved = moved || n > 0
					c.tun.downEnd = eof
				}
				if c.tun.downEnd && c.closeWriteClient() {
					c.tun.down = false
				}
				if c.state != stTunnel {
					return
				}
			}
		}
		if c.tun.up {
			for c.rb.buffered() > 0 {
				n, err := c.toTarget(c.rb.bytes())
				if err != nil {
					c.close()
					return
				}
				if n == 0 {
					break // the target's turn
				}
				c.rb.consume(n)
				moved = true
			}
			if c.rb.buffered() == 0 {
				if !c.tun.upEnd {
					n, ok := c.read()
					c.rb.advance(n)
					moved = moved || n > 0
					c.tun.upEnd = !ok
				}
				if c.tun.upEnd && c.rb.buffered() == 0 {
					c.endToTarget()
					c.tun.up = false
				}
			}
		}
		if !c.tun.up && !c.tun.down {
			c.endAttempt(true)
			c.close()
			return
		}
		if !moved {
			return
		}
		c.deadline = c.lp.now.Add(c.idleTimeout())
	}
}

// The target side of a tunnel: the loop's own socket to the target, or an
// async attempt (TLS to the target), whose goroutine posts what the target
// sends as chunks and writes what the client sends from a pipe.

// fromTarget is what the target sent that the client has not taken.
func (c *evConn) fromTarget() []byte {
	if c.async != nil {
		return c.async.chunk
	}
	return c.bc.buf.bytes()
}

// tookFromTarget: the client side took the first n bytes of fromTarget.
func (c *evConn) tookFromTarget(n int) {
	if c.async != nil {
		c.async.chunk = c.async.chunk[n:]
		return
	}
	c.bc.buf.consume(n)
}

// readTarget gets more of what the target sends: n bytes, or the end of
// its stream. An async attempt's goroutine is let go for its next chunk,
// which comes back through asyncBody.
func (c *evConn) readTarget() (n int, eof bool, err error) {
	a := c.async
	if a == nil {
		return c.bc.read()
	}
	if a.eof || a.broken {
		return 0, true, nil
	}
	if !a.taken {
		a.taken = true
		select {
		case a.next <- struct{}{}:
		default:
		}
	}
	return 0, false, nil
}

// toTarget sends what it can of b to the target: n bytes, 0 when the
// target must take what it has first.
func (c *evConn) toTarget(b []byte) (int, error) {
	if a := c.async; a != nil {
		if a.up.size() >= uploadAhead {
			return 0, nil // the goroutine's read resumes the tunnel
		}
		a.up.write(b, false)
		return len(b), nil
	}
	bc := c.bc
	if !bc.writable {
		return 0, nil
	}
	n, errno := poller.Write(bc.fd, b)
	switch {
	case errno == syscall.EAGAIN:
		bc.writable = false
		return 0, nil
	case errno != 0:
		return 0, errno
	}
	return n, nil
}

// endToTarget passes the client's end of stream on. Through an async
// attempt it ends what its goroutine writes: net/http's connection has no
// half close, so the target learns of it only when the tunnel closes.
func (c *evConn) endToTarget() {
	if a := c.async; a != nil {
		a.up.write(nil, true)
		return
	}
	syscall.Shutdown(c.bc.fd, syscall.SHUT_WR)
}

// closeWriteClient ends the stream to the client, the connection staying
// open for what the client still sends; false while a TLS close_notify
// waits for the socket.
func (c *evConn) closeWriteClient() bool {
	if c.tls != nil {
		c.tls.CloseWrite() // the alert goes once; later calls only look
		done, err := c.tr.flushPending()
		if err != nil {
			c.close()
			return false
		}
		if !done {
			return false
		}
	}
	syscall.Shutdown(c.fd, syscall.SHUT_WR)
	return true
}
