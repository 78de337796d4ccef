// Package asgcontroller is the auto scaling controller: it keeps each
// auto scaling group at its desired capacity (launching, registering,
// replacing unhealthy instances, draining and terminating the surplus,
// rebalancing zones) through a provider, samples its instances' CPU and
// request counts, and evaluates target tracking policies (scaling.go, a
// pure function of the samples). It reads the store and writes through
// package autoscaling, the service layer.
package asgcontroller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/provider"
	"github.com/alba-lb/alba/internal/store"
)

// LoadBalancer is what the controller asks of the load balancer side: the
// health of an instance's target, its requests in flight (to know when
// draining is done) and a target group's request count.
type LoadBalancer interface {
	TargetStatus(groupARN, id string, port int) (health.Status, bool)
	InFlight(groupARN, id string, port int) int64
	Requests(groupARN string) uint64
}

// Controller keeps every auto scaling group at its desired capacity,
// replaces unhealthy instances and runs the target tracking policies.
type Controller struct {
	// Store holds groups, templates, instances, policies and activities.
	Store store.Store
	// Provider starts and stops instances.
	Provider provider.Provider
	// LB reports target health and traffic.
	LB LoadBalancer
	// Clock paces the loop.
	Clock clock.Clock
	// Logger receives errors.
	Logger *slog.Logger
	// Events hears what the terminal shows.
	Events func(string)
	// Tick is the reconcile period.
	Tick time.Duration
	// SampleInterval is how often CPU and request counts are sampled and
	// the policies evaluated.
	SampleInterval time.Duration
	// ScaleOutWindow is how long a breach must last: the metric is averaged
	// over it before scaling out.
	ScaleOutWindow time.Duration
	// Tracking decides capacity changes.
	Tracking *Tracking
	// History receives every instance's CPUUtilization and each policy's
	// metric, and is what the policies read back: the console and the
	// CloudWatch API show what the policies saw.
	History *metrics.History
	// StopGrace is how long an instance may take to stop before SIGKILL.
	StopGrace time.Duration
	// MinDrain is the shortest draining of a terminating instance, so a
	// request routed just before deregistration still lands.
	MinDrain time.Duration
	// ReapInterval is how often instances the store does not know are
	// looked for, and ReapGrace how old one must be to be removed (the
	// engine's creation time, a wall clock).
	ReapInterval, ReapGrace time.Duration

	mu          sync.Mutex
	cpu         map[string]*cpuState       // by instance id
	since       map[string]time.Time       // by policy key: samples before this are not counted (the last decision)
	reqLast     map[string]reqSample       // by target group ARN
	stopping    map[string]chan error      // instances being stopped
	rebalancing map[string]string          // group -> instance launched to rebalance zones
	backoffs    map[string]backoff         // group -> when launches may be tried again
	failedZones map[string]map[string]bool // group -> zones whose last launch failed
	lastTick    time.Time
	lastReap    time.Time
	lastLog     map[string]time.Time
}

type cpuState struct {
	cpu     time.Duration
	at      time.Time
	percent float64
	valid   bool
}

type reqSample struct {
	count uint64
	at    time.Time
}

// NewController returns a controller with the defaults: sample every 5 s,
// scale out after a 10 s breach, scale in after a 5 min window.
func NewController(st store.Store, p provider.Provider, lb LoadBalancer) *Controller {
	return &Controller{
		Store: st, Provider: p, LB: lb, Clock: clock.Real{}, Logger: slog.Default(),
		Tick: time.Second, SampleInterval: 5 * time.Second, ScaleOutWindow: 10 * time.Second,
		Tracking: NewTracking(), StopGrace: 10 * time.Second, MinDrain: time.Second, ReapInterval: time.Minute, ReapGrace: time.Minute,
		History: metrics.NewHistory(), cpu: map[string]*cpuState{}, since: map[string]time.Time{}, reqLast: map[string]reqSample{},
		stopping: map[string]chan error{}, lastLog: map[string]time.Time{}, rebalancing: map[string]string{}, backoffs: map[string]backoff{}, failedZones: map[string]map[string]bool{},
	}
}

func (c *Controller) event(format string, args ...any) {
	if c.Events != nil {
		c.Events(fmt.Sprintf(format, args...))
	}
}

// Run adopts the instances a previous run left, then reconciles until ctx
// ends. Instances keep running when Alba stops: the next run adopts them.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.Adopt(); err != nil {
		return err
	}
	// Groups (desired capacity, sizes, target groups, deletion) and
	// instances (health, protection, termination through the API) are what
	// a step reacts to at once; templates and policies are read when a
	// launch or a sample comes, and target health is polled every Tick.
	watch := c.Store.Watch(ctx, model.KindAutoScalingGroup, model.KindInstance)
	// A provider that hears of instances ending (the engine's events for
	// containers) wakes a step at once; nil blocks forever in the select.
	var ended <-chan struct{}
	if w, ok := c.Provider.(provider.Watcher); ok {
		ended = w.Ended(ctx)
	}
	// The loop checks ctx itself: after a slow step the timer is ready
	// too, and select would pick between them at random.
	for ctx.Err() == nil {
		// Steps keep a fixed rate: the next is due a Tick after this one
		// began, however long the step took (engine calls for many
		// containers), so samples stay SampleInterval apart.
		start := c.Clock.Now()
		c.Step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		case <-ended:
		case <-c.Clock.After(max(c.Tick-c.Clock.Now().Sub(start), 0)):
		}
	}
	return nil
}

// Adopt takes over the instances in the store: running ones are kept, an
// interrupted launch is cleaned up, dead ones are left for the health check
// to replace.
func (c *Controller) Adopt() error {
	var insts []*model.Instance
	if err := c.Store.View(func(tx store.Tx) error {
		var err error
		insts, err = autoscaling.Instances(tx)
		return err
	}); err != nil {
		return err
	}
	for _, inst := range insts {
		if inst.Runtime.PID == 0 && inst.Runtime.ContainerID == "" {
			c.Store.Update(func(tx store.Tx) error { return autoscaling.DeleteInstance(tx, inst.ID) })
			continue
		}
		rt, ip, port := inst.Runtime, inst.PrivateIP, inst.Port
		if !c.Provider.Adopt(inst) {
			continue
		}
		c.event("adopted instance %s (%s:%d) of %s", inst.ID, inst.PrivateIP, inst.Port, inst.Group)
		if inst.Runtime == rt && inst.PrivateIP == ip && inst.Port == port {
			continue
		}
		// What adoption found out (a record from before zones names no
		// engine) is kept, so stop and CPU reach the same container.
		if err := c.Store.Update(func(tx store.Tx) error {
			cur, err := autoscaling.Instance(tx, inst.ID)
			if err != nil || cur == nil {
				return err
			}
			cur.Runtime, cur.PrivateIP, cur.Port = inst.Runtime, inst.PrivateIP, inst.Port
			return autoscaling.PutInstance(tx, cur)
		}); err != nil {
			c.Logger.Error("auto scaling: recording adopted instance", "instance", inst.ID, "err", err)
		}
	}
	return nil
}

// Step runs one reconcile of every group, and samples and evaluates the
// policies when a sample is due.
func (c *Controller) Step(ctx context.Context) {
	now := c.Clock.Now()
	var groups []*model.AutoScalingGroup
	if err := c.Store.View(func(tx store.Tx) error {
		var err error
		groups, err = autoscaling.Groups(tx)
		return err
	}); err != nil {
		c.Logger.Error("auto scaling: reading groups", "err", err)
		return
	}
	if now.Sub(c.lastTick) >= c.SampleInterval {
		c.lastTick = now
		c.sample(groups, now)
		for _, g := range groups {
			c.evaluate(g, now)
		}
	}
	for _, g := range groups {
		if err := c.reconcile(ctx, g.Name, now); err != nil && !errors.As(err, new(launchError)) {
			c.Logger.Error("auto scaling", "group", g.Name, "err", err)
		}
	}
	c.reap(ctx, now)
}

// reap removes, every ReapInterval, the instances a provider started that
// the store does not know (a launch cut short by a crash), once they are
// older than ReapGrace: their launch cannot still be under way.
func (c *Controller) reap(ctx context.Context, now time.Time) {
	r, ok := c.Provider.(provider.Reaper)
	if !ok || (!c.lastReap.IsZero() && now.Sub(c.lastReap) < c.ReapInterval) {
		return
	}
	c.lastReap = now
	known := map[string]bool{}
	if err := c.Store.View(func(tx store.Tx) error {
		insts, err := autoscaling.Instances(tx)
		for _, i := range insts {
			known[i.ID] = true
		}
		return err
	}); err != nil {
		// Without the instances it knows, every instance looks unknown.
		c.Logger.Error("auto scaling: reading instances before removing unknown ones", "err", err)
		return
	}
	// Providers date their instances by the wall clock (the engine's
	// creation time), so the grace is counted on it too.
	ids, err := r.Reap(ctx, func(id string) bool { return known[id] }, time.Now().Add(-c.ReapGrace))
	if len(ids) > 0 {
		c.event("removed %d instance(s) the store does not know (a launch cut short): %s", len(ids), strings.Join(ids, ", "))
	}
	if err != nil && ctx.Err() == nil {
		c.Logger.Error("auto scaling: removing unknown instances", "err", err)
	}
}

// reconcile moves a group's instances through their lifecycle and its
// capacity towards desired.
func (c *Controller) reconcile(ctx context.Context, name string, now time.Time) error {
	var g *model.AutoScalingGroup
	var insts []*model.Instance
	if err := c.Store.View(func(tx store.Tx) error {
		var err error
		if g, err = autoscaling.Group(tx, name); err != nil {
			return err
		}
		insts, err = autoscaling.InstancesOf(tx, name)
		return err
	}); err != nil {
		return err
	}
	var active []*model.Instance
	for _, inst := range insts {
		switch inst.LifecycleState {
		case model.LifecyclePending:
			if err := c.finishLaunch(g, inst, now); err != nil {
				return err
			}
			active = append(active, inst)
		case model.LifecycleInService:
			if cause := c.unhealthy(g, inst, now); cause != "" {
				if err := c.beginTerminate(g, inst, cause, true, now); err != nil {
					return err
				}
				continue
			}
			active = append(active, inst)
		case model.LifecycleTerminating:
			if err := c.continueTerminate(ctx, g, inst, now); err != nil {
				return err
			}
		}
	}
	if g.Status != "" && len(insts) == 0 {
		c.event("auto scaling group %s deleted", g.Name)
		return c.Store.Update(func(tx store.Tx) error { return autoscaling.RemoveDeletedGroup(tx, g.Name) })
	}
	switch {
	case len(active) < g.Desired:
		for n := len(active); n < g.Desired; n++ {
			inst, err := c.launch(ctx, g, active, n, now)
			if errors.Is(err, errBackingOff) {
				return nil
			}
			if err != nil {
				return err
			}
			active = append(active, inst)
		}
	case len(active) > g.Desired:
		if c.rebalanceWaiting(g, active) {
			return nil // the instance launched to rebalance is not serving yet
		}
		for n := len(active); n > g.Desired; n-- {
			victim := pickVictim(g, active)
			if victim == nil {
				break // every instance is protected from scale in
			}
			cause := fmt.Sprintf("%s At %s an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from %d to %d.", g.DesiredCause, autoscaling.Stamp(now), n, n-1)
			if err := c.beginTerminate(g, victim, cause, false, now); err != nil {
				return err
			}
			active = remove(active, victim)
		}
	default:
		if zone, ok := unevenZones(g, active); ok && settled(insts) {
			cause := fmt.Sprintf("At %s an instance was launched in an attempt to rebalance the instances across availability zones.", autoscaling.Stamp(now))
			g.DesiredCause = cause
			inst, err := c.launch(ctx, withZone(g, zone), active, len(active), now)
			if errors.Is(err, errBackingOff) {
				return nil
			}
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.rebalancing[g.Name] = inst.ID
			c.mu.Unlock()
			return nil
		}
		if g.DesiredCause != "" {
			return c.Store.Update(func(tx store.Tx) error { return autoscaling.ClearDesiredCause(tx, g.Name, g.Desired) })
		}
	}
	return nil
}

func remove(list []*model.Instance, x *model.Instance) []*model.Instance {
	out := list[:0:0]
	for _, i := range list {
		if i != x {
			out = append(out, i)
		}
	}
	return out
}

// zoneFor picks the zone with the fewest active instances (AWS keeps zones
// balanced), in the group's zone order on ties, among the zones whose last
// launch did not fail (all of them when every one failed).
func zoneFor(g *model.AutoScalingGroup, active []*model.Instance, failed map[string]bool) string {
	count := map[string]int{}
	for _, i := range active {
		count[i.Zone]++
	}
	zones := slices.DeleteFunc(slices.Clone(g.Zones), func(z string) bool { return failed[z] })
	if len(zones) == 0 {
		zones = g.Zones
	}
	best := zones[0]
	for _, z := range zones {
		if count[z] < count[best] {
			best = z
		}
	}
	return best
}

// pickVictim applies the termination policy: instances in zones the group
// no longer uses first, then the zone with the most instances, then the
// policy (Default: oldest launch template version, then at random).
func pickVictim(g *model.AutoScalingGroup, active []*model.Instance) *model.Instance {
	count := map[string]int{}
	for _, i := range active {
		if !i.ProtectedFromScaleIn {
			count[i.Zone]++
			if !hasZone(g, i.Zone) {
				count[i.Zone] += 1 << 20
			}
		}
	}
	var cands []*model.Instance
	most := 0
	for _, i := range active {
		if i.ProtectedFromScaleIn {
			continue
		}
		switch n := count[i.Zone]; {
		case n > most:
			most, cands = n, []*model.Instance{i}
		case n == most:
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	policy := "Default"
	if len(g.TerminationPolicies) > 0 {
		policy = g.TerminationPolicies[0]
	}
	switch policy {
	case "OldestInstance":
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].LaunchTime.Before(cands[b].LaunchTime) })
		return cands[0]
	case "NewestInstance":
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].LaunchTime.After(cands[b].LaunchTime) })
		return cands[0]
	}
	// Default and OldestLaunchTemplate: the oldest template version first.
	oldest := versionOf(cands[0])
	for _, i := range cands {
		oldest = min(oldest, versionOf(i))
	}
	var pool []*model.Instance
	for _, i := range cands {
		if versionOf(i) == oldest {
			pool = append(pool, i)
		}
	}
	return pool[rand.IntN(len(pool))]
}

func versionOf(i *model.Instance) int {
	var n int
	fmt.Sscan(i.LaunchTemplate.Version, &n)
	return n
}

// launch records a Pending instance, starts it with the provider, registers
// it with the group's target groups and puts it in service.
// errBackingOff says a group's launches wait after failures.
var errBackingOff = errors.New("launches are backing off after a failure")

// Launch failures back off per group, doubling from LaunchBackoff up to
// MaxLaunchBackoff, so that a missing image or an unreachable engine makes
// one failed activity every while, not a loop that floods the history.
const (
	LaunchBackoff    = time.Second
	MaxLaunchBackoff = 5 * time.Minute
)

type backoff struct {
	until time.Time
	delay time.Duration
}

func (c *Controller) launch(ctx context.Context, g *model.AutoScalingGroup, active []*model.Instance, n int, now time.Time) (*model.Instance, error) {
	c.mu.Lock()
	if now.Before(c.backoffs[g.Name].until) {
		c.mu.Unlock()
		return nil, errBackingOff
	}
	zone := zoneFor(g, active, c.failedZones[g.Name])
	c.mu.Unlock()
	inst, err := c.launchOne(ctx, g, zone, n, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	failed := c.failedZones[g.Name]
	if failed == nil {
		failed = map[string]bool{}
		c.failedZones[g.Name] = failed
	}
	everyZoneFailed := func() bool { return !slices.ContainsFunc(g.Zones, func(z string) bool { return !failed[z] }) }
	if err != nil {
		// As EC2 Auto Scaling does, a launch that fails in one zone is
		// tried next in another; the group backs off once every zone
		// failed its last launch.
		failed[zone] = true
		if everyZoneFailed() {
			b := c.backoffs[g.Name]
			b.delay = min(max(b.delay*2, LaunchBackoff), MaxLaunchBackoff)
			b.until = now.Add(b.delay)
			c.backoffs[g.Name] = b
		}
		return nil, err
	}
	if everyZoneFailed() {
		// Every zone had failed: the cause was not a zone's, and it is gone.
		delete(c.failedZones, g.Name)
	} else {
		delete(failed, zone)
	}
	delete(c.backoffs, g.Name)
	return inst, nil
}

func (c *Controller) launchOne(ctx context.Context, g *model.AutoScalingGroup, zone string, n int, now time.Time) (*model.Instance, error) {
	inst := &model.Instance{
		ID: model.NewInstanceID(), Group: g.Name, Zone: zone,
		LifecycleState: model.LifecyclePending, HealthStatus: "Healthy", LaunchTime: now,
		ProtectedFromScaleIn: g.NewInstancesProtectedFromScaleIn,
	}
	cause := fmt.Sprintf("At %s an instance was started in response to a difference between desired and actual capacity, increasing the capacity from %d to %d.", autoscaling.Stamp(now), n, n+1)
	if g.DesiredCause != "" {
		cause = g.DesiredCause + " " + cause
	}
	act := autoscaling.NewActivity(g, inst.Zone, "Launching a new EC2 instance: "+inst.ID, cause, now)
	var spec provider.LaunchSpec
	err := c.Store.Update(func(tx store.Tx) error {
		lt, err := autoscaling.TemplateByRef(tx, g.LaunchTemplate.ID, g.LaunchTemplate.Name)
		if err != nil {
			return err
		}
		v, err := autoscaling.ResolveVersion(tx, lt, g.LaunchTemplate.Version)
		if err != nil {
			return err
		}
		ud, err := v.Data.DecodedUserData()
		if err != nil {
			return err
		}
		typ := v.Data.InstanceType
		if typ == "" {
			typ = model.DefaultInstanceType
		}
		inst.LaunchTemplate = model.LaunchTemplateSpec{ID: lt.ID, Name: lt.Name, Version: fmt.Sprint(v.Number)}
		inst.InstanceType = typ
		spec = provider.LaunchSpec{InstanceID: inst.ID, Group: g.Name, LaunchTemplateID: lt.ID, LaunchTemplateVersion: inst.LaunchTemplate.Version,
			Zone: inst.Zone, InstanceType: typ, Size: model.InstanceTypes[typ],
			ImageID: v.Data.ImageID, UserData: ud, Env: v.Data.Environment, Tags: autoscaling.InstanceTags(g, v.Data), Port: groupPort(tx, g)}
		if err := autoscaling.PutInstance(tx, inst); err != nil {
			return err
		}
		return autoscaling.RecordActivity(tx, act)
	})
	if err != nil {
		return nil, c.failActivity(g, act, inst, err, now)
	}
	launched, err := c.Provider.Launch(ctx, spec)
	if err != nil {
		return nil, c.failActivity(g, act, inst, err, now)
	}
	// Read, modify, write: the API may have changed the Pending record
	// (health, protection) while the process started.
	var rec *model.Instance // what committed (nil: gone); fn may run more than once
	err = c.Store.Update(func(tx store.Tx) error {
		rec = nil
		cur, err := autoscaling.Instance(tx, inst.ID)
		if err != nil {
			return nil
		}
		cur.PrivateIP, cur.Port, cur.Runtime = launched.PrivateIP, launched.Port, launched.Runtime
		rec = cur
		return autoscaling.PutInstance(tx, cur)
	})
	if err != nil {
		return nil, err
	}
	if rec != nil {
		*inst = *rec
	} else {
		c.Provider.Stop(context.WithoutCancel(ctx), launched.Runtime, c.StopGrace)
		return nil, fmt.Errorf("instance %s was removed while it launched", inst.ID)
	}
	c.event("launched %s in %s (%s:%d) for %s: %s", inst.ID, inst.Zone, inst.PrivateIP, inst.Port, g.Name, cause)
	return inst, c.finishLaunch(g, inst, now)
}

// groupPort is the port the group's first target group sends traffic to.
func groupPort(tx store.Tx, g *model.AutoScalingGroup) int {
	for _, arn := range g.TargetGroupARNs {
		if tg, err := elb.TargetGroup(tx, arn); err == nil {
			return tg.Port
		}
	}
	return 8080
}

func (c *Controller) failActivity(g *model.AutoScalingGroup, act *model.Activity, inst *model.Instance, cause error, now time.Time) error {
	c.event("launch of %s for %s failed: %v", inst.ID, g.Name, cause)
	end := now
	act.EndTime, act.StatusCode, act.StatusMessage, act.Progress = &end, model.ActivityFailed, cause.Error(), 100
	if err := c.Store.Update(func(tx store.Tx) error {
		if err := autoscaling.DeleteInstance(tx, inst.ID); err != nil {
			return err
		}
		return autoscaling.PutActivity(tx, act)
	}); err != nil {
		return err
	}
	return launchError{fmt.Errorf("launch of %s failed: %w", inst.ID, cause)}
}

// launchError is a launch that failed and was reported (an event and a
// failed activity): the controller does not log it again.
type launchError struct{ error }

func (e launchError) Unwrap() error { return e.error }

// finishLaunch registers a started instance in its target groups (AWS does
// so before InService) and puts it in service.
func (c *Controller) finishLaunch(g *model.AutoScalingGroup, inst *model.Instance, now time.Time) error {
	if inst.Runtime.PID == 0 && inst.Runtime.ContainerID == "" {
		return nil // still launching
	}
	var done *model.Instance // what committed: fn may run more than once
	err := c.Store.Update(func(tx store.Tx) error {
		done = nil
		cur, err := autoscaling.Instance(tx, inst.ID)
		if err != nil || cur.LifecycleState != model.LifecyclePending {
			return err
		}
		for _, arn := range g.TargetGroupARNs {
			t := model.Target{ID: cur.ID, Port: cur.Port, Address: cur.PrivateIP, AvailabilityZone: cur.Zone, Source: "autoscaling"}
			if err := elb.RegisterTargets(tx, arn, []model.Target{t}, now); err != nil && !model.HasCode(err, "TargetGroupNotFound") {
				return err
			}
		}
		cur.LifecycleState = model.LifecycleInService
		t := now
		cur.InServiceTime = &t
		done = cur
		return autoscaling.PutInstance(tx, cur)
	})
	if err != nil {
		return err
	}
	if done != nil {
		*inst = *done
	}
	return c.endActivity(g.Name, "Launching a new EC2 instance: "+inst.ID, model.ActivitySuccessful, "", now)
}

// endActivity completes the newest in-progress activity with desc.
func (c *Controller) endActivity(group, desc, status, msg string, now time.Time) error {
	return c.Store.Update(func(tx store.Tx) error {
		as, err := autoscaling.Activities(tx, group)
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.Description == desc && a.EndTime == nil {
				end := now
				a.EndTime, a.StatusCode, a.StatusMessage, a.Progress = &end, status, msg, 100
				return autoscaling.PutActivity(tx, a)
			}
		}
		return nil
	})
}

// unhealthy returns the cause when an in-service instance must be replaced:
// its process is gone (EC2 status), or, with ELB health checks and past the
// grace period, a target group reports it unhealthy.
func (c *Controller) unhealthy(g *model.AutoScalingGroup, inst *model.Instance, now time.Time) string {
	if inst.HealthStatus == "Unhealthy" {
		return fmt.Sprintf("At %s an instance was taken out of service in response to a user health-check.", autoscaling.Stamp(now))
	}
	if !c.Provider.Alive(inst.Runtime) {
		return fmt.Sprintf("At %s an instance was taken out of service in response to an EC2 instance status check failure.", autoscaling.Stamp(now))
	}
	if g.HealthCheckType != "ELB" || c.LB == nil || inst.InServiceTime == nil {
		return ""
	}
	if now.Sub(*inst.InServiceTime) < time.Duration(g.HealthCheckGracePeriod)*time.Second {
		return ""
	}
	for _, arn := range g.TargetGroupARNs {
		if st, ok := c.LB.TargetStatus(arn, inst.ID, inst.Port); ok && st.State == health.StateUnhealthy {
			return fmt.Sprintf("At %s an instance was taken out of service in response to an ELB system health check failure.", autoscaling.Stamp(now))
		}
	}
	return ""
}

// beginTerminate starts terminating an instance: it is deregistered from
// its target groups (draining) and stopped once drained.
func (c *Controller) beginTerminate(g *model.AutoScalingGroup, inst *model.Instance, cause string, unhealthy bool, now time.Time) error {
	desc := "Terminating EC2 instance: " + inst.ID
	act := autoscaling.NewActivity(g, inst.Zone, desc, cause, now)
	if len(g.TargetGroupARNs) > 0 {
		act.StatusCode = model.ActivityWaitingForELBDraining
	}
	skip := false
	var rec *model.Instance // what committed; fn may run more than once
	err := c.Store.Update(func(tx store.Tx) error {
		cur, err := autoscaling.Instance(tx, inst.ID)
		if err != nil {
			return err
		}
		skip = cur.LifecycleState == model.LifecycleTerminating
		if skip {
			return nil // already terminating (the API got there first)
		}
		for _, arn := range g.TargetGroupARNs {
			if err := elb.DeregisterTargets(tx, arn, []elb.TargetRef{{ID: cur.ID, Port: cur.Port}}, now); err != nil && !model.HasCode(err, "TargetGroupNotFound") {
				return err
			}
		}
		cur.LifecycleState = model.LifecycleTerminating
		if unhealthy {
			cur.HealthStatus = "Unhealthy"
		}
		t := now
		cur.TerminatingSince = &t
		cur.TerminateActivity = act.ID
		rec = cur
		if err := autoscaling.PutInstance(tx, cur); err != nil {
			return err
		}
		return autoscaling.PutActivity(tx, act)
	})
	if err == nil && !skip {
		*inst = *rec
		c.event("terminating %s of %s: %s", inst.ID, g.Name, cause)
	}
	return err
}

// continueTerminate stops a terminating instance once its targets have
// drained (no request in flight, or the deregistration delay is over), and
// removes it once stopped.
func (c *Controller) continueTerminate(ctx context.Context, g *model.AutoScalingGroup, inst *model.Instance, now time.Time) error {
	c.mu.Lock()
	done, stopping := c.stopping[inst.ID]
	c.mu.Unlock()
	if stopping {
		select {
		case err := <-done:
			c.mu.Lock()
			delete(c.stopping, inst.ID)
			delete(c.cpu, inst.ID)
			c.mu.Unlock()
			if err != nil {
				c.Logger.Error("stopping instance", "instance", inst.ID, "err", err)
			}
			if err := c.Store.Update(func(tx store.Tx) error { return autoscaling.DeleteInstance(tx, inst.ID) }); err != nil {
				return err
			}
			c.event("terminated %s of %s", inst.ID, g.Name)
			return c.endActivity(g.Name, "Terminating EC2 instance: "+inst.ID, model.ActivitySuccessful, "", now)
		default:
			return nil
		}
	}
	if !c.drained(g, inst, now) {
		return nil
	}
	ch := make(chan error, 1)
	c.mu.Lock()
	c.stopping[inst.ID] = ch
	c.mu.Unlock()
	rt := inst.Runtime
	go func() { ch <- c.Provider.Stop(context.WithoutCancel(ctx), rt, c.StopGrace) }()
	return nil
}

// drained reports whether no request is in flight to the instance through
// any of its target groups, or draining has lasted the deregistration delay.
func (c *Controller) drained(g *model.AutoScalingGroup, inst *model.Instance, now time.Time) bool {
	if inst.TerminatingSince == nil || !c.Provider.Alive(inst.Runtime) {
		return true
	}
	since := now.Sub(*inst.TerminatingSince)
	if since < c.MinDrain {
		return false
	}
	var delay time.Duration
	c.Store.View(func(tx store.Tx) error {
		for _, arn := range g.TargetGroupARNs {
			if tg, err := elb.TargetGroup(tx, arn); err == nil {
				delay = max(delay, elb.DeregistrationDelay(tg))
			}
		}
		return nil
	})
	if since >= delay {
		return true
	}
	if c.LB == nil {
		return true
	}
	for _, arn := range g.TargetGroupARNs {
		if c.LB.InFlight(arn, inst.ID, inst.Port) > 0 {
			return false
		}
	}
	return true
}

// InstanceCPU returns the instance's latest CPU utilization (percent of its
// vCPUs).
func (c *Controller) InstanceCPU(id string) (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.cpu[id]
	if !ok || !st.valid {
		return 0, false
	}
	return st.percent, true
}

// StopAll stops every instance and forgets it, for a graceful stop of Alba
// that should leave nothing running. The next run launches afresh.
func (c *Controller) StopAll(ctx context.Context) {
	var insts []*model.Instance
	c.Store.View(func(tx store.Tx) error {
		insts, _ = autoscaling.Instances(tx)
		return nil
	})
	var wg sync.WaitGroup
	for _, inst := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Provider.Stop(ctx, inst.Runtime, c.StopGrace)
		}()
	}
	wg.Wait()
	now := c.Clock.Now()
	c.Store.Update(func(tx store.Tx) error {
		for _, inst := range insts {
			if err := autoscaling.RemoveStoppedWithAlba(tx, inst, now); err != nil {
				return err
			}
		}
		return nil
	})
	if len(insts) > 0 {
		c.event("stopped %d instance(s)", len(insts))
	}
}

func hasZone(g *model.AutoScalingGroup, z string) bool {
	for _, gz := range g.Zones {
		if gz == z {
			return true
		}
	}
	return false
}

// unevenZones reports the zone to launch into when the group's instances
// are unbalanced: some sit in a zone the group no longer uses, or two zones
// differ by two or more.
func unevenZones(g *model.AutoScalingGroup, active []*model.Instance) (string, bool) {
	if len(active) == 0 || len(g.Zones) < 2 {
		return "", false
	}
	count := map[string]int{}
	stray := false
	for _, i := range active {
		count[i.Zone]++
		stray = stray || !hasZone(g, i.Zone)
	}
	lo, hi := g.Zones[0], g.Zones[0]
	for _, z := range g.Zones {
		if count[z] < count[lo] {
			lo = z
		}
		if count[z] > count[hi] {
			hi = z
		}
	}
	if stray || count[hi]-count[lo] >= 2 {
		return lo, true
	}
	return "", false
}

// settled reports that no instance is launching or terminating.
func settled(insts []*model.Instance) bool {
	for _, i := range insts {
		if i.LifecycleState != model.LifecycleInService {
			return false
		}
	}
	return true
}

// withZone returns a copy of g that launches into zone only.
func withZone(g *model.AutoScalingGroup, zone string) *model.AutoScalingGroup {
	cp := *g
	cp.Zones = []string{zone}
	return &cp
}

// rebalanceWaiting holds a scale-in while the instance launched to
// rebalance zones is not yet healthy: AWS launches first and terminates
// afterwards.
func (c *Controller) rebalanceWaiting(g *model.AutoScalingGroup, active []*model.Instance) bool {
	c.mu.Lock()
	id, ok := c.rebalancing[g.Name]
	c.mu.Unlock()
	if !ok {
		return false
	}
	for _, i := range active {
		if i.ID != id {
			continue
		}
		if i.LifecycleState != model.LifecycleInService {
			return true
		}
		for _, arn := range g.TargetGroupARNs {
			if c.LB != nil {
				if st, ok := c.LB.TargetStatus(arn, i.ID, i.Port); ok && st.State != health.StateHealthy {
					return true
				}
			}
		}
	}
	c.mu.Lock()
	delete(c.rebalancing, g.Name)
	c.mu.Unlock()
	return false
}
