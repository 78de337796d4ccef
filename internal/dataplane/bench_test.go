package dataplane

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawBackend answers every request with a fixed 1 KB body, as the issue's
// benchmark does, with a minimal HTTP/1.1 server (so its allocations do
// not blur the proxy's).
func rawBackend(b testing.TB) string {
	body := strings.Repeat("x", 1024)
	resp := []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	return tcpTarget(b, func(c net.Conn) {
		c.SetDeadline(time.Time{}) // a benchmark's connection lives as long as it runs
		br := bufio.NewReader(c)
		for {
			// Read a head up to the blank line.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// BenchmarkForward measures one keep-alive GET through the proxy, with
// health-checked targets, X-Forwarded headers and per-target counting as
// configured for users. Allocations per op are the proxy's and the test
// client's (which reuses its buffers).
func BenchmarkForward(b *testing.B) {
	a1, a2 := rawBackend(b), rawBackend(b)
	f := newFixture(b, RoundRobin, a1, a2)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchExchanges(b, c)
}

// benchExchanges times keep-alive GETs on c, each answered by a head and
// a 1 KB body.
func benchExchanges(b *testing.B, c net.Conn) {
	req := []byte("GET /discover?type=movie HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, 4096)
	readResp := func() {
		n := 0
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				b.Fatal(err)
			}
			n += m
			// Head plus 1 KB body.
			if i := bytes.Index(buf[:n], crlfcrlf); i > 0 && n >= i+4+1024 {
				return
			}
		}
	}
	for i := 0; i < 100; i++ { // warm the pools
		c.Write(req)
		readResp()
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		readResp()
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// BenchmarkNewConnPerRequest measures a GET on a new client connection
// each time (Connection: close), as wrk -H 'Connection: close' loads it:
// accept, the exchange over a pooled target connection, close.
func BenchmarkNewConnPerRequest(b *testing.B) {
	a1, a2 := rawBackend(b), rawBackend(b)
	f := newFixture(b, RoundRobin, a1, a2)
	req := []byte("GET /discover?type=movie HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(req)
		n := 0
		for {
			m, err := c.Read(buf[n:])
			n += m
			if err != nil {
				break
			}
		}
		c.Close()
		if n < 1024 {
			b.Fatalf("response of %d bytes", n)
		}
	}
}
