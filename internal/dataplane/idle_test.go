package dataplane

import (
	"testing"
	"time"
)

// fakeIdle is a pooled connection without a socket.
type fakeIdle struct {
	name   string
	since  time.Time
	gone   bool // the target closed it
	looked bool // peerGone was asked to look at the socket
	slot   int
	closed bool
}

func (f *fakeIdle) idleSince() time.Time { return f.since }
func (f *fakeIdle) peerGone(socket bool) bool {
	f.looked = f.looked || socket
	return f.gone
}
func (f *fakeIdle) setSlot(i int) { f.slot = i }
func (f *fakeIdle) closeIdle()    { f.closed = true }

// The idle policy both engines' pools keep, without sockets.
func TestIdlePool(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var p idlePool[*fakeIdle]
	a := &fakeIdle{name: "a", since: t0}
	b := &fakeIdle{name: "b", since: t0.Add(time.Second)}
	c := &fakeIdle{name: "c", since: t0.Add(2 * time.Second), gone: true}
	for _, f := range []*fakeIdle{a, b, c} {
		if !p.keep(f) {
			t.Fatalf("keep %s refused", f.name)
		}
	}
	if a.slot != 0 || b.slot != 1 || c.slot != 2 {
		t.Fatalf("slots %d %d %d", a.slot, b.slot, c.slot)
	}
	// The most recent first; one the target closed is closed, not handed out.
	now := t0.Add(2*time.Second + 100*time.Millisecond)
	got, ok := p.take(now)
	if !ok || got != b || !c.closed || got.slot != -1 {
		t.Fatalf("take: %v %v (c closed %v)", got, ok, c.closed)
	}
	if !b.looked {
		t.Fatal("a connection idle 1.1 s was handed out without a look at its socket")
	}
	b.looked = false
	b.since = now
	p.keep(b)
	if got, _ := p.take(now.Add(100 * time.Millisecond)); got != b || b.looked {
		t.Fatalf("a connection idle 0.1 s: %v, looked at %v (not worth a system call)", got, b.looked)
	}
	b.since = t0.Add(time.Second)
	p.keep(b)
	// A connection the target closed while idle leaves its slot; the
	// others move up.
	p.drop(a.slot)
	if len(p.idle) != 1 || p.idle[0] != b || b.slot != 0 {
		t.Fatalf("after drop: %v, b's slot %d", p.idle, b.slot)
	}
	// Ageing takes the oldest; a full pool refuses.
	old := p.takeOlderThan(t0.Add(5 * time.Second))
	if len(old) != 1 || old[0] != b || len(p.idle) != 0 {
		t.Fatalf("takeOlderThan: %v, left %v", old, p.idle)
	}
	for i := range maxIdlePerTarget {
		if !p.keep(&fakeIdle{since: t0.Add(time.Duration(i))}) {
			t.Fatalf("refused at %d", i)
		}
	}
	if p.keep(&fakeIdle{}) {
		t.Fatalf("kept more than %d", maxIdlePerTarget)
	}
	if all := p.takeAll(); len(all) != maxIdlePerTarget || len(p.idle) != 0 {
		t.Fatalf("takeAll: %d, left %d", len(all), len(p.idle))
	}
}
