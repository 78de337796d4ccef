package docker

import (
	"context"
	"time"

	"github.com/moby/moby/client"
)

// Ended follows the engine's event stream for this store's containers and
// sends on the channel when one dies (exits, is killed or OOM-killed), so
// that the controller replaces it without waiting for a poll
// (provider.Watcher). A broken stream is reopened with backoff; the
// channel closes when ctx ends.
func (p *Provider) Ended(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		wait := time.Second
		for ctx.Err() == nil {
			res := p.cli.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).
				Add("type", "container").Add("event", "die").Add("label", LabelStore+"="+p.store)})
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
	}()
	return out
}
