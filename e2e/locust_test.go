package e2e

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// locustLimit bounds a locust run of 10 s with its start-up and shutdown.
const locustLimit = 60 * time.Second

// TestLocustAgainstAlbaUp runs the repository's locustfile with the
// real locust, headless, through alba up's tutorial system.
func TestLocustAgainstAlbaUp(t *testing.T) {
	locust := locustBinary(t)

	// The tutorial's system as `alba up` runs it, on a free port.
	lport := freePort(t)
	l := up(t, tutorialConfig(t, lport))
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 1 })

	dir := t.TempDir()
	args := []string{
		"-f", "../http_load_test/locustfile.py",
		"--host", fmt.Sprintf("http://127.0.0.1:%d", lport),
		"--headless", "-u", "8", "-r", "8", "-t", "10s",
		"--csv", filepath.Join(dir, "run"),
		"--exit-code-on-error", "1",
		"--only-summary",
		// Headless locust starts no web UI; should it ever, keep it on
		// loopback.
		"--web-host", "127.0.0.1",
	}
	cmd := exec.Command(locust, args...)
	cmd.Dir = "." // the e2e directory, so the relative locustfile path holds
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("locust output:\n%s", out.String())
		}
	})

	select {
	case <-done:
	case <-time.After(locustLimit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("locust ran for more than %v", locustLimit)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(waitErr, &ee):
		t.Errorf("locust exited %d (with --exit-code-on-error 1, a failed request makes it 1)", ee.ExitCode())
	case waitErr != nil:
		t.Fatal(waitErr)
	}

	rows := readLocustStats(t, filepath.Join(dir, "run_stats.csv"))
	agg, ok := rows["Aggregated"]
	if !ok {
		t.Fatalf("no Aggregated row in run_stats.csv: %v", rows)
	}
	if agg.requests <= 100 {
		t.Errorf("Aggregated Request Count = %d, want > 100", agg.requests)
	}
	if agg.failures != 0 {
		t.Errorf("Aggregated Failure Count = %d, want 0", agg.failures)
	}
	for _, name := range []string{
		"/discover?type=movie",
		"/discover?type=tv",
		"/discover?type=movie&genre=[genre]",
		"/discover?type=tv&genre=[genre]",
	} {
		r, ok := rows[name]
		switch {
		case !ok:
			t.Errorf("no row for %s in run_stats.csv", name)
		case r.requests == 0:
			t.Errorf("row %s has no requests", name)
		}
	}
	// A page view makes four genre calls per movie banner, so the grouped
	// rows show the page view's mix.
	if m, g := rows["/discover?type=movie"].requests, rows["/discover?type=movie&genre=[genre]"].requests; m > 0 && (g < 3*m || g > 5*m) {
		t.Errorf("%d movie genre calls for %d movie banners, want about 4 per banner", g, m)
	}
	t.Logf("locust: %d requests, %d failures; rows %v", agg.requests, agg.failures, rows)
}

// locustRow is one row of locust's <prefix>_stats.csv.
type locustRow struct{ requests, failures int }

func (r locustRow) String() string { return fmt.Sprintf("%d/%d failed", r.failures, r.requests) }

// readLocustStats reads the request and failure counts of each row of a
// locust stats CSV by name, finding the columns by their headers.
func readLocustStats(t *testing.T, path string) map[string]locustRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("locust wrote no stats: %v", err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if len(records) < 2 {
		t.Fatalf("%s has no rows: %q", path, records)
	}
	col := map[string]int{}
	for i, h := range records[0] {
		col[strings.TrimSpace(h)] = i
	}
	for _, h := range []string{"Name", "Request Count", "Failure Count"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("%s has no %q column: %q", path, h, records[0])
		}
	}
	rows := map[string]locustRow{}
	for _, rec := range records[1:] {
		n, err1 := strconv.Atoi(rec[col["Request Count"]])
		fails, err2 := strconv.Atoi(rec[col["Failure Count"]])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad counts in row %q", path, rec)
		}
		rows[rec[col["Name"]]] = locustRow{requests: n, failures: fails}
	}
	return rows
}

// tutorialConfig is `alba up --print-config` (what `alba up` runs) with its
// listener moved to port on 127.0.0.1.
func tutorialConfig(t *testing.T, port int) string {
	t.Helper()
	out, err := exec.Command(albaBin, "up", "--print-config").Output()
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(out), "        port: 8080\n        default_action:", fmt.Sprintf("        port: %d\n        address: 127.0.0.1\n        default_action:", port), 1)
	if cfg == string(out) {
		t.Fatal("the built-in configuration's listener was not found")
	}
	return cfg
}

// locustBinary is Debian's locust when installed, else the first on PATH;
// in CI its absence is a failure.
func locustBinary(t *testing.T) string {
	t.Helper()
	locust, err := exec.LookPath("/usr/bin/locust")
	if err != nil {
		locust, err = exec.LookPath("locust")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("locust is not on PATH, and CI installs it (apt-get install python3-locust)")
		}
		t.Skip("locust is not on PATH; apt-get install python3-locust to run this test")
	}
	return locust
}

// TestTutorialScalesOutOfTheBox is the tutorial's story with nothing
// tuned: alba up's built-in system, the shipped locustfile with the 50
// users the README gives, and the group scales 1 -> 2 within 30 s of the
// load starting; once the load stops it scales back in (the scale-in
// window is shortened from AWS's 5 minutes so the test is quick).
func TestTutorialScalesOutOfTheBox(t *testing.T) {
	locust := locustBinary(t)
	lport := freePort(t)
	l := up(t, tutorialConfig(t, lport), "--scale-in-window", "15s")
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 1 })

	cmd := exec.Command(locust, "-f", "../http_load_test/locustfile.py", "--host", fmt.Sprintf("http://127.0.0.1:%d", lport),
		"--headless", "-u", "50", "-r", "50", "-t", "40s", "--only-summary", "--web-host", "127.0.0.1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("locust output:\n%s", out.String())
		}
	})
	waitFor(t, 30*time.Second, func() bool {
		return hasActivity(l.activities(t), "ASGAverageCPUUtilization", "from 1 to 2")
	})
	t.Logf("scaled out %v after the load started", time.Since(started).Round(time.Second))
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 2 })
	select {
	case <-done:
	case <-time.After(locustLimit):
		t.Fatalf("locust ran for more than %v", locustLimit)
	}
	waitFor(t, 90*time.Second, func() bool {
		g := l.group(t)
		return g.Desired == 1 && hasActivity(l.activities(t), "from 2 to 1")
	})
}
