package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/handover"
)

// A replacing Alba (--replace: a binary upgrade, a restart) takes the
// running one's listening sockets, so that no connection is refused or
// reset while the two change places; the running one stops accepting,
// lets go of the store, finishes its requests in flight and exits,
// leaving its instances to its successor to adopt.

// handoverPath is the handover socket of the data directory.
func (n *Node) handoverPath() string { return filepath.Join(n.opts.DataDir, handover.FileName) }

// adminSocketName names the admin address among the sockets handed over.
func adminSocketName(addr string) string { return "admin:" + addr }

// takeAdmin takes the admin sockets out of taken, leaving the data
// plane's: it returns the one for addr (nil if none), and closes one a
// predecessor had on another address.
func takeAdmin(taken map[string]net.Listener, addr string) net.Listener {
	var ln net.Listener
	for name, l := range taken {
		if !strings.HasPrefix(name, adminSocketName("")) {
			continue
		}
		if name == adminSocketName(addr) {
			ln = l
		} else {
			l.Close()
		}
		delete(taken, name)
	}
	return ln
}

// takeOver asks the Alba running on the data directory for its listening
// sockets, by name; none when nobody runs there.
func (n *Node) takeOver() (map[string]net.Listener, error) {
	socks, err := handover.Take(n.handoverPath(), handoverWait)
	if errors.Is(err, handover.ErrNone) {
		n.Event("--replace: no alba runs on data directory " + n.opts.DataDir + "; starting afresh")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--replace: %w", err)
	}
	taken := make(map[string]net.Listener, len(socks))
	for _, s := range socks {
		taken[s.Name] = s.Listener
	}
	names := slices.Sorted(maps.Keys(taken))
	n.Event(fmt.Sprintf("--replace: took over the listening sockets of the running alba (%s); it finishes its requests in flight and exits", strings.Join(names, ", ")))
	return taken, nil
}

// handoverWait bounds the exchange with the running Alba, and then the
// wait for it to let go of the store.
const handoverWait = 30 * time.Second

// offerHandover serves the handover socket for a successor; a failure
// only costs the option (said in the event stream).
func (n *Node) offerHandover() {
	o, err := handover.Listen(n.handoverPath())
	if err != nil {
		n.Event("alba up --replace cannot take over from this run: " + err.Error())
		return
	}
	n.offer = o
}

// serveHandover waits for a successor until ctx ends; once one holds the
// sockets it marks the node handed over and calls done.
func (n *Node) serveHandover(ctx context.Context, done func()) {
	if n.offer == nil {
		return
	}
	err := n.offer.Serve(ctx, func() []handover.Socket {
		var socks []handover.Socket
		for addr, ln := range n.Server.Listeners() {
			socks = append(socks, handover.Socket{Name: addr, Listener: ln})
		}
		return append(socks, handover.Socket{Name: adminSocketName(n.opts.AdminAddr), Listener: n.adminLn})
	})
	if err != nil {
		return
	}
	n.Server.HandOver()
	n.handedOver.Store(true)
	done()
}

// closeOffer stops offering the sockets; a run that ends without a
// successor removes the socket file too.
func (n *Node) closeOffer() {
	if n.offer == nil {
		return
	}
	n.offer.Close()
	if !n.handedOver.Load() {
		os.Remove(n.handoverPath())
	}
}

// handOver ends a run whose successor holds the listening sockets: the
// API stops (its socket is the successor's), the store is let go of
// first, since the successor waits for it, then the requests in flight
// finish. Instances keep running for the successor to adopt.
func (n *Node) handOver(ctx context.Context, runErr error) error {
	n.Event("handed over to the new alba: finishing in-flight requests; instances keep running for it to adopt")
	n.admin.Shutdown(ctx)
	n.Health.Stop()
	n.Store.Close()
	if n.docker != nil {
		n.docker.Close()
	}
	if err := n.Server.Shutdown(ctx); err != nil {
		n.Event("shutdown timeout: closed connections still in flight")
	}
	n.offer.Close()
	return runErr
}
