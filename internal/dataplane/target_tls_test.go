//go:build linux

package dataplane

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "got %d over %s %x", n, tls.VersionName(r.TLS.Version), h.Sum(nil))
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
		{"netpoll/http1", false, false},
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
			// A chunked upload (no length), streamed through.
			pr, pw := io.Pipe()
			go func() {
				for off := 0; off < len(big); off += 100 << 10 {
					pw.Write(big[off:min(off+100<<10, len(big))])
				}
				pw.Close()
			}()
			if _, b := do("POST", "/upload", pr); !strings.HasSuffix(string(b), fmt.Sprintf("%x", sha256.Sum256(big))) ||
				!strings.HasPrefix(string(b), fmt.Sprintf("got %d ", len(big))) {
				t.Fatalf("chunked upload: %q", b)
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

// An HTTP/1 upload to an HTTPS target group streams on the loop: Expect:
// 100-continue is answered, a target that answers before the body is in
// has its answer relayed (and the connection ends), a client that stops
// mid-body gets ALB's 408, and a client that goes away mid-body leaves
// nothing in flight.
func TestUploadToHTTPSTargetGroup(t *testing.T) {
	tb := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/early" {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "got %d %v", n, err)
	}))
	defer tb.Close()
	cases := []struct {
		name   string
		send   func(c net.Conn, br *bufio.Reader)
		status int
		body   string // a prefix
	}{
		{"expect 100-continue", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\nExpect: 100-continue\r\n\r\n")
			if line, _ := br.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
				return
			}
			br.ReadString('\n')
			c.Write(make([]byte, 70000))
		}, 200, "got 70000 <nil>"},
		{"chunked, in pieces", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
			time.Sleep(50 * time.Millisecond)
			io.WriteString(c, "lo\r\n3\r\n!!!\r\n0\r\n\r\n")
		}, 200, "got 8 <nil>"},
		{"early answer", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
			c.Write(make([]byte, 100000))
		}, 413, "too large"},
		{"client stops mid-body", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
			c.Write(make([]byte, 30000))
		}, 408, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := engineFixtureIdle(t, true, true, 500*time.Millisecond, strings.TrimPrefix(tb.URL, "https://"))
			f.withGroup(t, func(g *TargetGroup) { g.TLS = &tls.Config{InsecureSkipVerify: true} })
			c := dialEngine(t, f, true)
			br := bufio.NewReader(c)
			tc.send(c, br)
			resp, body := readResponse(t, br, "POST")
			if resp.StatusCode != tc.status || !strings.HasPrefix(string(body), tc.body) {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.status != 200 && !resp.Close {
				t.Fatalf("the connection stays open after %d", tc.status)
			}
			waitNoOutstanding(t, f.srv)
		})
	}
	t.Run("client goes away mid-body", func(t *testing.T) {
		f := engineFixture(t, true, true, strings.TrimPrefix(tb.URL, "https://"))
		f.withGroup(t, func(g *TargetGroup) { g.TLS = &tls.Config{InsecureSkipVerify: true} })
		c := dialEngine(t, f, true)
		io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
		c.Write(make([]byte, 30000))
		time.Sleep(50 * time.Millisecond)
		c.Close()
		waitNoOutstanding(t, f.srv)
	})
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
