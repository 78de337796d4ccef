// Package catalog is Alba's Go re-implementation of the tutorial's "movie
// catalog" HTTP service, the backend that Alba load-balances in its demos.
//
// It serves a deterministic, synthetic catalog of 580 movies and 580 TV
// shows (see /discover), lets clients change a movie's popularity in the
// serving instance's memory (/updatePopularity), and exposes /status for
// health checks and /metrics for Prometheus. Every response carries an
// X-Instance-Id header so that clients can see which backend answered.
package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// InstanceIDHeader is the response header naming the instance that answered.
const InstanceIDHeader = "X-Instance-Id"

// MaxBodyBytes is the largest request body accepted; larger bodies get 413.
// The only body the service reads is a tiny JSON object, so 1 MiB is
// generous while still bounding memory per request.
const MaxBodyBytes = 1 << 20

// Options configure a catalog server.
type Options struct {
	// InstanceID is sent in X-Instance-Id on every response. Empty means
	// DefaultInstanceID(), so the header is always meaningful.
	InstanceID string
	// CPUCost is real CPU work done per /discover request: the request
	// goroutine hashes a small buffer with SHA-256 in a busy loop until
	// CPUCost has elapsed on the monotonic clock (it never sleeps). It
	// models a heavier application so that modest load reaches an
	// autoscaling CPU threshold. 0 = none.
	CPUCost time.Duration
}

// Server is one catalog instance. It implements http.Handler. Its state
// (popularity changes, metrics) is private to it, like a separate process.
type Server struct {
	instanceID string
	cpuCost    time.Duration
	data       *dataset

	// movieJSON is this instance's view of each movie's encoded JSON. It
	// starts as the shared pre-encoded bytes and is swapped atomically by
	// /updatePopularity, so /discover reads it without locking.
	movieJSON []atomic.Pointer[[]byte]
	// updateMu serializes popularity updates so concurrent updates of one
	// movie cannot interleave their encode and store.
	updateMu sync.Mutex

	failing atomic.Bool // /status answers 500

	mux      *http.ServeMux
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// DefaultInstanceID returns $ALBA_INSTANCE_ID if set, else the host name
// (unique per container), else "unknown".
func DefaultInstanceID() string {
	if id := os.Getenv("ALBA_INSTANCE_ID"); id != "" {
		return id
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "unknown"
}

// NewServer returns a catalog server with its own popularity state and its
// own Prometheus registry, so several servers can live in one process (as in
// tests) without sharing state or colliding on metric registration.
func NewServer(opts Options) *Server {
	id := opts.InstanceID
	if id == "" {
		id = DefaultInstanceID()
	}
	d := catalogData()
	s := &Server{
		instanceID: id,
		cpuCost:    max(opts.CPUCost, 0),
		data:       d,
		movieJSON:  make([]atomic.Pointer[[]byte], len(d.movies)),
	}
	for i := range s.movieJSON {
		s.movieJSON[i].Store(&d.movieJSON[i])
	}

	reg := prometheus.NewRegistry()
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "catalog_http_requests_total",
		Help: "HTTP requests served, by path and status code.",
	}, []string{"path", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "catalog_http_request_duration_seconds",
		Help: "HTTP request duration in seconds, by path.",
		// From 0.5 ms (a cheap /discover) to ~4 s (a saturated instance).
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"path"})
	reg.MustRegister(
		s.requests,
		s.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	// Method patterns give 405 with an Allow header on a known path and 404
	// elsewhere for free.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleRoot)
	mux.HandleFunc("GET /status", s.handleStatus)
	mux.HandleFunc("GET /discover", s.handleDiscover)
	mux.HandleFunc("POST /updatePopularity", s.handleUpdatePopularity)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.mux = mux
	return s
}

// ServeHTTP routes the request, stamps X-Instance-Id on every response and
// records request metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Set before routing so that 404, 405 and error replies carry it too.
	w.Header().Set(InstanceIDHeader, s.instanceID)
	rec := &statusRecorder{ResponseWriter: w}
	s.mux.ServeHTTP(rec, r)
	path := metricPath(r.URL.Path)
	s.requests.WithLabelValues(path, strconv.Itoa(rec.status())).Inc()
	s.duration.WithLabelValues(path).Observe(time.Since(start).Seconds())
}

// metricPath bounds label cardinality: arbitrary request paths would
// otherwise create one time series each.
func metricPath(p string) string {
	switch p {
	case "/", "/status", "/discover", "/updatePopularity", "/metrics":
		return p
	}
	return "other"
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

func (s *Server) handleRoot(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("Alba movie catalog: this is an API with no UI. " +
		"Endpoints: GET /discover, POST /updatePopularity, GET /status, GET /metrics.\n"))
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.failing.Load() {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("FAILING"))
		return
	}
	_, _ = w.Write([]byte("OK"))
}

// SetFailing makes /status answer 500 (true) or 200 OK (false), to show a
// load balancer's health checks at work; `alba catalog` toggles it on
// SIGUSR1.
func (s *Server) SetFailing(failing bool) { s.failing.Store(failing) }

// Failing reports whether /status answers 500.
func (s *Server) Failing() bool { return s.failing.Load() }

// bufPool recycles the ~14 KB buffers /discover assembles pages in.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *Server) handleDiscover(w http.ResponseWriter, r *http.Request) {
	burnCPU(s.cpuCost)

	q := r.URL.Query()
	tv := q.Get("type") == "tv"
	n := len(s.data.movies)
	if tv {
		n = len(s.data.tv)
	}

	var picked [pageSize]int
	var indexes []int
	if g := strings.TrimSpace(q.Get("genre")); g != "" {
		genre, err := strconv.ParseInt(g, 10, strconv.IntSize)
		switch {
		case errors.Is(err, strconv.ErrRange):
			// An integer, just too large to be any genre: unknown genre.
		case err != nil:
			writeError(w, http.StatusBadRequest, "genre must be an integer")
			return
		case tv:
			indexes = s.data.tvGenre[int(genre)]
		default:
			indexes = s.data.movieGenre[int(genre)]
		}
	} else {
		indexes = randomSample(picked[:0], n, pageSize)
	}

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	buf.WriteByte('[')
	for k, i := range indexes {
		if k > 0 {
			buf.WriteByte(',')
		}
		if tv {
			buf.Write(s.data.tvJSON[i])
		} else {
			buf.Write(*s.movieJSON[i].Load())
		}
	}
	buf.WriteByte(']')

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// randomSample appends k distinct indexes in [0, n) to dst. Rejection
// sampling is cheap here because k is much smaller than n. The top-level
// math/rand/v2 functions are goroutine-safe and randomly seeded, so each
// call differs.
func randomSample(dst []int, n, k int) []int {
	k = min(k, n)
	for len(dst) < k {
		x := rand.IntN(n)
		dup := false
		for _, y := range dst {
			if y == x {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, x)
		}
	}
	return dst
}

// burnCPU does real work for d on the calling goroutine, so the cost shows
// up as CPU utilisation (what autoscalers watch), not as idle latency.
func burnCPU(d time.Duration) [sha256.Size]byte {
	var sum [sha256.Size]byte
	if d <= 0 {
		return sum
	}
	start := time.Now() // carries a monotonic reading; Since uses it
	for time.Since(start) < d {
		// A few hashes per clock read keep the clock overhead negligible;
		// chaining the digest keeps the work from being optimised away.
		for range 16 {
			sum = sha256.Sum256(sum[:])
		}
	}
	return sum
}

func (s *Server) handleUpdatePopularity(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	if r.ContentLength > MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	// A map of raw values rather than a struct: keys match exactly (struct
	// decoding is case-insensitive) and wrong value types get a precise 400.
	var req map[string]json.RawMessage
	dec := json.NewDecoder(body)
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = errors.New("trailing data after JSON object")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		writeError(w, http.StatusBadRequest, "malformed JSON body")
		return
	}

	// Like the original, the id is the catalog's string key: a JSON number
	// is not a known key.
	var movieID string
	if isNull(req["movieId"]) || json.Unmarshal(req["movieId"], &movieID) != nil || movieID == "" {
		writeError(w, http.StatusBadRequest, "movieId must be a non-empty string")
		return
	}
	idx, ok := s.data.movieByID[movieID]
	if !ok {
		writeError(w, http.StatusBadRequest, "movie not found: "+strconv.Quote(movieID))
		return
	}
	var pop float64
	// Unmarshal rejects strings, bools and numbers beyond float64 range;
	// JSON has no NaN or Inf, but check anyway since the value is re-encoded.
	if isNull(req["popularity"]) || json.Unmarshal(req["popularity"], &pop) != nil ||
		math.IsNaN(pop) || math.IsInf(pop, 0) {
		writeError(w, http.StatusBadRequest, "popularity must be a number")
		return
	}

	s.setPopularity(idx, pop)
	writeJSON(w, http.StatusOK, map[string]any{
		"message":        "Popularity updated for movie " + movieID,
		"new_popularity": pop,
	})
}

// setPopularity re-encodes one movie with a new popularity and publishes the
// bytes atomically; the shared record itself is never modified.
func (s *Server) setPopularity(idx int, pop float64) {
	m := s.data.movies[idx] // copy; GenreIDs is shared but only read
	m.Popularity = pop
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	b := mustEncode(&m)
	s.movieJSON[idx].Store(&b)
}

// isJSON accepts application/json and any +json type, with parameters.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
