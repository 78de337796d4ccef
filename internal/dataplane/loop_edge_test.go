//go:build linux

package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Edge cases of the event loops: each runs on both engines, which must
// behave alike.

// writeWithFIN writes b and the FIN in one TCP segment (TCP_CORK holds the
// data until shutdown tacks the FIN on), so the peer gets data and end of
// stream in a single readiness edge.
func writeWithFIN(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	rc.Control(func(fd uintptr) {
		if werr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, 1); werr != nil {
			return
		}
		for len(b) > 0 && werr == nil {
			var n int
			n, werr = syscall.Write(int(fd), b)
			if werr == syscall.EAGAIN {
				werr = nil
				time.Sleep(time.Millisecond)
				continue
			}
			if werr == nil {
				b = b[n:]
			}
		}
		if werr == nil {
			werr = syscall.Shutdown(int(fd), syscall.SHUT_WR)
		}
	})
	if werr != nil {
		t.Fatal(werr)
	}
}

// A target that sends half a response head and closes gets a prompt 502.
// The FIN arrives in the same edge as the data: a short read that cleared
// `readable` would leave the EOF unread, and the client would wait the
// idle timeout for a 504.
func TestEdgeTruncatedResponseHeadIs502(t *testing.T) {
	addr := rawTarget(t, func(c net.Conn, _ *http.Request) {
		writeWithFIN(t, c, []byte("HTTP/1.1 200 OK\r\nContent-Le"))
	})
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprintf("loops=%v", loops), func(t *testing.T) {
			f := engineFixtureIdle(t, loops, false, 2*time.Second, addr)
			c := dialEngine(t, f, false)
			start := time.Now()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, _ := readResponse(t, bufio.NewReader(c), "GET")
			if d := time.Since(start); resp.StatusCode != 502 || d > time.Second {
				t.Fatalf("status %d after %v, want 502 at once", resp.StatusCode, d.Round(time.Millisecond))
			}
			if loops {
				waitNoOutstanding(t, f.srv)
			}
		})
	}
}

// A target that closes its keep-alive connection right after a response
// (without Connection: close) must not make a later POST fail: the FIN
// comes in the same edge as the response, and were it lost the POST would
// go out on the dead connection, the client would get a 502 and the
// healthy target would be marked down.
func TestEdgePooledConnClosedWithResponse(t *testing.T) {
	addr := rawTarget(t, func(c net.Conn, _ *http.Request) {
		writeWithFIN(t, c, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	})
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprintf("loops=%v", loops), func(t *testing.T) {
			f := engineFixture(t, loops, false, addr)
			post := "POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
			resps, err := rawRequests(t, f.addr, []string{fmt.Sprintf(post, 1), fmt.Sprintf(post, 2)}, 600*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range resps {
				if r.StatusCode != 200 {
					t.Errorf("POST %d: status %d, want 200", i+1, r.StatusCode)
				}
			}
			tg := f.group.Targets[0]
			if tg.PassiveDown() || tg.ConnErrors.Load() != 0 {
				t.Errorf("healthy target marked down (conn errors %d)", tg.ConnErrors.Load())
			}
			if loops {
				waitNoOutstanding(t, f.srv)
			}
		})
	}
}

// A client that sends its request and half-closes gets its response and
// then the connection closes. On the loop the FIN came with the request
// bytes, the short read cleared `readable`, and the connection lingers for
// the whole idle timeout. (Intermittent on the loop: any later wake-up on
// the socket reports EPOLLIN again and rescues it; about half the runs fail.)
func TestEdgeClientHalfCloseEndsConnection(t *testing.T) {
	b := backend(t, "a", nil)
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprintf("loops=%v", loops), func(t *testing.T) {
			f := engineFixtureIdle(t, loops, false, 3*time.Second, hostport(b))
			c := dialEngine(t, f, false)
			writeWithFIN(t, c, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			br := bufio.NewReader(c)
			resp, body := readResponse(t, br, "GET")
			if resp.StatusCode != 200 || string(body) != "hello from a" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("unexpected bytes")
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("connection closed %v after the response to a half-closed client, want at once", d.Round(time.Millisecond))
			}
		})
	}
}

// A graceful shutdown closes idle connections but lets a request that has
// started arriving finish: a connection holding half a head, or a head
// whose small body is on its way, is not closed without an answer.
func TestEdgeGracefulShutdownKeepsRequestInProgress(t *testing.T) {
	b := backend(t, "a", nil)
	cases := []struct {
		name        string
		first, rest string
	}{
		{"half a head", "GET / HTTP/1.1\r\nHost: x\r\n", "\r\n"},
		{"head without its body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", "hello"},
	}
	for _, tc := range cases {
		for _, loops := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/loops=%v", tc.name, loops), func(t *testing.T) {
				f := engineFixture(t, loops, false, hostport(b))
				c := dialEngine(t, f, false)
				io.WriteString(c, tc.first)
				time.Sleep(100 * time.Millisecond)
				shut := make(chan error, 1)
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					shut <- f.srv.Shutdown(ctx)
				}()
				time.Sleep(100 * time.Millisecond)
				io.WriteString(c, tc.rest)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("request in progress at shutdown got no response: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || string(body) != "hello from a" || !resp.Close {
					t.Fatalf("%d %q close=%v", resp.StatusCode, body, resp.Close)
				}
				if err := <-shut; err != nil {
					t.Fatalf("shutdown: %v", err)
				}
			})
		}
	}
}

// Target.CloseIdleConns (the controller calls it with a 30s cutoff) closes
// idle pooled connections to the target. The loops keep pools of their own
// that it never reaches: their idle connections are never aged out.
func TestEdgeCloseIdleConnsReachesLoopPools(t *testing.T) {
	closed := make(chan struct{}, 4)
	target := tcpTarget(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				if err == io.EOF || strings.Contains(err.Error(), "reset") {
					closed <- struct{}{}
				}
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprintf("loops=%v", loops), func(t *testing.T) {
			f := engineFixture(t, loops, false, target)
			resps, err := rawRequests(t, f.addr, []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}, 0)
			if err != nil || resps[0].StatusCode != 200 {
				t.Fatalf("request: %v", err)
			}
			// Asked again until the connection is back in the pool and closed.
			deadline := time.After(5 * time.Second)
			for done := false; !done; {
				f.group.Targets[0].CloseIdleConns(time.Now().Add(time.Second))
				select {
				case <-closed:
					done = true
				case <-time.After(100 * time.Millisecond):
				case <-deadline:
					t.Fatal("the idle pooled connection to the target stayed open")
				}
			}
		})
	}
}

// A request whose target attempt fails (refused, timed out, cut off in
// the body) gives its target connection back to the loop's count of
// requests in flight, as a completed one does.
func TestEventLoopFailedAttemptsLeaveNothingOutstanding(t *testing.T) {
	hang := rawTarget(t, func(c net.Conn, _ *http.Request) {
		time.Sleep(2 * time.Second)
	})
	cut := rawTarget(t, func(c net.Conn, _ *http.Request) {
		writeWithFIN(t, c, []byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
	})
	cases := []struct {
		name   string
		target string
		status int // 0: the connection closes mid-response
	}{
		{"refused", freeAddr(t), 502},
		{"timeout", hang, 504},
		{"cut in the body", cut, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := engineFixtureIdle(t, true, false, 300*time.Millisecond, tc.target)
			c := dialEngine(t, f, false)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			switch {
			case tc.status != 0 && resp.StatusCode != tc.status:
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			case tc.status == 0 && err == nil:
				t.Fatal("a cut response body read to its end without error")
			}
			waitNoOutstanding(t, f.srv)
		})
	}
}

// lateBodyTarget is a raw target that answers /first (HEAD, or a request
// answered 204 or 304) with a head that declares a body and then, a moment
// later, sends what a buggy target sends: those bytes, shaped as a second
// response. Every other request gets "RIGHT".
func lateBodyTarget(t *testing.T, first string) string {
	return tcpTarget(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.URL.Path == "/first" {
				io.WriteString(c, first)
				time.Sleep(30 * time.Millisecond)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG")
				continue
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nRIGHT")
		}
	})
}

// Bytes a target sends after a response that has no body (to HEAD, a 204,
// a 304) never become the answer to the next request on that pooled
// connection, in either engine.
func TestBytesAfterABodilessResponseDoNotLeak(t *testing.T) {
	cases := []struct{ name, method, first string }{
		{"HEAD with a length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
		{"HEAD chunked", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"204 with a length", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"},
		{"304 with a length", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"},
	}
	for _, loops := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("loops=%v/%s", loops, tc.name), func(t *testing.T) {
				f := engineFixture(t, loops, false, lateBodyTarget(t, tc.first))
				c := dialEngine(t, f, false)
				br := bufio.NewReader(c)
				fmt.Fprintf(c, "%s /first HTTP/1.1\r\nHost: x\r\n\r\n", tc.method)
				req, _ := http.NewRequest(tc.method, "/first", nil)
				resp, err := http.ReadResponse(br, req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				// The late bytes have arrived on the pooled connection.
				time.Sleep(100 * time.Millisecond)
				io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err = http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || string(body) != "RIGHT" {
					t.Errorf("the next request got %d %q, want 200 \"RIGHT\"", resp.StatusCode, body)
				}
			})
		}
	}
}

// A target that answers before the upload is over (a 413 for a body it
// will not take) gets its answer to the client, not ALB's 502, in either
// engine.
func TestEarlyAnswerDuringAnUploadReachesTheClient(t *testing.T) {
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 1<<20 {
			w.Header().Set("Content-Length", "4")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, "big!")
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprintf("loops=%v", loops), func(t *testing.T) {
			f := engineFixture(t, loops, false, hostport(b))
			c := dialEngine(t, f, false)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			const size = 32 << 20
			fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
			// The upload goes on while the answer comes; its writes fail
			// once the load balancer stops reading, which is fine.
			go func() {
				chunk := make([]byte, 64<<10)
				for sent := 0; sent < size; sent += len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 413 || string(body) != "big!" {
				t.Errorf("got %d %q, want the target's 413 \"big!\"", resp.StatusCode, body)
			}
		})
	}
}

// A client that stops sending in the middle of its body gets ALB's 408
// once the idle timeout passes, and the target connection that carried the
// start of the body is closed, not pooled, in either engine.
func TestClientStalledMidBodyGets408(t *testing.T) {
	readErrs := make(chan error, 4)
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/stall" {
			readErrs <- err
		}
		io.WriteString(w, "ok")
	})
	for _, loops := range []bool{true, false} {
		t.Run(fmt.Sprintf("loops=%v", loops), func(t *testing.T) {
			f := engineFixtureIdle(t, loops, false, 300*time.Millisecond, hostport(b))
			c := dialEngine(t, f, false)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", 200000, strings.Repeat("a", 100000))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 408 || !resp.Close {
				t.Errorf("got %d (close %v), want ALB's 408 and Connection: close", resp.StatusCode, resp.Close)
			}
			select {
			case err := <-readErrs:
				if err == nil {
					t.Error("the target read a whole body that was never sent")
				}
			case <-time.After(5 * time.Second):
				t.Error("the target connection was left open with half a body")
			}
		})
	}
}

// A target that dies in the middle of a response: a client that had
// received no byte gets ALB's 502, never a bare close; one whose response
// had started sees the connection close before the body ends.
func TestTargetDyingMidResponseIsNeverASilentClose(t *testing.T) {
	cases := []struct {
		name, answer string
		status       int // 0: the head arrives, then the body is cut
	}{
		{"nothing", "", 502},
		{"half a head", "HTTP/1.1 200 OK\r\nContent-Le", 502},
		{"a head, no body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0},
		{"a head, half a body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("b", 50), 0},
		{"a chunked head, no chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
	}
	for _, loops := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("loops=%v/%s", loops, tc.name), func(t *testing.T) {
				f := engineFixture(t, loops, false, rawTarget(t, func(c net.Conn, _ *http.Request) { io.WriteString(c, tc.answer) }))
				c := dialEngine(t, f, false)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
				got, _ := io.ReadAll(c)
				if len(got) == 0 {
					t.Fatal("the client connection closed with no byte of an answer")
				}
				resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), nil)
				if err != nil {
					t.Fatalf("not an HTTP answer: %q", got)
				}
				if tc.status != 0 && resp.StatusCode != tc.status {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
				}
				if tc.status == 0 {
					if resp.StatusCode != 200 {
						t.Errorf("status %d, want the target's 200 cut short", resp.StatusCode)
					}
					if _, err := io.ReadAll(resp.Body); err == nil {
						t.Error("the cut body reads as complete")
					}
				}
			})
		}
	}
}

// A streamed upload that no target can take (an empty group) gets the
// load balancer's 503, and the connection closes: the body is not read,
// so what follows it on the connection is not a request.
func TestStreamedUploadWithNoTargetCloses(t *testing.T) {
	for _, tc := range []struct{ name, req string }{
		{"chunked", "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"},
		{"large", "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("b", 20000)},
	} {
		for _, loops := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/loops=%v", tc.name, loops), func(t *testing.T) {
				f := engineFixture(t, loops, false)
				c := dialEngine(t, f, false)
				io.WriteString(c, tc.req)
				br := bufio.NewReader(c)
				resp, _ := readResponse(t, br, "POST")
				if resp.StatusCode != 503 || !resp.Close {
					t.Fatalf("%d, close %v: want 503 and the connection's end", resp.StatusCode, resp.Close)
				}
				if _, err := br.ReadByte(); err == nil {
					t.Fatal("bytes after the answer")
				}
			})
		}
	}
}
