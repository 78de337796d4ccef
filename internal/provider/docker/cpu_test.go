package docker

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/provider"
)

// The CPU utilization Alba computes from CPUTime (CPU time over wall time
// over the instance type's vCPUs, EC2's CPUUtilization) is near what
// `docker stats` shows for a busy container, and it is bounded by the
// one vCPU of a t2.micro.
func TestCPUUtilizationMatchesDockerStats(t *testing.T) {
	cli := localEngine(t)
	image := testImage(t, cli)
	p := newProvider(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := launch(t, ctx, p, provider.LaunchSpec{InstanceID: instanceID(), Zone: "zone-a", InstanceType: "t2.micro",
		Size: model.InstanceTypes["t2.micro"], ImageID: image, Port: 8080, Env: map[string]string{"CATALOG_CPU_COST": "20ms"}})
	addr := net.JoinHostPort(l.PrivateIP, strconv.Itoa(l.Port))
	waitStatus(t, addr)

	// Four clients keep the one vCPU busy for a bounded time.
	loadCtx, stopLoad := context.WithTimeout(ctx, 20*time.Second)
	defer stopLoad()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				req, _ := http.NewRequestWithContext(loadCtx, "GET", "http://"+addr+"/discover?type=tv", nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	defer wg.Wait()
	defer stopLoad()

	// Ours over 3 s, and docker stats (its own ~1 s window) inside it.
	cpu0, err := p.CPUTime(l.Runtime)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "docker", "stats", "--no-stream", "--format", "{{.CPUPerc}}", l.Runtime.ContainerID).Output()
	if err != nil {
		t.Fatalf("docker stats: %v", err)
	}
	for time.Since(t0) < 3*time.Second {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	cpu1, err := p.CPUTime(l.Runtime)
	if err != nil {
		t.Fatal(err)
	}
	ours := float64(cpu1-cpu0) / float64(time.Since(t0)) * 100 // one vCPU
	theirs, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(string(out)), "%"), 64)
	if err != nil {
		t.Fatalf("docker stats said %q", out)
	}
	t.Logf("CPU utilization: Alba %.1f%%, docker stats %.1f%%", ours, theirs)
	if ours < 50 || ours > 110 {
		t.Errorf("CPU utilization %.1f%% under load on a one-vCPU instance, want 50-110%%", ours)
	}
	if d := ours - theirs; d > 25 || d < -25 {
		t.Errorf("Alba says %.1f%%, docker stats %.1f%%: more than 25 points apart", ours, theirs)
	}
}
