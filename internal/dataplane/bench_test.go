package dataplane

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
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

// BenchmarkSlowClients measures what 5,000 clients trickling their request
// heads (slowloris) cost normal clients: the latency of keep-alive GETs
// from 8 clients for 3 s, first with nothing else connected, then with the
// trickling clients each sending a header line every 200 ms. It reports
// both p99s and their ratio (issue 15: within 2×).
func BenchmarkSlowClients(b *testing.B) {
	const slow = 5000
	f := newFixture(b, RoundRobin, rawBackend(b), rawBackend(b))
	lb := *f.lb
	lb.IdleTimeout = time.Minute // ALB's default: the slow clients stay for the run
	f.lb = &lb
	f.apply(b)
	// run loads for 3 s at least (15 rounds of the slow clients' lines).
	run := func() time.Duration {
		const workers = 8
		per := max(b.N/workers, 200)
		start := time.Now()
		lat := make([][]time.Duration, workers)
		done := make(chan struct{})
		for w := range workers {
			go func() {
				defer func() { done <- struct{}{} }()
				c, err := net.Dial("tcp", f.addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				req := []byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
				for i := 0; i < per || time.Since(start) < 3*time.Second; i++ {
					t0 := time.Now()
					c.Write(req)
					if err := readBenchResponse(br); err != nil {
						b.Error(err)
						return
					}
					lat[w] = append(lat[w], time.Since(t0))
				}
			}()
		}
		for range workers {
			<-done
		}
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		return percentile(all, 0.99)
	}
	idle := run()

	conns := make([]net.Conn, 0, slow)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range slow {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			b.Fatalf("slow client %d: %v", len(conns), err)
		}
		c.Write([]byte("GET / HTTP/1.1\r\nHost: bench\r\n"))
		conns = append(conns, c)
	}
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() { // one line on every slow connection each 200 ms
		defer close(trickled)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			line := []byte(fmt.Sprintf("X-%d: y\r\n", i))
			for _, c := range conns {
				c.SetWriteDeadline(time.Now().Add(time.Millisecond))
				c.Write(line)
			}
		}
	}()
	b.ResetTimer()
	loaded := run()
	b.StopTimer()
	close(stop)
	<-trickled
	b.ReportMetric(float64(idle.Microseconds()), "p99-idle-µs")
	b.ReportMetric(float64(loaded.Microseconds()), "p99-slow-µs")
	b.ReportMetric(float64(loaded)/float64(idle), "p99-ratio")
}

// readBenchResponse reads one response and its body.
func readBenchResponse(br *bufio.Reader) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// percentile returns the p-quantile of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}
