package dataplane

import "github.com/alba-lb/alba/internal/poller"

// newSet makes the set a loop waits on: its own epoll set, or Go's
// netpoller with --engine goroutines.
func newSet(srv *Server, lp *eventLoop) (poller.Set, error) {
	if srv.Engine == EngineGoroutines {
		return poller.NewNetpoll(), nil
	}
	p, err := poller.New(128)
	if err != nil {
		return nil, err
	}
	p.CoalesceWait = srv.coalesceWait()
	p.Coalesce = func() bool { return lp.outstanding >= coalesceMinOutstanding }
	return p, nil
}
