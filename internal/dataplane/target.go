package dataplane

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one registered target (an id and port in a target group) as the
// data plane sees it. A Target keeps its identity across routing-table swaps
// (the Registry hands out the same pointer for the same group, id and port),
// so its health, in-flight count and pooled connections carry over.
//
// Everything the request path reads here is atomic: the table that holds a
// Target is immutable, the Target's live state is not.
type Target struct {
	// ID is the target's id: an instance id or an IP address.
	ID string
	// Port is the port traffic is sent to.
	Port int
	// Addr is the dial address, host:port.
	Addr string
	// Zone is the availability zone the target is in.
	Zone string

	healthy     atomic.Bool  // verdict of the active health checks
	passiveDown atomic.Bool  // taken out by real-traffic failures until an active check passes
	draining    atomic.Bool  // deregistered: no new requests
	fails5xx    atomic.Int32 // consecutive 5xx responses seen on real traffic
	inflight    atomic.Int64 // requests being proxied right now
	slowStart   atomic.Int64 // unix nanos when slow start began; 0 when not in slow start
	retired     atomic.Bool  // no longer in any table: pooled connections are closed
	sticky      stickyID     // what a sticky cookie carries to name this target

	// recheck is signalled when passive detection takes the target out, so
	// that its prober checks at once instead of waiting a whole interval.
	recheck chan struct{}

	idleCutoff atomic.Int64 // unix nanos: loop connections idle since before then are closed

	// Counters, read by metrics and the console.
	latency    latency
	Requests   atomic.Uint64
	Errors5xx  atomic.Uint64 // 5xx responses; Responses returns the other classes with it
	ConnErrors atomic.Uint64
	responses  [respClasses]atomic.Uint64 // 2xx, 3xx and 4xx responses
}

func newTarget(id string, port int, addr, zone string) *Target {
	return &Target{ID: id, Port: port, Addr: addr, Zone: zone, recheck: make(chan struct{}, 1)}
}

// passiveFailureThreshold is how many consecutive 5xx responses take a target
// out of rotation (Envoy's consecutive_5xx default).
const passiveFailureThreshold = 5

// Healthy reports the active health-check verdict.
func (t *Target) Healthy() bool { return t.healthy.Load() }

// SetHealthy records the active health-check verdict. A passing check also
// clears a passive mark-down.
func (t *Target) SetHealthy(ok bool) {
	if ok {
		t.passiveDown.Store(false)
		t.fails5xx.Store(0)
	}
	t.healthy.Store(ok)
}

// PassiveDown reports whether real-traffic failures took the target out.
func (t *Target) PassiveDown() bool { return t.passiveDown.Load() }

// Draining reports whether the target is deregistered and draining.
func (t *Target) Draining() bool { return t.draining.Load() }

// InFlight is the number of requests being proxied to the target.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// Recheck is signalled when the target should be health-checked at once.
func (t *Target) Recheck() <-chan struct{} { return t.recheck }

// StartSlowStart puts the target into slow start from now.
func (t *Target) StartSlowStart(now time.Time) { t.slowStart.Store(now.UnixNano()) }

// StopSlowStart takes the target out of slow start.
func (t *Target) StopSlowStart() { t.slowStart.Store(0) }

// InSlowStart reports whether the target is in slow start.
func (t *Target) InSlowStart() bool { return t.slowStart.Load() != 0 }

// routable reports whether the target may get new requests when the group
// is not failing open.
func (t *Target) routable() bool {
	return t.healthy.Load() && !t.passiveDown.Load() && !t.draining.Load()
}

// markConnFailure records a connection-level failure on real traffic: the
// target leaves rotation at once.
func (t *Target) markConnFailure() {
	t.ConnErrors.Add(1)
	if !t.passiveDown.Swap(true) {
		t.kick()
	}
}

// observeStatus counts a response of the target by class, and consecutive
// 5xx responses for passive detection. Every engine calls it once per
// response relayed.
func (t *Target) observeStatus(code int) {
	switch {
	case code >= 200 && code < 300:
		t.responses[resp2xx].Add(1)
	case code >= 300 && code < 400:
		t.responses[resp3xx].Add(1)
	case code >= 400 && code < 500:
		t.responses[resp4xx].Add(1)
	}
	if code >= 500 {
		t.Errors5xx.Add(1)
		if t.fails5xx.Add(1) >= passiveFailureThreshold && !t.passiveDown.Swap(true) {
			t.kick()
		}
		return
	}
	if t.fails5xx.Load() != 0 {
		t.fails5xx.Store(0)
	}
}

func (t *Target) kick() {
	select {
	case t.recheck <- struct{}{}:
	default:
	}
}

// Registry hands out one *Target per (group, id, port) so that state
// survives the recompilation of the routing table.
type Registry struct {
	mu      sync.Mutex
	targets map[targetKey]*Target
}

type targetKey struct {
	group string
	id    string
	port  int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{targets: map[targetKey]*Target{}} }

// Get returns the target for group/id/port, creating it (unhealthy, as a new
// registration is) when it is new. A changed address or zone replaces it.
func (r *Registry) Get(group, id string, port int, addr, zone string) *Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := targetKey{group, id, port}
	if t, ok := r.targets[k]; ok && t.Addr == addr && t.Zone == zone {
		return t
	} else if ok {
		t.retire()
	}
	t := newTarget(id, port, addr, zone)
	t.sticky = makeStickyID(group, id, strconv.Itoa(port))
	r.targets[k] = t
	return t
}

// Retain retires every target not in keep, closing its pooled connections.
func (r *Registry) Retain(keep map[*Target]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, t := range r.targets {
		if !keep[t] {
			t.retire()
			delete(r.targets, k)
		}
	}
}

// retire marks the target gone from every table: the loops close its
// pooled connections.
func (t *Target) retire() { t.retired.Store(true) }

// MarkFailed takes the target out of rotation as a failed connection would;
// a passing health check puts it back.
func (t *Target) MarkFailed() { t.markConnFailure() }

// SetDraining marks the target deregistered (it gets no new requests;
// requests in flight finish) or registered again.
func (t *Target) SetDraining(d bool) {
	if t.draining.Swap(d) != d && d {
		t.StopSlowStart()
	}
}

// CloseIdleConns closes pooled connections idle since before cutoff.
// The event loops apply the cutoff to their own pools on their next tick.
func (t *Target) CloseIdleConns(cutoff time.Time) {
	for {
		old := t.idleCutoff.Load()
		if cutoff.UnixNano() <= old || t.idleCutoff.CompareAndSwap(old, cutoff.UnixNano()) {
			return
		}
	}
}
