// Package health runs the active health checks of target groups and keeps
// each target's state in AWS's terms (initial, healthy, unhealthy, draining,
// unused) with AWS's reason codes.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/model"
)

// States, as DescribeTargetHealth reports them (model's, under the names
// this package's callers know).
const (
	StateInitial   = model.TargetInitial
	StateHealthy   = model.TargetHealthy
	StateUnhealthy = model.TargetUnhealthy
	StateDraining  = model.TargetDraining
	StateUnused    = model.TargetUnused
)

// Reason codes.
const (
	ReasonInitialHealthChecking   = model.ReasonInitialHealthChecking
	ReasonResponseCodeMismatch    = model.ReasonResponseCodeMismatch
	ReasonTimeout                 = model.ReasonTimeout
	ReasonFailedHealthChecks      = model.ReasonFailedHealthChecks
	ReasonDeregistrationInProcess = model.ReasonDeregistrationInProcess
	ReasonNotRegistered           = model.ReasonNotRegistered
	ReasonNotInUse                = model.ReasonNotInUse
)

// Status is a target's health as reported to users.
type Status = model.TargetHealth

// Spec is a target group's health check, resolved for probing.
type Spec struct {
	// Protocol is HTTP or HTTPS.
	Protocol string
	// Port to probe; 0 means the target's own (traffic) port.
	Port int
	// Path requested with GET.
	Path string
	// Interval between checks, and Timeout of one check.
	Interval, Timeout time.Duration
	// HealthyThreshold and UnhealthyThreshold are the consecutive results
	// that change a verdict.
	HealthyThreshold, UnhealthyThreshold int
	// Matcher holds the codes that mean healthy.
	Matcher model.Matcher
	// Version is the group's protocol version: HTTP2 checks over HTTP/2,
	// GRPC checks with a gRPC call whose status GrpcMatcher matches.
	Version     string
	GrpcMatcher model.Matcher
}

// SpecFor resolves a target group's health check, with its protocol
// version.
func SpecFor(g *model.TargetGroup) Spec {
	s := SpecFrom(g.HealthCheck)
	s.Version = g.ProtocolVersion
	if g.HealthCheck.GrpcCode != "" {
		if m, err := model.ParseGrpcMatcher(g.HealthCheck.GrpcCode); err == nil {
			s.GrpcMatcher = m
		}
	}
	if s.Version == "GRPC" && s.GrpcMatcher == nil {
		s.GrpcMatcher = model.Matcher{{12, 12}}
	}
	return s
}

// SpecFrom resolves a target group's health check settings.
func SpecFrom(h model.HealthCheck) Spec {
	m, err := model.ParseMatcher(h.Matcher)
	if err != nil {
		m = model.Matcher{{200, 200}}
	}
	s := Spec{
		Protocol:           h.Protocol,
		Path:               h.Path,
		Interval:           time.Duration(h.IntervalSeconds) * time.Second,
		Timeout:            time.Duration(h.TimeoutSeconds) * time.Second,
		HealthyThreshold:   h.HealthyThreshold,
		UnhealthyThreshold: h.UnhealthyThreshold,
		Matcher:            m,
	}
	if h.Port != "traffic-port" {
		fmt.Sscan(h.Port, &s.Port)
	}
	return s
}

// Result is the outcome of one check.
type Result struct {
	OK bool
	// Reason and Description explain a failure.
	Reason, Description string
}

// Checker performs one check of addr (host:port) under spec.
type Checker func(ctx context.Context, spec Spec, addr string) Result

// Watched is one target to check: the data plane's target, the group it is
// in and the host to probe.
type Watched struct {
	Group  string
	Target *dataplane.Target
	Host   string
	Spec   Spec
}

// Change is a state transition, for the terminal, the console and the auto
// scaling group's ELB health check.
type Change struct {
	Group  string
	Target *dataplane.Target
	Old    Status
	New    Status
}

// Monitor runs one probe loop per watched target.
type Monitor struct {
	// Clock paces the probes.
	Clock clock.Clock
	// Check performs a check (HTTPCheck by default).
	Check Checker
	// OnChange, if set, hears every state transition. It runs on the probe's
	// goroutine and must not block for long.
	OnChange func(Change)
	// Logger receives nothing routine; transitions go to OnChange.
	Logger *slog.Logger

	mu     sync.Mutex
	probes map[*dataplane.Target]*probe
}

// NewMonitor returns a monitor with the real clock and HTTP checks.
func NewMonitor() *Monitor {
	return &Monitor{Clock: clock.Real{}, Check: HTTPCheck, probes: map[*dataplane.Target]*probe{}}
}

type probe struct {
	w      Watched
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	status Status
	okRun  int // consecutive successes
	badRun int // consecutive failures
}

// Sync makes the set of probes match ws: new targets start in initial,
// targets that left are no longer probed, and a changed spec takes effect
// while the state is kept (as modifying a target group's health check does
// on ALB).
func (m *Monitor) Sync(ctx context.Context, ws []Watched) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[*dataplane.Target]bool{}
	for _, w := range ws {
		keep[w.Target] = true
		if p, ok := m.probes[w.Target]; ok {
			if reflect.DeepEqual(p.w, w) {
				continue
			}
			p.stop()
			np := m.start(ctx, w)
			p.mu.Lock()
			np.status, np.okRun, np.badRun = p.status, p.okRun, p.badRun
			p.mu.Unlock()
			continue
		}
		m.start(ctx, w)
	}
	for t, p := range m.probes {
		if !keep[t] {
			p.stop()
			delete(m.probes, t)
		}
	}
}

func (m *Monitor) start(ctx context.Context, w Watched) *probe {
	pctx, cancel := context.WithCancel(ctx)
	p := &probe{w: w, cancel: cancel, done: make(chan struct{}),
		status: Status{State: StateInitial, Reason: ReasonInitialHealthChecking, Description: "Initial health checks in progress"}}
	m.probes[w.Target] = p
	go m.run(pctx, p)
	return p
}

func (p *probe) stop() {
	p.cancel()
	<-p.done
}

// Stop ends every probe.
func (m *Monitor) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, p := range m.probes {
		p.stop()
		delete(m.probes, t)
	}
}

// Status returns a target's health. Draining wins over the probe's verdict;
// a target without a probe is unused.
func (m *Monitor) Status(t *dataplane.Target) Status {
	if t.Draining() {
		return Status{State: StateDraining, Reason: ReasonDeregistrationInProcess, Description: "Target deregistration is in progress"}
	}
	m.mu.Lock()
	p, ok := m.probes[t]
	m.mu.Unlock()
	if !ok {
		return Status{State: StateUnused, Reason: ReasonNotInUse, Description: "Target group is not configured to receive traffic from the load balancer"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.status
	if s.State == StateHealthy && t.PassiveDown() {
		s = Status{State: StateUnhealthy, Reason: ReasonFailedHealthChecks, Description: "Failed requests on live traffic; awaiting a passing health check"}
	}
	return s
}

func (m *Monitor) run(ctx context.Context, p *probe) {
	defer close(p.done)
	t := p.w.Target
	for {
		port := p.w.Spec.Port
		if port == 0 {
			port = t.Port
		}
		cctx, cancel := context.WithTimeout(ctx, p.w.Spec.Timeout)
		r := m.Check(cctx, p.w.Spec, joinHostPort(p.w.Host, port))
		cancel()
		if ctx.Err() != nil {
			return
		}
		m.record(p, r)
		select {
		case <-ctx.Done():
			return
		case <-m.Clock.After(p.w.Spec.Interval):
		case <-t.Recheck():
		}
	}
}

// record applies one result to the state machine: a new target is healthy
// after ONE passing check; otherwise thresholds of consecutive results flip
// the verdict.
func (m *Monitor) record(p *probe, r Result) {
	p.mu.Lock()
	old := p.status
	spec := p.w.Spec
	if r.OK {
		p.okRun++
		p.badRun = 0
		if old.State == StateInitial || p.okRun >= spec.HealthyThreshold {
			p.status = Status{State: StateHealthy}
		}
	} else {
		p.badRun++
		p.okRun = 0
		if p.badRun >= spec.UnhealthyThreshold || old.State == StateUnhealthy {
			p.status = Status{State: StateUnhealthy, Reason: r.Reason, Description: r.Description}
		}
	}
	cur := p.status
	p.mu.Unlock()
	t := p.w.Target
	switch {
	case cur.State == StateHealthy && r.OK:
		t.SetHealthy(true) // also clears a passive mark-down
	case cur.State == StateHealthy:
		// a failure below the threshold changes nothing yet
	case t.Healthy():
		t.SetHealthy(false)
	}
	if cur != old && m.OnChange != nil {
		m.OnChange(Change{Group: p.w.Group, Target: t, Old: old, New: cur})
	}
}
