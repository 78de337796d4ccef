package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testInstance = "test-instance-1"

// frontendGenres are the genres the tutorial's frontend asks for; each must
// fill a whole page.
var frontendGenres = []struct {
	typ   string
	genre int
}{
	{"movie", 35}, {"movie", 28}, {"movie", 9648}, {"movie", 18},
	{"tv", 10765}, {"tv", 16},
}

func newTestServer(t testing.TB) *Server {
	t.Helper()
	return NewServer(Options{InstanceID: testInstance})
}

// do sends one request through the handler and returns the recorded response.
func do(t testing.TB, h http.Handler, method, target, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, target, bytes.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// discover fetches a /discover page and decodes it into generic records.
func discover(t testing.TB, h http.Handler, query string) ([]map[string]any, []byte) {
	t.Helper()
	w := do(t, h, http.MethodGet, "/discover"+query, "", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /discover%s: status %d, body %s", query, w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET /discover%s: Content-Type %q", query, ct)
	}
	var recs []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &recs); err != nil {
		t.Fatalf("GET /discover%s: invalid JSON: %v", query, err)
	}
	return recs, w.Body.Bytes()
}

func hasGenre(rec map[string]any, genre int) bool {
	ids, _ := rec["genre_ids"].([]any)
	for _, id := range ids {
		if f, ok := id.(float64); ok && int(f) == genre {
			return true
		}
	}
	return false
}

func recordID(t testing.TB, rec map[string]any) int {
	t.Helper()
	f, ok := rec["id"].(float64)
	if !ok {
		t.Fatalf("record without numeric id: %v", rec)
	}
	return int(f)
}

func TestStatusCodesAndInstanceHeader(t *testing.T) {
	s := newTestServer(t)
	validUpdate := fmt.Sprintf(`{"movieId":"%d","popularity":123.5}`, catalogData().movies[0].ID)
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		wantCode    int
		wantAllow   string // checked when non-empty
		wantJSONErr bool
	}{
		{name: "root", method: "GET", target: "/", wantCode: 200},
		{name: "status", method: "GET", target: "/status", wantCode: 200},
		{name: "status HEAD", method: "HEAD", target: "/status", wantCode: 200},
		{name: "discover", method: "GET", target: "/discover", wantCode: 200},
		{name: "discover tv genre", method: "GET", target: "/discover?type=tv&genre=16", wantCode: 200},
		{name: "discover bad genre", method: "GET", target: "/discover?genre=abc", wantCode: 400, wantJSONErr: true},
		{name: "metrics", method: "GET", target: "/metrics", wantCode: 200},
		{name: "update", method: "POST", target: "/updatePopularity", contentType: "application/json", body: validUpdate, wantCode: 200},
		{name: "update bad json", method: "POST", target: "/updatePopularity", contentType: "application/json", body: "{", wantCode: 400, wantJSONErr: true},
		{name: "update not json", method: "POST", target: "/updatePopularity", contentType: "text/plain", body: validUpdate, wantCode: 415, wantJSONErr: true},
		{name: "unknown path", method: "GET", target: "/nope", wantCode: 404},
		{name: "unknown nested path", method: "GET", target: "/status/extra", wantCode: 404},
		{name: "POST root", method: "POST", target: "/", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "POST status", method: "POST", target: "/status", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "DELETE discover", method: "DELETE", target: "/discover", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "GET update", method: "GET", target: "/updatePopularity", wantCode: 405, wantAllow: "POST"},
		{name: "PUT update", method: "PUT", target: "/updatePopularity", wantCode: 405, wantAllow: "POST"},
		{name: "POST metrics", method: "POST", target: "/metrics", wantCode: 405, wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			w := do(t, s, tt.method, tt.target, tt.contentType, body)
			if w.Code != tt.wantCode {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.wantCode, w.Body)
			}
			if got := w.Header().Get(InstanceIDHeader); got != testInstance {
				t.Errorf("%s = %q, want %q", InstanceIDHeader, got, testInstance)
			}
			if tt.wantAllow != "" {
				if got := w.Header().Get("Allow"); got != tt.wantAllow {
					t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
				}
			}
			if tt.wantJSONErr {
				assertJSONError(t, w)
			}
		})
	}
}

func assertJSONError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var e map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body is not JSON: %q", w.Body)
	}
	if msg, ok := e["error"].(string); !ok || msg == "" {
		t.Errorf("error body %q lacks a non-empty \"error\" string", w.Body)
	}
}

func TestRootAndStatusBodies(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		target string
		check  func(string) bool
		want   string
	}{
		{"/status", func(b string) bool { return b == "OK" }, `exactly "OK"`},
		{"/", func(b string) bool { return strings.Contains(b, "API") && strings.Contains(b, "no UI") }, "an API-with-no-UI notice"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			w := do(t, s, "GET", tt.target, "", nil)
			if w.Code != 200 || !tt.check(w.Body.String()) {
				t.Fatalf("GET %s = %d %q, want 200 with %s", tt.target, w.Code, w.Body, tt.want)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
		})
	}
}

func TestDiscoverGenre(t *testing.T) {
	s := newTestServer(t)
	d := catalogData()
	for _, fg := range frontendGenres {
		t.Run(fmt.Sprintf("%s/%d", fg.typ, fg.genre), func(t *testing.T) {
			q := fmt.Sprintf("?type=%s&genre=%d", fg.typ, fg.genre)
			recs, body := discover(t, s, q)
			if len(recs) != pageSize {
				t.Fatalf("got %d records, want %d", len(recs), pageSize)
			}
			// Expected: the first 20 records with the genre, in catalog order.
			var want []int
			for i := range numMovies {
				var ids []int
				var id int
				if fg.typ == "tv" {
					ids, id = d.tv[i].GenreIDs, d.tv[i].ID
				} else {
					ids, id = d.movies[i].GenreIDs, d.movies[i].ID
				}
				if slices.Contains(ids, fg.genre) && len(want) < pageSize {
					want = append(want, id)
				}
			}
			var got []int
			for _, rec := range recs {
				if !hasGenre(rec, fg.genre) {
					t.Errorf("record %v lacks genre %d", rec["id"], fg.genre)
				}
				got = append(got, recordID(t, rec))
			}
			if !slices.Equal(got, want) {
				t.Errorf("ids %v, want first matches in catalog order %v", got, want)
			}
			_, again := discover(t, s, q)
			if !bytes.Equal(body, again) {
				t.Error("two genre requests returned different bodies; want deterministic")
			}
		})
	}
}

func TestDiscoverType(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		query   string
		tv      bool
		present []string
		absent  []string
	}{
		{"?type=tv", true, []string{"name", "first_air_date", "origin_country", "original_name"}, []string{"title", "release_date"}},
		{"?type=tv&genre=18", true, []string{"name"}, []string{"title"}},
		{"?type=movie", false, []string{"title", "release_date", "video", "original_title"}, []string{"name", "first_air_date"}},
		{"", false, []string{"title"}, []string{"name"}},
		{"?type=TV", false, []string{"title"}, []string{"name"}}, // only exactly "tv" selects TV
		{"?type=anything&genre=28", false, []string{"title"}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			recs, _ := discover(t, s, tt.query)
			if len(recs) != pageSize {
				t.Fatalf("got %d records, want %d", len(recs), pageSize)
			}
			for _, rec := range recs {
				for _, k := range tt.present {
					if _, ok := rec[k]; !ok {
						t.Fatalf("record lacks %q: %v", k, rec)
					}
				}
				for _, k := range tt.absent {
					if _, ok := rec[k]; ok {
						t.Fatalf("record has unexpected %q: %v", k, rec)
					}
				}
			}
		})
	}
}

func TestDiscoverRandom(t *testing.T) {
	s := newTestServer(t)
	for _, typ := range []string{"movie", "tv"} {
		t.Run(typ, func(t *testing.T) {
			recs1, body1 := discover(t, s, "?type="+typ)
			_, body2 := discover(t, s, "?type="+typ)
			if len(recs1) != pageSize {
				t.Fatalf("got %d records, want %d", len(recs1), pageSize)
			}
			seen := map[int]bool{}
			for _, rec := range recs1 {
				id := recordID(t, rec)
				if seen[id] {
					t.Errorf("duplicate id %d in a random page", id)
				}
				seen[id] = true
			}
			if bytes.Equal(body1, body2) {
				t.Error("two random pages are identical; want different records each call")
			}
		})
	}
}

func TestDiscoverUnknownGenre(t *testing.T) {
	s := newTestServer(t)
	for _, q := range []string{
		"?genre=1", "?genre=-28", "?genre=0", "?type=tv&genre=28", // 28 is a movie-only id
		"?genre=99999999999999999999", "?genre=-99999999999999999999",
		"?type=tv&genre=10770",
	} {
		t.Run(q, func(t *testing.T) {
			w := do(t, s, "GET", "/discover"+q, "", nil)
			if w.Code != 200 || w.Body.String() != "[]" {
				t.Fatalf("got %d %q, want 200 []", w.Code, w.Body)
			}
		})
	}
}

func TestDiscoverBadGenre(t *testing.T) {
	s := newTestServer(t)
	for _, q := range []string{"abc", "1.5", "28x", "0x1c", "2%208", "%00", "NaN", "--1"} {
		t.Run(q, func(t *testing.T) {
			w := do(t, s, "GET", "/discover?genre="+q, "", nil)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("genre=%s: status %d, want 400", q, w.Code)
			}
			assertJSONError(t, w)
		})
	}
}

func TestDiscoverResponseSize(t *testing.T) {
	s := newTestServer(t)
	queries := []string{"", "?type=tv"}
	for range 20 {
		queries = append(queries, "", "?type=tv")
	}
	for _, fg := range frontendGenres {
		queries = append(queries, fmt.Sprintf("?type=%s&genre=%d", fg.typ, fg.genre))
	}
	for _, q := range queries {
		_, body := discover(t, s, q)
		if n := len(body); n < 11_000 || n > 15_000 {
			t.Errorf("GET /discover%s: %d bytes, want 11-15 KB", q, n)
		}
	}
}

func TestUpdatePopularity(t *testing.T) {
	s := newTestServer(t)
	other := newTestServer(t)
	d := catalogData()
	const genre = 28
	target := d.movies[d.movieGenre[genre][3]]
	const newPop = 4242.125

	body := fmt.Sprintf(`{"movieId": "%d", "popularity": %v}`, target.ID, newPop)
	w := do(t, s, "POST", "/updatePopularity", "application/json; charset=utf-8", []byte(body))
	if w.Code != 200 {
		t.Fatalf("status %d, body %q", w.Code, w.Body)
	}
	var resp struct {
		Message       *string  `json:"message"`
		NewPopularity *float64 `json:"new_popularity"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("invalid JSON %q: %v", w.Body, err)
	}
	if resp.Message == nil || *resp.Message == "" || resp.NewPopularity == nil || *resp.NewPopularity != newPop {
		t.Fatalf("response %q, want message and new_popularity %v", w.Body, newPop)
	}

	popularityOf := func(h http.Handler) float64 {
		recs, _ := discover(t, h, "?genre="+strconv.Itoa(genre))
		for _, rec := range recs {
			if recordID(t, rec) == target.ID {
				return rec["popularity"].(float64)
			}
		}
		t.Fatalf("movie %d missing from genre %d page", target.ID, genre)
		return 0
	}
	if got := popularityOf(s); got != newPop {
		t.Errorf("after update, popularity = %v, want %v", got, newPop)
	}
	if got := popularityOf(other); got != target.Popularity {
		t.Errorf("another instance sees popularity %v, want unchanged %v", got, target.Popularity)
	}
	if d.movies[d.movieGenre[genre][3]].Popularity != target.Popularity {
		t.Error("update mutated the shared catalog")
	}

	// Integers are numbers too.
	w = do(t, s, "POST", "/updatePopularity", "application/json", fmt.Appendf(nil, `{"movieId":"%d","popularity":7}`, target.ID))
	if w.Code != 200 || popularityOf(s) != 7 {
		t.Errorf("integer popularity: status %d, popularity %v", w.Code, popularityOf(s))
	}
}

func TestUpdatePopularityErrors(t *testing.T) {
	s := newTestServer(t)
	d := catalogData()
	id := strconv.Itoa(d.movies[0].ID)
	tvOnly := strconv.Itoa(d.tv[0].ID)
	tests := []struct {
		name        string
		contentType string
		body        string
		want        int
	}{
		{"missing id", "application/json", `{"popularity": 1}`, 400},
		{"null id", "application/json", `{"movieId": null, "popularity": 1}`, 400},
		{"empty id", "application/json", `{"movieId": "", "popularity": 1}`, 400},
		{"unknown id", "application/json", `{"movieId": "1", "popularity": 1}`, 400},
		{"tv id", "application/json", `{"movieId": "` + tvOnly + `", "popularity": 1}`, 400},
		{"numeric id", "application/json", `{"movieId": ` + id + `, "popularity": 1}`, 400},
		{"padded id", "application/json", `{"movieId": " ` + id + `", "popularity": 1}`, 400},
		{"wrong key case", "application/json", `{"MOVIEID": "` + id + `", "popularity": 1}`, 400},
		{"missing popularity", "application/json", `{"movieId": "` + id + `"}`, 400},
		{"null popularity", "application/json", `{"movieId": "` + id + `", "popularity": null}`, 400},
		{"string popularity", "application/json", `{"movieId": "` + id + `", "popularity": "12"}`, 400},
		{"bool popularity", "application/json", `{"movieId": "` + id + `", "popularity": true}`, 400},
		{"huge popularity", "application/json", `{"movieId": "` + id + `", "popularity": 1e999}`, 400},
		{"NaN popularity", "application/json", `{"movieId": "` + id + `", "popularity": NaN}`, 400},
		{"malformed", "application/json", `{"movieId": `, 400},
		{"empty body", "application/json", ``, 400},
		{"array body", "application/json", `[1,2]`, 400},
		{"null body", "application/json", `null`, 400},
		{"trailing data", "application/json", `{"movieId": "` + id + `", "popularity": 1} {}`, 400},
		{"no content type", "", `{"movieId": "` + id + `", "popularity": 1}`, 415},
		{"form content type", "application/x-www-form-urlencoded", `movieId=` + id, 415},
		{"text content type", "text/plain", `{"movieId": "` + id + `", "popularity": 1}`, 415},
		{"bad content type", "application/json;;;=", `{}`, 415},
		{"too large", "application/json", `{"movieId": "` + id + `", "x": "` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, "POST", "/updatePopularity", tt.contentType, []byte(tt.body))
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.want, w.Body)
			}
			assertJSONError(t, w)
			if got := w.Header().Get(InstanceIDHeader); got != testInstance {
				t.Errorf("%s = %q", InstanceIDHeader, got)
			}
		})
	}
}

// TestUpdatePopularityBodyTooLargeStreamed covers a body without a declared
// length, which only the MaxBytesReader can stop.
func TestUpdatePopularityBodyTooLargeStreamed(t *testing.T) {
	s := newTestServer(t)
	body := `{"movieId": "` + strings.Repeat("9", 2*MaxBodyBytes) + `"}`
	r := httptest.NewRequest("POST", "/updatePopularity", strings.NewReader(body))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", w.Code)
	}
}

func TestMetrics(t *testing.T) {
	s := newTestServer(t)
	other := newTestServer(t)
	do(t, s, "GET", "/discover", "", nil)
	do(t, s, "GET", "/discover?genre=x", "", nil)
	do(t, s, "GET", "/no/such/path", "", nil)

	w := do(t, s, "GET", "/metrics", "", nil)
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`catalog_http_requests_total{code="200",path="/discover"} 1`,
		`catalog_http_requests_total{code="400",path="/discover"} 1`,
		`catalog_http_requests_total{code="404",path="other"} 1`,
		`catalog_http_request_duration_seconds_bucket{path="/discover",le="+Inf"} 2`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Registries are private: the other server has counted nothing yet.
	w = do(t, other, "GET", "/metrics", "", nil)
	if strings.Contains(w.Body.String(), `path="/discover"`) {
		t.Error("a fresh server reports another server's /discover requests")
	}
}

func TestCPUCost(t *testing.T) {
	const cost = 30 * time.Millisecond
	s := NewServer(Options{InstanceID: testInstance, CPUCost: cost})
	for _, q := range []string{"", "?genre=28"} {
		start := time.Now()
		w := do(t, s, "GET", "/discover"+q, "", nil)
		elapsed := time.Since(start)
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		if elapsed < cost {
			t.Errorf("GET /discover%s took %v, want >= %v", q, elapsed, cost)
		}
	}
	// Other endpoints carry no cost; only a loose sanity bound, not timing.
	start := time.Now()
	do(t, s, "GET", "/status", "", nil)
	if elapsed := time.Since(start); elapsed >= 10*cost {
		t.Errorf("/status took %v; CPU cost should apply to /discover only", elapsed)
	}
}

func TestDefaultInstanceID(t *testing.T) {
	t.Setenv("ALBA_INSTANCE_ID", "from-env")
	if got := DefaultInstanceID(); got != "from-env" {
		t.Errorf("DefaultInstanceID() = %q, want from-env", got)
	}
	t.Setenv("ALBA_INSTANCE_ID", "")
	if got := DefaultInstanceID(); got == "" {
		t.Error("DefaultInstanceID() is empty without ALBA_INSTANCE_ID")
	}
	// An empty Options.InstanceID falls back to the default.
	w := do(t, NewServer(Options{}), "GET", "/status", "", nil)
	if got := w.Header().Get(InstanceIDHeader); got != DefaultInstanceID() {
		t.Errorf("%s = %q, want %q", InstanceIDHeader, got, DefaultInstanceID())
	}
}

// TestConcurrentUpdateAndDiscover exists for the race detector: updates
// swap encoded bytes that concurrent /discover calls are reading.
func TestConcurrentUpdateAndDiscover(t *testing.T) {
	s := newTestServer(t)
	d := catalogData()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 50 {
				m := d.movies[d.movieGenre[28][i%pageSize]]
				body := fmt.Appendf(nil, `{"movieId":"%d","popularity":%d}`, m.ID, g*1000+i)
				r := httptest.NewRequest("POST", "/updatePopularity", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				if w.Code != 200 {
					t.Errorf("update: status %d", w.Code)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 50 {
				w := httptest.NewRecorder()
				s.ServeHTTP(w, httptest.NewRequest("GET", "/discover?genre=28", nil))
				if w.Code != 200 || !json.Valid(w.Body.Bytes()) {
					t.Errorf("discover: status %d, valid JSON %v", w.Code, json.Valid(w.Body.Bytes()))
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkDiscover(b *testing.B) {
	s := NewServer(Options{InstanceID: "bench"})
	for _, q := range []string{"", "?type=tv", "?genre=28", "?type=tv&genre=18"} {
		b.Run("query="+q, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				// One request per goroutine: the mux writes routing results
				// into the request, so it must not be shared.
				r := httptest.NewRequest("GET", "/discover"+q, nil)
				for pb.Next() {
					w := httptest.NewRecorder()
					s.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Errorf("status %d", w.Code)
					}
				}
			})
		})
	}
}

func TestSetFailing(t *testing.T) {
	s := NewServer(Options{InstanceID: "x"})
	for _, tc := range []struct {
		failing bool
		code    int
		body    string
	}{{true, 500, "FAILING"}, {false, 200, "OK"}} {
		s.SetFailing(tc.failing)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		if rec.Code != tc.code || rec.Body.String() != tc.body {
			t.Errorf("failing=%v: %d %q", tc.failing, rec.Code, rec.Body.String())
		}
	}
}
