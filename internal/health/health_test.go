package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/model"
)

// script is a fake checker whose answers the test changes.
type script struct {
	mu     sync.Mutex
	result Result
	calls  int
}

func (s *script) set(r Result) { s.mu.Lock(); s.result = r; s.mu.Unlock() }
func (s *script) check(ctx context.Context, spec Spec, addr string) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.result
}

var spec = Spec{Path: "/status", Interval: 30 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: model.Matcher{{200, 200}}}

var (
	pass     = Result{OK: true}
	mismatch = Result{Reason: ReasonResponseCodeMismatch, Description: "Health checks failed with these codes: [500]"}
)

func TestStateMachine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sc := &script{result: pass}
		m := NewMonitor()
		m.Check = sc.check
		var changes []Change
		m.OnChange = func(c Change) { changes = append(changes, c) }
		tg := dataplane.NewRegistry().Get("g", "i-1", 8080, "127.0.0.1:8080", "a")
		m.Sync(ctx, []Watched{{Group: "g", Target: tg, Host: "127.0.0.1", Spec: spec}})

		synctest.Wait()
		// One passing check makes a new target healthy.
		if s := m.Status(tg); s.State != StateHealthy || !tg.Healthy() {
			t.Fatalf("after first pass: %+v healthy=%v", s, tg.Healthy())
		}
		// One failure stays healthy (threshold 2); the second flips it.
		sc.set(mismatch)
		time.Sleep(spec.Interval)
		synctest.Wait()
		if s := m.Status(tg); s.State != StateHealthy {
			t.Fatalf("one failure below threshold: %+v", s)
		}
		time.Sleep(spec.Interval)
		synctest.Wait()
		if s := m.Status(tg); s.State != StateUnhealthy || s.Reason != ReasonResponseCodeMismatch || tg.Healthy() {
			t.Fatalf("after two failures: %+v", s)
		}
		// Back to healthy only after five consecutive passes.
		sc.set(pass)
		for i := 1; i <= 5; i++ {
			time.Sleep(spec.Interval)
			synctest.Wait()
			want := StateUnhealthy
			if i == 5 {
				want = StateHealthy
			}
			if s := m.Status(tg); s.State != want {
				t.Fatalf("after %d passes: %+v, want %s", i, s, want)
			}
		}
		if len(changes) != 3 {
			t.Errorf("transitions: %+v", changes)
		}
		m.Stop()
		if s := m.Status(tg); s.State != StateUnused {
			t.Errorf("after stop: %+v", s)
		}
	})
}

func TestInitialToUnhealthyAndDraining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sc := &script{result: Result{Reason: ReasonTimeout, Description: "Request timed out"}}
		m := NewMonitor()
		m.Check = sc.check
		tg := dataplane.NewRegistry().Get("g", "i-1", 8080, "127.0.0.1:8080", "a")
		m.Sync(ctx, []Watched{{Group: "g", Target: tg, Host: "127.0.0.1", Spec: spec}})
		synctest.Wait()
		if s := m.Status(tg); s.State != StateInitial || s.Reason != ReasonInitialHealthChecking {
			t.Fatalf("after one failure: %+v", s)
		}
		time.Sleep(spec.Interval)
		synctest.Wait()
		if s := m.Status(tg); s.State != StateUnhealthy || s.Reason != ReasonTimeout {
			t.Fatalf("after two failures: %+v", s)
		}
		m.Stop()
	})
}

func TestPassiveDownTriggersImmediateRecheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sc := &script{result: pass}
		m := NewMonitor()
		m.Check = sc.check
		reg := dataplane.NewRegistry()
		tg := reg.Get("g", "i-1", 8080, "127.0.0.1:8080", "a")
		m.Sync(ctx, []Watched{{Group: "g", Target: tg, Host: "127.0.0.1", Spec: spec}})
		synctest.Wait()
		calls := sc.calls
		tg.MarkFailed()
		if s := m.Status(tg); s.State != StateUnhealthy {
			t.Errorf("passively down target reported %+v", s)
		}
		synctest.Wait() // no time passes: the recheck is immediate
		if sc.calls != calls+1 {
			t.Fatalf("recheck calls %d, want %d", sc.calls, calls+1)
		}
		if tg.PassiveDown() || m.Status(tg).State != StateHealthy {
			t.Errorf("a passing recheck should restore the target")
		}
		m.Stop()
	})
}

func TestHTTPCheck(t *testing.T) {
	code := 200
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/status" || r.Method != "GET" {
			w.WriteHeader(404)
			return
		}
		if code == 0 {
			time.Sleep(300 * time.Millisecond)
			return
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	m200, _ := model.ParseMatcher("200-299")
	cases := []struct {
		code       int
		timeout    time.Duration
		wantOK     bool
		wantReason string
	}{
		{200, time.Second, true, ""},
		{204, time.Second, true, ""},
		{500, time.Second, false, ReasonResponseCodeMismatch},
		{0, 100 * time.Millisecond, false, ReasonTimeout},
	}
	for _, tc := range cases {
		mu.Lock()
		code = tc.code
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
		r := HTTPCheck(ctx, Spec{Protocol: "HTTP", Path: "/status", Matcher: m200}, addr)
		cancel()
		if r.OK != tc.wantOK || r.Reason != tc.wantReason {
			t.Errorf("code %d: %+v", tc.code, r)
		}
	}
	r := HTTPCheck(context.Background(), Spec{Protocol: "HTTP", Path: "/status", Matcher: m200}, "127.0.0.1:1")
	if r.OK || r.Reason != ReasonFailedHealthChecks {
		t.Errorf("refused: %+v", r)
	}
}
