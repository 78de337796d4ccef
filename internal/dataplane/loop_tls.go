//go:build unix

package dataplane

import (
	"context"
	"crypto/tls"
	"github.com/alba-lb/alba/internal/poller"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// HTTPS on an event loop: crypto/tls runs over a transport (below) that
// the loop owns. In loop mode its reads return errWouldBlock when the
// socket has nothing (crypto/tls keeps a partial record and tries again),
// and its writes never block (what the socket does not take waits in the
// transport until the socket is writable). The handshake runs on a
// goroutine in blocking mode: the transport then waits for the loop to
// report the socket ready.

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
	blocking atomic.Bool
	rd, wr   chan struct{}
	mu       sync.Mutex
	rdl, wrl time.Time // deadlines
	closed   bool
	inUse    int // goroutines inside Read or Write: the descriptor stays theirs

	pending []byte // bytes the socket has not taken yet (loop mode)

	// Records go to crypto/tls one at a time: what a read brings beyond
	// the first record it completes waits in stash. Once tls.Conn.Read
	// returns, crypto/tls then holds no unread record, and the loop can
	// tell a read that would find nothing without making it (crypto/tls
	// allocates each time it asks its transport for bytes).
	stash     []byte
	stashKept []byte // an HTTP/2 connection's stash array, reused
	framer    recordFramer
}

// recordFramer follows TLS record boundaries (a 5-byte header whose last
// two bytes are the length of the body) in a byte stream.
type recordFramer struct {
	hdr  [5]byte
	hdrN int // bytes of the current record's header seen
	left int // bytes of the current record's body still to come
}

// cut returns the length of the part of b (the stream's next bytes) that
// ends with the first record completing in b; all of b when none does.
func (f *recordFramer) cut(b []byte) int {
	for i := 0; i < len(b); {
		if f.hdrN < len(f.hdr) {
			f.hdr[f.hdrN] = b[i]
			f.hdrN++
			i++
			if f.hdrN < len(f.hdr) {
				continue
			}
			f.left = int(f.hdr[3])<<8 | int(f.hdr[4])
		} else {
			k := min(f.left, len(b)-i)
			i += k
			f.left -= k
		}
		if f.left == 0 {
			f.hdrN = 0
			return i
		}
	}
	return len(b)
}

// fromStash moves stashed bytes, up to the end of a record, into p.
func (t *tlsTransport) fromStash(p []byte) int {
	if len(t.stash) == 0 {
		return 0
	}
	n := t.framer.cut(t.stash[:min(len(t.stash), len(p))])
	copy(p, t.stash[:n])
	t.stash = t.stash[n:]
	if len(t.stash) == 0 {
		t.stash = nil // the common case never needs one: keep idle connections small
	}
	return n
}

// firstRecord stashes what b (just read, the stash being empty) holds
// beyond the first record that completes in it, and returns the length
// of the part that goes to crypto/tls now.
func (t *tlsTransport) firstRecord(b []byte) int {
	k := t.framer.cut(b)
	if k < len(b) {
		if len(t.stash) == 0 && t.stashKept != nil {
			t.stash = t.stashKept[:0]
		}
		t.stash = append(t.stash, b[k:]...)
		if t.c.h2 != nil && cap(t.stash) <= 4096 {
			// HTTP/2 clients often send several records at once: the
			// connection keeps its stash.
			t.stashKept = t.stash
		}
	}
	return k
}

// drained reports whether crypto/tls could only find more to read on the
// socket: nothing waits in the stash and the socket has nothing new. The
// caller knows that crypto/tls has no decrypted bytes left.
func (t *tlsTransport) drained() bool {
	return len(t.stash) == 0 && !t.c.readable
}

func newTLSTransport(c *evConn) *tlsTransport {
	t := &tlsTransport{c: c, rd: make(chan struct{}, 1), wr: make(chan struct{}, 1)}
	t.blocking.Store(true)
	return t
}

// signal wakes a goroutine waiting in blocking mode (called by the loop).
func (t *tlsTransport) signal(ev uint32) {
	if ev&readEvents != 0 {
		select {
		case t.rd <- struct{}{}:
		default:
		}
	}
	if ev&writeEvents != 0 {
		select {
		case t.wr <- struct{}{}:
		default:
		}
	}
}

// enter marks a goroutine inside Read or Write; false once closed.
func (t *tlsTransport) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.inUse++
	return true
}

// leave undoes enter; the last one out after Close frees the descriptor.
func (t *tlsTransport) leave() {
	t.mu.Lock()
	t.inUse--
	free := t.closed && t.inUse == 0
	t.mu.Unlock()
	if free {
		t.release()
	}
}

// release has the loop close the descriptor (its number may be reused at
// once, so only when no goroutine can still use it).
func (t *tlsTransport) release() {
	c := t.c
	c.lp.do(func() {
		if c.state == stHandshake {
			c.state = stGone
			c.lp.closeFD(c.fd)
			delete(c.lp.conns, c)
		}
	})
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
	} else {
		left := time.Until(d)
		if left <= 0 {
			return os.ErrDeadlineExceeded
		}
		tm := time.NewTimer(left)
		select {
		case <-ch:
			tm.Stop()
		case <-tm.C:
			return os.ErrDeadlineExceeded
		}
	}
	t.mu.Lock()
	closed = t.closed
	t.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	return nil
}

func (t *tlsTransport) Read(p []byte) (int, error) {
	c := t.c
	if n := t.fromStash(p); n > 0 {
		return n, nil
	}
	if !t.blocking.Load() {
		n, eof, errno := c.edge.read(c.fd, p)
		c.stats.bytes(n) // records as on the wire: the stash is not counted again
		switch {
		case errno != 0:
			return 0, errno
		case eof:
			return 0, io.EOF
		case n == 0 && len(p) > 0:
			return 0, errWouldBlock
		}
		return t.firstRecord(p[:n]), nil
	}
	if !t.enter() {
		return 0, net.ErrClosed
	}
	defer t.leave()
	for {
		n, errno := poller.Read(c.fd, p)
		c.stats.bytes(n)
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
		return t.firstRecord(p[:n]), nil
	}
}

func (t *tlsTransport) Write(p []byte) (int, error) {
	c := t.c
	if !t.blocking.Load() {
		if len(t.pending) == 0 && c.writable {
			n, errno := poller.Write(c.fd, p)
			switch {
			case errno == syscall.EAGAIN:
				c.writable = false
			case errno != 0:
				return 0, errno
			}
			c.stats.bytes(n) // what stays pending counts when it goes out
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
	if !t.enter() {
		return 0, net.ErrClosed
	}
	defer t.leave()
	// Bytes left over from loop mode go first.
	if len(t.pending) > 0 {
		n, err := t.writeAll(t.pending)
		t.pending = t.pending[:copy(t.pending, t.pending[n:])]
		if err != nil {
			return 0, err
		}
	}
	return t.writeAll(p)
}

// writeAll writes b whole in blocking mode, waiting for the loop to
// report the socket writable; it returns the bytes written.
func (t *tlsTransport) writeAll(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, errno := poller.Write(t.c.fd, b[done:])
		switch {
		case errno == syscall.EAGAIN:
			if err := t.wait(t.wr, false); err != nil {
				return done, err
			}
			continue
		case errno != 0:
			return done, errno
		}
		t.c.stats.bytes(n)
		done += n
	}
	return done, nil
}

// pendingLen is how many bytes wait for the socket.
func (t *tlsTransport) pendingLen() int { return len(t.pending) }

// flushPending writes what the socket did not take; it reports whether
// all of it is out, or an error.
func (t *tlsTransport) flushPending() (bool, error) {
	c := t.c
	for len(t.pending) > 0 {
		if !c.writable {
			return false, nil
		}
		n, errno := poller.Write(c.fd, t.pending)
		if errno == syscall.EAGAIN {
			c.writable = false
			return false, nil
		}
		if errno != 0 {
			return false, errno
		}
		c.stats.bytes(n)
		t.pending = t.pending[:copy(t.pending, t.pending[n:])]
	}
	if cap(t.pending) > 64<<10 {
		t.pending = nil
	}
	return true, nil
}

// Close ends a connection whose handshake a goroutine runs (a forced
// shutdown). A goroutine still
// inside Read or Write (Close may come from another one) is woken by the
// shutdown and frees the descriptor on its way out.
func (t *tlsTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	busy := t.inUse > 0
	if busy {
		syscall.Shutdown(t.c.fd, syscall.SHUT_RDWR)
	}
	t.mu.Unlock()
	t.signal(poller.In | poller.Out)
	if !busy {
		t.release()
	}
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
	t.signal(poller.In) // a waiter looks at the new deadline
	return nil
}

func (t *tlsTransport) SetWriteDeadline(d time.Time) error {
	t.mu.Lock()
	t.wrl = d
	t.mu.Unlock()
	t.signal(poller.Out)
	return nil
}

// startTLS runs the handshake on a goroutine; the connection then comes
// back to the loop, speaking HTTP/1 or HTTP/2 as ALPN chose.
func (c *evConn) startTLS(cfg *tls.Config) {
	c.tr = newTLSTransport(c)
	c.tls = tls.Server(c.tr, cfg)
	c.state = stHandshake
	// Known to the socket as a goroutine's connection: a forced shutdown
	// closes it, which ends a stalled handshake.
	c.so.handedOff(&c.conn, c.tls)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.tls.HandshakeContext(ctx)
		cancel()
		h2 := err == nil && c.tls.ConnectionState().NegotiatedProtocol == "h2"
		c.lp.do(func() {
			if c.state == stGone {
				// The transport was closed (a forced shutdown) and its
				// socket with it: the connection ends here.
				c.releaseBufs()
				c.so.remove(&c.conn)
				return
			}
			if err != nil {
				c.close()
				return
			}
			// The loop's again: first out of a forced shutdown's reach,
			// then a close that came before is honoured.
			c.so.handedOff(&c.conn, nil)
			c.tr.mu.Lock()
			closed := c.tr.closed
			c.tr.mu.Unlock()
			if closed {
				c.close()
				return
			}
			c.tr.blocking.Store(false)
			c.readable, c.writable = true, true
			c.deadline = time.Now().Add(c.idleTimeout())
			if h2 {
				c.startH2()
				c.h2.onEvent()
				return
			}
			c.state = stHead
			c.readRequest()
		})
	}()
}
