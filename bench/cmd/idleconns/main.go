// Command idleconns measures what an idle keep-alive client connection costs
// a proxy: it reads the proxy's resident memory, opens N connections, sends
// one request on each and reads the answer, keeps them all open and idle,
// reads the memory again, and prints one line of key=value results.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18010", "proxy address (plain HTTP)")
	n := flag.Int("n", 10000, "number of keep-alive connections to open")
	par := flag.Int("concurrency", 128, "connections being opened at once")
	pidList := flag.String("pids", "", "comma-separated pids whose VmRSS is summed (the proxy's processes)")
	settle := flag.Duration("settle", 2*time.Second, "wait after the last connection before reading memory")
	deadline := flag.Duration("timeout", 90*time.Second, "give up opening connections after this long")
	flag.Parse()

	if err := raiseNoFile(uint64(*n) + 256); err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
	}
	pids, err := parsePids(*pidList)
	if err != nil {
		fatal(err)
	}

	before, err := rssKB(pids)
	if err != nil {
		fatal(err)
	}

	conns := make([]net.Conn, *n)
	var (
		mu       sync.Mutex
		failed   int
		firstErr error
	)
	stop := time.Now().Add(*deadline)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < *par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c, err := open(*addr, stop)
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					conns[i] = c
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := 0; i < *n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	openTime := time.Since(start)

	time.Sleep(*settle)
	after, err := rssKB(pids)
	if err != nil {
		fatal(err)
	}

	opened, alive := 0, 0
	for _, c := range conns {
		if c == nil {
			continue
		}
		opened++
		if stillOpen(c) {
			alive++
		}
	}
	for _, c := range conns {
		if c == nil {
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset: leave no TIME_WAIT behind for the next candidate
		}
		c.Close()
	}

	perConn := 0.0
	if alive > 0 {
		perConn = float64(after-before) / float64(alive)
	}
	errText := ""
	if firstErr != nil {
		errText = strings.ReplaceAll(firstErr.Error(), " ", "_")
	}
	fmt.Printf("opened=%d failed=%d alive=%d rss_before_kb=%d rss_after_kb=%d kb_per_conn=%.2f open_seconds=%.1f first_error=%s\n",
		opened, failed, alive, before, after, perConn, openTime.Seconds(), errText)
	if alive < *n {
		os.Exit(2)
	}
}

// open dials addr, sends one keep-alive request and reads the whole answer,
// leaving the connection open.
func open(addr string, stop time.Time) (net.Conn, error) {
	if time.Now().After(stop) {
		return nil, errors.New("out of time")
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nUser-Agent: idleconns\r\nAccept: */*\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 2048)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	if resp.Close {
		c.Close()
		return nil, errors.New("proxy closed the connection after the response")
	}
	if br.Buffered() > 0 {
		c.Close()
		return nil, errors.New("unexpected bytes after the response")
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// stillOpen peeks at c without blocking: a connection the proxy kept open
// has nothing to read (EAGAIN); one it closed reads end of file.
func stillOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	buf := make([]byte, 1)
	raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = err == syscall.EAGAIN
		return true
	})
	return open
}

// raiseNoFile lifts the soft limit on open files to want, or to the hard
// limit when that is lower.
func raiseNoFile(want uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= want {
		return nil
	}
	if want > lim.Max {
		lim.Max = want // works with CAP_SYS_RESOURCE; otherwise fall back below
		lim.Cur = want
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
			return nil
		}
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
		return fmt.Errorf("open-file limit is %d, below the %d wanted", lim.Max, want)
	}
	lim.Cur = want
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

func parsePids(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad pid %q", f)
		}
		pids = append(pids, p)
	}
	if len(pids) == 0 {
		return nil, errors.New("-pids names no process")
	}
	return pids, nil
}

// rssKB sums VmRSS over pids, in kB.
func rssKB(pids []int) (int64, error) {
	var total int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					v, err := strconv.ParseInt(f[0], 10, 64)
					if err != nil {
						return 0, err
					}
					total += v
				}
			}
		}
	}
	return total, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "idleconns:", err)
	os.Exit(1)
}
