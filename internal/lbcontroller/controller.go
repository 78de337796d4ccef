// Package lbcontroller is the load balancer controller. It keeps the
// running load balancer in step with the store: it compiles the resources into the data plane's routing table and
// swaps it in, keeps a health probe per target in service, and ends the
// draining of deregistered targets when their delay is over.
package lbcontroller

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// Controller reconciles the data plane and health checks with the store.
type Controller struct {
	// Store holds the resources.
	Store store.Store
	// Server is the data plane.
	Server *dataplane.Server
	// Health runs the active checks.
	Health *health.Monitor
	// Clock paces the periodic work (draining, idle connections).
	Clock clock.Clock
	// Logger receives errors.
	Logger *slog.Logger
	// Events, if set, hears what an operator watching the terminal wants to
	// see: listeners opened, targets changing state.
	Events func(msg string)
	// HealthChanges, if set, hears every target health transition with
	// the target group's name and the line Events gets: the console marks
	// them on its timeline.
	HealthChanges func(targetGroup string, ch health.Change, line string)
	// Leads, if set, says whether this node leads its cluster: only the
	// leader removes targets whose draining is over, a write every node
	// would otherwise race to make.
	Leads func() bool
	// ListenHost is the host listeners bind when they name none ("" = all
	// interfaces).
	ListenHost string
	// Tick is the period of the draining and idle-connection sweep.
	Tick time.Duration

	registry *dataplane.Registry

	// recMu serializes reconciles: they share recs and groupCache.
	recMu      sync.Mutex
	recs       records
	groupCache map[string]*compiledGroup // by target group ARN

	mu        sync.Mutex
	states    map[string]*dataplane.GroupState        // by target group ARN
	lbStats   map[string]*dataplane.LoadBalancerStats // by load balancer ARN
	certCache map[string]parsedCert                   // by certificate ARN
	current   *Snapshot
	compiled  chan struct{} // closed and replaced after each compile
}

// Snapshot is the compiled view of the resources, for status reports.
type Snapshot struct {
	// Table is the data plane's routing table.
	Table *dataplane.Table
	// LoadBalancers are the load balancers with their stats, in name
	// order, those without listeners included.
	LoadBalancers []LoadBalancerView
	// Groups are the target groups with their targets, in name order.
	Groups []GroupView
	// Revision of the store compiled.
	Revision uint64

	draining []drainChange // applied to the live targets after the swap
	// orphansDraining is set when a draining registration's group is gone.
	orphansDraining bool
	groupIndex      map[string]int // Groups by ARN
}

// Group returns the view of the target group with arn, without walking
// every group.
func (s *Snapshot) Group(arn string) (GroupView, bool) {
	i, ok := s.groupIndex[arn]
	if !ok {
		return GroupView{}, false
	}
	return s.Groups[i], true
}

// LoadBalancerView is a load balancer with what its listeners counted.
type LoadBalancerView struct {
	// LoadBalancer is the record compiled: its ARN and Name name it.
	LoadBalancer *model.LoadBalancer
	// Stats is the same across compilations for as long as the load
	// balancer exists; the data plane's listeners of it count there.
	Stats *dataplane.LoadBalancerStats
}

type drainChange struct {
	target   *dataplane.Target
	draining bool
}

// GroupView is a target group with its live targets.
type GroupView struct {
	Group   *model.TargetGroup
	Targets []TargetView
	// InUse is true when a listener forwards to the group.
	InUse bool
}

// TargetView is a registration with the data plane's live target.
type TargetView struct {
	Registration *model.Target
	Live         *dataplane.Target
}

// New returns a controller with defaults filled in.
func New(st store.Store, srv *dataplane.Server, hm *health.Monitor) *Controller {
	c := &Controller{Store: st, Server: srv, Health: hm, Clock: clock.Real{}, Logger: slog.Default(),
		Tick: time.Second, registry: dataplane.NewRegistry(), states: map[string]*dataplane.GroupState{},
		lbStats: map[string]*dataplane.LoadBalancerStats{}, certCache: map[string]parsedCert{}, compiled: make(chan struct{})}
	hm.OnChange = c.onHealthChange
	return c
}

// Snapshot returns the latest compiled view.
func (c *Controller) Snapshot() *Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// LoadBalancerStats returns the stats of the load balancer with arn as of
// the last compile, nil when it is unknown (never compiled, or deleted).
func (c *Controller) LoadBalancerStats(arn string) *dataplane.LoadBalancerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lbStats[arn]
}

// Compiled returns a channel closed at the next compile, for waiting.
func (c *Controller) Compiled() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.compiled
}

// WatchedKinds are the kinds the routing table is compiled from: a commit
// of any other (launch templates, instances, activities) leaves it as it is.
var WatchedKinds = []string{model.KindLoadBalancer, model.KindListener, model.KindRule,
	model.KindTargetGroup, model.KindTarget, model.KindCertificate}

// Run reconciles until ctx ends: at once, after every change of the kinds
// it compiles, and every Tick for draining and idle connections.
func (c *Controller) Run(ctx context.Context) error {
	watch := c.Store.Watch(ctx, WatchedKinds...)
	if err := c.Reconcile(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			c.Health.Stop()
			return nil
		case <-watch:
			if err := c.Reconcile(ctx); err != nil {
				c.Logger.Error("applying configuration", "err", err)
			}
		case <-c.Clock.After(c.Tick):
			c.sweep()
		}
	}
}

// Reconcile compiles the store's resources and applies them. Records
// unchanged since the last reconcile are not decoded again, and target
// groups whose records are unchanged are not built again.
func (c *Controller) Reconcile(ctx context.Context) error {
	c.recMu.Lock()
	defer c.recMu.Unlock()
	var (
		lbs       []*model.LoadBalancer
		listeners []*model.Listener
		groups    []*model.TargetGroup
		targets   []*model.Target
		rules     []*model.Rule
		certs     []*model.Certificate
		rev       uint64
	)
	err := c.Store.View(func(tx store.Tx) error {
		var err error
		rev = c.Store.Revision()
		if lbs, err = c.recs.lbs.list(tx, model.KindLoadBalancer); err != nil {
			return err
		}
		if listeners, err = c.recs.listeners.list(tx, model.KindListener); err != nil {
			return err
		}
		if groups, err = c.recs.groups.list(tx, model.KindTargetGroup); err != nil {
			return err
		}
		if targets, err = c.recs.targets.list(tx, model.KindTarget); err != nil {
			return err
		}
		if rules, err = c.recs.rules.list(tx, model.KindRule); err != nil {
			return err
		}
		certs, err = c.recs.certs.list(tx, model.KindCertificate)
		return err
	})
	if err != nil {
		return err
	}
	// The orders elb.LoadBalancers, Listeners and TargetGroups return.
	sort.Slice(lbs, func(i, j int) bool { return lbs[i].Name < lbs[j].Name })
	sort.Slice(listeners, func(i, j int) bool { return listeners[i].Port < listeners[j].Port })
	sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	snap, watched := c.compile(lbs, listeners, groups, targets, rules, certs)
	snap.Revision = rev
	applyErr := c.Server.Apply(snap.Table)
	for _, d := range snap.draining {
		d.target.SetDraining(d.draining)
	}
	c.Health.Sync(ctx, watched)
	c.mu.Lock()
	old := c.current
	c.current = snap
	close(c.compiled)
	c.compiled = make(chan struct{})
	c.mu.Unlock()
	c.reportListeners(old, snap)
	return applyErr
}

func (c *Controller) compile(lbs []*model.LoadBalancer, listeners []*model.Listener, groups []*model.TargetGroup, targets []*model.Target, rules []*model.Rule, certs []*model.Certificate) (*Snapshot, []health.Watched) {
	byGroup := map[string][]*model.Target{}
	for _, t := range targets {
		byGroup[t.TargetGroupARN] = append(byGroup[t.TargetGroupARN], t)
	}
	inUse := map[string]bool{}
	for _, l := range listeners {
		for _, a := range l.DefaultActions {
			for _, arn := range elb.ActionTargetGroups(&a) {
				inUse[arn] = true
			}
		}
	}
	rulesOf := map[string][]*model.Rule{}
	for _, r := range rules {
		rulesOf[r.ListenerARN] = append(rulesOf[r.ListenerARN], r)
		for _, a := range r.Actions {
			for _, arn := range elb.ActionTargetGroups(&a) {
				inUse[arn] = true
			}
		}
	}
	snap := &Snapshot{Table: &dataplane.Table{Listeners: map[string]*dataplane.Listener{}}, groupIndex: make(map[string]int, len(groups))}
	compiled := map[string]*dataplane.TargetGroup{}
	keep := map[*dataplane.Target]bool{}
	var watched []health.Watched
	c.mu.Lock()
	states := map[string]*dataplane.GroupState{}
	cache := make(map[string]*compiledGroup, len(groups))
	for _, g := range groups {
		cg := c.groupCache[g.ARN]
		if cg == nil || !cg.same(g, byGroup[g.ARN], inUse[g.ARN]) {
			cg = c.compileGroup(g, byGroup[g.ARN], inUse[g.ARN])
		}
		cache[g.ARN] = cg
		for _, t := range cg.dg.Targets {
			keep[t] = true
		}
		snap.draining = append(snap.draining, cg.draining...)
		watched = append(watched, cg.watched...)
		states[g.ARN] = cg.dg.State()
		compiled[g.ARN] = cg.dg
		snap.groupIndex[g.ARN] = len(snap.Groups)
		snap.Groups = append(snap.Groups, cg.view)
	}
	c.states = states
	c.groupCache = cache
	c.mu.Unlock()
	for arn, regs := range byGroup {
		if cache[arn] == nil {
			for _, r := range regs {
				snap.orphansDraining = snap.orphansDraining || r.DrainingSince != nil
			}
		}
	}

	lbByARN := map[string]*dataplane.LoadBalancer{}
	lbByARNModel := map[string]*model.LoadBalancer{}
	// Stats carry over from the last compile, as group states do; a
	// deleted load balancer's are dropped with it.
	c.mu.Lock()
	stats := make(map[string]*dataplane.LoadBalancerStats, len(lbs))
	for _, lb := range lbs {
		st := c.lbStats[lb.ARN]
		if st == nil {
			st = &dataplane.LoadBalancerStats{}
		}
		stats[lb.ARN] = st
	}
	c.lbStats = stats
	c.mu.Unlock()
	for _, lb := range lbs {
		lbByARNModel[lb.ARN] = lb
		attrs := lb.Attrs()
		d := &dataplane.LoadBalancer{
			Name:               lb.Name,
			DNSName:            model.LoadBalancerDNSName(lb),
			IdleTimeout:        attrs.IdleTimeout,
			XFFMode:            attrs.XFFMode,
			PreserveHost:       attrs.PreserveHostHeader,
			DropInvalidHeaders: attrs.DropInvalidHeaderFields,
			Stats:              stats[lb.ARN],
		}
		lbByARN[lb.ARN] = d
		snap.LoadBalancers = append(snap.LoadBalancers, LoadBalancerView{LoadBalancer: lb, Stats: d.Stats})
	}
	for _, l := range listeners {
		lbDef, ok := lbByARN[l.LoadBalancerARN]
		if !ok {
			continue
		}
		// Each listener gets its own copy: the security group is per port.
		lbc := *lbDef
		lbc.AllowCIDRs = allowCIDRs(lbs, l)
		host := l.BindAddress
		if host == "" {
			host = c.ListenHost
		}
		addr := net.JoinHostPort(host, strconv.Itoa(l.Port))
		dl := &dataplane.Listener{ARN: l.ARN, Addr: addr, Port: l.Port, Protocol: l.Protocol, LoadBalancer: &lbc}
		rs := rulesOf[l.ARN]
		sort.Slice(rs, func(i, j int) bool { return rs[i].Priority < rs[j].Priority })
		for _, r := range rs {
			if a, ok := compileAction(r.Actions, compiled); ok {
				dl.Rules = append(dl.Rules, &dataplane.Rule{Priority: r.Priority, Conditions: compileConditions(r.Conditions), Action: a})
			}
		}
		if a, ok := compileAction(l.DefaultActions, compiled); ok {
			dl.Rules = append(dl.Rules, &dataplane.Rule{Action: a})
		}
		if l.Protocol == "HTTPS" {
			cfg, err := c.tlsConfig(l, certs, lbByARNModel[l.LoadBalancerARN])
			if err != nil {
				c.Logger.Error("HTTPS listener cannot serve", "port", l.Port, "err", err)
			}
			dl.TLS = cfg
		}
		snap.Table.Listeners[addr] = dl
	}
	c.registry.Retain(keep)
	return snap, watched
}

// compileGroup builds a target group's data plane group, its view and its
// health checks from its record and registrations. c.mu is held.
func (c *Controller) compileGroup(g *model.TargetGroup, regs []*model.Target, inUse bool) *compiledGroup {
	cg := &compiledGroup{group: g, regs: regs, inUse: inUse, view: GroupView{Group: g, InUse: inUse}}
	attrs := g.Attrs()
	var live []*dataplane.Target
	spec := health.SpecFor(g)
	for _, r := range regs {
		port := r.EffectivePort(g)
		t := c.registry.Get(g.ARN, r.ID, port, net.JoinHostPort(r.DialHost(), strconv.Itoa(port)), r.AvailabilityZone)
		// Draining is set on the live target only once the new table is
		// in force: the table in force until then may hold no other
		// target to send requests to.
		cg.draining = append(cg.draining, drainChange{t, r.DrainingSince != nil})
		live = append(live, t)
		cg.view.Targets = append(cg.view.Targets, TargetView{Registration: r, Live: t})
		if inUse && r.DrainingSince == nil {
			cg.watched = append(cg.watched, health.Watched{Group: g.ARN, Target: t, Host: r.DialHost(), Spec: spec})
		}
	}
	cg.dg = dataplane.NewTargetGroup(g.ARN, g.Name, live, algorithm(attrs.Algorithm), attrs.SlowStart, c.states[g.ARN])
	cg.dg.Sticky = stickiness(attrs.Stickiness)
	if g.Protocol == "HTTPS" {
		cg.dg.TLS = targetTLS
	}
	cg.dg.Version = dataplane.ParseProtocolVersion(g.ProtocolVersion)
	return cg
}

// targetTLS is how an HTTPS target group's requests reach its targets:
// TLS without verifying the target's certificate, as ALB does (targets
// commonly have self-signed ones).
var targetTLS = &tls.Config{InsecureSkipVerify: true}

// allowCIDRs returns the security group rules of l's load balancer that
// apply to l's port.
func allowCIDRs(lbs []*model.LoadBalancer, l *model.Listener) []netip.Prefix {
	var out []netip.Prefix
	for _, lb := range lbs {
		if lb.ARN != l.LoadBalancerARN {
			continue
		}
		for _, r := range lb.SecurityGroups {
			if r.Port != 0 && r.Port != l.Port {
				continue
			}
			if p, err := netip.ParsePrefix(r.CIDR); err == nil {
				out = append(out, p.Masked())
			}
		}
		if len(lb.SecurityGroups) > 0 && len(out) == 0 {
			// Rules exist but none for this port: nobody may connect.
			out = append(out, netip.MustParsePrefix("255.255.255.255/32"))
		}
	}
	return out
}

// compileAction turns the terminal default action into the data plane's.
func compileAction(actions []model.Action, groups map[string]*dataplane.TargetGroup) (dataplane.Action, bool) {
	if len(actions) == 0 {
		return dataplane.Action{}, false
	}
	a := actions[len(actions)-1]
	switch a.Type {
	case "forward":
		var out dataplane.Action
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			for _, w := range a.ForwardConfig.TargetGroups {
				if g, ok := groups[w.TargetGroupARN]; ok {
					out.Groups = append(out.Groups, dataplane.WeightedGroup{Group: g, Weight: w.Weight})
				}
			}
		} else if g, ok := groups[a.TargetGroupARN]; ok {
			out.Groups = []dataplane.WeightedGroup{{Group: g, Weight: 1}}
		}
		if len(out.Groups) == 0 {
			return out, false
		}
		if fc := a.ForwardConfig; fc != nil && fc.Stickiness != nil && fc.Stickiness.Enabled {
			out.GroupStickiness = time.Duration(max(fc.Stickiness.DurationSeconds, 1)) * time.Second
		}
		return out, true
	case "redirect":
		rc := a.Redirect
		code := 301
		if rc.StatusCode == "HTTP_302" {
			code = 302
		}
		return dataplane.Action{Type: dataplane.ActionRedirect, Redirect: &dataplane.RedirectConfig{
			Protocol: rc.Protocol, Host: rc.Host, Port: rc.Port, Path: rc.Path, Query: rc.Query, StatusCode: code}}, true
	case "fixed-response":
		code, _ := strconv.Atoi(a.FixedResponse.StatusCode)
		return dataplane.Action{Type: dataplane.ActionFixedResponse, FixedStatus: code,
			FixedContentType: a.FixedResponse.ContentType, FixedBody: a.FixedResponse.MessageBody}, true
	}
	return dataplane.Action{}, false
}

func algorithm(s string) dataplane.Algorithm {
	switch s {
	case "least_outstanding_requests":
		return dataplane.LeastOutstandingRequests
	case "weighted_random":
		return dataplane.WeightedRandom
	}
	return dataplane.RoundRobin
}

// sweep ends finished draining and closes target connections idle longer
// than the target's keep-alive is likely to last.
func (c *Controller) sweep() {
	now := c.Clock.Now()
	// The latest snapshot holds every registration as the store does (a
	// commit of targets is compiled at once), so finding draining that is
	// over needs no store read, which would decode every target each Tick.
	snap := c.Snapshot()
	due := false
	if snap != nil {
		due = snap.orphansDraining
		for _, g := range snap.Groups {
			for _, t := range g.Targets {
				if d := t.Registration.DrainingSince; d != nil && now.Sub(*d) >= elb.DeregistrationDelay(g.Group) {
					due = true
				}
			}
		}
	}
	if due && (c.Leads == nil || c.Leads()) {
		var n int
		err := c.Store.Update(func(tx store.Tx) error {
			var err error
			n, err = elb.RemoveDrained(tx, now)
			return err
		})
		if err != nil {
			c.Logger.Error("removing drained targets", "err", err)
		} else if n > 0 {
			c.event(fmt.Sprintf("%d drained target(s) removed", n))
		}
	}
	if snap != nil {
		for _, g := range snap.Groups {
			for _, t := range g.Targets {
				t.Live.CloseIdleConns(now.Add(-idleTargetConn))
			}
		}
	}
}

// idleTargetConn is how long a pooled connection to a target may stay idle:
// short enough to beat common server keep-alive timeouts (nginx 75 s,
// Go's none, gunicorn 2 s is caught by the stale check instead).
const idleTargetConn = 30 * time.Second

func (c *Controller) event(msg string) {
	if c.Events != nil {
		c.Events(msg)
	}
}

func (c *Controller) reportListeners(old, cur *Snapshot) {
	for addr, l := range cur.Table.Listeners {
		if old == nil || old.Table.Listeners[addr] == nil {
			c.event(fmt.Sprintf("listener %s %s open (load balancer %s)", l.Protocol, addr, l.LoadBalancer.Name))
		}
	}
	if old == nil {
		return
	}
	for addr, l := range old.Table.Listeners {
		if cur.Table.Listeners[addr] == nil {
			c.event(fmt.Sprintf("listener %s %s closed", l.Protocol, addr))
		}
	}
}

// onHealthChange reports transitions and starts slow start for a target
// that turns healthy while a warmed-up target is already serving.
func (c *Controller) onHealthChange(ch health.Change) {
	snap := c.Snapshot()
	name := ch.Group
	if snap != nil {
		if g, ok := snap.Group(ch.Group); ok {
			name = g.Group.Name
			if ch.New.State == health.StateHealthy {
				c.maybeSlowStart(g, ch.Target)
			} else {
				ch.Target.StopSlowStart()
			}
		}
	}
	msg := fmt.Sprintf("target %s (%s) in %s: %s -> %s", ch.Target.ID, ch.Target.Addr, name, ch.Old.State, ch.New.State)
	if ch.New.Reason != "" {
		msg += " (" + ch.New.Reason + ")"
	}
	c.event(msg)
	if c.HealthChanges != nil {
		c.HealthChanges(name, ch, msg)
	}
}

func (c *Controller) maybeSlowStart(g GroupView, t *dataplane.Target) {
	if g.Group.Attrs().SlowStart == 0 {
		return
	}
	for _, o := range g.Targets {
		if o.Live != t && o.Live.Healthy() && !o.Live.InSlowStart() && !o.Live.Draining() {
			t.StartSlowStart(c.Clock.Now())
			return
		}
	}
}
