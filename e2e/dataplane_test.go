package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRoundRobinSpreadsOverThreeCatalogs(t *testing.T) {
	var ports []int
	for _, id := range []string{"a", "b", "c"} {
		_, p := catalog(t, id)
		ports = append(ports, p)
	}
	lport := freePort(t)
	l := up(t, config(lport, ports, fastHealth))
	l.waitHealthy(t, ports...)
	counts := map[string]int{}
	client := &http.Client{}
	for i := 0; i < 3000; i++ {
		resp, err := client.Get(l.url(lport, "/status"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		counts[resp.Header.Get("X-Instance-Id")]++
	}
	for _, id := range []string{"a", "b", "c"} {
		if c := counts[id]; c < 950 || c > 1050 {
			t.Errorf("instance %s served %d of 3000 (want 1000 ±5%%): %v", id, c, counts)
		}
	}
	// Prometheus metrics count the same requests.
	resp, err := http.Get("http://" + l.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `alba_target_group_requests_total{target_group="web"} 3000`) {
		t.Errorf("metrics do not count 3000 requests:\n%s", grepLines(string(body), "alba_target_group"))
	}
	if !strings.Contains(string(body), `alba_target_group_hosts{health="healthy",target_group="web"} 3`) {
		t.Errorf("metrics do not show 3 healthy hosts")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestLeastOutstandingAvoidsSlowTarget(t *testing.T) {
	_, fast := catalog(t, "fast")
	_, slow := catalog(t, "slow", "--cpu-cost", "30ms")
	lport := freePort(t)
	l := up(t, config(lport, []int{fast, slow}, fastHealth+"    attributes: {load_balancing.algorithm.type: least_outstanding_requests}\n"))
	l.waitHealthy(t, fast, slow)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ld := startLoad(ctx, l.url(lport, "/discover?type=movie&genre=28"), 6)
	ld.wait()
	if ld.failed.Load() != 0 {
		t.Fatalf("%d requests failed: %v", ld.failed.Load(), ld.errs)
	}
	if ld.byInstance["slow"]*3 > ld.byInstance["fast"] {
		t.Errorf("least outstanding requests sent too much to the slow target: %v", ld.byInstance)
	}
}

func TestKilledTargetCostsNothing(t *testing.T) {
	_, a := catalog(t, "a")
	bp, b := catalog(t, "b")
	lport := freePort(t)
	l := up(t, config(lport, []int{a, b}, fastHealth))
	l.waitHealthy(t, a, b)

	ctx, cancel := context.WithCancel(context.Background())
	ld := startLoad(ctx, l.url(lport, "/discover?type=tv"), 8)
	time.Sleep(500 * time.Millisecond)
	bp.cmd.Process.Kill() // SIGKILL under load
	waitFor(t, 20*time.Second, func() bool {
		s := l.state(t, b)
		return s.Health.State == "unhealthy"
	})
	if r := l.state(t, b).Health.Reason; r != "Target.FailedHealthChecks" {
		t.Errorf("killed target's reason %q, want Target.FailedHealthChecks", r)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	ld.wait()
	if n := ld.failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed when a target was killed: %v", n, n+ld.ok.Load(), ld.errs)
	}
	if ld.ok.Load() < 100 {
		t.Fatalf("only %d requests in the run", ld.ok.Load())
	}
	// Restarted on the same port, it returns after the healthy threshold.
	start(t, "catalog", "--listen", fmt.Sprintf("127.0.0.1:%d", b), "--instance-id", "b2")
	l.waitHealthy(t, b)
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		resp, err := http.Get(l.url(lport, "/status"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[resp.Header.Get("X-Instance-Id")] = true
	}
	if !seen["b2"] {
		t.Errorf("restarted target gets no traffic: %v", seen)
	}
}

func TestFailOpenAndEmptyGroup(t *testing.T) {
	_, a := catalog(t, "a")
	_, b := catalog(t, "b")
	lport := freePort(t)
	// The health check path does not exist: every target is unhealthy.
	bad := "    health_check: {path: /missing, interval_seconds: 5, timeout_seconds: 2}\n"
	l := up(t, config(lport, []int{a, b}, bad))
	waitFor(t, 20*time.Second, func() bool {
		return l.state(t, a).Health.State == "unhealthy" && l.state(t, b).Health.State == "unhealthy"
	})
	if r := l.state(t, a).Health.Reason; r != "Target.ResponseCodeMismatch" {
		t.Errorf("reason %q, want Target.ResponseCodeMismatch", r)
	}
	seen := map[string]int{}
	for i := 0; i < 40; i++ {
		resp, err := http.Get(l.url(lport, "/status"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("fail-open request answered %d", resp.StatusCode)
		}
		seen[resp.Header.Get("X-Instance-Id")]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("fail-open should use every target: %v", seen)
	}

	lport2 := freePort(t)
	l2 := up(t, config(lport2, nil, fastHealth))
	resp, err := http.Get(l2.url(lport2, "/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("empty target group answered %d, want 503", resp.StatusCode)
	}
}

// slowPost sends a body slowly, so the request is in flight for about d.
func slowPost(t *testing.T, url string, d time.Duration) (int, error) {
	body := `{"movieId": "%s", "popularity": 42}`
	pr, pw := io.Pipe()
	go func() {
		// Find a movie id first through the load balancer.
		msg := fmt.Sprintf(body, movieID(t, url))
		step := d / time.Duration(len(msg))
		for i := 0; i < len(msg); i++ {
			pw.Write([]byte{msg[i]})
			time.Sleep(step)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", url+"/updatePopularity", pr)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func movieID(t *testing.T, base string) string {
	resp, err := http.Get(base + "/discover?type=movie&genre=28")
	if err != nil {
		return "0"
	}
	defer resp.Body.Close()
	var recs []struct {
		ID int `json:"id"`
	}
	if err := jsonDecode(resp.Body, &recs); err != nil || len(recs) == 0 {
		return "0"
	}
	return fmt.Sprint(recs[0].ID)
}

func TestInFlightSurvivesDeregistrationAndReload(t *testing.T) {
	_, a := catalog(t, "a")
	_, b := catalog(t, "b")
	lport := freePort(t)
	l := up(t, config(lport, []int{a}, fastHealth))
	l.waitHealthy(t, a)
	base := fmt.Sprintf("http://127.0.0.1:%d", lport)

	ctx, cancel := context.WithCancel(context.Background())
	ld := startLoad(ctx, base+"/discover?type=movie", 4)
	var wg sync.WaitGroup
	var code int
	var postErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, postErr = slowPost(t, base, 2*time.Second)
	}()
	time.Sleep(500 * time.Millisecond)
	// Swap target a for b and reload: a drains with the slow request on it.
	os.WriteFile(l.file, []byte(config(lport, []int{b}, fastHealth)), 0o600)
	l.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool { return l.state(t, a).Health.State == "draining" })
	l.waitHealthy(t, b)
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	cancel()
	ld.wait()
	if postErr != nil || code != 200 {
		t.Errorf("slow in-flight request through deregistration: code %d err %v", code, postErr)
	}
	if n := ld.failed.Load(); n != 0 {
		t.Errorf("%d requests failed during reload: %v", n, ld.errs)
	}
	if ld.byInstance["b"] == 0 {
		t.Errorf("new target got no traffic after reload: %v", ld.byInstance)
	}
	// A reload with a broken file changes nothing and says why.
	os.WriteFile(l.file, []byte("load_balancers: [\n"), 0o600)
	l.signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(l.out.String(), "reload failed") })
	if get(base+"/status") != 200 {
		t.Errorf("a failed reload broke the listener")
	}
}

func TestInvalidFileRejectedWithLine(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/bad.yaml"
	os.WriteFile(file, []byte("target_groups:\n  - name: web\n    port: 8080\n    health_check:\n      interval_seconds: 1\n"), 0o600)
	p := start(t, "up", "-f", file, "--data-dir", dir+"/data", "--admin", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if code := p.wait(t, 10*time.Second); code == 0 {
		t.Fatal("alba up accepted an invalid file")
	}
	out := p.out.String()
	if !strings.Contains(out, "bad.yaml:2:") || !strings.Contains(out, "interval 1 must be 5-300") {
		t.Errorf("error does not name the line and rule: %q", out)
	}
	if _, err := os.Stat(dir + "/data/alba.db"); err == nil {
		// The store may be created, but nothing may be in it; simplest
		// check: the file was rejected before the store was opened.
		t.Errorf("the store was opened for an invalid file")
	}
}

func TestBadHTTPNeverForwarded(t *testing.T) {
	_, a := catalog(t, "a")
	lport := freePort(t)
	l := up(t, config(lport, []int{a}, fastHealth))
	l.waitHealthy(t, a)
	for _, raw := range []string{
		"POST /updatePopularity HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nBad\x7fName: 1\r\n\r\n",
	} {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lport))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 400 {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
		if resp.Header.Get("X-Instance-Id") != "" {
			t.Errorf("a malformed request reached the target")
		}
	}
}

func TestSIGTERMFinishesInFlightAndRestartKeepsState(t *testing.T) {
	_, a := catalog(t, "a")
	lport := freePort(t)
	l := up(t, config(lport, []int{a}, fastHealth))
	l.waitHealthy(t, a)
	base := fmt.Sprintf("http://127.0.0.1:%d", lport)
	var code int
	var err error
	done := make(chan struct{})
	go func() { code, err = slowPost(t, base, 1500*time.Millisecond); close(done) }()
	time.Sleep(400 * time.Millisecond)
	l.signal(syscall.SIGTERM)
	<-done
	if err != nil || code != 200 {
		t.Errorf("in-flight request across SIGTERM: %d %v", code, err)
	}
	if ec := l.wait(t, 10*time.Second); ec != 0 {
		t.Errorf("exit code %d after SIGTERM", ec)
	}
	// Restart with no file at all: the store still has every resource.
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := start(t, "up", "--from-store", "--data-dir", l.dataDir, "--admin", admin)
	waitFor(t, 10*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
	waitFor(t, 20*time.Second, func() bool { return get(base+"/status") == 200 })
	_ = p
}

func TestReloadOpensAndDrainsListeners(t *testing.T) {
	_, a := catalog(t, "a")
	p1, p2 := freePort(t), freePort(t)
	one := config(p1, []int{a}, fastHealth)
	l := up(t, one)
	l.waitHealthy(t, a)
	base1 := fmt.Sprintf("http://127.0.0.1:%d", p1)
	base2 := fmt.Sprintf("http://127.0.0.1:%d", p2)
	if get(base2+"/status") != 0 {
		t.Fatal("second port already serving")
	}
	// Add a listener on p2.
	two := strings.Replace(one, "    listeners:\n", fmt.Sprintf("    listeners:\n      - protocol: HTTP\n        port: %d\n        address: 127.0.0.1\n        default_action: {forward: web}\n", p2), 1)
	os.WriteFile(l.file, []byte(two), 0o600)
	l.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool { return get(base2+"/status") == 200 })

	// A slow request in flight on p1 finishes while p1 is removed; then p1
	// stops accepting.
	var code int
	var err error
	done := make(chan struct{})
	go func() { code, err = slowPost(t, base1, 1500*time.Millisecond); close(done) }()
	time.Sleep(400 * time.Millisecond)
	onlyTwo := strings.Replace(two, fmt.Sprintf("      - protocol: HTTP\n        port: %d\n        address: 127.0.0.1\n        default_action: {forward: web}\n", p1), "", 1)
	if onlyTwo == two {
		t.Fatal("could not remove the first listener from the file")
	}
	os.WriteFile(l.file, []byte(onlyTwo), 0o600)
	l.signal(syscall.SIGHUP)
	<-done
	if err != nil || code != 200 {
		t.Errorf("in-flight request on a removed listener: %d %v", code, err)
	}
	waitFor(t, 10*time.Second, func() bool { return get(base1+"/status") == 0 })
	if get(base2+"/status") != 200 {
		t.Error("the remaining listener stopped serving")
	}
}
