package docker

import (
	"context"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// Ended follows the event stream of every engine for this store's
// containers and sends on the channel when one dies (exits, is killed or
// OOM-killed), so that the controller replaces it without waiting for a
// poll (provider.Watcher). A broken stream is reopened with backoff; the
// channel closes when ctx ends.
func (p *Provider) Ended(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for _, e := range p.engines() {
		wg.Go(func() { e.follow(ctx, p.store, out) })
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

// follow sends on out whenever one of store's containers on e dies, until
// ctx ends.
func (e *engine) follow(ctx context.Context, store string, out chan<- struct{}) {
	wait := time.Second
	for ctx.Err() == nil {
		res := e.cli.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).
			Add("type", "container").Add("event", "die").Add("label", LabelStore+"="+store)})
		opened := time.Now()
	read:
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-res.Messages:
				if !ok {
					break read
				}
				select {
				case out <- struct{}{}:
				default: // one pending wake-up is enough
				}
			case <-res.Err:
				break read
			}
		}
		if time.Since(opened) > time.Minute {
			wait = time.Second // it ran a while: start the backoff over
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Minute)
	}
}
