package catalog

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// checkFuzzResponse is what every fuzzed request must satisfy: the handler
// did not panic (the call returned), no 5xx, and the instance header is set.
func checkFuzzResponse(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("status %d, body %q", w.Code, w.Body)
	}
	if w.Header().Get(InstanceIDHeader) == "" {
		t.Fatalf("missing %s", InstanceIDHeader)
	}
}

func FuzzDiscover(f *testing.F) {
	for _, q := range []string{
		"", "type=tv", "genre=28", "type=tv&genre=10765", "genre=abc", "genre=",
		"genre=99999999999999999999", "genre=-1", "genre=%zz", "type=tv&type=movie&genre=1&genre=x",
		"genre=+28", "genre=%2028%20", ";;&&==", "genre=0x10",
	} {
		f.Add(q)
	}
	s := NewServer(Options{InstanceID: "fuzz"})
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "/discover", nil)
		r.URL.RawQuery = rawQuery // set directly: NewRequest panics on bad URLs
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		checkFuzzResponse(t, w)
		if w.Code == 200 && !bytes.HasPrefix(w.Body.Bytes(), []byte("[")) {
			t.Fatalf("200 body is not a JSON array: %q", w.Body)
		}
	})
}

func FuzzUpdatePopularity(f *testing.F) {
	id := strconv.Itoa(catalogData().movies[0].ID)
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"movieId":"` + id + `","popularity":12.5}`},
		{"application/json", `{"movieId":` + id + `,"popularity":12.5}`},
		{"application/json", `{"movieId":"` + id + `","popularity":"12.5"}`},
		{"application/json", `{"movieId":"` + id + `","popularity":1e308}`},
		{"application/json", `{"movieId":"` + id + `","popularity":-1e309}`},
		{"application/json", `{"movieId":"` + id + `","popularity":NaN}`},
		{"application/json", `{"movieId":"` + id + `","popularity":123456789012345678901234567890}`},
		{"application/json", `{"movieId":["x"],"popularity":{}}`},
		{"application/json", ``},
		{"application/json", `null`},
		{"application/json", `{"movieId":"\ud800","popularity":1}`},
		{"application/merge-patch+json", `{"movieId":"` + id + `","popularity":0}`},
		{"text/plain", `{}`},
		{"", `{}`},
		{"application/json; charset=\"", `{}`},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	s := NewServer(Options{InstanceID: "fuzz"})
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/updatePopularity", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		checkFuzzResponse(t, w)
	})
}
