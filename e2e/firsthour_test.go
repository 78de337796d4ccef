package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// query sends an unsigned AWS Query request to the admin address (no
// credentials configured: any signature is accepted) and returns the body.
func query(t testing.TB, admin, form string) string {
	t.Helper()
	resp, err := http.Post("http://"+admin+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", form, resp.StatusCode, b)
	}
	return string(b)
}

// The first hour of a new user, on one data directory: the built-in
// system runs, stopping records why its instance went, a restart says what
// it restored, and --empty really is empty, so docs/aws-cli.md's first
// command (a target group named movie-catalog) works.
func TestTheBuiltInSystemThenEmpty(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { killInstances(dataDir) })
	boot := func(args ...string) (*proc, string) {
		admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		p := start(t, append([]string{"up", "--data-dir", dataDir, "--admin", admin, "--listen-host", "127.0.0.1"}, args...)...)
		waitFor(t, 10*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
		return p, admin
	}
	stop := func(p *proc) {
		p.signal(syscall.SIGTERM)
		if ec := p.wait(t, 30*time.Second); ec != 0 {
			t.Fatalf("exit code %d", ec)
		}
	}

	p, admin := boot()
	if !strings.Contains(p.out.String(), "data directory "+dataDir+": empty, nothing restored") {
		t.Errorf("first start does not say the data directory was empty:\n%s", p.out.String())
	}
	waitFor(t, 30*time.Second, func() bool {
		return strings.Contains(query(t, admin, "Version=2011-01-01&Action=DescribeAutoScalingInstances"), "InService")
	})
	stop(p)

	p, admin = boot("--from-store")
	if out := p.out.String(); !strings.Contains(out, "restored 1 load balancer, 1 target group, 1 auto scaling group") {
		t.Errorf("restart does not say what it restored:\n%s", out)
	}
	acts := query(t, admin, "Version=2011-01-01&Action=DescribeScalingActivities&AutoScalingGroupName=movie-catalog")
	if !strings.Contains(acts, "Terminating EC2 instance") || !strings.Contains(acts, "because Alba stopped") {
		t.Errorf("no Terminating activity for the instance Alba stopped:\n%s", acts)
	}
	stop(p)

	p, admin = boot("--empty")
	if tgs := query(t, admin, "Version=2015-12-01&Action=DescribeTargetGroups"); strings.Contains(tgs, "TargetGroupArn") {
		t.Errorf("--empty still has target groups:\n%s", tgs)
	}
	if code := get("http://127.0.0.1:8080/status"); code != 0 {
		t.Errorf("--empty still serves :8080 (%d)", code)
	}
	out := query(t, admin, "Version=2015-12-01&Action=CreateTargetGroup&Name=movie-catalog&Protocol=HTTP&Port=8080&TargetType=instance")
	if !strings.Contains(out, "TargetGroupArn") {
		t.Errorf("docs/aws-cli.md's first step fails after --empty:\n%s", out)
	}
	stop(p)
}

// Plain alba up on a data directory a user's file was last applied to
// refuses, rather than replacing the file's resources with the built-in
// system, and says what to run instead.
func TestBuiltInSystemDoesNotReplaceAFilesResources(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	file := filepath.Join(dir, "alba.yaml")
	if err := os.WriteFile(file, []byte("target_groups:\n  - {name: mine, protocol: HTTP, port: 80, target_type: ip}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := start(t, "up", "-f", file, "--data-dir", dataDir, "--admin", admin)
	waitFor(t, 10*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
	p.signal(syscall.SIGTERM)
	if ec := p.wait(t, 30*time.Second); ec != 0 {
		t.Fatalf("exit code %d", ec)
	}
	p = start(t, "up", "--data-dir", dataDir, "--admin", admin, "--listen-host", "127.0.0.1")
	if ec := p.wait(t, 30*time.Second); ec == 0 {
		t.Fatal("plain alba up ran the built-in system over the file's data directory")
	}
	if out := p.out.String(); !strings.Contains(out, "was last run with -f "+file) || !strings.Contains(out, "--from-store") {
		t.Errorf("the refusal does not say what to run:\n%s", out)
	}
	p = start(t, "up", "--from-store", "--data-dir", dataDir, "--admin", admin)
	waitFor(t, 10*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
	if tgs := query(t, admin, "Version=2015-12-01&Action=DescribeTargetGroups"); !strings.Contains(tgs, "<TargetGroupName>mine</TargetGroupName>") {
		t.Errorf("--from-store lost the file's target group:\n%s", tgs)
	}
}
