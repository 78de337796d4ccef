// Package loadtest is Alba's built-in HTTP load generator. It drives a load
// balancer with the request mix of the movie catalog workload, closed-loop
// (as fast as the target answers) or open-loop (at a fixed rate), and
// reports throughput, failures, status codes, latency percentiles and how
// responses spread over the values of chosen headers, e.g. the instance that
// served them. It backs `alba loadtest` and the end-to-end tests, and uses
// only the standard library.
package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied to zero Config fields.
const (
	// DefaultConcurrency is the number of workers, enough to load a local
	// load balancer without needing a big machine.
	DefaultConcurrency = 8
	// DefaultTimeout bounds each request; a healthy target answers far
	// sooner, so hitting it means something is stuck.
	DefaultTimeout = 10 * time.Second
)

// MaxConcurrency bounds Config.Concurrency: every worker holds a connection
// and a file descriptor, and more than this is a typo rather than a test.
const MaxConcurrency = 10000

// userAgent identifies the load in the target's access logs.
const userAgent = "alba-loadtest/1"

// progressInterval is how often Config.Progress is called; a variable so
// that tests need not wait a whole second.
var progressInterval = time.Second

// defaultPaths is what a movie catalog web frontend requests per page view
// (a random banner, then seven rows of titles), plus the health endpoint.
var defaultPaths = []string{
	"/discover?type=movie",
	"/discover?type=tv",
	"/discover?type=movie&genre=35",
	"/discover?type=movie&genre=28",
	"/discover?type=movie&genre=9648",
	"/discover?type=movie&genre=18",
	"/discover?type=tv&genre=10765",
	"/discover?type=tv&genre=16",
	"/status",
}

// DefaultPaths returns the paths used when Config.Paths is empty: the eight
// calls of one movie catalog page view, then /status. It returns a new slice
// each time so callers may modify it.
func DefaultPaths() []string {
	return append([]string(nil), defaultPaths...)
}

// ErrInvalidConfig is wrapped by every error Run returns for a bad Config,
// so that a CLI can tell usage errors from others with errors.Is.
var ErrInvalidConfig = errors.New("loadtest: invalid config")

// Config describes a run. Every run is bounded in time (Duration is
// required) and optionally in requests (MaxRequests). Zero values of the
// other fields select the documented defaults.
type Config struct {
	// Target is the base URL, e.g. http://127.0.0.1:8080, to which each path
	// is appended. It must be http or https and have no query or fragment.
	// This package accepts any host; the alba CLI restricts it to loopback
	// so that the command cannot be pointed at someone else's service.
	Target string
	// Paths are requested round-robin by each worker; each must start with
	// "/" and may carry a query. Empty means DefaultPaths().
	Paths []string
	// Concurrency is the number of workers (default DefaultConcurrency, at
	// most MaxConcurrency). Each worker has its own keep-alive connection, so
	// it is also the number of connections and the bound on requests in
	// flight.
	Concurrency int
	// Rate, if > 0, makes the run open-loop: requests are due at this many
	// per second in total whatever the response times, and latency is
	// measured from when a request was due, so that a stalled target shows
	// up in the percentiles instead of just slowing the load down
	// (coordinated omission). If Concurrency workers cannot keep up, the
	// achieved rate falls short. 0 means closed loop: each worker sends its
	// next request as soon as the previous one completes.
	Rate float64
	// Duration bounds the run; it is required and must be positive.
	// Requests still in flight at the end are abandoned and not counted.
	Duration time.Duration
	// MaxRequests, if > 0, ends the run after that many requests.
	MaxRequests int64
	// Timeout bounds each request, body included (default DefaultTimeout).
	Timeout time.Duration
	// InsecureSkipVerify accepts any certificate from an https target, for
	// listeners with self-signed certificates.
	InsecureSkipVerify bool
	// KeepCookies gives each worker its own cookie jar, so that each behaves
	// like one browser, e.g. to test sticky sessions.
	KeepCookies bool
	// CountHeaders are response header names whose values are counted per
	// distinct value in Report.HeaderValues, e.g. "X-Instance-Id" to see how
	// requests spread over instances.
	CountHeaders []string
	// Progress, if non-nil, is called about once per second with a snapshot
	// of the run. It is called from Run's goroutine and must not block long.
	Progress func(Snapshot)
}

// Snapshot is the state of a run in progress, given to Config.Progress.
type Snapshot struct {
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// Requests and Failures count completed requests so far, as in Report.
	Requests, Failures int64
	// RPS is the request rate over the last interval (about a second).
	RPS float64
	// P50, P95 and P99 are latency percentiles over the run so far.
	P50, P95, P99 time.Duration
}

// Run validates cfg, runs the load and returns its report. It returns an
// error wrapping ErrInvalidConfig if cfg is invalid. Cancelling ctx ends the
// run early; that is not an error: Run returns the report so far and nil,
// and callers that care check ctx.Err().
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	return r.run(ctx), nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// runner is the validated state of one run, shared by its workers.
type runner struct {
	cfg         Config
	urls        []string
	headers     []string // canonical names of cfg.CountHeaders
	concurrency int
	timeout     time.Duration

	start, deadline time.Time

	issued   atomic.Int64 // requests started, against MaxRequests
	requests atomic.Int64
	failures atomic.Int64
	hist     *histogram
}

func newRunner(cfg Config) (*runner, error) {
	if cfg.Target == "" {
		return nil, invalid("target is required")
	}
	if !strings.Contains(cfg.Target, "://") {
		// url.Parse reads "127.0.0.1:8080" as a bad relative path; say what
		// is actually missing.
		return nil, invalid("target %q: must start with http:// or https://", cfg.Target)
	}
	u, err := url.Parse(cfg.Target)
	if err != nil {
		return nil, invalid("bad target URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalid("target %q: scheme must be http or https", cfg.Target)
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, invalid("target %q: missing host", cfg.Target)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, invalid("target %q: must not have a query or fragment", cfg.Target)
	}
	base := strings.TrimSuffix(u.String(), "/")

	paths := cfg.Paths
	if len(paths) == 0 {
		paths = defaultPaths
	}
	urls := make([]string, len(paths))
	for i, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return nil, invalid("path %q must start with /", p)
		}
		if _, err := url.ParseRequestURI(base + p); err != nil {
			return nil, invalid("path %q: %v", p, err)
		}
		urls[i] = base + p
	}

	switch {
	case cfg.Duration <= 0:
		return nil, invalid("duration must be positive")
	case cfg.Concurrency < 0:
		return nil, invalid("concurrency must not be negative")
	case cfg.Concurrency > MaxConcurrency:
		return nil, invalid("concurrency must be at most %d", MaxConcurrency)
	case cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0):
		return nil, invalid("rate must be a non-negative number")
	case cfg.MaxRequests < 0:
		return nil, invalid("max requests must not be negative")
	case cfg.Timeout < 0:
		return nil, invalid("timeout must not be negative")
	}

	headers := make([]string, len(cfg.CountHeaders))
	for i, h := range cfg.CountHeaders {
		if h == "" || strings.ContainsAny(h, " \t\r\n:") {
			return nil, invalid("bad header name %q", h)
		}
		headers[i] = http.CanonicalHeaderKey(h)
	}

	r := &runner{
		cfg:         cfg,
		urls:        urls,
		headers:     headers,
		concurrency: cfg.Concurrency,
		timeout:     cfg.Timeout,
		hist:        newHistogram(),
	}
	if r.concurrency == 0 {
		r.concurrency = DefaultConcurrency
	}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	return r, nil
}

// worker is one closed- or open-loop client. Its counters are its own, so
// recording a response takes no lock; Run merges them at the end.
type worker struct {
	id        int
	transport *http.Transport
	client    *http.Client
	timer     *time.Timer // for open-loop pacing

	statuses map[int]int64
	errors   map[string]int64
	headers  map[string]map[string]int64
}

func (r *runner) newWorker(id int) *worker {
	// One transport per worker with a single connection: the worker is one
	// keep-alive client, as a browser tab behind the load balancer would be,
	// and Concurrency is exactly the number of connections.
	tr := &http.Transport{
		Proxy: nil, // never send test load through a proxy from the environment
		DialContext: (&net.Dialer{
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		IdleConnTimeout:     90 * time.Second,
		// Bodies are discarded; decompressing them would only cost CPU.
		DisableCompression: true,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: r.cfg.InsecureSkipVerify, //nolint:gosec // opt-in for self-signed test listeners
		},
	}
	client := &http.Client{
		Transport: tr,
		// A redirect is a response to measure, not an invitation to load
		// another URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if r.cfg.KeepCookies {
		jar, _ := cookiejar.New(nil) // never fails with nil options
		client.Jar = jar
	}
	w := &worker{
		id:        id,
		transport: tr,
		client:    client,
		statuses:  make(map[int]int64),
		errors:    make(map[string]int64),
		headers:   make(map[string]map[string]int64, len(r.headers)),
	}
	for _, h := range r.headers {
		w.headers[h] = make(map[string]int64)
	}
	return w
}

func (r *runner) run(parent context.Context) *Report {
	workers := make([]*worker, r.concurrency)
	for i := range workers {
		workers[i] = r.newWorker(i)
	}

	r.start = time.Now()
	r.deadline = r.start.Add(r.cfg.Duration)
	ctx, cancel := context.WithDeadline(parent, r.deadline)
	defer cancel()

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { r.work(ctx, w) })
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	r.waitReporting(done)
	elapsed := time.Since(r.start)

	// Close the kept-alive connections so that no transport goroutine
	// outlives Run.
	for _, w := range workers {
		w.transport.CloseIdleConnections()
		if w.timer != nil {
			w.timer.Stop()
		}
	}
	return r.report(workers, elapsed)
}

// waitReporting waits for done, calling cfg.Progress every interval.
func (r *runner) waitReporting(done <-chan struct{}) {
	if r.cfg.Progress == nil {
		<-done
		return
	}
	ticker := time.NewTicker(progressInterval)
	defer ticker.Stop()
	lastTime, lastRequests := r.start, int64(0)
	for {
		select {
		case <-done:
			return
		case now := <-ticker.C:
			requests := r.requests.Load()
			snap := r.hist.snapshot()
			s := Snapshot{
				Elapsed:  now.Sub(r.start),
				Requests: requests,
				Failures: r.failures.Load(),
				P50:      snap.percentile(0.50),
				P95:      snap.percentile(0.95),
				P99:      snap.percentile(0.99),
			}
			if dt := now.Sub(lastTime).Seconds(); dt > 0 {
				s.RPS = float64(requests-lastRequests) / dt
			}
			lastTime, lastRequests = now, requests
			r.cfg.Progress(s)
		}
	}
}

// work is one worker's loop until the run ends. ctx carries the run's
// deadline, so a request in flight at the end is cut off rather than waited
// for.
func (r *runner) work(ctx context.Context, w *worker) {
	n := len(r.urls)
	for j := 0; ; j++ {
		if ctx.Err() != nil {
			return
		}
		var seq int // picks the path
		var start time.Time
		if r.cfg.Rate > 0 {
			// Request k of the run is due at k/Rate; worker i sends
			// requests i, i+C, i+2C… so the workers together keep an
			// even schedule and go round-robin over the paths.
			seq = j*r.concurrency + w.id
			due := r.start.Add(time.Duration(float64(seq) / r.cfg.Rate * float64(time.Second)))
			if !due.Before(r.deadline) {
				return
			}
			if wait := time.Until(due); wait > 0 {
				if !w.sleep(ctx, wait) {
					return
				}
				// Ahead of schedule, any lateness is the timer's, not the
				// target's: measure from the actual send.
				start = time.Now()
			} else {
				// Behind schedule because earlier responses were slow: that
				// wait is the target's doing and counts as latency.
				start = due
			}
		} else {
			// Offset by worker so that a short run still covers all paths.
			seq = w.id + j
			start = time.Now()
		}
		if r.cfg.MaxRequests > 0 && r.issued.Add(1) > r.cfg.MaxRequests {
			return
		}
		r.do(ctx, w, r.urls[seq%n], start)
	}
}

// sleep waits for d or the end of the run; it reports whether the run goes
// on.
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		return false
	case <-w.timer.C:
		return true
	}
}

// do sends one request and records its outcome.
func (r *runner) do(ctx context.Context, w *worker, target string, start time.Time) {
	reqCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var resp *http.Response
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, target, nil)
	if err == nil { // newRunner parsed every URL, so this always holds
		req.Header.Set("User-Agent", userAgent)
		resp, err = w.client.Do(req)
	}
	inBody := false
	if err == nil {
		// Read the whole body so the connection is reused, and so latency
		// is to the last byte, as a browser would wait for it.
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		inBody = err != nil
	}
	end := time.Now()
	if err != nil {
		if ctx.Err() != nil {
			// The run ended (deadline or cancel) with the request in flight:
			// it has no outcome to report.
			return
		}
		r.requests.Add(1)
		r.failures.Add(1)
		key := classifyError(err)
		if inBody {
			// The response had started: a cut body is told apart from a
			// connection that ended before any answer.
			key = "body cut short: " + key
		}
		countKey(w.errors, key)
		return
	}
	r.requests.Add(1)
	if resp.StatusCode >= 500 {
		r.failures.Add(1)
	}
	r.hist.record(end.Sub(start))
	w.statuses[resp.StatusCode]++
	for _, h := range r.headers {
		countKey(w.headers[h], resp.Header.Get(h))
	}
}

// report merges the workers' counters.
func (r *runner) report(workers []*worker, elapsed time.Duration) *Report {
	rep := &Report{
		Requests:     r.requests.Load(),
		Failures:     r.failures.Load(),
		StatusCodes:  make(map[int]int64),
		Errors:       make(map[string]int64),
		HeaderValues: make(map[string]map[string]int64, len(r.headers)),
		Duration:     elapsed,
		Latency:      r.hist.snapshot().percentiles(),
	}
	for _, h := range r.headers {
		rep.HeaderValues[h] = make(map[string]int64)
	}
	for _, w := range workers {
		for code, n := range w.statuses {
			rep.StatusCodes[code] += n
		}
		mergeCounts(rep.Errors, w.errors)
		for h, values := range w.headers {
			mergeCounts(rep.HeaderValues[h], values)
		}
	}
	if s := elapsed.Seconds(); s > 0 {
		rep.RPS = float64(rep.Requests) / s
	}
	return rep
}

// mergeCounts adds src into dst, keeping dst within maxDistinct keys.
func mergeCounts(dst, src map[string]int64) {
	for _, k := range sortedKeys(src) {
		if _, ok := dst[k]; !ok && len(dst) >= maxDistinct {
			dst[otherKey] += src[k]
			continue
		}
		dst[k] += src[k]
	}
}

// IsLoopbackHost reports whether host (without port or brackets) is
// localhost or a loopback IP address: where Alba's load generators may send
// load.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if strings.Contains(host, "%") {
		// A zone such as ::1%lo: not what anyone means by loopback.
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
