//go:build linux

package dataplane

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// HTTPS on an event loop: crypto/tls runs over a transport (below) that
// the loop owns. In loop mode its reads return errWouldBlock when the
// socket has nothing (crypto/tls keeps a partial record and tries again),
// and its writes never block (what the socket does not take waits in the
// transport until the socket is writable). The handshake, and a
// connection handed to the goroutine engine (HTTP/2, streamed bodies),
// run on a goroutine in blocking mode: the transport then waits for the
// loop to report the socket ready.

// errWouldBlock tells crypto/tls that no bytes are ready yet; it is
// temporary, so the connection stays usable.
var errWouldBlock = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "operation would block" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// tlsTransport is the client socket under a tls.Conn of a loop connection.
type tlsTransport struct {
	c *evConn

	// Blocking mode, used from a goroutine: the loop signals readiness.
	mu       sync.Mutex
	blocking bool
	rd, wr   chan struct{}
	rdl, wrl time.Time // deadlines
	closed   bool

	pending []byte // bytes the socket has not taken yet (loop mode)
}

func newTLSTransport(c *evConn) *tlsTransport {
	return &tlsTransport{c: c, blocking: true, rd: make(chan struct{}, 1), wr: make(chan struct{}, 1)}
}

// signal wakes a goroutine waiting in blocking mode (called by the loop).
func (t *tlsTransport) signal(ev uint32) {
	if ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		select {
		case t.rd <- struct{}{}:
		default:
		}
	}
	if ev&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		select {
		case t.wr <- struct{}{}:
		default:
		}
	}
}

func (t *tlsTransport) isBlocking() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.blocking
}

// wait blocks until ch is signalled or the deadline passes.
func (t *tlsTransport) wait(ch chan struct{}, read bool) error {
	t.mu.Lock()
	d := t.wrl
	if read {
		d = t.rdl
	}
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	if d.IsZero() {
		<-ch
		return nil
	}
	left := time.Until(d)
	if left <= 0 {
		return os.ErrDeadlineExceeded
	}
	tm := time.NewTimer(left)
	defer tm.Stop()
	select {
	case <-ch:
		return nil
	case <-tm.C:
		return os.ErrDeadlineExceeded
	}
}

func (t *tlsTransport) Read(p []byte) (int, error) {
	c := t.c
	if !t.isBlocking() {
		if !c.readable {
			return 0, errWouldBlock
		}
		n, errno := rawRead(c.fd, p)
		switch {
		case errno == syscall.EAGAIN:
			c.readable = false
			return 0, errWouldBlock
		case errno != 0:
			return 0, errno
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		if n < len(p) {
			c.readable = false // drained: the next byte brings a new edge
		}
		return n, nil
	}
	for {
		n, errno := rawRead(c.fd, p)
		switch {
		case errno == syscall.EAGAIN:
			if err := t.wait(t.rd, true); err != nil {
				return 0, err
			}
			continue
		case errno != 0:
			return 0, errno
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (t *tlsTransport) Write(p []byte) (int, error) {
	c := t.c
	if !t.isBlocking() {
		if len(t.pending) == 0 && c.writable {
			n, errno := rawWrite(c.fd, p)
			switch {
			case errno == syscall.EAGAIN:
				c.writable = false
			case errno != 0:
				return 0, errno
			}
			if n == len(p) {
				return n, nil
			}
			if n < len(p) {
				c.writable = false
			}
			t.pending = append(t.pending, p[n:]...)
			return len(p), nil
		}
		t.pending = append(t.pending, p...)
		return len(p), nil
	}
	done := 0
	for done < len(p) {
		n, errno := rawWrite(c.fd, p[done:])
		switch {
		case errno == syscall.EAGAIN:
			if err := t.wait(t.wr, false); err != nil {
				return done, err
			}
			continue
		case errno != 0:
			return done, errno
		}
		done += n
	}
	return done, nil
}

// flushPending writes what the socket did not take; it reports whether
// all of it is out, or an error.
func (t *tlsTransport) flushPending() (bool, error) {
	c := t.c
	for len(t.pending) > 0 {
		if !c.writable {
			return false, nil
		}
		n, errno := rawWrite(c.fd, t.pending)
		if errno == syscall.EAGAIN {
			c.writable = false
			return false, nil
		}
		if errno != 0 {
			return false, errno
		}
		t.pending = t.pending[:copy(t.pending, t.pending[n:])]
	}
	if cap(t.pending) > 64<<10 {
		t.pending = nil
	}
	return true, nil
}

// Close ends a connection the goroutine engine serves: the loop closes
// the socket.
func (t *tlsTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.signal(syscall.EPOLLIN | syscall.EPOLLOUT)
	c := t.c
	c.lp.do(func() {
		if c.state == stGoroutine {
			c.state = stGone
			c.lp.closeFD(c.fd)
			delete(c.lp.conns, c)
		}
	})
	return nil
}

func (t *tlsTransport) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (t *tlsTransport) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(t.c.remotePort) }

func (t *tlsTransport) SetDeadline(d time.Time) error {
	t.SetReadDeadline(d)
	return t.SetWriteDeadline(d)
}

func (t *tlsTransport) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	t.rdl = d
	t.mu.Unlock()
	t.signal(syscall.EPOLLIN) // a waiter looks at the new deadline
	return nil
}

func (t *tlsTransport) SetWriteDeadline(d time.Time) error {
	t.mu.Lock()
	t.wrl = d
	t.mu.Unlock()
	t.signal(syscall.EPOLLOUT)
	return nil
}

// startTLS runs the handshake on a goroutine; the connection then comes
// back to the loop, or stays with the goroutine engine for HTTP/2.
func (c *evConn) startTLS(cfg *tls.Config) {
	c.tr = newTLSTransport(c)
	c.tls = tls.Server(c.tr, cfg)
	c.state = stGoroutine
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.tls.HandshakeContext(ctx)
		cancel()
		if err == nil && c.tls.ConnectionState().NegotiatedProtocol == "h2" {
			c.so.handedOff(&c.conn, c.tls)
			defer c.conn.done()
			c.so.srv.serveH2(c.so, c.tls) // HTTP/2 has its own server
			return
		}
		c.lp.do(func() {
			if c.state != stGoroutine {
				return // closed meanwhile
			}
			if err != nil {
				c.close()
				return
			}
			c.tr.mu.Lock()
			c.tr.blocking = false
			c.tr.mu.Unlock()
			c.state = stHead
			c.readable, c.writable = true, true
			c.deadline = time.Now().Add(c.idleTimeout())
			c.readRequest()
		})
	}()
}
