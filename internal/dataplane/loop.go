//go:build unix

package dataplane

import (
	"github.com/alba-lb/alba/internal/poller"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// An event loop serves client connections (HTTP and HTTPS) the way NGINX
// and HAProxy do: one goroutine per CPU waits on a set of sockets and
// moves each connection's request and response as its sockets become
// ready. It saves what a goroutine per connection costs on every request
// (a futile read before each park, the netpoller round trip, a stack per
// keep-alive connection) and makes a request cost two reads and two
// writes.
//
// A loop serves every request of its connections itself: buffered and
// streamed bodies both ways, Expect, HTTP/1.0, upgrades (a tunnel),
// responses ended by the target's close, HTTP/2 streams, and the
// goroutines of async attempts (TLS or HTTP/2 to targets) post their
// news to it.
//
// On Linux the set is an epoll set of the loop's own whose descriptor
// sits in Go's netpoller: when nothing is ready the loop goroutine parks
// like any other, so it never holds a thread in a blocking syscall and
// the rest of Alba runs beside it on GOMAXPROCS=1. Elsewhere, and with
// --engine goroutines, it is poller.Netpoll, on Go's netpoller alone.

// Idle coalescing. A loop that runs out of events while many requests
// wait on targets would park, only to be woken again a few microseconds
// later by the next response. Each such wake-up costs the loop a trip
// through the Go scheduler and costs the waking CPU an inter-processor
// interrupt (a VM exit on a virtual machine), paid by whoever wrote to
// the socket: the clients and targets. Under load the loop instead
// sleeps Server.CoalesceWait, without being woken by sockets, and then takes
// everything that arrived in one batch, as a NIC moderates its
// interrupts. Fewer than coalesceMinOutstanding requests in flight to
// targets means the next event may be a while away or a single
// sequential client is waiting on it; the loop parks at once then, so
// light traffic sees no added latency.
const (
	defaultCoalesceWait    = 50 * time.Microsecond
	coalesceMinOutstanding = 8
)

// loopTick is how often a loop checks its connections' timeouts.
const loopTick = 100 * time.Millisecond

// handler is what an epoll event is delivered to.
type handler interface {
	onEvent(ev uint32)
}

type eventLoop struct {
	srv *Server
	p   poller.Set

	fds   []handler // by descriptor number
	conns map[*evConn]struct{}
	pools map[*Target]*evPool

	mu       sync.Mutex
	incoming []*evConn
	cmds     []func()
	exited   bool
	pending  atomic.Bool

	nextTick time.Time
	// now is read once per batch of events: deadlines, routing and
	// response times use it, which saves a clock read per step.
	now  time.Time
	dead []*evBackend // closed during a batch, freed after it

	// Client connections closed during a batch, and those ready for
	// another client (see newConn).
	spent, spare []*evConn
	h2q          []*evH2 // HTTP/2 connections to flush after the batch

	listeners []*evListener // the listening sockets it accepts on
	// outstanding counts target connections serving a request (out of
	// the pool): the requests whose responses are still to come.
	outstanding int
}

// evPool is a loop's idle connections to one target (the shared idle
// policy) and the target's parsed address.
type evPool struct {
	idlePool[*evBackend]
	ap  netip.AddrPort
	bad bool // the address is not an IP:port
}

func newEventLoop(srv *Server) (*eventLoop, error) {
	lp := &eventLoop{srv: srv, conns: map[*evConn]struct{}{}, pools: map[*Target]*evPool{}}
	p, err := newSet(srv, lp)
	if err != nil {
		return nil, err
	}
	lp.p = p
	go lp.run()
	return lp, nil
}

// run waits for events and dispatches them until the loop is closed.
func (lp *eventLoop) run() {
	lp.now = time.Now()
	lp.nextTick = lp.now.Add(loopTick)
	lp.p.SetDeadline(lp.nextTick)
	wakefd := lp.p.WakeFD()
	batches := 0
	for {
		events, err := lp.p.Wait()
		if err != nil && !poller.IsTimeout(err) {
			lp.exit() // stopped
			return
		}
		lp.now = time.Now()
		for i := range events {
			ev := &events[i]
			fd := int(ev.Fd)
			if fd == wakefd {
				lp.drainWake()
				continue
			}
			if fd < len(lp.fds) && lp.fds[fd] != nil {
				lp.fds[fd].onEvent(ev.Events)
			}
		}
		lp.freeDead()
		if lp.pending.Load() {
			lp.drainIncoming()
		}
		if len(lp.h2q) > 0 {
			lp.flushH2()
			lp.freeDead()
		}
		if !lp.now.Before(lp.nextTick) {
			lp.tick(lp.now)
			lp.nextTick = lp.now.Add(loopTick)
			lp.p.SetDeadline(lp.nextTick)
		}
		// Let the acceptor, health checks and the API run now and then
		// on a busy GOMAXPROCS=1.
		if batches++; batches%16 == 0 {
			runtime.Gosched()
		}
	}
}

// stop ends the loop once the server has no connections left.
func (lp *eventLoop) stop() { lp.p.Close() }

// exit closes what the loop still holds: pooled target connections and
// its wake-up descriptor (closing the epoll file closed the set).
func (lp *eventLoop) exit() {
	// From here on do and add run their work at once, under mu (a TLS
	// connection's goroutine may still free its socket after the loop).
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.exited = true
	in, cmds := lp.incoming, lp.cmds
	lp.incoming, lp.cmds = nil, nil
	for _, c := range in {
		c.close()
	}
	for _, fn := range cmds {
		fn()
	}
	for _, p := range lp.pools {
		for _, b := range p.takeAll() {
			b.close()
		}
	}
	for c := range lp.conns {
		if c.state != stHandshake {
			c.close()
		}
	}
	lp.freeDead()
	lp.p.CloseWake()
}

// register adds fd to the epoll set, edge-triggered for reading and
// writing.
func (lp *eventLoop) register(fd int, h handler) error { return lp.registerFor(fd, h, evMask) }

// registerFor adds fd to the epoll set for the events of mask.
func (lp *eventLoop) registerFor(fd int, h handler, mask uint32) error {
	for fd >= len(lp.fds) {
		lp.fds = append(lp.fds, make([]handler, max(64, len(lp.fds)))...)
	}
	lp.fds[fd] = h
	if err := lp.p.Add(fd, mask); err != nil {
		lp.fds[fd] = nil
		return err
	}
	return nil
}

// unregister removes fd from the set.
func (lp *eventLoop) unregister(fd int) {
	if fd < len(lp.fds) {
		lp.fds[fd] = nil
	}
	lp.p.Del(fd)
}

// closeFD unregisters and closes a descriptor the loop owns.
func (lp *eventLoop) closeFD(fd int) {
	if fd < len(lp.fds) {
		lp.fds[fd] = nil
	}
	lp.p.CloseFD(fd) // closing takes it out of the set
}

func (lp *eventLoop) wake() { lp.p.Wake() }

func (lp *eventLoop) drainWake() {
	lp.p.Drained()
	lp.drainIncoming()
}

// do runs fn on the loop goroutine.
func (lp *eventLoop) do(fn func()) {
	lp.mu.Lock()
	if lp.exited {
		fn() // the loop is gone: nothing else runs its code now
		lp.mu.Unlock()
		return
	}
	lp.cmds = append(lp.cmds, fn)
	lp.mu.Unlock()
	lp.pending.Store(true)
	lp.wake()
}

func (lp *eventLoop) drainIncoming() {
	lp.pending.Store(false)
	lp.mu.Lock()
	in, cmds := lp.incoming, lp.cmds
	lp.incoming, lp.cmds = nil, nil
	lp.mu.Unlock()
	for _, c := range in {
		lp.adopt(c)
	}
	for _, fn := range cmds {
		fn()
	}
	if len(lp.h2q) > 0 {
		lp.flushH2()
	}
	lp.freeDead()
}

// tick enforces timeouts and closes pooled connections no longer wanted.
func (lp *eventLoop) tick(now time.Time) {
	for _, l := range lp.listeners {
		if l.paused && !l.so.closing.Load() {
			lp.registerListener(l)
		}
	}
	for c := range lp.conns {
		if c.h2 != nil && c.state == stH2 {
			c.h2.tick(now)
			continue
		}
		if now.After(c.deadline) {
			c.timeout()
		}
	}
	for t, p := range lp.pools {
		if t.retired.Load() || t.draining.Load() {
			for _, b := range p.takeAll() {
				b.close()
			}
			if t.retired.Load() {
				delete(lp.pools, t)
			}
			continue
		}
		// Idle connections age out as the goroutine engine's do
		// (Target.CloseIdleConns).
		for _, b := range p.takeOlderThan(time.Unix(0, t.idleCutoff.Load())) {
			b.close()
		}
	}
	lp.freeDead()
}

// freeDead gives back the buffers of backends closed in this batch (an
// event for them may still sit later in the batch).
func (lp *eventLoop) freeDead() {
	for i, b := range lp.dead {
		b.buf.release()
		lp.dead[i] = nil
	}
	lp.dead = lp.dead[:0]
	for i, c := range lp.spent {
		if len(lp.spare) < maxSpareConns {
			lp.spare = append(lp.spare, c)
		}
		lp.spent[i] = nil
	}
	lp.spent = lp.spent[:0]
}

// maxSpareConns bounds the closed connections a loop keeps for reuse.
const maxSpareConns = 256

// newConn returns a connection to serve a new client with: a spare one
// when the loop has it. Reuse spares the allocation and its garbage, and
// keeps the header lists grown by earlier requests; a new connection per
// request (churn) allocates nothing else of its own. Only a connection
// that nothing outside the loop can still reach is reused (see close).
func (lp *eventLoop) newConn() *evConn {
	n := len(lp.spare)
	if n == 0 {
		return new(evConn)
	}
	c := lp.spare[n-1]
	lp.spare[n-1] = nil
	lp.spare = lp.spare[:n-1]
	reqHs, respHs, ip := c.req.headers[:0], c.resp.headers[:0], c.remoteIP[:0]
	*c = evConn{}
	c.req.headers, c.resp.headers, c.remoteIP = reqHs, respHs, ip
	return c
}

// closeSocketConns closes the connections of so that are between requests
// (all of them when force is set); busy ones close after their response.
func (lp *eventLoop) closeSocketConns(so *socket, force bool) {
	lp.do(func() {
		for c := range lp.conns {
			if c.so != so || c.state == stHandshake {
				continue
			}
			if c.state == stH2 && !force {
				c.h2.goAway() // the streams in flight finish
				c.h2.maybeClose()
				continue
			}
			if !(force || c.betweenRequests()) {
				continue
			}
			if !force && c.mayStillSend() {
				if grace := lp.now.Add(closingGrace); c.deadline.After(grace) {
					c.deadline = grace
				}
				continue
			}
			c.close()
		}
	})
}

// pool returns the loop's pool for t.
func (lp *eventLoop) pool(t *Target) *evPool {
	p := lp.pools[t]
	if p == nil {
		p = &evPool{}
		ap, err := netip.ParseAddrPort(t.Addr)
		p.ap, p.bad = ap, err != nil
		lp.pools[t] = p
	}
	return p
}

// backend returns an idle pooled connection to t, or starts a new one.
func (lp *eventLoop) backend(t *Target) (*evBackend, error) {
	p := lp.pool(t)
	if b, ok := p.take(lp.now); ok {
		b.buf.acquire()
		b.checkOut()
		return b, nil
	}
	if p.bad {
		return nil, &net.AddrError{Err: "not an IP address and port", Addr: t.Addr}
	}
	fd, connecting, err := poller.Dial(p.ap)
	if err != nil {
		return nil, err
	}
	b := &evBackend{lp: lp, fd: fd, target: t, idx: -1, connecting: connecting}
	if err := lp.register(fd, b); err != nil {
		lp.p.CloseFD(fd)
		return nil, err
	}
	b.buf.acquire()
	b.checkOut()
	return b, nil
}

// put returns a backend connection to its pool, or closes it.
func (lp *eventLoop) put(b *evBackend) {
	b.checkIn()
	b.x = nil
	t := b.target
	p := lp.pool(t)
	if t.retired.Load() || b.buf.buffered() > 0 || b.closed || b.hup {
		b.close()
		return
	}
	b.reused = true
	b.idleFrom = lp.now
	b.buf.release() // an idle connection holds no buffer
	if !p.keep(b) {
		b.close()
	}
}

// evBackend is a loop-owned keep-alive connection to a target.
type evBackend struct {
	lp         *eventLoop
	fd         int
	buf        rbuf
	target     *Target
	x          *evExchange // the exchange it serves; nil while pooled
	reused     bool
	connecting bool
	closed     bool
	edge
	idleFrom time.Time // when it went back to the pool
	idx      int       // position in the pool while idle, else -1
	out      bool      // serving a request, counted in lp.outstanding
}

func (b *evBackend) idleSince() time.Time { return b.idleFrom }
func (b *evBackend) setSlot(i int)        { b.idx = i }
func (b *evBackend) closeIdle()           { b.close() }

// peerGone: its events told of a close, or (idle a while) a look at the
// socket finds one its event may not have brought yet.
func (b *evBackend) peerGone(socket bool) bool {
	return b.hup || socket && poller.PeerClosed(b.fd)
}

func (b *evBackend) checkOut() {
	b.out = true
	b.lp.outstanding++
}

func (b *evBackend) checkIn() {
	if b.out {
		b.out = false
		b.lp.outstanding--
	}
}

func (b *evBackend) onEvent(ev uint32) {
	b.note(ev)
	if b.x != nil {
		b.x.backendReady()
		return
	}
	if b.idx >= 0 && b.hasNews(b.fd) {
		// A pooled connection the target closed (or that sends unasked
		// bytes) is of no more use: drop it now rather than at reuse.
		p := b.lp.pools[b.target]
		if p != nil && b.idx < len(p.idle) && p.idle[b.idx] == b {
			p.drop(b.idx)
		}
		b.close()
	}
}

func (b *evBackend) close() {
	if b.closed {
		return
	}
	b.closed = true
	b.checkIn()
	b.lp.closeFD(b.fd)
	b.lp.dead = append(b.lp.dead, b)
}

// read fills the buffer from the socket: n bytes, or eof, or nothing ready.
func (b *evBackend) read() (n int, eof bool, err error) {
	if b.buf.w == b.buf.capacity() {
		b.buf.compact()
		if b.buf.w == b.buf.capacity() {
			return 0, false, errBufferFull
		}
	}
	n, eof, errno := b.edge.read(b.fd, b.buf.free())
	if errno != 0 {
		return 0, false, errno
	}
	b.buf.advance(n)
	return n, eof, nil
}

// Event masks: what makes a socket worth reading, what tells that its
// peer is done (the end of stream may come in the same edge as data), and
// what makes it worth writing.
const (
	readEvents  = poller.In | poller.RdHup | poller.Hup | poller.Err
	hupEvents   = poller.RdHup | poller.Hup | poller.Err
	writeEvents = poller.Out | poller.Hup | poller.Err
)

// edge is what the events of an edge-triggered socket have told: whether
// a read or a write may make progress, and whether the peer closed its
// side (after which no further edge comes).
type edge struct {
	readable bool
	writable bool
	hup      bool
	coarse   bool // the events do not tell the peer's close (Netpoll)
}

// note records an event.
func (e *edge) note(ev uint32) {
	if ev&readEvents != 0 {
		e.readable = true
	}
	if ev&hupEvents != 0 {
		e.hup = true
	}
	if ev&writeEvents != 0 {
		e.writable = true
	}
	if ev&poller.Coarse != 0 {
		e.coarse = true
	}
}

// hasNews reports whether the socket has bytes or its end of stream to
// read: what its events told, checked on the socket when they are coarse
// (an event from before the last read may come again).
func (e *edge) hasNews(fd int) bool {
	if !e.readable {
		return false
	}
	if e.coarse && !poller.PeerClosed(fd) { // PeerClosed: bytes, the end, or an error
		e.readable = false
		return false
	}
	return true
}

// read reads what the socket has into p: n bytes, or 0 when nothing is
// ready (readable is then false until the next edge), or eof. A short read
// drains the socket, so the next byte brings a new edge and no read is
// tried before it; unless the peer has closed, whose end of stream no edge
// would tell again, or the events are too coarse to tell that.
func (e *edge) read(fd int, p []byte) (n int, eof bool, errno syscall.Errno) {
	if !e.readable || len(p) == 0 {
		return 0, false, 0
	}
	n, errno = poller.Read(fd, p)
	switch {
	case errno == syscall.EAGAIN:
		e.readable = false
		return 0, false, 0
	case errno != 0:
		return 0, false, errno
	case n == 0:
		return 0, true, 0
	}
	if n < len(p) && !e.hup && !e.coarse {
		e.readable = false
	}
	return n, false, 0
}

// evListener is a listening socket in a loop's epoll set: the loop
// accepts its connections itself, with no hand-over from another
// goroutine and no wake-up. Every loop has the socket (a duplicate
// descriptor each), registered level-triggered with EPOLLEXCLUSIVE so
// that a connection wakes one loop.
type evListener struct {
	lp     *eventLoop
	so     *socket
	fd     int
	paused bool // out of descriptors: accepting resumes at the next tick
}

// acceptBatch bounds the connections accepted per event, so a flood of
// new connections does not starve the ones being served.
const acceptBatch = 64

func (l *evListener) onEvent(uint32) {
	so := l.so
	for range acceptBatch {
		nfd, remote, errno := poller.Accept(l.fd)
		switch errno {
		case 0:
		case syscall.EAGAIN:
			return
		case syscall.ECONNABORTED, syscall.EINTR:
			continue
		default:
			if so.closing.Load() {
				return
			}
			// EMFILE and friends: stop accepting for a tick (as HAProxy
			// pauses a listener), instead of spinning on a level-triggered
			// event.
			so.srv.Logger.Error("accept failed", "listener", so.addr, "err", errno)
			l.paused = true
			l.lp.unregister(l.fd)
			return
		}
		cfg := so.cfg.Load()
		if !allowedIP(cfg.LoadBalancer, remote.Addr()) {
			poller.Close(nfd) // security group: refused before any HTTP is read
			lbStats(cfg).rejected()
			continue
		}
		if cfg.Protocol == "HTTPS" && cfg.TLS == nil {
			poller.Close(nfd)
			continue
		}
		c := l.lp.newConn()
		c.fd = nfd
		if cfg.Protocol == "HTTPS" {
			// A handshake is flights of small writes.
			poller.SetNoDelay(nfd)
			c.noDelay = true
		}
		c.so = so
		c.stats = lbStats(cfg)
		c.remotePort = remote
		c.remote = remote.Addr().Unmap()
		if cfg.Protocol == "HTTPS" {
			c.tlsConfig = cfg.TLS
		}
		c.remoteIP = c.remote.AppendTo(c.remoteIP)
		c.lp = l.lp
		c.rb.inline = c.inline[:]
		c.rb.acquire()
		c.rq, c.front = &c.conn.request, c
		so.track(&c.conn)
		l.lp.adopt(c)
	}
}

// listenOnLoops puts the socket in every loop's epoll set; false when
// it cannot (the accept goroutine serves it then).
func (so *socket) listenOnLoops() bool {
	loops := so.srv.loops
	fds := make([]int, 0, len(loops))
	for range loops {
		fd, ok := listenerDup(so.ln)
		if !ok {
			for _, fd := range fds {
				poller.Close(fd)
			}
			return false
		}
		fds = append(fds, fd)
	}
	so.loopLns.Store(int32(len(loops)))
	for i, lp := range loops {
		l := &evListener{lp: lp, so: so, fd: fds[i]}
		so.evls = append(so.evls, l)
		lp.do(func() {
			if err := lp.registerListener(l); err != nil {
				so.srv.Logger.Error("event loop cannot accept", "listener", so.addr, "err", err)
			}
		})
	}
	return true
}

// stopLoopListeners takes the socket out of the loops; accepted closes
// once every loop has let go of it.
func (so *socket) stopLoopListeners() {
	for _, l := range so.evls {
		l.lp.do(func() {
			l.lp.closeFD(l.fd)
			l.lp.listeners = slices.DeleteFunc(l.lp.listeners, func(x *evListener) bool { return x == l })
			if so.loopLns.Add(-1) == 0 {
				close(so.accepted)
			}
		})
	}
}

// registerListener adds a listening socket to the loop's set.
func (lp *eventLoop) registerListener(l *evListener) error {
	// Level-triggered: an accept batch that stops short is told again.
	if err := lp.registerFor(l.fd, l, poller.In|poller.Exclusive); err != nil {
		return err
	}
	l.paused = false
	if !slices.Contains(lp.listeners, l) {
		lp.listeners = append(lp.listeners, l)
	}
	return nil
}

// adopt starts serving a connection accepted for this loop.
func (lp *eventLoop) adopt(c *evConn) {
	lp.conns[c] = struct{}{}
	c.deadline = lp.now.Add(c.so.cfg.Load().LoadBalancer.IdleTimeout)
	c.readable, c.writable = true, true // edge-triggered: try at once
	if c.tlsConfig != nil {
		// The handshake's goroutine waits for the loop's events.
		if err := lp.register(c.fd, c); err != nil {
			c.close()
			return
		}
		c.registered = true
		cfg := c.tlsConfig
		c.tlsConfig = nil
		c.startTLS(cfg)
		return
	}
	c.advance()
}

// startLoops creates one event loop per CPU Go runs on.
func (s *Server) startLoops() bool {
	s.loopOnce.Do(func() {
		for range runtime.GOMAXPROCS(0) {
			lp, err := newEventLoop(s)
			if err != nil {
				s.Logger.Error("event loop unavailable; serving with a goroutine per connection", "err", err)
				for _, lp := range s.loops {
					lp.stop()
				}
				s.loops = nil
				return
			}
			s.loops = append(s.loops, lp)
		}
	})
	return len(s.loops) > 0
}

// listenerDup returns a duplicate descriptor of the listening socket for
// a loop's epoll set (non-blocking already: the flag belongs to the socket
// Go's listener shares).
func listenerDup(ln net.Listener) (int, bool) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return -1, false
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return -1, false
	}
	dup := -1
	rc.Control(func(fd uintptr) {
		if d, err := syscall.Dup(int(fd)); err == nil {
			dup = d
		}
	})
	if dup < 0 {
		return -1, false
	}
	syscall.CloseOnExec(dup)
	return dup, true
}

// evMask is what every loop descriptor is registered for.
const evMask = poller.In | poller.Out | poller.RdHup | poller.Edge
