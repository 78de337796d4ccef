// Package e2e boots the real alba binary with real alba catalog processes
// behind it, and checks what a user would see.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// albaBin is the binary built once for the whole package.
var albaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "alba-e2e")
	if err != nil {
		panic(err)
	}
	albaBin = filepath.Join(dir, "alba")
	build := exec.Command("go", "build", "-o", albaBin, "../cmd/alba")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building alba:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port nobody listens on.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a child process with its output captured.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs alba with args; the process is killed at the end of the test.
func start(t testing.TB, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(albaBin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of alba %s:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

func (p *proc) signal(s os.Signal) { p.cmd.Process.Signal(s) }

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("process did not exit within %v", d)
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// catalog starts an alba catalog instance on a free port.
func catalog(t *testing.T, id string, extra ...string) (*proc, int) {
	t.Helper()
	port := freePort(t)
	p := start(t, append([]string{"catalog", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--instance-id", id}, extra...)...)
	waitFor(t, 10*time.Second, func() bool { return get(fmt.Sprintf("http://127.0.0.1:%d/status", port)) == 200 })
	return p, port
}

func get(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lb is a running `alba up` with its addresses.
type lb struct {
	*proc
	port    int
	admin   string
	dataDir string
	file    string
}

// config renders a file: one load balancer with one HTTP listener, one ip
// target group with the given targets and extra target group YAML lines.
func config(listenPort int, targets []int, tgExtra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `load_balancers:
  - name: web
    attributes:
      idle_timeout.timeout_seconds: 10
    listeners:
      - protocol: HTTP
        port: %d
        address: 127.0.0.1
        default_action: {forward: web}
target_groups:
  - name: web
    port: 8080
    target_type: ip
%s    targets:
`, listenPort, tgExtra)
	for _, p := range targets {
		fmt.Fprintf(&b, "      - {id: 127.0.0.1, port: %d}\n", p)
	}
	if len(targets) == 0 {
		b.WriteString("      []\n")
	}
	return b.String()
}

const fastHealth = `    health_check: {path: /status, interval_seconds: 5, timeout_seconds: 2, healthy_threshold: 2, unhealthy_threshold: 2}
`

// up writes the file and starts alba up on it, waiting for the admin API.
func up(t *testing.T, yaml string, extra ...string) *lb {
	t.Helper()
	dir := t.TempDir()
	l := &lb{dataDir: filepath.Join(dir, "data"), file: filepath.Join(dir, "alba.yaml"), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	if err := os.WriteFile(l.file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	l.run(t, extra...)
	t.Cleanup(func() { killInstances(l.dataDir) })
	return l
}

// upEmpty starts alba up --empty: no resources but those the API (or the
// console) makes.
func upEmpty(t *testing.T, extra ...string) *lb {
	t.Helper()
	l := &lb{dataDir: filepath.Join(t.TempDir(), "data"), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	l.run(t, append([]string{"--empty"}, extra...)...)
	t.Cleanup(func() { killInstances(l.dataDir) })
	return l
}

// run starts alba up on l's file, data directory and admin address, and
// waits for the admin API.
func (l *lb) run(t testing.TB, extra ...string) {
	t.Helper()
	l.launch(t, extra...)
	l.waitUp(t)
}

// launch starts alba up as run does, without waiting for it.
func (l *lb) launch(t testing.TB, extra ...string) {
	args := []string{"up", "--data-dir", l.dataDir, "--admin", l.admin}
	if l.file != "" {
		args = append(args, "-f", l.file)
	}
	l.proc = start(t, append(args, extra...)...)
}

// waitUp waits for the admin API.
func (l *lb) waitUp(t testing.TB) {
	t.Helper()
	waitFor(t, 10*time.Second, func() bool { return get("http://"+l.admin+"/healthz") == 200 })
}

// kill SIGKILLs alba and waits for it to exit.
func (l *lb) kill() {
	l.proc.cmd.Process.Kill()
	<-l.proc.done
}

// restart runs alba up again where l ran, with extra flags.
func (l *lb) restart(t *testing.T, extra ...string) *lb {
	t.Helper()
	l2 := &lb{dataDir: l.dataDir, file: l.file, admin: l.admin}
	l2.run(t, extra...)
	return l2
}

func (l *lb) url(port int, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
}

// targetHealth is a row of /api/targets.
type targetHealth struct {
	ID      string `json:"id"`
	Port    int    `json:"port"`
	Address string `json:"address"`
	Health  struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"health"`
}

func (l *lb) targets(t testing.TB) []targetHealth {
	t.Helper()
	var ts []targetHealth
	l.apiGet(t, "/api/targets", &ts)
	return ts
}

// apiGet decodes what the admin address answers at path.
func (l *lb) apiGet(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + l.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func (l *lb) state(t *testing.T, port int) targetHealth {
	for _, th := range l.targets(t) {
		if th.Port == port {
			return th
		}
	}
	return targetHealth{}
}

// waitHealthy waits until every listed target is healthy.
func (l *lb) waitHealthy(t *testing.T, ports ...int) {
	t.Helper()
	waitFor(t, 20*time.Second, func() bool {
		for _, p := range ports {
			if l.state(t, p).Health.State != "healthy" {
				return false
			}
		}
		return true
	})
}

// load runs closed-loop GETs until ctx ends and counts outcomes per
// X-Instance-Id; failures are transport errors and 5xx.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	byInstance map[string]int
	errs       []string
	wg         sync.WaitGroup
}

func startLoad(ctx context.Context, url string, workers int) *load {
	return runLoad(ctx, loadSpec{urls: []string{url}, workers: workers})
}

// startPacedLoad is startLoad with each worker pausing every between
// requests: a light load whose CPU cost does not grow with the
// machine's speed, as an unpaced loop's does.
func startPacedLoad(ctx context.Context, url string, workers int, every time.Duration) *load {
	return runLoad(ctx, loadSpec{urls: []string{url}, workers: workers, every: every})
}

// loadSpec says what runLoad sends: workers loop over urls (worker w
// starting at urls[w]), pausing every between requests.
type loadSpec struct {
	urls    []string
	workers int
	every   time.Duration
	// skipUnopened counts a connection that fails to open as "try the
	// next address", not as a failed request: no request was sent.
	skipUnopened bool
	// newConns opens a connection per request.
	newConns bool
}

func runLoad(ctx context.Context, spec loadSpec) *load {
	ld := &load{byInstance: map[string]int{}}
	for w := range spec.workers {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableKeepAlives: spec.newConns}}
			defer client.CloseIdleConnections()
			for i := w; ctx.Err() == nil; i++ {
				resp, err := client.Get(spec.urls[i%len(spec.urls)])
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					if op := (*net.OpError)(nil); spec.skipUnopened && errors.As(err, &op) && op.Op == "dial" {
						continue
					}
					ld.fail(err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					ld.fail(resp.Status)
					continue
				}
				ld.ok.Add(1)
				ld.mu.Lock()
				ld.byInstance[resp.Header.Get("X-Instance-Id")]++
				ld.mu.Unlock()
				if spec.every > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(spec.every):
					}
				}
			}
		}()
	}
	return ld
}

func (ld *load) fail(msg string) {
	ld.failed.Add(1)
	ld.mu.Lock()
	if len(ld.errs) < 10 {
		ld.errs = append(ld.errs, msg)
	}
	ld.mu.Unlock()
}

func (ld *load) wait() { ld.wg.Wait() }

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// killInstances kills the process groups of every instance an alba run
// started under dataDir: instances outlive a killed alba on purpose.
func killInstances(dataDir string) {
	pids, _ := filepath.Glob(filepath.Join(dataDir, "instances", "*", "pid"))
	for _, f := range pids {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}
