package docker

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
)

// launchReadyTimeout bounds how long a launch waits for the application in
// the container to listen.
const launchReadyTimeout = 15 * time.Second

// heldFor is how long a connection to a published port must stay open for
// the application behind it to count as listening.
const heldFor = 200 * time.Millisecond

// waitReady waits, up to timeout, until the application inside the
// container accepts connections. The engine's published port accepts (and
// resets) connections before the application listens, so without this
// wait the instance's first health checks, and requests the load balancer
// retries on it, fail at once. On a local engine it dials the container's
// own address; a remote engine's containers are reached only through the
// published port, where a connection the engine's proxy keeps open means
// the application took it. An application that never listens is left to
// the health checks, as on AWS.
func (e *engine) waitReady(ctx context.Context, c container.InspectResponse, port, hostPort int, timeout time.Duration) {
	var addrs []string
	held := false
	if e.local && c.NetworkSettings != nil {
		for _, n := range c.NetworkSettings.Networks {
			if n != nil && n.IPAddress.IsValid() {
				addrs = append(addrs, net.JoinHostPort(n.IPAddress.String(), strconv.Itoa(port)))
			}
		}
	}
	if len(addrs) == 0 {
		// No own address to try (a remote engine, host networking).
		addrs, held = []string{net.JoinHostPort(e.address.String(), strconv.Itoa(hostPort))}, true
	}
	waitAccepting(ctx, addrs, held, timeout)
}

// waitAccepting waits, up to timeout, until one of addrs accepts a
// connection (and, when held, keeps it open for heldFor).
func waitAccepting(ctx context.Context, addrs []string, held bool, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, a := range addrs {
			if accepts(ctx, a, held) {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// accepts dials addr once.
func accepts(ctx context.Context, addr string, held bool) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if !held {
		return true
	}
	// A proxy with nothing behind it closes at once; an application waits
	// for the request (or greets first).
	conn.SetReadDeadline(time.Now().Add(heldFor))
	n, err := conn.Read(make([]byte, 1))
	return n > 0 || errors.Is(err, os.ErrDeadlineExceeded)
}
