package store

import (
	"context"
	"slices"
	"sync"
)

// watchers are a store's Watch calls, each a coalescing channel and the
// kinds it follows (nil: every commit).
type watchers struct {
	mu sync.Mutex
	m  map[chan struct{}]map[string]bool
}

// add registers a watch until ctx (or stop, if not nil) ends.
func (ws *watchers) add(ctx context.Context, stop <-chan struct{}, kinds []string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	var set map[string]bool
	if len(kinds) > 0 {
		set = map[string]bool{}
		for _, k := range kinds {
			set[k] = true
		}
	}
	ws.mu.Lock()
	if ws.m == nil {
		ws.m = map[chan struct{}]map[string]bool{}
	}
	ws.m[ch] = set
	ws.mu.Unlock()
	// notify sends to ch under ws.mu: once a commit's notify returns, its
	// notification is pending on ch. Closing under ws.mu too means no
	// send can follow the close.
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		ws.mu.Lock()
		delete(ws.m, ch)
		close(ch)
		ws.mu.Unlock()
	}()
	return ch
}

// notify tells the watchers of kinds (nil: of everything) that they
// changed.
func (ws *watchers) notify(kinds []string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for ch, set := range ws.m {
		if kinds != nil && set != nil && !slices.ContainsFunc(kinds, func(k string) bool { return set[k] }) {
			continue
		}
		select {
		case ch <- struct{}{}:
		default: // a notification is already pending
		}
	}
}
