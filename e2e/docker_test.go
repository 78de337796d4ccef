package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerImage builds, once per test, the catalog image as a user does:
// a static alba and `alba image build --binary`. The image is removed when
// the test ends.
func dockerImage(t *testing.T) string {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Docker engine answers `docker info`, and CI machines run one")
		}
		t.Skip("no Docker engine answers `docker info`")
	}
	static := filepath.Join(t.TempDir(), "alba")
	build := exec.Command("go", "build", "-o", static, "../cmd/alba")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	tag := fmt.Sprintf("alba-e2e-%d:latest", time.Now().UnixNano())
	if out, err := exec.Command(albaBin, "image", "build", "--binary", static, "--tag", tag).CombinedOutput(); err != nil {
		t.Fatalf("alba image build: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// Containers a killed alba left (the harness SIGKILLs it), then the
		// image.
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=alba.instance-id", "--filter", "ancestor="+tag).Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command("docker", "rm", "-f", id).Run()
		}
		exec.Command("docker", "rmi", "-f", tag).Run()
	})
	return tag
}

// containers lists the names of the containers Alba made for instances.
func containers(t *testing.T, ids ...string) []string {
	t.Helper()
	var out []string
	for _, id := range ids {
		b, err := exec.Command("docker", "ps", "-a", "--filter", "label=alba.instance-id="+id, "--format", "{{.Names}}").Output()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

// A launch template whose image is a Docker image runs its instances as
// containers: they serve through the load balancer, a `docker kill` of
// one under load costs no request and the instance is replaced, and a graceful stop
// of Alba leaves no container behind.
func TestDockerInstances(t *testing.T) {
	image := dockerImage(t)
	lport := freePort(t)
	cfg := strings.Replace(asgConfig(lport, "0s", `    min_size: 2
    max_size: 2
    desired_capacity: 2
    health_check_grace_period: 10
`), "      - instance_type: t2.micro\n", "      - instance_type: t2.micro\n        image_id: "+image+"\n", 1)
	l := up(t, cfg)
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=alba.group=movie-catalog", "--filter", "ancestor="+image).Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command("docker", "rm", "-f", id).Run()
		}
	})
	waitFor(t, 60*time.Second, func() bool { return len(l.inService(t)) == 2 })
	serving := l.inService(t)
	first := serving[0]
	if c := containers(t, first); len(c) != 1 || c[0] != "alba-"+first {
		t.Fatalf("containers of %s: %v", first, c)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", lport)
	resp, err := http.Get(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if from := resp.Header.Get("X-Instance-Id"); resp.StatusCode != 200 || (from != serving[0] && from != serving[1]) {
		t.Fatalf("GET /status through the load balancer: %d from %q, want 200 from one of %v", resp.StatusCode, from, serving)
	}

	ctx, stop := context.WithTimeout(context.Background(), 90*time.Second)
	defer stop()
	ld := startLoad(ctx, base+"/status", 2)
	if out, err := exec.Command("docker", "kill", "alba-"+first).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	var third string
	waitFor(t, 60*time.Second, func() bool {
		for _, id := range l.inService(t) {
			if id != serving[0] && id != serving[1] {
				third = id
				return true
			}
		}
		return false
	})
	stop()
	ld.wait()
	if n := ld.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed across docker kill: %v", n, n+ld.ok.Load(), ld.errs)
	}
	if !hasActivity(l.activities(t), "Terminating EC2 instance: "+first) {
		t.Errorf("no activity terminating the killed instance: %+v", l.activities(t))
	}

	l.signal(syscall.SIGTERM)
	if ec := l.wait(t, 60*time.Second); ec != 0 {
		t.Errorf("exit code %d", ec)
	}
	if c := containers(t, serving[0], serving[1], third); len(c) != 0 {
		t.Errorf("containers left after Alba stopped: %v", c)
	}
}
