package dataplane

import (
	"crypto/tls"
	"net"
	"sync"
	"syscall"
	"time"
)

// backendConn is a keep-alive connection to a target with its own read
// buffer, reused across requests.
type backendConn struct {
	net.Conn
	buf      rbuf
	target   *Target
	reused   bool      // served a request before: a failure may be a stale connection
	idleFrom time.Time // when it went back to the pool

	readDeadline, writeDeadline time.Time
}

// maxIdlePerTarget bounds the idle connections kept to one target (per
// event loop). HTTP/2 clients multiplex many requests on few connections,
// each on a target connection of its own: a pool smaller than the
// requests in flight closes one connection per request (and fills the
// ports with TIME_WAIT). An idle loop connection holds no buffer.
const maxIdlePerTarget = 1024

// staleCheckAfter is how long a connection may sit idle before it is checked
// for a FIN from the target before reuse: the check costs a syscall, and the
// race it avoids (target closed an idle connection) needs the target's own
// idle timeout to pass.
const staleCheckAfter = 500 * time.Millisecond

// connPool holds a target's idle keep-alive connections for the
// goroutine engine: the shared idle policy under a mutex.
type connPool struct {
	target *Target
	mu     sync.Mutex
	idle   idlePool[*backendConn]
}

func (c *backendConn) idleSince() time.Time { return c.idleFrom }

// peerGone is checked by get, outside the pool's lock.
func (c *backendConn) peerGone(bool) bool { return false }
func (c *backendConn) setSlot(int)        {}
func (c *backendConn) closeIdle()         { c.Close() }

// get returns an idle connection that still looks open, or nil. The
// socket check (a system call) runs outside the lock.
func (p *connPool) get(now time.Time) *backendConn {
	for {
		p.mu.Lock()
		c, ok := p.idle.take(now)
		p.mu.Unlock()
		if !ok {
			return nil
		}
		if now.Sub(c.idleFrom) < staleCheckAfter || !peerClosed(c.Conn) {
			c.buf.acquire()
			return c
		}
		c.Close()
	}
}

// put returns a connection for reuse, or closes it when the pool is full or
// the target has left the routing table.
func (p *connPool) put(c *backendConn, now time.Time) {
	if p.target.retired.Load() || c.buf.buffered() > 0 {
		c.Close()
		return
	}
	c.reused = true
	c.idleFrom = now
	c.buf.release() // an idle connection holds no buffer
	p.mu.Lock()
	kept := p.idle.keep(c)
	p.mu.Unlock()
	if !kept {
		c.Close()
	}
}

func (p *connPool) closeIdle() {
	p.mu.Lock()
	all := p.idle.takeAll()
	p.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}

// closeIdleOlderThan closes connections idle since before cutoff.
func (p *connPool) closeIdleOlderThan(cutoff time.Time) {
	p.mu.Lock()
	old := p.idle.takeOlderThan(cutoff)
	p.mu.Unlock()
	for _, c := range old {
		c.Close()
	}
}

// peerClosed reports whether the peer has closed (or reset) the connection,
// with a non-blocking peek that does not consume data.
func peerClosed(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn() // a close_notify is bytes: stale too
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		closed = fdPeerClosed(int(fd))
		return true
	})
	return closed || err != nil
}

// fdPeerClosed reports whether the peer closed (or reset) the connection,
// or sent bytes nobody asked for (the connection is out of step), with a
// non-blocking peek that consumes nothing.
func fdPeerClosed(fd int) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(fd, b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN || n > 0
}
