//go:build unix && !linux

package dataplane

import "github.com/alba-lb/alba/internal/poller"

// newSet makes the set a loop waits on: without epoll, Go's netpoller
// whatever the engine.
func newSet(*Server, *eventLoop) (poller.Set, error) { return poller.NewNetpoll(), nil }
