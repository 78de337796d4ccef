//go:build linux

package dataplane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Client is an HTTP/2 client of the fixture's HTTPS listener.
func h2Client(t *testing.T) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// HTTP/2 clients get what HTTP/1 clients get, on both engines: large
// bodies both ways (flow control), chunked responses as data, HEAD,
// many streams at once on one connection, a stream cancelled half-way,
// and the headers ALB adds.
func TestHTTP2ServedAlike(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MB
	bigSum := sha256.Sum256(big)
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		case "/stream":
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				w.(http.Flusher).Flush()
			}
		case "/upload":
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x %s", n, h.Sum(nil), r.Header.Get("Content-Length"))
		case "/trailers":
			w.Header().Set("Trailer", "Grpc-Status")
			io.WriteString(w, "data")
			w.(http.Flusher).Flush()
			w.Header().Set("Grpc-Status", "7")
		case "/echo":
			fmt.Fprintf(w, "%s %s %s|%s|%s|%s", r.Method, r.Host, r.URL.RequestURI(),
				r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"), r.Header.Get("Cookie"))
		default:
			io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "path %s", r.URL.Path)
		}
	})
	upload := bytes.Repeat([]byte("u"), 3<<20)
	upSum := sha256.Sum256(upload)
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprintf("loops=%v", loops), func(t *testing.T) {
			f := engineFixture(t, loops, true, hostport(b))
			client := h2Client(t)
			url := "https://" + f.addr
			get := func(method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
				t.Helper()
				req, _ := http.NewRequest(method, url+path, body)
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Add(hdr[i], hdr[i+1])
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer resp.Body.Close()
				rb, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("%s %s: body: %v", method, path, err)
				}
				if resp.ProtoMajor != 2 {
					t.Fatalf("%s %s: %s, want HTTP/2", method, path, resp.Proto)
				}
				return resp, rb
			}

			resp, body := get("GET", "/big", nil)
			if resp.StatusCode != 200 || sha256.Sum256(body) != bigSum || resp.ContentLength != int64(len(big)) {
				t.Fatalf("GET /big: %d, %d bytes (length %d)", resp.StatusCode, len(body), resp.ContentLength)
			}
			if _, body = get("GET", "/stream", nil); string(body) != "part 0\npart 1\npart 2\n" {
				t.Fatalf("chunked response: %q", body)
			}
			// A streamed upload of unknown length goes chunked; a known
			// small one with its length.
			_, body = get("POST", "/upload", io.MultiReader(bytes.NewReader(upload)))
			if want := fmt.Sprintf("%d %x ", len(upload), upSum); string(body) != want {
				t.Fatalf("upload: %q, want %q", body, want)
			}
			_, body = get("POST", "/upload", strings.NewReader("hello"))
			if want := fmt.Sprintf("5 %x 5", sha256.Sum256([]byte("hello"))); string(body) != want {
				t.Fatalf("small upload: %q, want %q", body, want)
			}
			resp, body = get("GET", "/trailers", nil)
			if string(body) != "data" || resp.Trailer.Get("Grpc-Status") != "7" {
				t.Fatalf("trailers: %q, %v", body, resp.Trailer)
			}
			resp, body = get("HEAD", "/big", nil)
			if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(big)) {
				t.Fatalf("HEAD: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
			}
			_, body = get("GET", "/echo?q=1", nil, "Cookie", "a=1", "Cookie", "b=2")
			if want := "GET " + f.addr + " /echo?q=1|https|127.0.0.1|a=1; b=2"; string(body) != want {
				t.Fatalf("echo: %q, want %q", body, want)
			}

			// A stream cancelled in the middle of a large body leaves the
			// connection serving the others.
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", url+"/big", nil)
			r, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadFull(r.Body, make([]byte, 100<<10))
			cancel()
			r.Body.Close()

			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := client.Get(fmt.Sprintf("%s/n%d", url, i))
					if err != nil {
						errs <- err
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if want := fmt.Sprintf("path /n%d", i); string(body) != want {
						errs <- fmt.Errorf("stream %d: %q", i, body)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if loops {
				waitNoOutstanding(t, f.srv)
			}
		})
	}
}

// h2Raw is a raw HTTP/2 client connection, for frames a well-behaved
// client does not send.
type h2Raw struct {
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
	c   *tls.Conn
}

func dialH2(t *testing.T, f *fixture) *h2Raw {
	t.Helper()
	c, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	h := &h2Raw{fr: http2.NewFramer(c, c), c: c}
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.hb)
	h.fr.WriteSettings()
	return h
}

func (h *h2Raw) block(fields ...string) []byte {
	h.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		h.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(h.hb.Bytes())
}

func (h *h2Raw) get(id uint32, extra ...string) {
	fields := append([]string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "x"}, extra...)
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block(fields...), EndStream: true, EndHeaders: true})
}

// until reads frames until fn says stop; it returns false when the
// connection ended first.
func (h *h2Raw) until(fn func(http2.Frame) bool) bool {
	for {
		fr, err := h.fr.ReadFrame()
		if err != nil {
			return false
		}
		if fn(fr) {
			return true
		}
	}
}

// A client that breaks HTTP/2's rules gets the stream or connection
// error RFC 9113 names, and its abuse (rapid reset, CONTINUATION flood)
// ends the connection; well-formed streams on it are still answered.
func TestHTTP2Violations(t *testing.T) {
	b := backend(t, "a", nil)
	f := engineFixture(t, true, true, hostport(b))

	streamReset := func(name string, code http2.ErrCode, send func(h *h2Raw)) {
		t.Run(name, func(t *testing.T) {
			h := dialH2(t, f)
			send(h)
			var got http2.ErrCode = 0xff
			h.until(func(fr http2.Frame) bool {
				if rst, ok := fr.(*http2.RSTStreamFrame); ok && rst.StreamID == 1 {
					got = rst.ErrCode
					return true
				}
				return false
			})
			if got != code {
				t.Fatalf("RST_STREAM %v, want %v", got, code)
			}
			// The connection still serves.
			h.get(3)
			status := ""
			h.until(func(fr http2.Frame) bool {
				if m, ok := fr.(*http2.MetaHeadersFrame); ok && m.StreamID == 3 {
					status = m.PseudoValue("status")
					return true
				}
				return false
			})
			if status != "200" {
				t.Fatalf("next stream: status %q", status)
			}
		})
	}
	streamReset("uppercase name", http2.ErrCodeProtocol, func(h *h2Raw) { h.get(1, "X-Upper", "1") })
	streamReset("connection header", http2.ErrCodeProtocol, func(h *h2Raw) { h.get(1, "connection", "keep-alive") })
	streamReset("no path", http2.ErrCodeProtocol, func(h *h2Raw) {
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block(":method", "GET", ":scheme", "https"), EndStream: true, EndHeaders: true})
	})
	streamReset("pseudo after regular", http2.ErrCodeProtocol, func(h *h2Raw) {
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block(":method", "GET", "x-a", "1", ":scheme", "https", ":path", "/"), EndStream: true, EndHeaders: true})
	})

	t.Run("CONNECT is 405", func(t *testing.T) {
		h := dialH2(t, f)
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block(":method", "CONNECT", ":authority", "example.com:443"), EndHeaders: true})
		status := ""
		h.until(func(fr http2.Frame) bool {
			if m, ok := fr.(*http2.MetaHeadersFrame); ok {
				status = m.PseudoValue("status")
				return true
			}
			return false
		})
		if status != "405" {
			t.Fatalf("CONNECT: status %q, want 405", status)
		}
	})

	goaway := func(name string, code http2.ErrCode, send func(h *h2Raw)) {
		t.Run(name, func(t *testing.T) {
			h := dialH2(t, f)
			send(h)
			var got http2.ErrCode = 0xff
			h.until(func(fr http2.Frame) bool {
				if g, ok := fr.(*http2.GoAwayFrame); ok {
					got = g.ErrCode
					return true
				}
				return false
			})
			if got != code {
				t.Fatalf("GOAWAY %v, want %v", got, code)
			}
			if h.until(func(http2.Frame) bool { return false }) {
				t.Fatal("connection still open")
			}
		})
	}
	goaway("rapid reset", http2.ErrCodeEnhanceYourCalm, func(h *h2Raw) {
		for id := uint32(1); id < 2*1000; id += 2 {
			h.get(id)
			h.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
	})
	goaway("CONTINUATION flood", http2.ErrCodeEnhanceYourCalm, func(h *h2Raw) {
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block(":method", "GET"), EndStream: true})
		filler := h.block("x-filler", strings.Repeat("f", 1000))
		for range 200 {
			if h.fr.WriteContinuation(1, false, filler) != nil {
				return
			}
		}
	})
	goaway("frame too large", http2.ErrCodeFrameSize, func(h *h2Raw) {
		h.fr.WriteRawFrame(http2.FrameData, 0, 1, make([]byte, 20000))
	})
	goaway("even stream", http2.ErrCodeProtocol, func(h *h2Raw) { h.get(2) })
}

// A header block that decodes to more than maxHeadBytes (one large field
// indexed and then named again and again) is a 431, not a large head.
func TestHTTP2DecodedHeadIsBounded(t *testing.T) {
	b := backend(t, "a", nil)
	f := engineFixture(t, true, true, hostport(b))
	h := dialH2(t, f)
	big := strings.Repeat("v", 4000)
	h.hb.Reset()
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":authority", "x"}} {
		h.enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	for range 40 { // after the first, each is a one-byte index into the table
		h.enc.WriteField(hpack.HeaderField{Name: "x-big", Value: big})
	}
	if h.hb.Len() > 8000 {
		t.Fatalf("the block is %d bytes: not a small block", h.hb.Len())
	}
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.hb.Bytes(), EndStream: true, EndHeaders: true})
	status := ""
	h.until(func(fr http2.Frame) bool {
		if m, ok := fr.(*http2.MetaHeadersFrame); ok {
			status = m.PseudoValue("status")
			return true
		}
		return false
	})
	if status != "431" {
		t.Fatalf("status %q, want 431", status)
	}
}

// A listener that closes (a reload that drops it, a shutdown) sends
// GOAWAY: the stream in flight finishes, then the connection closes.
func TestHTTP2GoAwayLetsStreamsFinish(t *testing.T) {
	release := make(chan struct{})
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "finished")
	})
	f := engineFixture(t, true, true, hostport(b))
	h := dialH2(t, f)
	h.get(1)
	waitUntil(t, "the request at the target", func() bool { return f.group.Targets[0].InFlight() == 1 })
	go f.srv.Apply(&Table{Listeners: map[string]*Listener{}}) // the listener goes away
	var goaway *http2.GoAwayFrame
	var body []byte
	end := false
	h.until(func(fr http2.Frame) bool {
		switch fr := fr.(type) {
		case *http2.GoAwayFrame:
			goaway = fr
			close(release)
		case *http2.DataFrame:
			body = append(body, fr.Data()...)
			end = fr.StreamEnded()
		}
		return end
	})
	if goaway == nil || goaway.ErrCode != http2.ErrCodeNo || goaway.LastStreamID != 1 {
		t.Fatalf("GOAWAY %+v, want NO_ERROR naming stream 1", goaway)
	}
	if string(body) != "finished" {
		t.Fatalf("the stream in flight got %q", body)
	}
	if h.until(func(http2.Frame) bool { return false }) {
		t.Fatal("connection still open after its last stream")
	}
}

// Real HTTP/2 clients: curl --http2 (GET, an upload, HEAD) and h2load
// (many streams on few connections), every request answered by a target.
func TestHTTP2RealClients(t *testing.T) {
	for _, tool := range []string{"curl", "h2load"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it)", tool)
		}
	}
	var served atomic.Int64
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %d", r.Method, n)
	})
	f := engineFixture(t, true, true, hostport(b))
	url := "https://" + f.addr + "/"
	for _, tc := range []struct {
		args []string
		want string // the output's end: the body, then version and status
	}{
		{[]string{url}, "GET 0|2 200"},
		{[]string{"--data-binary", "@-", url}, "POST 200000|2 200"},
		{[]string{"-I", url}, "\r\n\r\n|2 200"},
	} {
		cmd := exec.Command("curl", append([]string{"-sk", "--http2", "-m", "10", "-w", "|%{http_version} %{http_code}"}, tc.args...)...)
		cmd.Stdin = strings.NewReader(strings.Repeat("p", 200000))
		out, err := cmd.Output()
		if err != nil || !strings.HasSuffix(string(out), tc.want) {
			t.Errorf("curl %v: %q %v, want it to end in %q", tc.args, out, err, tc.want)
		}
	}
	before := served.Load()
	out, err := exec.Command("h2load", "-n", "2000", "-c", "4", "-m", "10", url).CombinedOutput()
	if err != nil {
		t.Fatalf("h2load: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "2000 succeeded, 0 failed, 0 errored") {
		t.Fatalf("h2load:\n%s", out)
	}
	if n := served.Load() - before; n != 2000 {
		t.Fatalf("the target served %d of h2load's 2000 requests", n)
	}
	waitNoOutstanding(t, f.srv)
}

// BenchmarkForwardH2 measures one HTTP/2 GET at a time on one TLS
// connection, answered by a 1 KB body from a target over a pooled
// HTTP/1.1 connection. The client is a raw framer that reuses its
// frames and header block, so allocations per op are the proxy's and
// crypto/tls's (as in BenchmarkForwardTLS).
func BenchmarkForwardH2(b *testing.B) {
	a1, a2 := rawBackend(b), rawBackend(b)
	f := newFixture(b, RoundRobin, a1, a2)
	_, port, _ := strings.Cut(f.addr, ":")
	var p int
	fmt.Sscan(port, &p)
	l := &Listener{Addr: f.addr, Port: p, Protocol: "HTTPS", LoadBalancer: f.lb,
		TLS:   &tls.Config{Certificates: []tls.Certificate{testCert(b)}, NextProtos: []string{"h2", "http/1.1"}},
		Rules: []*Rule{{Action: Action{Type: ActionForward, Groups: []WeightedGroup{{Group: f.group, Weight: 1}}}}}}
	if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: l}}); err != nil {
		b.Fatal(err)
	}
	c, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.SetReuseFrames()
	fr.WriteSettings()
	// A block with no dynamic table entries: the same bytes every time.
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.SetMaxDynamicTableSizeLimit(0)
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", "/discover?type=movie"}, {":authority", "bench"}, {"user-agent", "bench"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	block := hb.Bytes()
	id := uint32(1)
	exchange := func() {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			frame, err := fr.ReadFrame()
			if err != nil {
				b.Fatal(err)
			}
			if d, ok := frame.(*http2.DataFrame); ok && d.StreamID == id {
				got += len(d.Data())
				if d.StreamEnded() {
					break
				}
			}
		}
		if got != 1024 {
			b.Fatalf("stream %d: %d bytes", id, got)
		}
		fr.WriteWindowUpdate(0, uint32(got))
		id += 2
	}
	for range 100 { // warm the pools
		exchange()
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exchange()
	}
}
