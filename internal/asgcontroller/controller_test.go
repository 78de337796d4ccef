package asgcontroller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
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

// fakeProvider "runs" instances in memory.
type fakeProvider struct {
	mu      sync.Mutex
	next    int
	alive   map[int]bool
	cpu     map[int]time.Duration
	stopped []int
	// fail, when set, fails every launch with it (failZone: the launches
	// in that zone only); launches counts tries.
	fail     error
	failZone string
	launches int
	// adoptHost, when set, is what Adopt finds out about an instance
	// whose record names no engine.
	adoptHost string
}

func (p *fakeProvider) Name() string { return "fake" }
func (p *fakeProvider) Launch(ctx context.Context, spec provider.LaunchSpec) (provider.Launched, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.launches++
	if p.fail != nil && (p.failZone == "" || p.failZone == spec.Zone) {
		return provider.Launched{}, p.fail
	}
	p.next++
	p.alive[p.next] = true
	return provider.Launched{PrivateIP: fmt.Sprintf("127.0.1.%d", p.next), Port: 9000 + p.next, Runtime: model.InstanceRuntime{Provider: "fake", PID: p.next}}, nil
}
func (p *fakeProvider) Adopt(inst *model.Instance) bool {
	if !p.Alive(inst.Runtime) {
		return false
	}
	if inst.Runtime.DockerHost == "" {
		inst.Runtime.DockerHost = p.adoptHost
	}
	return true
}
func (p *fakeProvider) Alive(rt model.InstanceRuntime) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alive[rt.PID]
}
func (p *fakeProvider) Stop(ctx context.Context, rt model.InstanceRuntime, grace time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alive[rt.PID] = false
	p.stopped = append(p.stopped, rt.PID)
	return nil
}
func (p *fakeProvider) CPUTime(rt model.InstanceRuntime) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cpu[rt.PID], nil
}
func (p *fakeProvider) kill(pid int) { p.mu.Lock(); p.alive[pid] = false; p.mu.Unlock() }

// fakeLB reports every target healthy unless told otherwise.
type fakeLB struct {
	mu        sync.Mutex
	unhealthy map[string]bool
	inflight  map[string]int64
	requests  uint64
}

func (l *fakeLB) TargetStatus(g, id string, port int) (health.Status, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unhealthy[id] {
		return health.Status{State: health.StateUnhealthy}, true
	}
	return health.Status{State: health.StateHealthy}, true
}
func (l *fakeLB) InFlight(g, id string, port int) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[id]
}
func (l *fakeLB) Requests(g string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests
}

type rig struct {
	t    *testing.T
	st   store.Store
	prov *fakeProvider
	lb   *fakeLB
	clk  *clock.Fake
	c    *Controller
	tg   string
}

func newRig(t *testing.T, zones []string, min, desired, max int, hc string) *rig {
	st, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{t: t, st: st, prov: &fakeProvider{alive: map[int]bool{}, cpu: map[int]time.Duration{}},
		lb: &fakeLB{unhealthy: map[string]bool{}, inflight: map[string]int64{}}, clk: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	// Every update runs twice, as a conflict on etcd makes it.
	r.c = NewController(store.Rerun(st), r.prov, r.lb)
	r.c.Clock = r.clk
	r.must(func(tx store.Tx) error {
		g := &model.TargetGroup{Name: "web", Port: 8080, Attributes: map[string]string{"deregistration_delay.timeout_seconds": "30"}}
		if err := elb.PutTargetGroup(tx, g); err != nil {
			return err
		}
		r.tg = g.ARN
		if _, _, err := autoscaling.CreateTemplate(tx, "web-lt", "", model.LaunchTemplateData{InstanceType: "t2.micro"}, nil, r.clk.Now()); err != nil {
			return err
		}
		return autoscaling.CreateGroup(tx, &model.AutoScalingGroup{Name: "web", LaunchTemplate: model.LaunchTemplateSpec{Name: "web-lt"},
			MinSize: min, Desired: desired, MaxSize: max, Zones: zones, TargetGroupARNs: []string{g.ARN},
			HealthCheckType: hc, HealthCheckGracePeriod: 60, DefaultInstanceWarmup: -1}, r.clk.Now())
	})
	return r
}

func (r *rig) must(fn func(tx store.Tx) error) {
	r.t.Helper()
	if err := r.st.Update(fn); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) step(d time.Duration) {
	r.clk.Advance(d)
	r.c.Step(context.Background())
	synctest.Wait() // a Stop started by the step finishes
	r.c.Step(context.Background())
}

func (r *rig) instances() []*model.Instance {
	var out []*model.Instance
	r.st.View(func(tx store.Tx) error {
		out, _ = autoscaling.InstancesOf(tx, "web")
		return nil
	})
	return out
}

func (r *rig) states() map[string]int {
	m := map[string]int{}
	for _, i := range r.instances() {
		m[i.LifecycleState]++
	}
	return m
}

func (r *rig) targets() []*model.Target {
	var out []*model.Target
	r.st.View(func(tx store.Tx) error {
		out, _ = elb.TargetsOf(tx, r.tg)
		return nil
	})
	return out
}

func (r *rig) activities() []*model.Activity {
	var out []*model.Activity
	r.st.View(func(tx store.Tx) error {
		out, _ = autoscaling.Activities(tx, "web")
		return nil
	})
	return out
}

func TestLaunchBalancesZonesAndRegisters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a", "zone-b"}, 1, 3, 4, "ELB")
		r.step(time.Second)
		insts := r.instances()
		if len(insts) != 3 {
			t.Fatalf("%d instances, want 3", len(insts))
		}
		zones := map[string]int{}
		for _, i := range insts {
			zones[i.Zone]++
			if i.LifecycleState != model.LifecycleInService || i.LaunchTemplate.Version != "1" || i.InstanceType != "t2.micro" {
				t.Errorf("instance %+v", i)
			}
		}
		if zones["zone-a"] != 2 || zones["zone-b"] != 1 {
			t.Errorf("zones %v, want 2/1", zones)
		}
		if ts := r.targets(); len(ts) != 3 {
			t.Errorf("registered targets %d, want 3", len(ts))
		}
		as := r.activities()
		if len(as) != 3 || as[0].StatusCode != model.ActivitySuccessful || !strings.Contains(as[0].Cause, "a user request created an AutoScalingGroup changing the desired capacity from 0 to 3") {
			t.Errorf("activities %+v", as)
		}
	})
}

// What a provider finds out in adoption is written back, so the next stop
// or CPU reading goes where adoption found the instance.
func TestAdoptRecordsWhatItFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a"}, 2, 2, 2, "EC2")
		r.step(time.Second)
		before := r.instances()
		if len(before) != 2 {
			t.Fatalf("%d instances, want 2", len(before))
		}
		r.prov.kill(before[1].Runtime.PID)
		r.prov.adoptHost = "tcp://10.0.0.2:2375"
		if err := r.c.Adopt(); err != nil {
			t.Fatal(err)
		}
		hosts := map[string]string{}
		for _, i := range r.instances() {
			hosts[i.ID] = i.Runtime.DockerHost
		}
		want := map[string]string{before[0].ID: "tcp://10.0.0.2:2375", before[1].ID: ""}
		if fmt.Sprint(hosts) != fmt.Sprint(want) {
			t.Errorf("docker hosts after adoption %v, want %v (the dead instance not adopted)", hosts, want)
		}
	})
}

func TestScaleToZeroDrainsThenStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a"}, 0, 1, 2, "EC2")
		r.step(time.Second)
		inst := r.instances()[0]
		r.lb.inflight[inst.ID] = 1 // a request in flight
		r.must(func(tx store.Tx) error {
			return autoscaling.SetDesiredCapacity(tx, "web", 0, autoscaling.UserCause(r.clk.Now(), 1, 0))
		})
		r.step(time.Second)
		if s := r.states(); s[model.LifecycleTerminating] != 1 {
			t.Fatalf("states %v, want one Terminating", s)
		}
		if ts := r.targets(); len(ts) != 1 || ts[0].DrainingSince == nil {
			t.Fatalf("the target is not draining: %+v", ts)
		}
		r.step(5 * time.Second)
		if len(r.prov.stopped) != 0 {
			t.Fatal("stopped with a request in flight")
		}
		r.lb.inflight[inst.ID] = 0
		r.step(time.Second)
		r.step(time.Second)
		if len(r.prov.stopped) != 1 || len(r.instances()) != 0 {
			t.Fatalf("stopped %v, instances %d", r.prov.stopped, len(r.instances()))
		}
		if a := r.activities()[0]; !strings.HasPrefix(a.Description, "Terminating EC2 instance") || a.StatusCode != model.ActivitySuccessful || !strings.Contains(a.Cause, "from 1 to 0") {
			t.Errorf("termination activity %+v", a)
		}
		// And back.
		r.must(func(tx store.Tx) error {
			return autoscaling.SetDesiredCapacity(tx, "web", 1, autoscaling.UserCause(r.clk.Now(), 0, 1))
		})
		r.step(time.Second)
		if s := r.states(); s[model.LifecycleInService] != 1 {
			t.Fatalf("after scaling back: %v", s)
		}
	})
}

func TestDrainingEndsAtTheDeregistrationDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a"}, 0, 1, 2, "EC2")
		r.step(time.Second)
		inst := r.instances()[0]
		r.lb.inflight[inst.ID] = 3 // never finishes
		r.must(func(tx store.Tx) error { return autoscaling.SetDesiredCapacity(tx, "web", 0, "") })
		r.step(time.Second)
		r.step(28 * time.Second)
		if len(r.prov.stopped) != 0 {
			t.Fatal("stopped before the deregistration delay")
		}
		r.step(2 * time.Second)
		r.step(time.Second)
		if len(r.prov.stopped) != 1 {
			t.Fatal("not stopped after the deregistration delay")
		}
	})
}

func TestUnhealthyInstancesAreReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a", "zone-b"}, 2, 2, 2, "ELB")
		r.step(time.Second)
		insts := r.instances()
		// EC2 status: the process died.
		r.prov.kill(insts[0].Runtime.PID)
		r.step(time.Second)
		r.step(time.Second)
		// ELB health within the grace period changes nothing.
		r.lb.unhealthy[insts[1].ID] = true
		r.step(time.Second)
		ids := map[string]bool{}
		for _, i := range r.instances() {
			if i.LifecycleState == model.LifecycleInService {
				ids[i.ID] = true
			}
		}
		if ids[insts[0].ID] || !ids[insts[1].ID] || len(ids) != 2 {
			t.Fatalf("after the kill: %v", ids)
		}
		// Past the grace period, the ELB-unhealthy instance is replaced.
		r.step(61 * time.Second)
		r.step(time.Second)
		ids = map[string]bool{}
		for _, i := range r.instances() {
			if i.LifecycleState == model.LifecycleInService {
				ids[i.ID] = true
			}
		}
		if ids[insts[1].ID] || len(ids) != 2 {
			t.Fatalf("after the grace period: %v", ids)
		}
		var causes []string
		for _, a := range r.activities() {
			causes = append(causes, a.Cause)
		}
		all := strings.Join(causes, "\n")
		if !strings.Contains(all, "EC2 instance status check failure") || !strings.Contains(all, "ELB system health check failure") {
			t.Errorf("causes:\n%s", all)
		}
	})
}

func TestZonesRebalance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a"}, 2, 2, 3, "ELB")
		r.step(time.Second)
		r.must(func(tx store.Tx) error {
			g, err := autoscaling.Group(tx, "web")
			if err != nil {
				return err
			}
			g.Zones = []string{"zone-a", "zone-b"}
			return autoscaling.PutGroup(tx, g)
		})
		r.step(time.Second) // launches into zone-b first
		if n := len(r.instances()); n != 3 {
			t.Fatalf("%d instances, want 3 while rebalancing", n)
		}
		r.step(time.Second) // the new one is healthy: one in zone-a goes
		r.step(time.Second)
		r.step(time.Second)
		zones := map[string]int{}
		for _, i := range r.instances() {
			if i.LifecycleState == model.LifecycleInService {
				zones[i.Zone]++
			}
		}
		if zones["zone-a"] != 1 || zones["zone-b"] != 1 {
			t.Errorf("zones after rebalancing %v", zones)
		}
	})
}

func TestRequestCountPolicyScalesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a"}, 1, 1, 4, "ELB")
		r.c.SampleInterval = 5 * time.Second
		r.c.ScaleOutWindow = 10 * time.Second
		var label string
		r.must(func(tx store.Tx) error {
			lb := &model.LoadBalancer{Name: "web"}
			if err := elb.PutLoadBalancer(tx, lb); err != nil {
				return err
			}
			l := &model.Listener{LoadBalancerARN: lb.ARN, Protocol: "HTTP", Port: 8080,
				DefaultActions: []model.Action{{Type: "forward", TargetGroupARN: r.tg}}}
			if err := elb.PutListener(tx, l); err != nil {
				return err
			}
			label = autoscaling.ResourceLabel(lb.ARN, r.tg)
			return autoscaling.PutPolicy(tx, &model.ScalingPolicy{Name: "rps", Group: "web", PolicyType: "TargetTrackingScaling",
				MetricType: "ALBRequestCountPerTarget", ResourceLabel: label, TargetValue: 600, EstimatedInstanceWarmup: 0, Enabled: true})
		})
		r.step(time.Second)
		// 150 requests every 5 s to one target: 1800 per target per minute,
		// three times the target of 600.
		for i := 0; i < 4; i++ {
			r.lb.mu.Lock()
			r.lb.requests += 150
			r.lb.mu.Unlock()
			r.step(5 * time.Second)
		}
		var desired int
		r.st.View(func(tx store.Tx) error {
			g, _ := autoscaling.Group(tx, "web")
			desired = g.Desired
			return nil
		})
		if desired != 3 {
			var causes []string
			for _, a := range r.activities() {
				causes = append(causes, a.Cause)
			}
			t.Fatalf("desired %d, want 3 (ceil(1 × 1800/600)); causes:\n%s", desired, strings.Join(causes, "\n"))
		}
		found := false
		for _, a := range r.activities() {
			found = found || strings.Contains(a.Cause, "ALBRequestCountPerTarget was 1800.00, above the target of 600.00")
		}
		if !found {
			t.Errorf("no activity naming the request count: %+v", r.activities())
		}
	})
}

// Stopping Alba stops its instances and says so in each group's history:
// a Terminating activity per instance, then the next start's launch.
func TestStopAllRecordsTerminations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a", "zone-b"}, 1, 2, 2, "EC2")
		r.step(time.Second)
		if len(r.instances()) != 2 || len(r.targets()) != 2 {
			t.Fatalf("instances %d, targets %d; want 2 and 2", len(r.instances()), len(r.targets()))
		}
		r.c.StopAll(context.Background())
		if len(r.prov.stopped) != 2 || len(r.instances()) != 0 || len(r.targets()) != 0 {
			t.Fatalf("stopped %v, instances %d, targets %d", r.prov.stopped, len(r.instances()), len(r.targets()))
		}
		var terms int
		for _, a := range r.activities() {
			if strings.HasPrefix(a.Description, "Terminating EC2 instance") && a.StatusCode == model.ActivitySuccessful &&
				strings.Contains(a.Cause, "because Alba stopped") {
				terms++
			}
		}
		if terms != 2 {
			t.Errorf("%d termination activities for 2 stopped instances: %+v", terms, r.activities())
		}
	})
}

// reapingProvider is a fake provider that also reaps: it reports which of
// its ids the store knows.
type reapingProvider struct {
	*fakeProvider
	calls  int
	orphan string
	known  map[string]bool
}

func (p *reapingProvider) Reap(ctx context.Context, known func(string) bool, before time.Time) ([]string, error) {
	p.calls++
	p.known = map[string]bool{p.orphan: known(p.orphan)}
	return []string{p.orphan}, nil
}

// The controller asks a reaping provider for instances the store does not
// know at its first step and then every ReapInterval, telling it which
// ids the store knows.
func TestStepReapsUnknownInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a"}, 1, 1, 1, "EC2")
		rp := &reapingProvider{fakeProvider: r.prov, orphan: "i-0orphan"}
		r.c.Provider = rp
		r.step(time.Second)
		if rp.calls != 1 || rp.known["i-0orphan"] {
			t.Fatalf("reap calls %d, known %v; want one call that does not know the orphan", rp.calls, rp.known)
		}
		known := false
		r.st.View(func(tx store.Tx) error {
			insts, _ := autoscaling.InstancesOf(tx, "web")
			if len(insts) == 1 {
				rp.orphan = insts[0].ID
				known = true
			}
			return nil
		})
		r.step(time.Second)
		if rp.calls != 1 {
			t.Errorf("reaped again within ReapInterval: %d calls", rp.calls)
		}
		r.step(r.c.ReapInterval)
		if !known || rp.calls != 2 || !rp.known[rp.orphan] {
			t.Errorf("after ReapInterval: calls %d, known %v; want the store's instance known", rp.calls, rp.known)
		}
	})
}

// A launch that fails (a missing image, say) is one failed activity with
// its reason; the next try is in the other zone, and once every zone
// failed the group waits, doubling the wait, instead of trying at every
// step; a success ends the backoff.
func TestFailedLaunchesBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a", "zone-b"}, 2, 2, 2, "EC2")
		r.prov.fail = errors.New("image nope:latest not found")
		r.c.Step(context.Background())
		if r.prov.launches != 1 {
			t.Fatalf("%d launches at the first step, want 1", r.prov.launches)
		}
		failed := 0
		for _, a := range r.activities() {
			if a.StatusCode == model.ActivityFailed && strings.Contains(a.StatusMessage, "nope:latest") {
				failed++
			}
		}
		if failed != 1 || len(r.instances()) != 0 {
			t.Fatalf("%d failed activities, %d instances; want 1 and 0", failed, len(r.instances()))
		}
		r.c.Step(context.Background()) // zone-b has not failed yet: tried at once
		if r.prov.launches != 2 {
			t.Fatalf("%d launches, want the second zone tried at the next step", r.prov.launches)
		}
		r.step(500 * time.Millisecond) // both failed: inside the first second of backoff
		if r.prov.launches != 2 {
			t.Errorf("tried again within the backoff: %d launches", r.prov.launches)
		}
		r.step(time.Second) // 1 s passed: one more try, then 2 s
		r.step(time.Second)
		if r.prov.launches != 3 {
			t.Errorf("%d launches after 2.6 s, want 3", r.prov.launches)
		}
		r.prov.fail = nil
		r.step(2 * time.Second)
		if s := r.states(); s[model.LifecycleInService] != 2 {
			t.Errorf("after the failure cleared: %v, want 2 in service", s)
		}
	})
}

// A zone whose launches fail (its Docker engine is down, say) is skipped,
// as EC2 Auto Scaling tries another zone: the group reaches its desired
// capacity in the zones that work.
func TestLaunchesFailingInOneZoneGoToAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a", "zone-b"}, 2, 2, 2, "EC2")
		r.prov.fail, r.prov.failZone = errors.New("the Docker engine at tcp://10.0.0.2:2375 does not answer"), "zone-b"
		for range 5 {
			r.step(100 * time.Millisecond)
		}
		zones := map[string]int{}
		for _, i := range r.instances() {
			zones[i.Zone]++
		}
		if zones["zone-a"] != 2 || zones["zone-b"] != 0 {
			t.Fatalf("instances by zone %v, want 2 in zone-a", zones)
		}
		failed := 0
		for _, a := range r.activities() {
			if a.StatusCode == model.ActivityFailed && strings.Contains(a.StatusMessage, "does not answer") {
				failed++
			}
		}
		if failed < 1 || failed > 2 {
			t.Errorf("%d failed launches in zone-b, want one or two before zone-a took over", failed)
		}
	})
}

// The CPU policy decides on the series the history keeps: what the
// CloudWatch API and the console show is what the policy saw.
func TestCPUPolicyReadsTheHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, []string{"zone-a"}, 1, 1, 4, "ELB")
		r.c.SampleInterval = 5 * time.Second
		r.c.ScaleOutWindow = 10 * time.Second
		r.must(func(tx store.Tx) error {
			return autoscaling.PutPolicy(tx, &model.ScalingPolicy{Name: "cpu", Group: "web", PolicyType: "TargetTrackingScaling",
				MetricType: "ASGAverageCPUUtilization", TargetValue: 50, EstimatedInstanceWarmup: 0, Enabled: true})
		})
		r.step(time.Second)
		start := r.clk.Now()
		// 4 s of CPU every 5 s on a one-vCPU t2.micro: 80 %.
		for range 4 {
			r.prov.mu.Lock()
			for pid := range r.prov.alive {
				r.prov.cpu[pid] += 4 * time.Second
			}
			r.prov.mu.Unlock()
			r.step(5 * time.Second)
		}
		var cause string
		for _, a := range r.activities() {
			if strings.Contains(a.Cause, "CPUUtilization") {
				cause = a.Cause
			}
		}
		if !strings.Contains(cause, "ASGAverageCPUUtilization was 80.00, above the target of 50.00") {
			t.Fatalf("no scale-out naming 80%% CPU: %+v", r.activities())
		}
		inst := r.instances()[0]
		dps, err := r.c.History.Query(metrics.Query{Metric: autoscaling.InstanceCPUMetric(inst.ID), Start: start, End: r.clk.Now().Add(time.Second), Period: time.Minute})
		if err != nil || len(dps) != 1 || dps[0].Minimum != 80 || dps[0].Maximum != 80 {
			t.Fatalf("the instance's CPUUtilization in the history: %+v (%v), want 80 in every sample", dps, err)
		}
		g := metrics.New(metrics.NamespaceEC2, "CPUUtilization", metrics.DimAutoScalingGroup, "web")
		dps, _ = r.c.History.Query(metrics.Query{Metric: g, Start: start, End: r.clk.Now().Add(time.Second), Period: time.Minute})
		if len(dps) != 1 || dps[0].Average() != 80 || dps[0].SampleCount < 2 {
			t.Fatalf("the group's CPUUtilization: %+v, want the samples the decision used, averaging 80", dps)
		}
	})
}
