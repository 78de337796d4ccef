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

// maxIdlePerTarget bounds the idle connections kept to one target.
const maxIdlePerTarget = 128

// staleCheckAfter is how long a connection may sit idle before it is checked
// for a FIN from the target before reuse: the check costs a syscall, and the
// race it avoids (target closed an idle connection) needs the target's own
// idle timeout to pass.
const staleCheckAfter = 500 * time.Millisecond

// connPool holds a target's idle keep-alive connections, most recent first.
type connPool struct {
	target *Target
	mu     sync.Mutex
	idle   []*backendConn
}

// get returns an idle connection that still looks open, or nil.
func (p *connPool) get(now time.Time) *backendConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(c.idleFrom) < staleCheckAfter || !peerClosed(c.Conn) {
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
	c.buf.reset()
	p.mu.Lock()
	if len(p.idle) >= maxIdlePerTarget {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

func (p *connPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// closeIdleOlderThan closes connections idle since before cutoff; the
// oldest sit at the front.
func (p *connPool) closeIdleOlderThan(cutoff time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && p.idle[n].idleFrom.Before(cutoff) {
		n++
	}
	old := append([]*backendConn(nil), p.idle[:n]...)
	p.idle = append(p.idle[:0], p.idle[n:]...)
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
