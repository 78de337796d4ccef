package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runAlba runs the alba binary to completion (at most limit) and returns its
// stdout, stderr and exit code.
func runAlba(t *testing.T, limit time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, albaBin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("alba %s did not finish within %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), limit, out.String(), errOut.String())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

var zeroFailures = regexp.MustCompile(`(?m)^Failures +0 \(0\.00%\)$`)

func TestLoadtestCommandSpreadsOverTwoCatalogs(t *testing.T) {
	_, a := catalog(t, "lt-a")
	_, b := catalog(t, "lt-b")
	lport := freePort(t)
	l := up(t, config(lport, []int{a, b}, fastHealth))
	l.waitHealthy(t, a, b)

	target := fmt.Sprintf("http://127.0.0.1:%d", lport)
	stdout, stderr, code := runAlba(t, 30*time.Second, "loadtest", "--target", target, "-d", "3s", "--fail-on-error")
	if code != 0 {
		t.Fatalf("alba loadtest exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !zeroFailures.MatchString(stdout) {
		t.Errorf("report does not say zero failures:\n%s", stdout)
	}
	if !regexp.MustCompile(`(?m)^200 +\d+ +100\.0%$`).MatchString(stdout) {
		t.Errorf("report does not say every response was 200:\n%s", stdout)
	}
	for _, id := range []string{"lt-a", "lt-b"} {
		if !regexp.MustCompile(`(?m)^` + id + ` +\d+ +\d+\.\d%$`).MatchString(stdout) {
			t.Errorf("report does not count instance %s:\n%s", id, stdout)
		}
	}
	m := regexp.MustCompile(`(?m)^Requests +(\d+)$`).FindStringSubmatch(stdout)
	if m == nil || len(m[1]) < 3 { // at least 100 requests in 3 s
		t.Errorf("too few requests in the report:\n%s", stdout)
	}
	if !strings.Contains(stderr, "req/s") || !strings.Contains(stderr, "p99") {
		t.Errorf("no progress lines on stderr:\n%s", stderr)
	}
}

func TestLoadtestCommandRefusesNonLoopbackTarget(t *testing.T) {
	// 0.0.0.0 is not a loopback address, yet traffic to it stays on this
	// machine, and nothing listens on the free port: even if the check were
	// broken, no load could leave the machine.
	target := fmt.Sprintf("http://0.0.0.0:%d", freePort(t))
	stdout, stderr, code := runAlba(t, 30*time.Second, "loadtest", "--target", target, "-d", "1s", "-n", "1")
	if code == 0 {
		t.Fatalf("alba loadtest --target %s exited 0\nstdout:\n%s\nstderr:\n%s", target, stdout, stderr)
	}
	if want := "alba: alba loadtest only sends load to this machine"; !strings.Contains(stderr, want) || !strings.Contains(stderr, "0.0.0.0 is not one") {
		t.Errorf("stderr %q, want the refusal naming 0.0.0.0", stderr)
	}
	if strings.Contains(stdout, "Requests") {
		t.Errorf("a report was printed for a refused target:\n%s", stdout)
	}
}
