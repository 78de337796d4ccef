package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asgConfig renders the tutorial's system on lport with a faster health
// check, a catalog with cpuCost per /discover, and the given group lines.
func asgConfig(lport int, cpuCost string, group string) string {
	return fmt.Sprintf(`load_balancers:
  - name: movie-catalog
    zones: [zone-a, zone-b]
    listeners:
      - protocol: HTTP
        port: %d
        address: 127.0.0.1
        default_action: {forward: movie-catalog}
target_groups:
  - name: movie-catalog
    port: 8080
    health_check: {path: /status, interval_seconds: 5, timeout_seconds: 2, healthy_threshold: 2, unhealthy_threshold: 2}
    attributes: {deregistration_delay.timeout_seconds: 20}
launch_templates:
  - name: movie-catalog
    versions:
      - instance_type: t2.micro
        user_data: |
          #!/bin/bash
          exec alba catalog --listen "$ALBA_PRIVATE_IP:$PORT" --cpu-cost %s
auto_scaling_groups:
  - name: movie-catalog
    launch_template: {name: movie-catalog}
    zones: [zone-a, zone-b]
    target_groups: [movie-catalog]
    health_check_type: ELB
%s`, lport, cpuCost, group)
}

type groupStatus struct {
	Name      string `json:"name"`
	Desired   int    `json:"desired_capacity"`
	Instances []struct {
		ID             string `json:"id"`
		Zone           string `json:"zone"`
		LifecycleState string `json:"lifecycle_state"`
		PID            int    `json:"pid"`
	} `json:"instances"`
}

func (l *lb) group(t *testing.T) groupStatus {
	t.Helper()
	resp, err := http.Get("http://" + l.admin + "/api/groups")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var gs []groupStatus
	if err := json.NewDecoder(resp.Body).Decode(&gs); err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 {
		t.Fatalf("groups: %+v", gs)
	}
	return gs[0]
}

// inService returns the ids of in-service instances whose targets are
// healthy.
func (l *lb) inService(t *testing.T) []string {
	g := l.group(t)
	health := map[string]string{}
	for _, th := range l.targets(t) {
		health[th.ID] = th.Health.State
	}
	var out []string
	for _, i := range g.Instances {
		if i.LifecycleState == "InService" && health[i.ID] == "healthy" {
			out = append(out, i.ID)
		}
	}
	return out
}

type activity struct {
	Group         string `json:"group"`
	Description   string `json:"description"`
	Cause         string `json:"cause"`
	StatusCode    string `json:"status_code"`
	StatusMessage string `json:"status_message"`
}

func (l *lb) activities(t *testing.T) []activity {
	t.Helper()
	resp, err := http.Get("http://" + l.admin + "/api/activities")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var as []activity
	json.NewDecoder(resp.Body).Decode(&as)
	return as
}

func hasActivity(as []activity, substrings ...string) bool {
	for _, a := range as {
		all := true
		for _, s := range substrings {
			if !strings.Contains(a.Cause+" "+a.Description, s) {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

var fastScaling = []string{"--sample-interval", "1s", "--scale-out-window", "3s", "--scale-in-window", "10s"}

// scalingGroup is the group of the scale-out-and-back-in tests.
const scalingGroup = `    min_size: 1
    max_size: 2
    desired_capacity: 1
    health_check_grace_period: 10
    default_instance_warmup: 2
    policies:
      - {name: cpu50, metric: ASGAverageCPUUtilization, target_value: 50}
`

func TestScaleOutUnderLoadAndBackIn(t *testing.T) {
	lport := freePort(t)
	scaleOutAndBackIn(t, lport, asgConfig(lport, "4ms", scalingGroup))
}

// The same with the instances as Docker containers.
func TestDockerScaleOutUnderLoadAndBackIn(t *testing.T) {
	image := dockerImage(t)
	lport := freePort(t)
	scaleOutAndBackIn(t, lport, dockerize(asgConfig(lport, "0s", scalingGroup), image, "4ms"))
}

// dockerize makes asgConfig's launch template run image, whose catalog
// costs cpuCost per /discover (the image's command is fixed: its
// environment configures it).
func dockerize(cfg, image, cpuCost string) string {
	return strings.Replace(cfg, "      - instance_type: t2.micro\n",
		"      - instance_type: t2.micro\n        image_id: "+image+"\n        environment: {CATALOG_CPU_COST: "+cpuCost+"}\n", 1)
}

// scaleOutAndBackIn loads the group on lport until it scales out to 2,
// then lightly while it scales back in: no request may fail.
func scaleOutAndBackIn(t *testing.T, lport int, cfg string) {
	l := up(t, cfg, fastScaling...)
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 1 })
	first := l.inService(t)[0]
	base := fmt.Sprintf("http://127.0.0.1:%d", lport)

	heavyCtx, stopHeavy := context.WithTimeout(context.Background(), 150*time.Second)
	defer stopHeavy()
	heavy := startLoad(heavyCtx, base+"/discover?type=movie&genre=28", 4)
	waitFor(t, 120*time.Second, func() bool {
		heavy.mu.Lock()
		defer heavy.mu.Unlock()
		return len(heavy.byInstance) >= 2
	})
	stopHeavy()
	heavy.wait()
	if n := heavy.failed.Load(); n != 0 {
		t.Fatalf("%d requests failed during scale-out: %v", n, heavy.errs)
	}
	if g := l.group(t); g.Desired != 2 {
		t.Errorf("desired %d after scale-out", g.Desired)
	}
	if !hasActivity(l.activities(t), "ASGAverageCPUUtilization", "above the target of 50.00", "from 1 to 2") {
		t.Errorf("no scale-out activity naming the metric: %+v", l.activities(t))
	}
	checkCPUAsThePolicySaw(t, l, first)

	// Light load while the group scales back in: draining must cost nothing.
	lightCtx, stopLight := context.WithTimeout(context.Background(), 150*time.Second)
	defer stopLight()
	light := startPacedLoad(lightCtx, base+"/status", 1, 10*time.Millisecond)
	waitFor(t, 120*time.Second, func() bool {
		g := l.group(t)
		return g.Desired == 1 && len(g.Instances) == 1
	})
	time.Sleep(time.Second)
	stopLight()
	light.wait()
	if n := light.failed.Load(); n != 0 {
		t.Fatalf("%d requests failed during scale-in: %v", n, light.errs)
	}
	as := l.activities(t)
	if !hasActivity(as, "below the target of 50.00", "from 2 to 1") {
		t.Errorf("no scale-in activity naming the metric: %+v", as)
	}
	if !hasActivity(as, "Terminating EC2 instance") {
		t.Errorf("no termination activity: %+v", as)
	}
}

func TestUnhealthyInstancesReplaced(t *testing.T) {
	lport := freePort(t)
	l := up(t, asgConfig(lport, "0s", `    min_size: 2
    max_size: 2
    health_check_grace_period: 3
`), fastScaling...)
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 2 })
	base := fmt.Sprintf("http://127.0.0.1:%d", lport)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	ld := startLoad(ctx, base+"/discover?type=tv", 4)

	// SIGKILL one instance: the group replaces it (EC2 status check).
	g := l.group(t)
	victim := g.Instances[0]
	syscall.Kill(-victim.PID, syscall.SIGKILL)
	waitFor(t, 40*time.Second, func() bool {
		ids := l.inService(t)
		return len(ids) == 2 && !contains(ids, victim.ID)
	})
	if !hasActivity(l.activities(t), victim.ID, "EC2 instance status check failure") {
		t.Errorf("no activity for the killed instance: %+v", l.activities(t))
	}

	// Make another instance's /status fail: ELB health checks replace it
	// after the grace period. The killed one may still be listed while its
	// connections drain: pick one in service.
	g = l.group(t)
	sick := g.Instances[0]
	for _, i := range g.Instances {
		if i.LifecycleState == "InService" && i.ID != victim.ID {
			sick = i
			break
		}
	}
	if sick.ID == victim.ID || sick.LifecycleState != "InService" {
		t.Fatalf("no instance in service to make sick: %+v", g.Instances)
	}
	syscall.Kill(sick.PID, syscall.SIGUSR1)
	waitFor(t, 60*time.Second, func() bool {
		ids := l.inService(t)
		return len(ids) == 2 && !contains(ids, sick.ID)
	})
	if !hasActivity(l.activities(t), sick.ID, "ELB system health check failure") {
		t.Errorf("no activity for the failing instance: %+v", l.activities(t))
	}
	cancel()
	ld.wait()
	if n := ld.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed while instances were replaced: %v", n, n+ld.ok.Load(), ld.errs)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A SIGKILLed Alba restarted on the same data directory adopts the
// containers it ran: the same ones, none launched or doubled.
func TestDockerAlbaKilledAndRestartedAdoptsContainers(t *testing.T) {
	image := dockerImage(t)
	lport := freePort(t)
	cfg := dockerize(asgConfig(lport, "0s", "    min_size: 2\n    max_size: 2\n"), image, "0s")
	l := up(t, cfg, fastScaling...)
	waitFor(t, 60*time.Second, func() bool { return len(l.inService(t)) == 2 })
	ids := l.inService(t)
	t.Cleanup(func() {
		for _, c := range containers(t, ids...) {
			exec.Command("docker", "rm", "-f", c).Run()
		}
	})
	acts := len(l.activities(t))
	l.kill()
	if c := containers(t, ids...); len(c) != 2 {
		t.Fatalf("containers after alba was killed: %v", c)
	}
	l2 := l.restart(t, fastScaling...)
	adoptedSame(t, l2, ids, acts)
	store, err := exec.Command("docker", "inspect", "-f", `{{index .Config.Labels "alba.store"}}`, "alba-"+ids[0]).Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=alba.store="+strings.TrimSpace(string(store))).Output()
	if err != nil || len(strings.Fields(string(out))) != 2 {
		t.Errorf("containers of this store after the restart: %q (%v), want 2", out, err)
	}
	if !strings.Contains(l2.out.String(), "adopted instance") {
		t.Errorf("restart did not report adopting instances:\n%s", l2.out.String())
	}
}

func TestAlbaKilledAndRestartedAdoptsInstances(t *testing.T) {
	lport := freePort(t)
	cfg := asgConfig(lport, "0s", "    min_size: 2\n    max_size: 2\n")
	l := up(t, cfg, fastScaling...)
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 2 })
	before := l.group(t)
	acts := len(l.activities(t))
	base := fmt.Sprintf("http://127.0.0.1:%d", lport)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ld := startLoad(ctx, base+"/status", 2)
	time.Sleep(500 * time.Millisecond)
	l.kill()
	// The instances keep running without alba.
	for _, i := range before.Instances {
		if err := syscall.Kill(i.PID, 0); err != nil {
			t.Fatalf("instance %s died with alba: %v", i.ID, err)
		}
	}
	l2 := l.restart(t, fastScaling...)
	waitFor(t, 20*time.Second, func() bool { return len(l2.inService(t)) == 2 })
	okBefore := ld.ok.Load()
	time.Sleep(2 * time.Second)
	cancel()
	ld.wait()
	if ld.ok.Load() <= okBefore {
		t.Errorf("no traffic after the restart")
	}
	after := l2.group(t)
	if len(after.Instances) != 2 {
		t.Fatalf("instances after restart: %+v", after.Instances)
	}
	for i := range before.Instances {
		if before.Instances[i].ID != after.Instances[i].ID || before.Instances[i].PID != after.Instances[i].PID {
			t.Errorf("instance %d changed across the restart: %+v -> %+v", i, before.Instances[i], after.Instances[i])
		}
	}
	if n := len(l2.activities(t)); n != acts {
		t.Errorf("activities went from %d to %d: the restart launched or terminated instances", acts, n)
	}
	if !strings.Contains(l2.out.String(), "adopted instance") {
		t.Errorf("restart did not report adopting instances:\n%s", l2.out.String())
	}
}

// adoptedSame checks that a restarted Alba runs the very instances ids
// in service, and launched or terminated none (the activities are still
// acts).
func adoptedSame(t *testing.T, l2 *lb, ids []string, acts int) {
	t.Helper()
	waitFor(t, 20*time.Second, func() bool { return len(l2.inService(t)) == len(ids) })
	after := l2.inService(t)
	for _, id := range ids {
		if !contains(after, id) {
			t.Errorf("in service after the restart: %v, want the same %v", after, ids)
			break
		}
	}
	if n := len(l2.activities(t)); n != acts {
		t.Errorf("activities went from %d to %d: the restart launched or terminated instances", acts, n)
	}
}
