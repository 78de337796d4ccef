//go:build linux

package dataplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The load balancer's CloudWatch counts (LoadBalancerStats) and the
// targets' response classes, checked through real sockets on every engine:
// each response and each connection counted exactly once.

// statsEngine is one way a client is served.
type statsEngine struct {
	name  string
	loops bool // event loops on epoll (else on Go's netpoller)
	https bool
	h2    bool // HTTP/2 (over HTTPS)
}

var statsEngines = []statsEngine{
	{"netpoll/http", false, false, false},
	{"netpoll/https", false, true, false},
	{"netpoll/h2", false, true, true},
	{"epoll/http", true, false, false},
	{"epoll/https", true, true, false},
	{"epoll/h2", true, true, true},
}

// countingConn counts the bytes a test client reads and writes.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// waitUntil polls cond until it holds, failing the test after 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// lbCounts is every count a test compares, read at one moment.
type lbCounts struct {
	newConns, rejected, fixed, redirects uint64
	active                               int64
	elb                                  [elbClasses]uint64 // 4xx, 5xx, 502, 503, 504
	target                               [4]uint64          // 2xx to 5xx, summed over targets
}

func countsOf(st *LoadBalancerStats, targets []*Target) lbCounts {
	c := lbCounts{newConns: st.NewConnections.Load(), rejected: st.RejectedConnections.Load(),
		fixed: st.FixedResponses.Load(), redirects: st.Redirects.Load(), active: st.ActiveConnections.Load()}
	c.elb[elb4xx], c.elb[elb5xx], c.elb[elb502], c.elb[elb503], c.elb[elb504] = st.ELBResponses()
	for _, t := range targets {
		c2, c3, c4, c5 := t.Responses()
		c.target[0] += c2
		c.target[1] += c3
		c.target[2] += c4
		c.target[3] += c5
	}
	return c
}

func (c lbCounts) sub(o lbCounts) lbCounts {
	d := lbCounts{newConns: c.newConns - o.newConns, rejected: c.rejected - o.rejected, fixed: c.fixed - o.fixed,
		redirects: c.redirects - o.redirects, active: c.active - o.active}
	for i := range c.elb {
		d.elb[i] = c.elb[i] - o.elb[i]
	}
	for i := range c.target {
		d.target[i] = c.target[i] - o.target[i]
	}
	return d
}

// statsFixture serves a listener with the engine e whose rules reach a
// target answering /t/<status> with that status, a close-delimited target
// (/raw), a refusing one (/dead), one that never answers (/slow), a group
// with no targets (/empty), fixed responses and a redirect. Nothing else
// matches a rule. The idle timeout is short for the 504.
func statsFixture(t *testing.T, e statsEngine) (*fixture, []*Target) {
	t.Helper()
	ok := backend(t, "ok", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/t/"))
		if err != nil {
			code = 200
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d", code)
	})
	slow := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select { // until the proxy gives up on it
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	raw := rawTarget(t, func(c net.Conn, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n"+strings.Repeat("r", 50000)) // ends with the connection
	})
	f := engineFixtureIdle(t, e.loops, e.https, 500*time.Millisecond, hostport(ok))
	group := func(name string, addrs ...string) *TargetGroup {
		var ts []*Target
		for i, a := range addrs {
			tg := f.reg.Get(name, fmt.Sprint(i), 0, a, "zone-a")
			tg.SetHealthy(true)
			ts = append(ts, tg)
		}
		return NewTargetGroup("arn:"+name, name, ts, RoundRobin, 0, nil)
	}
	rawG, deadG, slowG, emptyG := group("raw", raw), group("dead", freeAddr(t)), group("slow", hostport(slow)), group("empty")
	forward := func(path string, g *TargetGroup) *Rule {
		return &Rule{Priority: 1, Conditions: Conditions{Paths: []string{path}},
			Action: Action{Type: ActionForward, Groups: []WeightedGroup{{Group: g, Weight: 1}}}}
	}
	old := f.srv.Table().Listeners[f.addr]
	l := &Listener{Addr: f.addr, Port: old.Port, Protocol: old.Protocol, TLS: old.TLS, LoadBalancer: f.lb, Rules: []*Rule{
		forward("/t/*", f.group), forward("/raw", rawG), forward("/dead", deadG), forward("/slow", slowG), forward("/empty", emptyG),
		{Priority: 2, Conditions: Conditions{Paths: []string{"/fixed"}}, Action: Action{Type: ActionFixedResponse, FixedStatus: 200, FixedContentType: "text/plain", FixedBody: "fixed"}},
		{Priority: 3, Conditions: Conditions{Paths: []string{"/fixed-503"}}, Action: Action{Type: ActionFixedResponse, FixedStatus: 503, FixedBody: "maintenance"}},
		{Priority: 4, Conditions: Conditions{Paths: []string{"/redirect"}}, Action: Action{Type: ActionRedirect, Redirect: &RedirectConfig{Protocol: "HTTPS", Port: "443", StatusCode: 301}}},
	}}
	if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: l}}); err != nil {
		t.Fatal(err)
	}
	targets := append([]*Target{}, f.group.Targets...)
	for _, g := range []*TargetGroup{rawG, deadG, slowG} {
		targets = append(targets, g.Targets...)
	}
	return f, targets
}

// exchange sends one request on a connection of its own and reads the
// answer to the end of the connection. It returns the status, the HTTP
// bytes the client wrote and read (for HTTP/2, whose framing is the
// library's, only the path and the body) and the bytes it moved on the
// wire (TLS records included).
func (e statsEngine) exchange(t *testing.T, f *fixture, method, path, raw string) (status int, plain, wire int64) {
	t.Helper()
	var wireN, plainN atomic.Int64
	if e.h2 {
		tr := &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &countingConn{c, &wireN}, nil
			},
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true,
		}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(method, "https://"+f.addr+path, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("served over %s, want HTTP/2", resp.Proto)
		}
		return resp.StatusCode, int64(len(path)) + n, wireN.Load()
	}
	if raw == "" {
		raw = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	}
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var c net.Conn = &countingConn{nc, &wireN}
	if e.https {
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	pc := &countingConn{c, &plainN}
	io.WriteString(pc, raw)
	br := bufio.NewReader(pc)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	io.Copy(io.Discard, br) // to the end: each request asks for the connection to close
	return resp.StatusCode, plainN.Load(), wireN.Load()
}

// h2CloseSlack is what an HTTP/2 server may write as its client closes
// (GOAWAY, TLS close_notify) that the client does not read.
const h2CloseSlack = 256

// Every response lands in the right count, once: the target's by class,
// the load balancer's own (error pages, fixed responses, redirects) in the
// ELB counts; each connection is counted once; ProcessedBytes holds every
// byte the client moved.
func TestLoadBalancerStatsCountResponses(t *testing.T) {
	type delta struct {
		elb               [elbClasses]uint64
		target            [4]uint64
		fixed, redirects  uint64
		skipH2            bool   // HTTP/2 cannot send it (the h2 server refuses it first)
		method, path, raw string // raw: a request as sent, instead of method and path
	}
	cases := []struct {
		name   string
		status int
		delta
	}{
		{"target 2xx", 200, delta{target: [4]uint64{1, 0, 0, 0}, method: "GET", path: "/t/200"}},
		{"target 3xx", 301, delta{target: [4]uint64{0, 1, 0, 0}, method: "GET", path: "/t/301"}},
		{"target 4xx", 404, delta{target: [4]uint64{0, 0, 1, 0}, method: "GET", path: "/t/404"}},
		{"target 5xx", 500, delta{target: [4]uint64{0, 0, 0, 1}, method: "GET", path: "/t/500"}},
		{"target close-delimited", 200, delta{target: [4]uint64{1, 0, 0, 0}, method: "GET", path: "/raw"}},
		{"HTTP/1.0 (loops hand the connection over)", 200, delta{target: [4]uint64{1, 0, 0, 0}, skipH2: true, method: "GET", raw: "GET /t/200 HTTP/1.0\r\nHost: x\r\n\r\n"}},
		{"no rule", 404, delta{elb: [elbClasses]uint64{1, 0, 0, 0, 0}, method: "GET", path: "/nothing"}},
		{"TRACE", 405, delta{elb: [elbClasses]uint64{1, 0, 0, 0, 0}, method: "TRACE", path: "/t/200"}},
		{"bad request", 400, delta{elb: [elbClasses]uint64{1, 0, 0, 0, 0}, skipH2: true, method: "GET", raw: "HELLO\r\n\r\n"}},
		{"target refuses", 502, delta{elb: [elbClasses]uint64{0, 1, 1, 0, 0}, method: "GET", path: "/dead"}},
		{"no targets", 503, delta{elb: [elbClasses]uint64{0, 1, 0, 1, 0}, method: "GET", path: "/empty"}},
		{"target times out", 504, delta{elb: [elbClasses]uint64{0, 1, 0, 0, 1}, method: "GET", path: "/slow"}},
		{"fixed response", 200, delta{fixed: 1, method: "GET", path: "/fixed"}},
		{"fixed response 503", 503, delta{fixed: 1, elb: [elbClasses]uint64{0, 1, 0, 1, 0}, method: "GET", path: "/fixed-503"}},
		{"redirect", 301, delta{redirects: 1, method: "GET", path: "/redirect"}},
	}
	for _, e := range statsEngines {
		t.Run(e.name, func(t *testing.T) {
			f, targets := statsFixture(t, e)
			st := f.lb.Stats
			for _, tc := range cases {
				if tc.skipH2 && e.h2 {
					continue
				}
				before := countsOf(st, targets)
				bytesBefore := st.ProcessedBytes.Load()
				status, plain, wire := e.exchange(t, f, tc.method, tc.path, tc.raw)
				if status != tc.status {
					t.Fatalf("%s: status %d, want %d", tc.name, status, tc.status)
				}
				// Once the connection is closed, all its counting is done.
				waitUntil(t, tc.name+": no active connection", func() bool { return st.ActiveConnections.Load() == 0 })
				got := countsOf(st, targets).sub(before)
				want := lbCounts{newConns: 1, elb: tc.elb, target: tc.target, fixed: tc.fixed, redirects: tc.redirects}
				if got != want {
					t.Errorf("%s: counted %+v, want %+v", tc.name, got, want)
				}
				b := int64(st.ProcessedBytes.Load() - bytesBefore)
				switch {
				case !e.https && b != plain:
					t.Errorf("%s: ProcessedBytes grew by %d, the client moved %d", tc.name, b, plain)
				case e.https && !e.h2 && (b < plain || b > wire):
					t.Errorf("%s: ProcessedBytes grew by %d, want the %d HTTP bytes to the %d on the wire", tc.name, b, plain, wire)
				case e.h2 && (b < plain || b > wire+h2CloseSlack):
					t.Errorf("%s: ProcessedBytes grew by %d, want the %d bytes of path and body to the %d on the wire", tc.name, b, plain, wire)
				}
			}
		})
	}
}

// NewConnections counts accepted connections, ActiveConnections those
// open, back to 0 once the clients close; keep-alive requests add none.
func TestLoadBalancerStatsCountConnections(t *testing.T) {
	b := backend(t, "a", nil)
	for _, e := range statsEngines {
		t.Run(e.name, func(t *testing.T) {
			f := engineFixture(t, e.loops, e.https, hostport(b))
			st := f.lb.Stats
			const n = 3
			var closers []func()
			for range n {
				if e.h2 {
					tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
					client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
					for range 2 {
						resp, err := client.Get("https://" + f.addr + "/")
						if err != nil {
							t.Fatal(err)
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					closers = append(closers, tr.CloseIdleConnections)
					continue
				}
				c := dialEngine(t, f, e.https)
				br := bufio.NewReader(c)
				for range 2 { // keep-alive: one connection
					io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
					readResponse(t, br, "GET")
				}
				closers = append(closers, func() { c.Close() })
			}
			waitUntil(t, "3 active connections", func() bool { return st.ActiveConnections.Load() == n })
			if got := st.NewConnections.Load(); got != n {
				t.Fatalf("NewConnections %d, want %d", got, n)
			}
			for _, cl := range closers {
				cl()
			}
			waitUntil(t, "no active connection", func() bool { return st.ActiveConnections.Load() == 0 })
			if got := st.NewConnections.Load(); got != n {
				t.Fatalf("NewConnections %d after closing, want %d", got, n)
			}
			if got := st.RejectedConnections.Load(); got != 0 {
				t.Fatalf("RejectedConnections %d, want 0", got)
			}
		})
	}
}

// A client the security group refuses counts as rejected, not as a
// connection.
func TestLoadBalancerStatsCountRejected(t *testing.T) {
	for _, loops := range []bool{false, true} {
		t.Run(fmt.Sprint("loops=", loops), func(t *testing.T) {
			f := engineFixture(t, loops, false)
			lb := *f.lb
			lb.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
			f.lb = &lb
			f.apply(t)
			c := dialEngine(t, f, false)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Fatalf("a refused client got an answer (%d, %v)", n, err)
			}
			st := f.lb.Stats
			waitUntil(t, "a rejected connection", func() bool { return st.RejectedConnections.Load() == 1 })
			if n, a, p := st.NewConnections.Load(), st.ActiveConnections.Load(), st.ProcessedBytes.Load(); n != 0 || a != 0 || p != 0 {
				t.Fatalf("a refused connection counted: new %d, active %d, bytes %d", n, a, p)
			}
		})
	}
}

// A load balancer without stats (as tests build them) is served all the
// same: nothing is counted, nothing fails.
func TestLoadBalancerWithoutStats(t *testing.T) {
	b := backend(t, "a", nil)
	for _, e := range statsEngines {
		if e.h2 {
			continue // the HTTP/1 engines start it
		}
		t.Run(e.name, func(t *testing.T) {
			f := engineFixture(t, e.loops, e.https, hostport(b), freeAddr(t))
			lb := *f.lb
			lb.Stats = nil
			f.lb = &lb
			old := f.srv.Table().Listeners[f.addr]
			l := *old
			l.LoadBalancer = f.lb
			l.Rules = append([]*Rule{{Priority: 1, Conditions: Conditions{Paths: []string{"/fixed"}}, Action: Action{Type: ActionFixedResponse, FixedStatus: 404}}}, old.Rules...)
			if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: &l}}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []struct {
				path   string
				status int
			}{{"/", 200}, {"/", 200}, {"/fixed", 404}} { // one of the targets refuses: a retry
				c := dialEngine(t, f, e.https)
				io.WriteString(c, "GET "+want.path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				if resp, _ := readResponse(t, bufio.NewReader(c), "GET"); resp.StatusCode != want.status {
					t.Fatalf("%s: %d, want %d", want.path, resp.StatusCode, want.status)
				}
			}
			c := dialEngine(t, f, e.https)
			io.WriteString(c, "HELLO\r\n\r\n")
			if resp, _ := readResponse(t, bufio.NewReader(c), "GET"); resp.StatusCode != 400 {
				t.Fatalf("bad request: %d, want 400", resp.StatusCode)
			}
		})
	}
}
