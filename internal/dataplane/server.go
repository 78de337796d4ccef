package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server runs the listeners of the current routing table. Apply swaps the
// table: new listeners open, removed ones stop accepting and drain, and
// connections on kept listeners use the new routing from their next request.
type Server struct {
	// Logger receives errors worth an operator's attention.
	Logger *slog.Logger
	// DialTimeout bounds a connection attempt to a target (ALB: 10 s, then
	// 504).
	DialTimeout time.Duration
	// Sealer seals sticky-session cookies; nil disables stickiness.
	Sealer *CookieSealer
	// Engine is how listeners serve connections; set it before the first
	// Apply.
	Engine Engine
	// CoalesceWait is how long a busy event loop lets events gather
	// before it takes them in one batch (see loop_linux.go): 0 is the
	// default, 50 µs; a negative value turns coalescing off.
	CoalesceWait time.Duration

	loopOnce sync.Once
	loops    []*eventLoop

	mu      sync.Mutex
	sockets map[string]*socket
	table   atomic.Pointer[Table]
	conns   sync.WaitGroup
	closed  bool

	// inherited are listening sockets a predecessor handed over, by
	// address, for Apply to serve instead of binding anew.
	inherited map[string]net.Listener
	// handedOver: a successor serves the listening sockets now.
	handedOver atomic.Bool
}

// Inherit gives the server listening sockets a predecessor handed over,
// by the addresses tables name listeners with: Apply serves them instead
// of binding anew, so the connections queued on them are not lost. Call
// it before the first Apply; CloseInherited closes what no listener took.
func (s *Server) Inherit(lns map[string]net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inherited = lns
}

// CloseInherited closes the inherited sockets no listener took (the new
// configuration dropped their listeners), and reports their addresses.
func (s *Server) CloseInherited() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var closed []string
	for addr, ln := range s.inherited {
		ln.Close()
		closed = append(closed, addr)
	}
	s.inherited = nil
	return closed
}

// Listeners returns the listening sockets by address, for a successor.
func (s *Server) Listeners() map[string]net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	lns := make(map[string]net.Listener, len(s.sockets))
	for addr, so := range s.sockets {
		lns[addr] = so.ln
	}
	return lns
}

// HandOver records that a successor holds the listening sockets: Shutdown
// then lets go of them at once, without waiting for their queues to
// drain, since the successor accepts what they hold.
func (s *Server) HandOver() { s.handedOver.Store(true) }

// socket is one bound listener address.
type socket struct {
	srv  *Server
	addr string
	ln   net.Listener
	// evls are the socket's descriptors in the event loops (loopLns of
	// them still registered), when the loops accept its connections.
	evls    []*evListener
	loopLns atomic.Int32
	cfg     atomic.Pointer[Listener]
	closing atomic.Bool
	// accepted closes when the accept loop has returned: Shutdown waits
	// for it, so a connection accepted as the listener closes is served,
	// not dropped.
	accepted chan struct{}

	mu    sync.Mutex
	conns map[*conn]struct{}
}

// Engine is how a server's listeners serve connections.
type Engine int

const (
	// EngineEventLoops serves connections on one event loop per CPU, as
	// NGINX and HAProxy do, each waiting on an epoll set of its own.
	EngineEventLoops Engine = iota
	// EngineGoroutines runs the same event loops, woken by goroutines
	// that wait in Go's netpoller, one per socket and direction: what
	// serves where epoll is missing, and a comparison elsewhere.
	EngineGoroutines
)

// Engines names the engines as flags and files spell them.
var Engines = map[string]Engine{"loops": EngineEventLoops, "goroutines": EngineGoroutines}

func (e Engine) String() string {
	for k, v := range Engines {
		if v == e {
			return k
		}
	}
	return fmt.Sprintf("Engine(%d)", int(e))
}

// ParseEngine reads an engine's name.
func ParseEngine(name string) (Engine, error) {
	if e, ok := Engines[name]; ok {
		return e, nil
	}
	return 0, fmt.Errorf("unknown engine %q (loops or goroutines)", name)
}

// coalesceWait is the loops' coalescing wait in force.
func (s *Server) coalesceWait() time.Duration {
	switch {
	case s.CoalesceWait < 0:
		return 0
	case s.CoalesceWait == 0:
		return defaultCoalesceWait
	}
	return s.CoalesceWait
}

// NewServer returns a server with no listeners.
func NewServer(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{Logger: logger, DialTimeout: 10 * time.Second, sockets: map[string]*socket{}}
}

// Table returns the table in force.
func (s *Server) Table() *Table { return s.table.Load() }

// listenTCP opens a listening socket of plain TCP. Go's listeners are
// Multipath TCP by default on Linux; an ALB's listeners are not, and
// every connection accepted from an MPTCP listener pays for the fallback
// to TCP in accept (mptcp_stream_accept).
func listenTCP(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: listenControl}
	lc.SetMultipathTCP(false)
	return lc.Listen(context.Background(), "tcp", addr)
}

// Apply makes t the routing table in force. Listeners that cannot be bound
// are reported in the error; the rest of the table still applies.
func (s *Server) Apply(t *Table) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("server is shut down")
	}
	s.table.Store(t)
	var errs []error
	for addr, l := range t.Listeners {
		if so, ok := s.sockets[addr]; ok {
			so.cfg.Store(l)
			continue
		}
		ln, err := s.inherited[addr], error(nil)
		if ln != nil {
			delete(s.inherited, addr)
		} else {
			ln, err = listenTCP(addr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", addr, err))
			continue
		}
		so := &socket{srv: s, addr: addr, ln: ln, conns: map[*conn]struct{}{}, accepted: make(chan struct{})}
		so.cfg.Store(l)
		s.sockets[addr] = so
		if !s.startLoops() || !so.listenOnLoops() {
			ln.Close()
			delete(s.sockets, addr)
			errs = append(errs, fmt.Errorf("listener %s: no event loop can accept on it", addr))
			continue
		}
	}
	for addr, so := range s.sockets {
		if _, ok := t.Listeners[addr]; !ok {
			delete(s.sockets, addr)
			so.close()
		}
	}
	return errors.Join(errs...)
}

// Addrs returns the bound address of each listener, keyed by configured
// address (useful when a listener binds port 0).
func (s *Server) Addrs() map[string]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]net.Addr{}
	for k, so := range s.sockets {
		m[k] = so.ln.Addr()
	}
	return m
}

// Shutdown stops accepting on every listener, closes idle connections and
// waits for in-flight requests to finish or ctx to end; then it closes the
// rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	socks := s.sockets
	s.sockets = map[string]*socket{}
	s.mu.Unlock()
	for _, so := range socks {
		so.close()
	}
	for _, so := range socks {
		select {
		case <-so.accepted:
		case <-ctx.Done():
		}
	}
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, so := range socks {
			so.mu.Lock()
			for c := range so.conns {
				if c.c != nil {
					c.c.Close()
				}
			}
			so.mu.Unlock()
			for _, lp := range s.loops {
				lp.closeSocketConns(so, true)
			}
		}
		<-done
		err = ctx.Err()
	}
	for _, lp := range s.loops {
		lp.stop()
	}
	return err
}

// track counts a new connection in. One accepted while the listener
// closes counts too: its client has sent a request, which it serves
// (Shutdown waits for the accept loop before it waits for connections).
// The loops call it once per accepted connection and remove once when it
// ends, which makes them the place to count connections in the load
// balancer's stats.
func (so *socket) track(c *conn) {
	c.stats.opened()
	so.mu.Lock()
	defer so.mu.Unlock()
	so.conns[c] = struct{}{}
	so.srv.conns.Add(1)
}

// handedOff records the net.Conn a goroutine serves c's client through
// (an HTTPS handshake), for a forced shutdown to close; nil when done.
func (so *socket) handedOff(c *conn, nc net.Conn) {
	so.mu.Lock()
	c.c = nc
	so.mu.Unlock()
}

// closingGrace is how long a closing listener waits for the first
// request of a connection it accepted just before closing.
const closingGrace = time.Second

// close stops accepting and has the loops close idle connections; busy
// ones close after their current request.
func (so *socket) close() {
	if !so.srv.handedOver.Load() {
		drainBacklog(so.ln, 200*time.Millisecond)
	}
	so.mu.Lock()
	so.closing.Store(true)
	so.ln.Close()
	so.stopLoopListeners()
	so.mu.Unlock()
	for _, lp := range so.srv.loops {
		lp.closeSocketConns(so, false)
	}
}

func (so *socket) remove(c *conn) {
	so.mu.Lock()
	delete(so.conns, c)
	so.mu.Unlock()
	c.stats.closed()
	so.srv.conns.Done()
}
