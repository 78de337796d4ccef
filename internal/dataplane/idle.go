package dataplane

import (
	"slices"
	"time"
)

// idleConn is a target connection as a pool keeps it.
type idleConn interface {
	// idleSince is when it went back to the pool.
	idleSince() time.Time
	// peerGone reports whether the target closed it (or sent bytes
	// nobody asked for); socket says a look at the socket is worth its
	// system call (the connection sat idle a while).
	peerGone(socket bool) bool
	// setSlot records its position in the pool (-1: out of it).
	setSlot(i int)
	closeIdle()
}

// idlePool is the policy of every pool of target connections, in both
// engines: idle connections oldest first, the most recent reused first
// (its target has seen it lately), at most maxIdlePerTarget, one idle
// past staleCheckAfter checked for a FIN before it is reused, the oldest
// aged out first. It does no locking: the goroutine engine's pool holds
// a mutex around it, a loop's belongs to the loop.
type idlePool[C idleConn] struct {
	idle []C
}

// take returns the most recent idle connection that still looks open,
// closing those that do not.
func (p *idlePool[C]) take(now time.Time) (C, bool) {
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		var zero C
		p.idle[n-1] = zero
		p.idle = p.idle[:n-1]
		c.setSlot(-1)
		if c.peerGone(now.Sub(c.idleSince()) >= staleCheckAfter) {
			c.closeIdle()
			continue
		}
		return c, true
	}
	var zero C
	return zero, false
}

// keep adds c; false when the pool is full (the caller closes c).
func (p *idlePool[C]) keep(c C) bool {
	if len(p.idle) >= maxIdlePerTarget {
		return false
	}
	c.setSlot(len(p.idle))
	p.idle = append(p.idle, c)
	return true
}

// drop takes out the connection in slot i (its target closed it while
// idle), keeping the order.
func (p *idlePool[C]) drop(i int) { p.removeRange(i, i+1) }

func (p *idlePool[C]) removeRange(i, j int) {
	if i >= j {
		return
	}
	p.idle = slices.Delete(p.idle, i, j) // clears the freed tail
	for k := i; k < len(p.idle); k++ {
		p.idle[k].setSlot(k)
	}
}

// takeOlderThan takes out the connections idle since before cutoff,
// for the caller to close.
func (p *idlePool[C]) takeOlderThan(cutoff time.Time) []C {
	n := 0
	for n < len(p.idle) && p.idle[n].idleSince().Before(cutoff) {
		n++
	}
	if n == 0 {
		return nil
	}
	old := slices.Clone(p.idle[:n])
	p.removeRange(0, n)
	return old
}

// takeAll takes out every idle connection, for the caller to close.
func (p *idlePool[C]) takeAll() []C {
	all := p.idle
	p.idle = nil
	return all
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
