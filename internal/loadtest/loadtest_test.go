package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testServer counts what the load generator did to it.
type testServer struct {
	*httptest.Server
	hits     atomic.Int64
	newConns atomic.Int64
	mu       sync.Mutex
	paths    map[string]int64
}

// newTestServer starts a server on 127.0.0.1 that counts requests per path
// and new connections, alternates X-Instance-Id between a and b, and then
// calls handle if non-nil (or answers 200 "ok").
func newTestServer(t *testing.T, tls bool, handle http.HandlerFunc) *testServer {
	t.Helper()
	s := &testServer{paths: make(map[string]int64)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.hits.Add(1)
		s.mu.Lock()
		s.paths[r.URL.RequestURI()]++
		s.mu.Unlock()
		w.Header().Set("X-Instance-Id", string(rune('a'+n%2)))
		if handle != nil {
			handle(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshake failures are expected
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.newConns.Add(1)
		}
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) pathCount(p string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[p]
}

func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func TestClosedLoop(t *testing.T) {
	srv := newTestServer(t, false, nil)
	paths := []string{"/a", "/b?x=1", "/c", "/discover?type=tv&genre=16"}
	const concurrency = 4
	rep := run(t, Config{
		Target:       srv.URL,
		Paths:        paths,
		Concurrency:  concurrency,
		Duration:     300 * time.Millisecond,
		CountHeaders: []string{"x-instance-id"}, // canonicalised in the report
	})

	if rep.Requests == 0 || rep.Failures != 0 {
		t.Fatalf("requests = %d, failures = %d; want > 0 and 0", rep.Requests, rep.Failures)
	}
	if rep.StatusCodes[200] != rep.Requests || len(rep.StatusCodes) != 1 {
		t.Errorf("status codes = %v, want only 200 × %d", rep.StatusCodes, rep.Requests)
	}
	if len(rep.Errors) != 0 {
		t.Errorf("errors = %v, want none", rep.Errors)
	}
	// The server may also have seen the requests cut off at the deadline.
	if hits := srv.hits.Load(); hits < rep.Requests || hits > rep.Requests+concurrency {
		t.Errorf("server saw %d requests, report says %d", hits, rep.Requests)
	}
	for _, p := range paths {
		if srv.pathCount(p) == 0 {
			t.Errorf("path %s never requested", p)
		}
	}
	values := rep.HeaderValues["X-Instance-Id"]
	if values["a"] == 0 || values["b"] == 0 || values["a"]+values["b"] != rep.Requests {
		t.Errorf("X-Instance-Id counts = %v, want a and b summing to %d", values, rep.Requests)
	}
	if n := srv.newConns.Load(); n > concurrency {
		t.Errorf("server saw %d connections, want <= %d (keep-alive)", n, concurrency)
	}
	l := rep.Latency
	if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P95 &&
		l.P95 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max && l.Mean > 0) {
		t.Errorf("latency percentiles not ordered: %+v", l)
	}
	if rep.Duration < 300*time.Millisecond || rep.Duration > 2*time.Second || rep.RPS <= 0 {
		t.Errorf("duration = %v, rps = %.1f", rep.Duration, rep.RPS)
	}
}

// TestDefaultPathsAndMaxRequests runs one worker for exactly one round of
// the default mix.
func TestDefaultPathsAndMaxRequests(t *testing.T) {
	srv := newTestServer(t, false, nil)
	paths := DefaultPaths()
	rep := run(t, Config{
		Target:      srv.URL + "/", // a trailing slash must not double up
		Concurrency: 1,
		Duration:    5 * time.Second,
		MaxRequests: int64(len(paths)),
	})
	if rep.Requests != int64(len(paths)) || srv.hits.Load() != int64(len(paths)) {
		t.Fatalf("requests = %d, server hits = %d, want %d", rep.Requests, srv.hits.Load(), len(paths))
	}
	for _, p := range paths {
		if n := srv.pathCount(p); n != 1 {
			t.Errorf("path %s requested %d times, want 1", p, n)
		}
	}
	if paths[8] != "/status" || len(paths) != 9 {
		t.Errorf("DefaultPaths = %v", paths)
	}
}

func TestMaxRequestsExact(t *testing.T) {
	srv := newTestServer(t, false, nil)
	const max = 137
	start := time.Now()
	rep := run(t, Config{Target: srv.URL, Concurrency: 8, Duration: 10 * time.Second, MaxRequests: max})
	if rep.Requests != max || srv.hits.Load() != max {
		t.Errorf("requests = %d, server hits = %d, want %d", rep.Requests, srv.hits.Load(), max)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("run took %v; MaxRequests should end it early", elapsed)
	}
}

func TestServerErrorsAreFailures(t *testing.T) {
	srv := newTestServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case "/missing":
			http.NotFound(w, r)
		default:
			io.WriteString(w, "ok")
		}
	})
	rep := run(t, Config{
		Target:      srv.URL,
		Paths:       []string{"/ok", "/bad", "/missing"},
		Concurrency: 3,
		Duration:    5 * time.Second,
		MaxRequests: 300,
	})
	sc := rep.StatusCodes
	if rep.Requests != 300 || sc[200]+sc[503]+sc[404] != 300 {
		t.Fatalf("requests = %d, status codes = %v", rep.Requests, sc)
	}
	if sc[503] == 0 || sc[404] == 0 || sc[200] == 0 {
		t.Errorf("status codes = %v, want some of each", sc)
	}
	// 503 is a failure, 404 is not.
	if rep.Failures != sc[503] {
		t.Errorf("failures = %d, want %d (the 503s)", rep.Failures, sc[503])
	}
	if n := srv.newConns.Load(); n > 3 {
		t.Errorf("server saw %d connections; error responses should keep the connection", n)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more

	rep := run(t, Config{Target: "http://" + addr, Concurrency: 2, Duration: 5 * time.Second, MaxRequests: 20})
	if rep.Requests != 20 || rep.Failures != 20 {
		t.Errorf("requests = %d, failures = %d, want 20 and 20", rep.Requests, rep.Failures)
	}
	if rep.Errors["connection refused"] != 20 {
		t.Errorf("errors = %v, want connection refused × 20", rep.Errors)
	}
	if len(rep.StatusCodes) != 0 || rep.Latency != (Percentiles{}) {
		t.Errorf("status codes = %v, latency = %+v; transport errors have neither", rep.StatusCodes, rep.Latency)
	}
}

// blockUntilGone holds a request until the client goes away (or a safety
// limit, so a broken client cannot hang the test server's Close).
func blockUntilGone(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func TestTimeout(t *testing.T) {
	srv := newTestServer(t, false, blockUntilGone)
	rep := run(t, Config{
		Target:      srv.URL,
		Concurrency: 1,
		Duration:    5 * time.Second,
		MaxRequests: 2,
		Timeout:     100 * time.Millisecond,
	})
	if rep.Requests != 2 || rep.Failures != 2 || rep.Errors["timeout"] != 2 {
		t.Errorf("requests = %d, failures = %d, errors = %v; want 2 timeouts", rep.Requests, rep.Failures, rep.Errors)
	}
}

func TestOpenLoopRate(t *testing.T) {
	srv := newTestServer(t, false, nil)
	rep := run(t, Config{Target: srv.URL, Concurrency: 8, Rate: 200, Duration: time.Second})
	if rep.Requests < 170 || rep.Requests > 230 {
		t.Errorf("requests = %d, want 200 ±15%%", rep.Requests)
	}
	if rep.Failures != 0 {
		t.Errorf("failures = %d", rep.Failures)
	}
}

// TestOpenLoopCoordinatedOmission checks that latency counts from when a
// request was due: one worker asked for 100 req/s from a server taking 50 ms
// falls ever further behind, and the report must show it.
func TestOpenLoopCoordinatedOmission(t *testing.T) {
	srv := newTestServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
	})
	rep := run(t, Config{Target: srv.URL, Concurrency: 1, Rate: 100, Duration: 600 * time.Millisecond})
	if rep.Requests == 0 || rep.Requests > 13 {
		t.Fatalf("requests = %d, want about 600ms/50ms", rep.Requests)
	}
	// The n-th response arrives about 50n ms in but was due at 10n ms.
	if rep.Latency.Max < 250*time.Millisecond {
		t.Errorf("max latency = %v; want the backlog (>= 250ms) counted", rep.Latency.Max)
	}
	if rep.Latency.Min < 50*time.Millisecond {
		t.Errorf("min latency = %v, want >= the server's 50ms", rep.Latency.Min)
	}
}

func TestCancelReturnsPartialReport(t *testing.T) {
	// Each worker completes /fast, then hangs on /slow until cancelled.
	srv := newTestServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			blockUntilGone(w, r)
			return
		}
		io.WriteString(w, "ok")
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	rep, err := Run(ctx, Config{
		Target:      srv.URL,
		Paths:       []string{"/fast", "/slow"},
		Concurrency: 3,
		Duration:    30 * time.Second,
	})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if elapsed > time.Second {
		t.Errorf("Run took %v after cancel at 200ms", elapsed)
	}
	// Worker i starts at path i, so workers 0 and 2 got /fast through and
	// all three then hung on /slow, which is abandoned, not failed.
	if rep.Requests != 2 || rep.Failures != 0 || rep.StatusCodes[200] != 2 {
		t.Errorf("requests = %d, failures = %d, status = %v, errors = %v; want 2 × 200",
			rep.Requests, rep.Failures, rep.StatusCodes, rep.Errors)
	}
	// The report covers the run until the cancel, not the configured 30 s.
	// (The cancel was armed before Run started its own clock, so the
	// report may be a little under 200 ms.)
	if rep.Duration < 150*time.Millisecond || rep.Duration > elapsed {
		t.Errorf("report duration = %v, want from about 200 ms to the %v Run took", rep.Duration, elapsed)
	}
}

func TestDeadlineCutsInFlightRequests(t *testing.T) {
	srv := newTestServer(t, false, blockUntilGone)
	start := time.Now()
	rep := run(t, Config{Target: srv.URL, Concurrency: 4, Duration: 200 * time.Millisecond})
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Run took %v with a 200ms duration", elapsed)
	}
	if rep.Requests != 0 || len(rep.Errors) != 0 {
		t.Errorf("requests = %d, errors = %v; abandoned requests are not counted", rep.Requests, rep.Errors)
	}
}

func TestProgress(t *testing.T) {
	old := progressInterval
	progressInterval = 50 * time.Millisecond
	t.Cleanup(func() { progressInterval = old })

	srv := newTestServer(t, false, nil)
	var snaps []Snapshot // Progress runs on Run's goroutine: no lock needed
	rep := run(t, Config{
		Target:   srv.URL,
		Duration: 400 * time.Millisecond,
		Progress: func(s Snapshot) { snaps = append(snaps, s) },
	})
	if len(snaps) < 4 {
		t.Fatalf("got %d snapshots, want about 8", len(snaps))
	}
	for i, s := range snaps {
		if i > 0 && (s.Elapsed <= snaps[i-1].Elapsed || s.Requests < snaps[i-1].Requests) {
			t.Errorf("snapshot %d went backwards: %+v after %+v", i, s, snaps[i-1])
		}
		if s.Requests > rep.Requests {
			t.Errorf("snapshot %d has %d requests, more than the report's %d", i, s.Requests, rep.Requests)
		}
	}
	last := snaps[len(snaps)-1]
	if last.Requests == 0 || last.RPS <= 0 || last.P50 <= 0 || last.P99 < last.P50 {
		t.Errorf("last snapshot = %+v", last)
	}
}

func TestKeepCookies(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			var withCookie, without atomic.Int64
			srv := newTestServer(t, false, func(w http.ResponseWriter, r *http.Request) {
				if _, err := r.Cookie("sid"); err == nil {
					withCookie.Add(1)
				} else {
					without.Add(1)
					http.SetCookie(w, &http.Cookie{Name: "sid", Value: "x", Path: "/"})
				}
			})
			rep := run(t, Config{Target: srv.URL, Concurrency: 4, Duration: 5 * time.Second, MaxRequests: 40, KeepCookies: keep})
			// Each worker's first request lacks the cookie: up to 4, fewer
			// when the others used up MaxRequests before a worker started.
			// The server may see a request the report does not count (one
			// cut off as the run ends), so bound the rest from below.
			if n := without.Load(); keep && (n < 1 || n > 4 || withCookie.Load() < rep.Requests-n) {
				t.Errorf("%d requests without the cookie, %d with, of %d reported: want only each worker's first without it",
					n, withCookie.Load(), rep.Requests)
			}
			if !keep && withCookie.Load() != 0 {
				t.Errorf("%d requests carried a cookie without KeepCookies", withCookie.Load())
			}
		})
	}
}

func TestHTTPS(t *testing.T) {
	srv := newTestServer(t, true, nil)
	cfg := Config{Target: srv.URL, Concurrency: 2, Duration: 5 * time.Second, MaxRequests: 10}
	rep := run(t, cfg)
	if rep.Failures != 10 || rep.Errors["tls: certificate verification failed"] != 10 {
		t.Errorf("without InsecureSkipVerify: failures = %d, errors = %v", rep.Failures, rep.Errors)
	}
	cfg.InsecureSkipVerify = true
	rep = run(t, cfg)
	if rep.Failures != 0 || rep.StatusCodes[200] != 10 {
		t.Errorf("with InsecureSkipVerify: failures = %d, status = %v, errors = %v", rep.Failures, rep.StatusCodes, rep.Errors)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		srv := newTestServer(t, false, nil)
		defer srv.Close()
		run(t, Config{Target: srv.URL, Concurrency: 8, Duration: 150 * time.Millisecond})
	}()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := Config{Target: "http://127.0.0.1:1", Duration: time.Second}
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"no target", func(c *Config) { c.Target = "" }, "target is required"},
		{"bad url", func(c *Config) { c.Target = "http://[::1" }, "bad target URL"},
		{"scheme", func(c *Config) { c.Target = "ftp://127.0.0.1" }, "scheme must be http or https"},
		{"no scheme", func(c *Config) { c.Target = "127.0.0.1:8080" }, "must start with http:// or https://"},
		{"no host", func(c *Config) { c.Target = "http:///x" }, "missing host"},
		{"query", func(c *Config) { c.Target = "http://127.0.0.1/?a=b" }, "must not have a query"},
		{"relative path", func(c *Config) { c.Paths = []string{"status"} }, "must start with /"},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "duration must be positive"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "duration must be positive"},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }, "concurrency must not be negative"},
		{"huge concurrency", func(c *Config) { c.Concurrency = MaxConcurrency + 1 }, "concurrency must be at most"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "rate must be"},
		{"NaN rate", func(c *Config) { c.Rate = math.NaN() }, "rate must be"},
		{"negative max requests", func(c *Config) { c.MaxRequests = -1 }, "max requests"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout must not be negative"},
		{"empty header", func(c *Config) { c.CountHeaders = []string{""} }, "bad header name"},
		{"header with colon", func(c *Config) { c.CountHeaders = []string{"X-A: b"} }, "bad header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.modify(&cfg)
			rep, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig containing %q", err, tt.want)
			}
			if rep != nil {
				t.Errorf("report = %+v, want nil on invalid config", rep)
			}
		})
	}
}

func TestWriteText(t *testing.T) {
	rep := &Report{
		Requests:    1000,
		Failures:    12,
		StatusCodes: map[int]int64{200: 950, 503: 10, 404: 38},
		Errors:      map[string]int64{"connection refused": 2},
		HeaderValues: map[string]map[string]int64{
			"X-Instance-Id": {"i-a": 500, "i-b": 496, "": 2},
		},
		Duration: 2 * time.Second,
		RPS:      500,
		Latency: Percentiles{
			Min: 150 * time.Microsecond, P50: 1200 * time.Microsecond, P90: 3 * time.Millisecond,
			P95: 4 * time.Millisecond, P99: 9 * time.Millisecond, P999: 40 * time.Millisecond,
			Max: 1500 * time.Millisecond, Mean: 1400 * time.Microsecond,
		},
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Requests    1000", "Failures    12 (1.20%)", "Throughput  500.0 req/s",
		"p99.9", "150µs", "1.20ms", "1.50s",
		"200     950", "503     10", "connection refused  2",
		"X-Instance-Id", "i-a", "(missing)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "i-a") > strings.Index(out, "i-b") {
		t.Errorf("header values not sorted by count:\n%s", out)
	}
	if err := rep.WriteText(failingWriter{}); err == nil {
		t.Error("WriteText ignored a write error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestClassifyError(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timeout"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route to host")}, "no route to host"},
		{io.ErrUnexpectedEOF, "EOF"},
		{&net.DNSError{Err: "no such host", Name: "x"}, "dns: no such host"},
		{errors.New(strings.Repeat("x", 200)), strings.Repeat("x", maxErrorText) + "…"},
	}
	for _, tt := range tests {
		if got := classifyError(tt.err); got != tt.want {
			t.Errorf("classifyError(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestCountKeyBound(t *testing.T) {
	m := map[string]int64{}
	for i := range maxDistinct + 10 {
		countKey(m, fmt.Sprint(i))
	}
	if len(m) != maxDistinct+1 || m[otherKey] != 10 {
		t.Errorf("len = %d, other = %d; want %d and 10", len(m), m[otherKey], maxDistinct+1)
	}
}
