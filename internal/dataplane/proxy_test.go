package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// tcpTarget is a target written by hand: it serves each connection it
// accepts with serve (on a goroutine, with a 10 s deadline, closed after)
// until the test ends. It returns the target's address.
func tcpTarget(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

type fixture struct {
	srv   *Server
	addr  string
	reg   *Registry
	group *TargetGroup
	lb    *LoadBalancer
}

// newFixture serves one HTTP listener forwarding to backends.
func newFixture(t testing.TB, alg Algorithm, backends ...string) *fixture {
	t.Helper()
	return newEngineFixture(t, EngineEventLoops, alg, backends...)
}

// newEngineFixture is newFixture on a server of the given engine.
func newEngineFixture(t testing.TB, e Engine, alg Algorithm, backends ...string) *fixture {
	t.Helper()
	srv := NewServer(nil)
	srv.Engine = e
	f := &fixture{srv: srv, addr: freeAddr(t), reg: NewRegistry(),
		lb: &LoadBalancer{Name: "test", IdleTimeout: 5 * time.Second, XFFMode: "append", Stats: &LoadBalancerStats{}}}
	f.setTargets(t, alg, backends...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.srv.Shutdown(ctx)
	})
	return f
}

func (f *fixture) setTargets(t testing.TB, alg Algorithm, backends ...string) {
	t.Helper()
	var targets []*Target
	for i, b := range backends {
		tg := f.reg.Get("tg", fmt.Sprintf("t%d", i), 0, b, "zone-a")
		tg.SetHealthy(true)
		targets = append(targets, tg)
	}
	var state *GroupState
	if f.group != nil {
		state = f.group.State()
	}
	f.group = NewTargetGroup("arn:tg", "tg", targets, alg, 0, state)
	f.apply(t)
}

func (f *fixture) apply(t testing.TB) {
	t.Helper()
	_, port, _ := net.SplitHostPort(f.addr)
	var p int
	fmt.Sscan(port, &p)
	l := &Listener{Addr: f.addr, Port: p, Protocol: "HTTP", LoadBalancer: f.lb,
		Rules: []*Rule{{Action: Action{Type: ActionForward, Groups: []WeightedGroup{{Group: f.group, Weight: 1}}}}}}
	if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: l}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) url(path string) string { return "http://" + f.addr + path }

// backend is a test target that names itself in X-Instance-Id.
func backend(t *testing.T, id string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Instance-Id", id)
		if h != nil {
			h(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "hello from %s", id)
	}))
	t.Cleanup(s.Close)
	return s
}

func hostport(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

func TestForwardAddsHeaders(t *testing.T) {
	var got http.Header
	var gotHost string
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		gotHost = r.Host
		w.Write([]byte("ok"))
	})
	f := newFixture(t, RoundRobin, hostport(b))
	req, _ := http.NewRequest("GET", f.url("/x?y=1"), nil)
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if v := got.Get("X-Forwarded-For"); v != "10.1.2.3, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", v)
	}
	if v := got.Get("X-Forwarded-Proto"); v != "http" {
		t.Errorf("X-Forwarded-Proto = %q", v)
	}
	_, port, _ := net.SplitHostPort(f.addr)
	if v := got.Get("X-Forwarded-Port"); v != port {
		t.Errorf("X-Forwarded-Port = %q, want %s", v, port)
	}
	if v := got.Get("X-Amzn-Trace-Id"); !strings.HasPrefix(v, "Root=1-") || len(v) != len("Root=1-63441c4a-abcdef012345678912345678") {
		t.Errorf("X-Amzn-Trace-Id = %q", v)
	}
	if got.Get("X-Hop") != "" {
		t.Errorf("hop-by-hop field named by Connection was forwarded")
	}
	if gotHost != f.addr {
		t.Errorf("Host = %q, want %q", gotHost, f.addr)
	}
}

func TestTraceIDKept(t *testing.T) {
	var got string
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("X-Amzn-Trace-Id") })
	f := newFixture(t, RoundRobin, hostport(b))
	req, _ := http.NewRequest("GET", f.url("/"), nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678;Self=1-1-1;CalledFrom=app")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(got, "Self=1-") || !strings.HasSuffix(got, ";Root=1-67891233-abcdef012345678912345678;CalledFrom=app") {
		t.Errorf("X-Amzn-Trace-Id = %q", got)
	}
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	var bs []string
	for _, id := range []string{"a", "b", "c"} {
		bs = append(bs, hostport(backend(t, id, nil)))
	}
	f := newFixture(t, RoundRobin, bs...)
	counts := map[string]int{}
	for i := 0; i < 300; i++ {
		resp, err := http.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		counts[resp.Header.Get("X-Instance-Id")]++
	}
	for _, id := range []string{"a", "b", "c"} {
		if counts[id] < 95 || counts[id] > 105 {
			t.Errorf("target %s got %d of 300: %v", id, counts[id], counts)
		}
	}
}

func TestBodies(t *testing.T) {
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", fmt.Sprint(8<<20))
			chunk := bytes.Repeat([]byte("x"), 1<<20)
			for i := 0; i < 8; i++ {
				w.Write(chunk)
			}
			return
		}
		if r.URL.Path == "/stream" { // chunked response
			for i := 0; i < 5; i++ {
				fmt.Fprintf(w, "part %d\n", i)
				w.(http.Flusher).Flush()
			}
			return
		}
		fmt.Fprintf(w, "%d %x te=%v", n, h.Sum(nil), r.TransferEncoding)
	})
	f := newFixture(t, RoundRobin, hostport(b))
	payload := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB: streamed, not buffered
	sum := sha256.Sum256(payload)
	cases := []struct {
		name   string
		body   io.Reader
		length int64
		want   string
	}{
		{"empty", nil, 0, fmt.Sprintf("0 %x te=[]", sha256.Sum256(nil))},
		{"small", strings.NewReader("hello"), 5, fmt.Sprintf("5 %x te=[]", sha256.Sum256([]byte("hello")))},
		{"large content-length", bytes.NewReader(payload), int64(len(payload)), fmt.Sprintf("%d %x te=[]", len(payload), sum)},
		{"chunked", io.MultiReader(bytes.NewReader(payload)), -1, fmt.Sprintf("%d %x te=[chunked]", len(payload), sum)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.url("/echo"), tc.body)
			req.ContentLength = tc.length
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	resp, err := http.Get(f.url("/big"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 8<<20 {
		t.Errorf("big download: %d bytes", n)
	}
	resp, err = http.Get(f.url("/stream"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "part 0\npart 1\npart 2\npart 3\npart 4\n" || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("stream: %q %v", got, resp.TransferEncoding)
	}
}

func TestErrorStatuses(t *testing.T) {
	slow := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Second) })
	dead := freeAddr(t)
	cases := []struct {
		name     string
		backends []string
		healthy  bool
		want     int
	}{
		{"no targets", nil, true, 503},
		{"refused", []string{dead}, true, 502},
		{"timeout", []string{hostport(slow)}, true, 504},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, RoundRobin, tc.backends...)
			f.lb.IdleTimeout = 500 * time.Millisecond
			f.apply(t)
			resp, err := http.Get(f.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestFailOpenAndPassive(t *testing.T) {
	a := backend(t, "a", nil)
	b := backend(t, "b", nil)
	f := newFixture(t, RoundRobin, hostport(a), hostport(b))
	for _, tg := range f.group.Targets {
		tg.SetHealthy(false)
	}
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		resp, err := http.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[resp.Header.Get("X-Instance-Id")] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("fail-open should route to every unhealthy target, saw %v", seen)
	}
	// One healthy: only it gets traffic.
	f.group.Targets[1].SetHealthy(true)
	for i := 0; i < 20; i++ {
		resp, err := http.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if id := resp.Header.Get("X-Instance-Id"); id != "b" {
			t.Fatalf("request went to unhealthy target %s", id)
		}
	}
}

func TestDeadTargetRetried(t *testing.T) {
	a := backend(t, "a", nil)
	f := newFixture(t, RoundRobin, hostport(a), freeAddr(t))
	for i := 0; i < 50; i++ {
		resp, err := http.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if !f.group.Targets[1].PassiveDown() {
		t.Errorf("refused target not taken out passively")
	}
	// A POST with a buffered body is retried too when nothing was sent.
	resp, err := http.Post(f.url("/"), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("POST status %d", resp.StatusCode)
	}
}

func TestMalformedRequestsRejected(t *testing.T) {
	var hits atomic.Int32
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	f := newFixture(t, RoundRobin, hostport(b))
	cases := []struct {
		name string
		raw  string
		want int
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"bad header byte", "GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-Bad : a\r\n\r\n", 400},
		{"oversized header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 17<<10) + "\r\n\r\n", 400},
		{"oversized head", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: "+strings.Repeat("a", 1000)+"\r\n", 70) + "\r\n", 400},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"folding", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400},
		{"bad TE", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"http 2.0 line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"garbage", "HELLO\r\n\r\n", 400},
		{"trace", "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405},
		// ALB answers CONNECT itself, as TRACE: it tunnels nothing.
		{"connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
		{"connect origin-form", "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d malformed requests reached the target", n)
	}
}

// An HTTP/1.0 request may come without a Host; the target gets HTTP/1.1,
// which needs one, so the load balancer's DNS name is sent, as ELB does.
func TestHTTP10WithoutHostGetsTheLoadBalancersName(t *testing.T) {
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("host=" + r.Host)) })
	f := newFixture(t, RoundRobin, hostport(b))
	f.lb.DNSName = "test-1234567890.us-east-1.elb.localhost"
	f.apply(t)
	// With the listener's port, as every Host is sent on a port other than
	// 80 and 443.
	_, port, _ := net.SplitHostPort(f.addr)
	cases := []struct{ raw, want string }{
		{"GET /h HTTP/1.0\r\n\r\n", "host=test-1234567890.us-east-1.elb.localhost:" + port},
		{"GET /h HTTP/1.0\r\nHost: shop.example\r\n\r\n", "host=shop.example:" + port},
	}
	for _, tc := range cases {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, tc.raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != 200 || string(body) != tc.want {
			t.Errorf("%q: %d %q, want 200 %q", tc.raw, resp.StatusCode, body, tc.want)
		}
	}
}

// A line of the chunked framing near or over 16 KB is a bad request,
// answered as one (ALB's 400 with Connection: close), not a dropped
// connection, and the target connection that carried the start of the
// body is not reused: the next request gets a whole answer.
func TestOversizedChunkedLinesAre400(t *testing.T) {
	var bodies atomic.Int32
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err == nil {
			bodies.Add(1)
		}
		w.Write([]byte("whole"))
	})
	f := newFixture(t, RoundRobin, hostport(b))
	head := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	cases := []struct{ name, body string }{
		{"chunk-size line 16 KB", "1;e=" + strings.Repeat("a", 16380) + "\r\nx\r\n0\r\n\r\n"},
		{"chunk-size line 20 KB", "1;e=" + strings.Repeat("a", 20000) + "\r\nx\r\n0\r\n\r\n"},
		{"trailer line 16 KB", "1\r\nx\r\n0\r\nX-T: " + strings.Repeat("a", 16380) + "\r\n\r\n"},
		{"trailer line 20 KB", "1\r\nx\r\n0\r\nX-T: " + strings.Repeat("a", 20000) + "\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			go io.WriteString(c, head+tc.body)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 || !resp.Close {
				t.Errorf("status %d, close %v; want 400 and Connection: close", resp.StatusCode, resp.Close)
			}
			r2, err := http.Get(f.url("/after"))
			if err != nil {
				t.Fatalf("the next request: %v", err)
			}
			got, _ := io.ReadAll(r2.Body)
			r2.Body.Close()
			if string(got) != "whole" {
				t.Errorf("the next request got %q", got)
			}
		})
	}
	if n := bodies.Load(); n != int32(len(cases)) {
		t.Errorf("the target read %d whole bodies, want only the %d good requests after each case", n, len(cases))
	}
}

func TestKeepAlivePooling(t *testing.T) {
	var conns atomic.Int32
	b := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	b.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	f := newFixture(t, RoundRobin, hostport(b))
	client := &http.Client{}
	for i := 0; i < 100; i++ {
		resp, err := client.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("100 sequential requests opened %d target connections, want 1", n)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	// A raw target that switches protocols and then echoes.
	target := tcpTarget(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "websocket" {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(c, br)
	})
	f := newFixture(t, RoundRobin, target)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
}

func TestConcurrentLoad(t *testing.T) {
	var bs []string
	for _, id := range []string{"a", "b"} {
		bs = append(bs, hostport(backend(t, id, nil)))
	}
	f := newFixture(t, LeastOutstandingRequests, bs...)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				resp, err := http.Get(f.url("/"))
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d requests failed", n)
	}
}

func TestEmptyLinesBeforeRequestIgnored(t *testing.T) {
	b := backend(t, "a", nil)
	f := newFixture(t, RoundRobin, hostport(b))
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "\r\n\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Instance-Id") != "a" {
		t.Errorf("status %d from %q", resp.StatusCode, resp.Header.Get("X-Instance-Id"))
	}
}
