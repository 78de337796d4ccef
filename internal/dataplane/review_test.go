package dataplane

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawRequests sends each of raws on one connection, pause apart, and reads
// a response after each (its body in the X-Test-Body header). It reports
// errors rather than failing the test, so goroutines may call it too.
func rawRequests(t *testing.T, addr string, raws []string, pause time.Duration) ([]*http.Response, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var out []*http.Response
	for i, raw := range raws {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := io.WriteString(c, raw); err != nil {
			return out, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return out, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return out, err
		}
		resp.Header.Set("X-Test-Body", string(body))
		out = append(out, resp)
	}
	return out, nil
}

// A non-idempotent request fully written to a reused connection whose target
// then closes without answering may have been processed: it must not be sent
// again (on a fresh connection or elsewhere).
func TestNoReplayOfNonIdempotentOnStaleConn(t *testing.T) {
	cases := []struct {
		method string
		want   int // receipts of the second request
	}{
		{"POST", 1},
		{"PATCH", 1},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			var second atomic.Int32
			target := tcpTarget(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if req.URL.Path == "/second" {
						second.Add(1)
						return // processed, then died without answering
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			})
			f := newFixture(t, RoundRobin, target)
			_, _ = rawRequests(t, f.addr, []string{
				tc.method + " /first HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
				tc.method + " /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
			}, 0)
			time.Sleep(100 * time.Millisecond)
			if n := second.Load(); int(n) != tc.want {
				t.Errorf("target received the %s %d times, want %d", tc.method, n, tc.want)
			}
		})
	}
}

// The idle timeout counts from the end of the last exchange: a keep-alive
// client idle for less than the timeout must still be served.
func TestIdleTimeoutCountsFromLastActivity(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		work    time.Duration // target's time to answer
		idle    time.Duration // client's pause between requests
	}{
		{"slow target", 1 * time.Second, 450 * time.Millisecond, 750 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(tc.work)
				w.Write([]byte("ok"))
			})
			f := newFixture(t, RoundRobin, hostport(b))
			f.lb.IdleTimeout = tc.timeout
			f.apply(t)
			req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
			resps, err := rawRequests(t, f.addr, []string{req, req}, tc.idle)
			if err != nil || len(resps) != 2 {
				t.Fatalf("second request after %v idle (timeout %v): %d responses, %v", tc.idle, tc.timeout, len(resps), err)
			}
		})
	}
}

// A request in absolute-form is routed (and forwarded) by its path and
// authority, not by the raw target and the Host field (RFC 9112 §3.2.2).
func TestAbsoluteFormTarget(t *testing.T) {
	var gotPath, gotHost atomic.Value
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.RequestURI())
		gotHost.Store(r.Host)
		w.Write([]byte("ok"))
	})
	f := newFixture(t, RoundRobin, hostport(b))
	_, port, _ := net.SplitHostPort(f.addr)
	p, _ := strconv.Atoi(port)
	l := &Listener{Addr: f.addr, Port: p, Protocol: "HTTP", LoadBalancer: f.lb,
		Rules: []*Rule{
			{Conditions: Conditions{Paths: []string{"/admin*"}}, Action: Action{Type: ActionFixedResponse, FixedStatus: 403}},
			{Conditions: Conditions{Hosts: []string{"internal.example"}}, Action: Action{Type: ActionFixedResponse, FixedStatus: 403}},
			{Action: Action{Type: ActionForward, Groups: []WeightedGroup{{Group: f.group, Weight: 1}}}},
		}}
	if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: l}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		raw      string
		want     int
		wantPath string
		wantHost string
	}{
		{"path rule", "GET http://x/admin/users HTTP/1.1\r\nHost: x\r\n\r\n", 403, "", ""},
		{"path rule upper scheme", "GET HTTP://x/admin HTTP/1.1\r\nHost: x\r\n\r\n", 403, "", ""},
		{"host rule", "GET http://internal.example/ HTTP/1.1\r\nHost: public.example\r\n\r\n", 403, "", ""},
		{"forwarded", "GET http://public.example/a?b=1 HTTP/1.1\r\nHost: other.example\r\n\r\n", 200, "/a?b=1", "public.example:" + port},
		{"empty path", "GET http://public.example HTTP/1.1\r\nHost: public.example\r\n\r\n", 200, "/", "public.example:" + port},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gotPath.Store("")
			gotHost.Store("")
			resps, err := rawRequests(t, f.addr, []string{tc.raw}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if resps[0].StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resps[0].StatusCode, tc.want)
			}
			if tc.want == 200 {
				if gotPath.Load() != tc.wantPath || gotHost.Load() != tc.wantHost {
					t.Errorf("target saw %q host %q, want %q host %q", gotPath.Load(), gotHost.Load(), tc.wantPath, tc.wantHost)
				}
			}
		})
	}
}

// An HTTP/1.0 message with Transfer-Encoding has faulty framing (RFC 9112
// §6.1): it gets a 400, the connection closes, and the target gets
// nothing, keep-alive or not.
func TestHTTP10TransferEncodingIsRefused(t *testing.T) {
	var reached atomic.Int32
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })
	f := newFixture(t, RoundRobin, hostport(b))
	cases := []struct {
		name string
		raw  string
	}{
		{"keep-alive chunked", "POST / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.raw+"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			if resp.StatusCode != 400 {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if _, err := http.ReadResponse(br, nil); err == nil {
				t.Errorf("connection kept open after an HTTP/1.0 message with Transfer-Encoding")
			}
			if n := reached.Load(); n != 0 {
				t.Errorf("the target got %d requests", n)
			}
		})
	}
}

// Chunked trailer lines are forwarded: they must be well-formed fields, or a
// target that splits lines differently could read something else.
func TestBadTrailersRejected(t *testing.T) {
	var hits atomic.Int32
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hits.Add(1)
	})
	f := newFixture(t, RoundRobin, hostport(b))
	head := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
	cases := []struct {
		name    string
		trailer string
		ok      bool
	}{
		{"good", "X-Sum: 1\r\n", true},
		{"bare CR", "X-Sum: 1\rX-Evil: 2\r\n", false},
		{"no colon", "GET /smuggled HTTP/1.1\r\n", false},
		{"folded", "X-Sum: 1\r\n  more\r\n", false},
		{"NUL", "X-Sum: a\x00b\r\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, head+tc.trailer+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if tc.ok {
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("good trailer: %v %v", resp, err)
				}
				return
			}
			time.Sleep(50 * time.Millisecond)
			if err == nil && resp.StatusCode == 200 {
				t.Errorf("malformed trailer %q forwarded (status 200)", tc.trailer)
			}
			_ = before
		})
	}
}

// A 101 response must tell the client which protocol it switched to
// (Upgrade) and that the connection was upgraded (Connection: Upgrade), or
// a WebSocket client fails the handshake (RFC 6455 §4.1, RFC 9110 §7.8).
func TestSwitchingProtocolsKeepsUpgradeFields(t *testing.T) {
	cases := []struct {
		name, upgrade string
	}{
		{"websocket", "websocket"},
		{"h2c-like token", "foo/2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tcpTarget(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "+tc.upgrade+"\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n")
				io.Copy(c, br)
			})
			f := newFixture(t, RoundRobin, target)
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: "+tc.upgrade+"\r\nConnection: Upgrade\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != tc.upgrade ||
				!strings.EqualFold(resp.Header.Get("Connection"), "upgrade") || resp.Header.Get("Sec-WebSocket-Accept") != "abc" {
				t.Errorf("status %d header %v", resp.StatusCode, resp.Header)
			}
		})
	}
}

// The idle timeout applies to an upgraded (WebSocket) connection too: with
// no data either way for that long, both connections are closed; traffic in
// either direction keeps it open.
func TestTunnelIdleTimeout(t *testing.T) {
	cases := []struct {
		name   string
		pings  int // client pings, one every 400ms, before going quiet
		within time.Duration
	}{
		{"quiet", 0, 3 * time.Second},
		{"active then quiet", 4, 4 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			targetClosed := make(chan struct{})
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
				io.Copy(c, br)
				close(targetClosed)
			}()
			f := newFixture(t, RoundRobin, ln.Addr().String())
			f.lb.IdleTimeout = time.Second
			f.apply(t)
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			c.SetDeadline(start.Add(tc.within + 2*time.Second))
			io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			buf := make([]byte, 4)
			for i := 0; i < tc.pings; i++ {
				time.Sleep(400 * time.Millisecond)
				io.WriteString(c, "ping")
				if _, err := io.ReadFull(br, buf); err != nil {
					t.Fatalf("ping %d: %v (tunnel closed while active)", i, err)
				}
			}
			quiet := time.Now()
			if _, err := br.ReadByte(); err == nil || os.IsTimeout(err) {
				t.Fatalf("tunnel not closed after %v idle: %v", time.Since(quiet), err)
			}
			if d := time.Since(quiet); d < 900*time.Millisecond {
				t.Errorf("tunnel closed after %v idle, before the 1s timeout", d)
			}
			select {
			case <-targetClosed:
			case <-time.After(2 * time.Second):
				t.Errorf("target side of the tunnel not closed")
			}
		})
	}
}

// Chunked must be the final transfer coding of a request (RFC 9112 §6.3):
// otherwise its length cannot be determined, and a peer that reads the
// list differently would frame it otherwise.
func TestChunkedNotFinalRejected(t *testing.T) {
	var hits atomic.Int32
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	f := newFixture(t, RoundRobin, hostport(b))
	cases := []struct {
		name string
		te   string
		want int
	}{
		{"chunked then identity", "Transfer-Encoding: chunked, identity\r\n", 501},
		{"two fields", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", 501},
		{"identity then chunked", "Transfer-Encoding: identity, chunked\r\n", 501}, // RFC 9112 dropped identity
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			resps, err := rawRequests(t, f.addr, []string{"POST / HTTP/1.1\r\nHost: x\r\n" + tc.te + "\r\n3\r\nabc\r\n0\r\n\r\n"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if resps[0].StatusCode != tc.want {
				t.Errorf("status %d, want %d", resps[0].StatusCode, tc.want)
			}
			if tc.want != 200 && hits.Load() != before {
				t.Errorf("request reached the target")
			}
		})
	}
}

// An HTTP/1.0 client gets no 1xx response (RFC 9110 §15.2), and its
// 100-continue expectation is ignored (§10.1.1): it would read a 100 as the
// final response.
func TestNoInterimResponseToHTTP10(t *testing.T) {
	b := backend(t, "a", nil)
	f := newFixture(t, RoundRobin, hostport(b))
	cases := []struct {
		name, proto string
		want        []int
	}{
		{"HTTP/1.0", "HTTP/1.0", []int{200}},
		{"HTTP/1.1", "HTTP/1.1", []int{100, 200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "POST / "+tc.proto+"\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
			br := bufio.NewReader(c)
			if tc.proto == "HTTP/1.1" {
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != 100 {
					t.Fatalf("interim: %v %v", resp, err)
				}
				io.WriteString(c, "abc")
				resp, err = http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("final: %v %v", resp, err)
				}
				return
			}
			time.Sleep(100 * time.Millisecond)
			io.WriteString(c, "abc")
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("first response to an HTTP/1.0 client: %v %v", resp.Status, err)
			}
		})
	}
}
