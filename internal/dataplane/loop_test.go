//go:build linux

package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"github.com/alba-lb/alba/internal/poller"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The event loops answer alike on either set (epoll, Go's netpoller), over
// HTTP and HTTPS.

// testCert is a self-signed ECDSA certificate for 127.0.0.1.
func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// engineFixture serves one listener (HTTP or HTTPS) with the chosen engine.
func engineFixture(t *testing.T, loops bool, https bool, backends ...string) *fixture {
	return engineFixtureIdle(t, loops, https, 0, backends...)
}

// engineFixtureIdle is engineFixture with an idle timeout (when not 0).
func engineFixtureIdle(t *testing.T, loops bool, https bool, idle time.Duration, backends ...string) *fixture {
	t.Helper()
	e := EngineEventLoops
	if !loops {
		e = EngineGoroutines
	}
	f := newEngineFixture(t, e, RoundRobin, backends...)
	if idle > 0 {
		lb := *f.lb // a new value: connections may be reading the old one
		lb.IdleTimeout = idle
		f.lb = &lb
		f.apply(t)
	}
	if https {
		f.applyHTTPS(t)
	}
	if len(f.srv.loops) == 0 {
		t.Fatal("no event loop runs")
	}
	if _, epoll := f.srv.loops[0].p.(*poller.Poller); epoll != loops {
		t.Fatalf("event loops on epoll: %v, want %v", epoll, loops)
	}
	return f
}

// applyHTTPS makes the fixture's listener HTTPS (h2 and http/1.1 by ALPN).
func (f *fixture) applyHTTPS(t testing.TB) {
	t.Helper()
	_, port, _ := net.SplitHostPort(f.addr)
	var p int
	fmt.Sscan(port, &p)
	l := &Listener{Addr: f.addr, Port: p, Protocol: "HTTPS", LoadBalancer: f.lb,
		TLS:   &tls.Config{Certificates: []tls.Certificate{testCert(t)}, NextProtos: []string{"h2", "http/1.1"}},
		Rules: []*Rule{{Action: Action{Type: ActionForward, Groups: []WeightedGroup{{Group: f.group, Weight: 1}}}}}}
	if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: l}}); err != nil {
		t.Fatal(err)
	}
}

// withGroup replaces the HTTPS fixture's group by a copy changed by mod,
// in a new table (a table in force is never written to).
func (f *fixture) withGroup(t testing.TB, mod func(g *TargetGroup)) {
	t.Helper()
	g := *f.group
	mod(&g)
	f.group = &g
	f.applyHTTPS(t)
}

// dialEngine opens a client connection (TLS when https, HTTP/1.1 by ALPN).
func dialEngine(t *testing.T, f *fixture, https bool) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if https {
		c, err = tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	} else {
		c, err = net.Dial("tcp", f.addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestEnginesServeAlike(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MB
	bigSum := sha256.Sum256(big)
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		case "/stream": // chunked
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				w.(http.Flusher).Flush()
			}
		case "/upload":
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		default:
			io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "path %s", r.URL.Path)
		}
	})
	upload := bytes.Repeat([]byte("u"), 3<<20)
	upSum := sha256.Sum256(upload)
	for _, loops := range []bool{true, false} {
		for _, https := range []bool{false, true} {
			name := fmt.Sprintf("loops=%v/https=%v", loops, https)
			t.Run(name, func(t *testing.T) {
				f := engineFixture(t, loops, https, hostport(b))
				c := dialEngine(t, f, https)
				br := bufio.NewReader(c)

				// Three pipelined requests in one write, answered in order.
				io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
				for i, want := range []string{"path /1", "", "path /3"} {
					method := "GET"
					if i == 1 {
						method = "HEAD"
					}
					resp, body := readResponse(t, br, method)
					if resp.StatusCode != 200 || string(body) != want {
						t.Fatalf("pipelined %d: %d %q, want %q", i, resp.StatusCode, body, want)
					}
				}

				// A large response read slowly: the proxy waits for the
				// client instead of buffering or dropping.
				io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				buf := make([]byte, 256<<10)
				total := 0
				for {
					n, err := resp.Body.Read(buf)
					h.Write(buf[:n])
					total += n
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if total < 1<<20 {
						time.Sleep(20 * time.Millisecond) // the socket buffers fill up
					}
				}
				if total != len(big) || !bytes.Equal(h.Sum(nil), bigSum[:]) {
					t.Fatalf("big response: %d bytes, checksum differs: %v", total, !bytes.Equal(h.Sum(nil), bigSum[:]))
				}

				// A chunked response, then a streamed upload, then a plain
				// request: the connection stays usable after each.
				io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, body := readResponse(t, br, "GET")
				if string(body) != "part 0\npart 1\npart 2\n" || len(resp.TransferEncoding) == 0 {
					t.Fatalf("stream: %q %v", body, resp.TransferEncoding)
				}
				fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(upload))
				c.Write(upload)
				_, body = readResponse(t, br, "POST")
				if want := fmt.Sprintf("%d %x", len(upload), upSum); string(body) != want {
					t.Fatalf("upload: %q, want %q", body, want)
				}
				io.WriteString(c, "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				resp, body = readResponse(t, br, "GET")
				if string(body) != "path /after" || !resp.Close {
					t.Fatalf("after: %q close=%v", body, resp.Close)
				}
				if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
					t.Fatalf("connection not closed after Connection: close (%d, %v)", n, err)
				}
				if loops {
					waitNoOutstanding(t, f.srv)
				}
			})
		}
	}
}

// HTTP/2 over an event loop's HTTPS listener goes to the HTTP/2 server.
func TestEventLoopHTTP2(t *testing.T) {
	b := backend(t, "a", nil)
	f := engineFixture(t, true, true, hostport(b))
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := range 3 {
		resp, err := client.Get("https://" + f.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || string(body) != "hello from a" {
			t.Fatalf("request %d: %s %q", i, resp.Proto, body)
		}
	}
}

// The loop enforces the idle timeout: a head that stops half-way gets a
// 408, a connection idle between requests is closed.
func TestEventLoopTimeouts(t *testing.T) {
	b := backend(t, "a", nil)
	for _, https := range []bool{false, true} {
		t.Run(fmt.Sprintf("https=%v", https), func(t *testing.T) {
			f := engineFixtureIdle(t, true, https, 300*time.Millisecond, hostport(b))
			c := dialEngine(t, f, https)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
			resp, _ := readResponse(t, bufio.NewReader(c), "GET")
			if resp.StatusCode != 408 {
				t.Fatalf("half a head: %d, want 408", resp.StatusCode)
			}
			c2 := dialEngine(t, f, https)
			br := bufio.NewReader(c2)
			io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			readResponse(t, br, "GET")
			start := time.Now()
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("idle connection got bytes")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("idle connection closed after %v (timeout 300ms)", d)
			}
		})
	}
}

// Shutdown closes idle loop connections at once and lets a request in
// flight finish.
func TestEventLoopShutdown(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{})
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		w.Write([]byte("done"))
	})
	f := engineFixture(t, true, false, hostport(b))
	idle := dialEngine(t, f, false)
	ibr := bufio.NewReader(idle)
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, ibr, "GET")

	busy := dialEngine(t, f, false)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-arrived: // the request is at the target
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the target")
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- f.srv.Shutdown(ctx)
	}()
	if _, err := ibr.ReadByte(); err == nil {
		t.Fatal("idle connection not closed by shutdown")
	}
	close(release)
	resp, body := readResponse(t, bufio.NewReader(busy), "GET")
	if string(body) != "done" || !resp.Close {
		t.Fatalf("in-flight request: %q close=%v", body, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// A target that closes a pooled connection is noticed by the loop before
// the connection is reused: no request fails for it.
func TestEventLoopDropsClosedPooledConns(t *testing.T) {
	b := backend(t, "a", nil)
	f := engineFixture(t, true, false, hostport(b))
	for i := range 5 {
		resp, err := http.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		b.CloseClientConnections() // the target drops every keep-alive connection
		time.Sleep(20 * time.Millisecond)
	}
	if n := f.group.Targets[0].ConnErrors.Load(); n != 0 {
		t.Fatalf("%d connection errors counted against the target", n)
	}
	if f.group.Targets[0].PassiveDown() {
		t.Fatal("target marked down")
	}
	waitNoOutstanding(t, f.srv)
}

// The loop serves every kind of request itself: a small body that arrives
// after its head, a large one streamed to the target as it comes, a
// chunked request body, Expect: 100-continue, an upgrade, a chunked
// response and HTTP/1.0 (a chunked response de-chunked for it, ended by
// the close).
func TestEventLoopServesEveryKindOfRequest(t *testing.T) {
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/stream" {
			w.(http.Flusher).Flush() // chunked
		}
		fmt.Fprintf(w, "%s %d", r.URL.Path, n)
	})
	cases := []struct {
		name string
		send func(c net.Conn)
		want string
	}{
		{"small body after its head", func(c net.Conn) {
			io.WriteString(c, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
			time.Sleep(50 * time.Millisecond)
			c.Write(bytes.Repeat([]byte("s"), 5000))
		}, "/small 5000"},
		{"large body after its head", func(c net.Conn) {
			io.WriteString(c, "POST /large HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
			time.Sleep(50 * time.Millisecond)
			c.Write(bytes.Repeat([]byte("l"), 100000))
		}, "/large 100000"},
		{"chunked request body", func(c net.Conn) {
			io.WriteString(c, "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
			time.Sleep(50 * time.Millisecond)
			io.WriteString(c, "lo\r\n3\r\n!!!\r\n0\r\n\r\n")
		}, "/chunked 8"},
		{"Expect: 100-continue", func(c net.Conn) {
			io.WriteString(c, "POST /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
			br := bufio.NewReader(c)
			line, _ := br.ReadString('\n')
			br.ReadString('\n')
			if line != "HTTP/1.1 100 Continue\r\n" {
				io.WriteString(c, "no 100 Continue")
				return
			}
			io.WriteString(c, "body")
		}, "/expect 4"},
		{"WebSocket upgrade", func(c net.Conn) {
			io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		}, "/ws 0"},
		{"chunked response", func(c net.Conn) {
			io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
		}, "/stream 0"},
		{"HTTP/1.0", func(c net.Conn) {
			io.WriteString(c, "GET /old HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
		}, "/old 0"},
		{"HTTP/1.0, chunked response: the data, then the close", func(c net.Conn) {
			io.WriteString(c, "GET /stream HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
		}, "/stream 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := engineFixture(t, true, false, hostport(b))
			c := dialEngine(t, f, false)
			tc.send(c)
			resp, body := readResponse(t, bufio.NewReader(c), "GET")
			if string(body) != tc.want {
				t.Fatalf("got %q, want %q", body, tc.want)
			}
			if strings.HasPrefix(tc.name, "HTTP/1.0, chunked") && (len(resp.TransferEncoding) > 0 || !resp.Close) {
				t.Fatalf("HTTP/1.0 got Transfer-Encoding %v, close %v", resp.TransferEncoding, resp.Close)
			}
			waitNoOutstanding(t, f.srv)
		})
	}
}

// Many pipelined requests answered by the proxy itself (a fixed response)
// are all answered, in order.
func TestEventLoopLongPipeline(t *testing.T) {
	f := engineFixture(t, true, false)
	_, port, _ := net.SplitHostPort(f.addr)
	var p int
	fmt.Sscan(port, &p)
	l := &Listener{Addr: f.addr, Port: p, Protocol: "HTTP", LoadBalancer: f.lb,
		Rules: []*Rule{{Action: Action{Type: ActionFixedResponse, FixedStatus: 200, FixedBody: "ok"}}}}
	if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: l}}); err != nil {
		t.Fatal(err)
	}
	c := dialEngine(t, f, false)
	const n = 3000
	go func() {
		var all bytes.Buffer
		for i := range n {
			fmt.Fprintf(&all, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		}
		c.Write(all.Bytes())
	}()
	br := bufio.NewReader(c)
	for i := range n {
		resp, body := readResponse(t, br, "GET")
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("response %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// A forced shutdown ends a TLS handshake that stalls.
func TestEventLoopShutdownEndsStalledHandshake(t *testing.T) {
	f := engineFixture(t, true, true)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // accepted, handshake waiting
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	f.srv.Shutdown(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v with a stalled handshake", d)
	}
}

// A response delimited by the target closing is relayed whole on the
// loop, and the client's connection ends with it.
func TestEventLoopCloseDelimitedResponse(t *testing.T) {
	body := strings.Repeat("z", 200000)
	target := rawTarget(t, func(c net.Conn, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Kind: raw\r\n\r\n"+body)
	})
	for _, https := range []bool{false, true} {
		t.Run(fmt.Sprintf("https=%v", https), func(t *testing.T) {
			f := engineFixture(t, true, https, target)
			c := dialEngine(t, f, https)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, got := readResponse(t, bufio.NewReader(c), "GET")
			if string(got) != body || resp.Header.Get("X-Kind") != "raw" || !resp.Close {
				t.Fatalf("got %d bytes, close=%v", len(got), resp.Close)
			}
			waitNoOutstanding(t, f.srv)
		})
	}
}

// rawTarget answers one request per connection with fn, then closes it.
func rawTarget(t *testing.T, fn func(c net.Conn, req *http.Request)) string {
	t.Helper()
	return tcpTarget(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		fn(c, req)
	})
}

// BenchmarkForwardTLS is BenchmarkForward over an HTTPS listener: TLS on the
// event loop. Allocations per op are the proxy's and the test client's.
func BenchmarkForwardTLS(b *testing.B) {
	a1, a2 := rawBackend(b), rawBackend(b)
	f := newFixture(b, RoundRobin, a1, a2)
	_, port, _ := net.SplitHostPort(f.addr)
	var p int
	fmt.Sscan(port, &p)
	l := &Listener{Addr: f.addr, Port: p, Protocol: "HTTPS", LoadBalancer: f.lb,
		TLS:   &tls.Config{Certificates: []tls.Certificate{testCert(b)}, NextProtos: []string{"http/1.1"}},
		Rules: []*Rule{{Action: Action{Type: ActionForward, Groups: []WeightedGroup{{Group: f.group, Weight: 1}}}}}}
	if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: l}}); err != nil {
		b.Fatal(err)
	}
	c, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchExchanges(b, c)
}

// loopCounters reads, on each loop, its target connections serving a
// request and how often it coalesced, summed over the loops.
func loopCounters(t *testing.T, s *Server) (outstanding int, coalesces uint64) {
	t.Helper()
	for _, lp := range s.loops {
		type counters struct {
			outstanding int
			coalesces   uint64
		}
		got := make(chan counters, 1)
		lp.do(func() {
			var n uint64
			if ep, ok := lp.p.(*poller.Poller); ok {
				n = ep.Coalesces
			}
			got <- counters{lp.outstanding, n}
		})
		select {
		case c := <-got:
			outstanding += c.outstanding
			coalesces += c.coalesces
		case <-time.After(5 * time.Second):
			t.Fatal("an event loop did not run a command")
		}
	}
	return outstanding, coalesces
}

// waitNoOutstanding fails unless every target connection a loop took for a
// request has gone back to the pool or closed: a miscount would leave the
// loop coalescing (waiting before every park) for good.
func waitNoOutstanding(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := loopCounters(t, s)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d target connections still counted as serving a request", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Under load (many requests waiting on targets) a loop gathers events into
// batches; a single sequential client never waits for that.
func TestEventLoopCoalescesOnlyUnderLoad(t *testing.T) {
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	})
	t.Run("sequential", func(t *testing.T) {
		f := engineFixture(t, true, false, hostport(b))
		c := dialEngine(t, f, false)
		br := bufio.NewReader(c)
		for range 50 {
			io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, body := readResponse(t, br, "GET"); string(body) != "ok" {
				t.Fatalf("body %q", body)
			}
		}
		waitNoOutstanding(t, f.srv)
		if _, n := loopCounters(t, f.srv); n != 0 {
			t.Fatalf("a single client's requests waited for batches %d times", n)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		f := engineFixture(t, true, false, hostport(b))
		clients := 16 * len(f.srv.loops) // twice the threshold on every loop
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slow := "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
				resps, err := rawRequests(t, f.addr, []string{slow, slow}, 0)
				if err == nil && len(resps) != 2 {
					err = fmt.Errorf("%d responses, want 2", len(resps))
				}
				for _, r := range resps {
					if body := r.Header.Get("X-Test-Body"); err == nil && (r.StatusCode != 200 || body != "ok") {
						err = fmt.Errorf("status %d, body %q", r.StatusCode, body)
					}
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		waitNoOutstanding(t, f.srv)
		if _, n := loopCounters(t, f.srv); n == 0 {
			t.Fatalf("%d concurrent slow requests never coalesced", clients)
		}
	})
}

// openConns counts the client connections the server has accepted.
func openConns(s *Server) int {
	n := 0
	s.mu.Lock()
	for _, so := range s.sockets {
		so.mu.Lock()
		n += len(so.conns)
		so.mu.Unlock()
	}
	s.mu.Unlock()
	for _, lp := range s.loops {
		got := make(chan int)
		lp.do(func() { got <- len(lp.conns) })
		n += <-got
	}
	return n
}

// A connection accepted just before shutdown, whose client has not sent
// all of its request yet, gets that request served (and Connection:
// close) rather than a reset: its client connected to send it. So does
// the next request of a keep-alive connection that answered one a moment
// before (a close at once would cross it). (The kernel hands a
// connection over once its first bytes arrive, TCP_DEFER_ACCEPT: one
// that stays silent is not the server's yet, and a closing listener
// resets it as any it had not accepted.)
func TestShutdownServesAFreshConnectionsFirstRequest(t *testing.T) {
	b := backend(t, "a", nil)
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprint("loops=", loops), func(t *testing.T) {
			f := engineFixture(t, loops, false, hostport(b))
			idle := dialEngine(t, f, false)
			ibr := bufio.NewReader(idle)
			io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			readResponse(t, ibr, "GET")
			fresh := dialEngine(t, f, false)
			io.WriteString(fresh, "GET / HT")
			deadline := time.Now().Add(5 * time.Second)
			for openConns(f.srv) < 4 { // each counted by its socket and its loop
				if time.Now().After(deadline) {
					t.Fatal("the server did not accept the second connection")
				}
				time.Sleep(5 * time.Millisecond)
			}
			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				shut <- f.srv.Shutdown(ctx)
			}()
			for { // until the listener is closed
				c, err := net.DialTimeout("tcp", f.addr, time.Second)
				if err != nil {
					break
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatal("the listener still accepts after shutdown began")
				}
				time.Sleep(5 * time.Millisecond)
			}
			// The keep-alive connection answered its request a moment ago:
			// its client may be sending the next one as the listener
			// closes, and gets it answered, with Connection: close.
			io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, _ := readResponse(t, ibr, "GET"); resp.StatusCode != 200 || !resp.Close {
				t.Errorf("the keep-alive connection's next request: %d close=%v", resp.StatusCode, resp.Close)
			}
			if _, err := ibr.ReadByte(); err == nil {
				t.Fatal("the keep-alive connection stayed open after its Connection: close")
			}
			io.WriteString(fresh, "TP/1.1\r\nHost: x\r\n\r\n")
			resp, _ := readResponse(t, bufio.NewReader(fresh), "GET")
			if resp.StatusCode != 200 || !resp.Close {
				t.Errorf("the fresh connection's request: %d close=%v", resp.StatusCode, resp.Close)
			}
			if err := <-shut; err != nil {
				t.Fatalf("shutdown: %v", err)
			}
		})
	}
}

// A client trickling its request head (slowloris) gets a 408 within the
// idle timeout: bytes of an unfinished head do not wind its clock back.
func TestTricklingHeadGets408(t *testing.T) {
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprint("loops=", loops), func(t *testing.T) {
			b := backend(t, "a", nil)
			f := engineFixtureIdle(t, loops, false, time.Second, hostport(b))
			c := dialEngine(t, f, false)
			got := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(c).ReadString('\n')
				got <- line
			}()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			bound := time.After(10 * time.Second) // ten idle timeouts of trickling
			for i := 0; ; i++ {
				select {
				case line := <-got:
					if !strings.HasPrefix(line, "HTTP/1.1 408") {
						t.Fatalf("trickling client got %q, want a 408", line)
					}
					return
				case <-tick.C:
					fmt.Fprintf(c, "X-%d: y\r\n", i)
				case <-bound:
					t.Fatal("a client trickling its head for 10 s was never timed out")
				}
			}
		})
	}
}
