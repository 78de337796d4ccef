//go:build linux

package dataplane

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// An HTTPS target group's requests reach its targets over TLS (the
// target's certificate not verified, as ALB), from HTTP/1 clients on both
// engines and from HTTP/2 clients, with bodies both ways, a chunked
// response with trailer fields, and HEAD.
func TestHTTPSTargetGroupSpeaksTLS(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MB
	tb := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "plain text reached a TLS target", 400)
			return
		}
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		case "/upload":
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "got %d over %s", n, tls.VersionName(r.TLS.Version))
		case "/trailers":
			w.Header().Set("Trailer", "Grpc-Status")
			io.WriteString(w, "data")
			w.(http.Flusher).Flush()
			w.Header().Set("Grpc-Status", "0")
		default:
			fmt.Fprintf(w, "tls %s %s", r.Method, r.Header.Get("X-Forwarded-Proto"))
		}
	}))
	defer tb.Close()
	backendAddr := strings.TrimPrefix(tb.URL, "https://")
	for _, tc := range []struct {
		name  string
		loops bool
		h2    bool
	}{
		{"loops/http1", true, false},
		{"goroutines/http1", false, false},
		{"loops/h2", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := engineFixture(t, tc.loops, true, backendAddr)
			f.withGroup(t, func(g *TargetGroup) { g.TLS = &tls.Config{InsecureSkipVerify: true} })
			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: tc.h2}
			if !tc.h2 {
				tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			do := func(method, path string, body io.Reader) (*http.Response, []byte) {
				t.Helper()
				req, _ := http.NewRequest(method, "https://"+f.addr+path, body)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("%s %s: body: %v", method, path, err)
				}
				if (resp.ProtoMajor == 2) != tc.h2 {
					t.Fatalf("%s: %s", path, resp.Proto)
				}
				return resp, b
			}
			if _, b := do("GET", "/", nil); string(b) != "tls GET https" {
				t.Fatalf("GET: %q", b)
			}
			if _, b := do("POST", "/upload", bytes.NewReader(make([]byte, 100<<10))); !strings.HasPrefix(string(b), "got 102400 over TLS") {
				t.Fatalf("upload: %q", b)
			}
			if resp, b := do("GET", "/big", nil); resp.StatusCode != 200 || sha256.Sum256(b) != sha256.Sum256(big) {
				t.Fatalf("big: %d, %d bytes", resp.StatusCode, len(b))
			}
			if resp, b := do("GET", "/trailers", nil); string(b) != "data" || resp.Trailer.Get("Grpc-Status") != "0" {
				t.Fatalf("trailers: %q %v", b, resp.Trailer)
			}
			if resp, b := do("HEAD", "/big", nil); resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(big)) {
				t.Fatalf("HEAD: %d %d %d", resp.StatusCode, len(b), resp.ContentLength)
			}
			if tc.loops {
				waitNoOutstanding(t, f.srv)
			}
		})
	}
}

// A client that takes a large response slowly, a little window at a time,
// through an async attempt: every byte arrives once and in order (each
// window update resumes the stream with nothing new to relay; a stray
// go-ahead then let the next chunk overwrite one not yet relayed).
func TestAsyncResponseToASlowHTTP2Client(t *testing.T) {
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i % 251)
	}
	tb := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		w.Write(big)
	}))
	defer tb.Close()
	f := engineFixture(t, true, true, strings.TrimPrefix(tb.URL, "https://"))
	f.withGroup(t, func(g *TargetGroup) { g.TLS = &tls.Config{InsecureSkipVerify: true} })
	h := dialH2(t, f)
	h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 4096})
	h.get(1)
	var got []byte
	h.until(func(fr http2.Frame) bool {
		d, ok := fr.(*http2.DataFrame)
		if !ok || d.StreamID != 1 {
			if rst, ok := fr.(*http2.RSTStreamFrame); ok {
				t.Fatalf("stream reset: %v after %d bytes", rst.ErrCode, len(got))
			}
			return false
		}
		got = append(got, d.Data()...)
		if n := uint32(len(d.Data())); n > 0 {
			// Give back the window in two small steps: two resumes.
			h.fr.WriteWindowUpdate(1, n/2)
			h.fr.WriteWindowUpdate(1, n-n/2)
			h.fr.WriteWindowUpdate(0, n)
		}
		return d.StreamEnded()
	})
	if !bytes.Equal(got, big) {
		t.Fatalf("got %d bytes, want the %d sent, in order", len(got), len(big))
	}
}
