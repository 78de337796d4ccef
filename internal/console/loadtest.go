package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/loadtest"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// The tutorial's "test under load" step on one screen: a bounded load test
// against one of Alba's own listeners on a loopback address, with its
// figures each second (requests per second, failures, p50/p95/p99), as
// locust's charts tab shows them. One runs at a time: on a small machine a
// second would measure the first.

// MaxLoadTestDuration bounds a console load test.
const MaxLoadTestDuration = 10 * time.Minute

// loadRun is a console load test, running or done.
type loadRun struct {
	ID       string
	Target   string
	Paths    []string
	Users    int
	Rate     float64
	Duration time.Duration
	Started  time.Time
	cancel   context.CancelFunc

	mu     sync.Mutex
	points []loadPoint
	report *loadtest.Report
	err    string
	done   chan struct{}
}

// loadPoint is one progress second.
type loadPoint struct {
	T        int64   `json:"t"`
	Elapsed  float64 `json:"elapsed"`
	Requests int64   `json:"requests"`
	Failures int64   `json:"failures"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50"`
	P95      float64 `json:"p95"`
	P99      float64 `json:"p99"`
}

// loadState is what the page and its stream read.
type loadState struct {
	ID       string      `json:"id"`
	Target   string      `json:"target"`
	Paths    []string    `json:"paths"`
	Users    int         `json:"users"`
	Rate     float64     `json:"rate"`
	Duration float64     `json:"duration"`
	Running  bool        `json:"running"`
	Points   []loadPoint `json:"points"`
	Error    string      `json:"error,omitempty"`
	Report   *loadReport `json:"report,omitempty"`
}

type loadReport struct {
	Requests  int64            `json:"requests"`
	Failures  int64            `json:"failures"`
	RPS       float64          `json:"rps"`
	P50       float64          `json:"p50"`
	P95       float64          `json:"p95"`
	P99       float64          `json:"p99"`
	Codes     map[string]int64 `json:"codes"`
	Errors    map[string]int64 `json:"errors"`
	Instances map[string]int64 `json:"instances"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (lr *loadRun) state() loadState {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	st := loadState{ID: lr.ID, Target: lr.Target, Paths: lr.Paths, Users: lr.Users, Rate: lr.Rate, Duration: lr.Duration.Seconds(),
		Points: slices.Clone(lr.points), Error: lr.err}
	select {
	case <-lr.done:
	default:
		st.Running = true
	}
	if rp := lr.report; rp != nil {
		st.Report = &loadReport{Requests: rp.Requests, Failures: rp.Failures, RPS: rp.RPS, P50: ms(rp.Latency.P50), P95: ms(rp.Latency.P95),
			P99: ms(rp.Latency.P99), Codes: map[string]int64{}, Errors: rp.Errors, Instances: rp.HeaderValues["X-Instance-Id"]}
		for code, n := range rp.StatusCodes {
			st.Report.Codes[strconv.Itoa(code)] = n
		}
	}
	if st.Points == nil {
		st.Points = []loadPoint{}
	}
	return st
}

func (c *Console) loadTestRoutes() {
	c.mux.HandleFunc("GET /console/loadtest", show(c.loadTestPage))
	c.mux.HandleFunc("POST /console/loadtest", c.form(c.loadTestPage, c.startLoadTest))
	c.mux.HandleFunc("GET /console/loadtest/{id}", c.loadTestRun)
	c.mux.HandleFunc("GET /console/loadtest/{id}/state", c.loadTestState)
	c.mux.HandleFunc("POST /console/loadtest/{id}/stop", c.stopLoadTest)
}

// loopbackListener is a listener the console may load: HTTP or HTTPS on a
// loopback address, or on every address (then reached on 127.0.0.1).
type loopbackListener struct {
	LoadBalancer string
	Protocol     string
	Port         int
	URL          string
}

func (c *Console) loopbackListeners() ([]loopbackListener, error) {
	var out []loopbackListener
	err := c.opts.Store.View(func(tx store.Tx) error {
		lbs, err := elb.LoadBalancers(tx)
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, lb := range lbs {
			names[lb.ARN] = lb.Name
		}
		ls, err := elb.Listeners(tx)
		if err != nil {
			return err
		}
		for _, l := range ls {
			host := l.BindAddress
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			if !loadtest.IsLoopbackHost(host) {
				continue
			}
			out = append(out, loopbackListener{LoadBalancer: names[l.LoadBalancerARN], Protocol: l.Protocol, Port: l.Port,
				URL: strings.ToLower(l.Protocol) + "://" + net.JoinHostPort(host, strconv.Itoa(l.Port))})
		}
		return nil
	})
	slices.SortFunc(out, func(a, b loopbackListener) int { return strings.Compare(a.URL, b.URL) })
	return out, err
}

func (c *Console) loadTestPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	ls, err := c.loopbackListeners()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	c.mu.Lock()
	var runs []loadState
	for _, lr := range c.tests {
		runs = append(runs, lr.state())
	}
	c.mu.Unlock()
	slices.SortFunc(runs, func(a, b loadState) int { return strings.Compare(b.ID, a.ID) })
	c.render(w, r, status, "loadtest", p.with(page{Title: "Load test", Nav: "overview",
		Data: map[string]any{"Listeners": ls, "Runs": runs, "Max": MaxLoadTestDuration.String(), "Paths": strings.Join(loadtest.DefaultPaths(), ",")}}))
}

func (c *Console) startLoadTest(v values, now time.Time) (string, string, error) {
	target := v.str("target")
	ls, err := c.loopbackListeners()
	if err != nil {
		return "", "", onField("form", err)
	}
	var chosen *loopbackListener
	for i := range ls {
		if ls[i].URL == target {
			chosen = &ls[i]
		}
	}
	if chosen == nil {
		return "", "", onField("target", formError("ValidationError", "Choose one of Alba's listeners on a loopback address: the console sends load only to this machine"))
	}
	users, err := v.integer("users", "The number of users", 10, 1, 1000)
	if err != nil {
		return "", "", err
	}
	var rate float64
	if s := v.str("rate"); s != "" {
		if rate, err = strconv.ParseFloat(s, 64); err != nil || rate < 0 || rate > 100000 {
			return "", "", onField("rate", formError("ValidationError", "The rate must be a number of requests per second from 0 (as fast as the users go) to 100000"))
		}
	}
	d, err := time.ParseDuration(v.str("duration"))
	if err != nil || d <= 0 || d > MaxLoadTestDuration {
		return "", "", onField("duration", formError("ValidationError", fmt.Sprintf("The duration must be like 30s or 2m, at most %v", MaxLoadTestDuration)))
	}
	paths := splitList(v.str("paths"))
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return "", "", onField("paths", formError("ValidationError", fmt.Sprintf("Path '%s' must start with /", model.Quote(p))))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, lr := range c.tests {
		if lr.state().Running {
			return "", "", onField("form", formError("ValidationError", "Load test "+lr.ID+" is still running: stop it first (one at a time, so that one does not measure the other)"))
		}
	}
	// Runs started within one second (one stopped, the next started) keep
	// their own ids instead of the second replacing the first.
	id := now.UTC().Format("20060102-150405")
	for n := 2; c.tests[id] != nil; n++ {
		id = now.UTC().Format("20060102-150405") + "-" + strconv.Itoa(n)
	}
	lr := &loadRun{ID: id, Target: target, Paths: paths, Users: users, Rate: rate, Duration: d, Started: now, done: make(chan struct{})}
	cfg := loadtest.Config{Target: target, Paths: paths, Concurrency: users, Rate: rate, Duration: d, InsecureSkipVerify: true,
		CountHeaders: []string{"X-Instance-Id"}, Progress: func(s loadtest.Snapshot) {
			lr.mu.Lock()
			lr.points = append(lr.points, loadPoint{T: lr.Started.Add(s.Elapsed).UnixMilli(), Elapsed: s.Elapsed.Seconds(), Requests: s.Requests,
				Failures: s.Failures, RPS: s.RPS, P50: ms(s.P50), P95: ms(s.P95), P99: ms(s.P99)})
			lr.mu.Unlock()
		}}
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	lr.cancel = cancel
	c.tests[lr.ID] = lr
	// Keep the last few runs.
	if len(c.tests) > 10 {
		oldest := ""
		for id := range c.tests {
			if oldest == "" || id < oldest {
				oldest = id
			}
		}
		delete(c.tests, oldest)
	}
	go func() {
		defer close(lr.done)
		defer cancel()
		rp, err := loadtest.Run(ctx, cfg)
		lr.mu.Lock()
		lr.report = rp
		if err != nil {
			lr.err = err.Error()
		}
		lr.mu.Unlock()
	}()
	return "/console/loadtest/" + lr.ID, "Started a load test on " + target + ".", nil
}

func (c *Console) run(id string) *loadRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tests[id]
}

func (c *Console) loadTestRun(w http.ResponseWriter, r *http.Request) {
	lr := c.run(r.PathValue("id"))
	if lr == nil {
		c.notFound(w, r, formError("NotFound", "There is no load test "+model.Quote(r.PathValue("id"))))
		return
	}
	c.render(w, r, http.StatusOK, "loadrun", page{Title: "Load test " + lr.ID, Nav: "overview", Data: lr.state()})
}

func (c *Console) loadTestState(w http.ResponseWriter, r *http.Request) {
	lr := c.run(r.PathValue("id"))
	if lr == nil {
		http.Error(w, "no such load test", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(lr.state())
}

func (c *Console) stopLoadTest(w http.ResponseWriter, r *http.Request) {
	if !c.checkCSRF(w, r) {
		return
	}
	lr := c.run(r.PathValue("id"))
	if lr == nil {
		http.Error(w, "no such load test", http.StatusNotFound)
		return
	}
	lr.cancel()
	<-lr.done
	http.Redirect(w, r, "/console/loadtest/"+lr.ID+"?notice="+pathEscape("Stopped."), http.StatusSeeOther)
}
