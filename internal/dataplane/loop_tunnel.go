//go:build linux

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
	c.bc.buf.consume(headEnd)
	c.state = stTunnel
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
	bc := c.bc
	for c.state == stTunnel {
		moved := false
		if c.tun.down {
			if n := bc.buf.buffered(); n > 0 && c.room() > 0 {
				k := min(n, c.room())
				c.out = append(c.out, bc.buf.bytes()[:k]...)
				bc.buf.consume(k)
				moved = true
			}
			flushed := c.flush()
			if c.state != stTunnel {
				return // the client went away
			}
			if flushed && bc.buf.buffered() == 0 {
				if !c.tun.downEnd {
					n, eof, err := bc.read()
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
			for c.rb.buffered() > 0 && bc.writable {
				n, errno := poller.Write(bc.fd, c.rb.bytes())
				if errno == syscall.EAGAIN {
					bc.writable = false
					break
				}
				if errno != 0 {
					c.close()
					return
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
					syscall.Shutdown(bc.fd, syscall.SHUT_WR)
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
