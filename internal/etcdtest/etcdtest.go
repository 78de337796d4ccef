// Package etcdtest runs real etcd members (the etcd binary on PATH, Debian's
// etcd-server) on loopback addresses for tests: real Raft, real quorum loss.
package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Cluster is a set of etcd members started by New.
type Cluster struct {
	t       testing.TB
	bin     string
	dir     string
	members []*member
	// TLS, for a cluster from NewTLS: its members' client URLs are https
	// and require a client certificate.
	TLS *TLSFiles
}

// TLSFiles are the PEM files of a TLS cluster: the CA, a client
// certificate and its key.
type TLSFiles struct {
	CA, Cert, Key string
}

type member struct {
	name, client, peer string
	mu                 sync.Mutex
	cmd                *exec.Cmd
	out                *syncBuffer
}

// syncBuffer is the member's output, written by exec's copier while a
// test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Binary returns the etcd binary, or skips t when there is none — except
// under CI, which installs it (.ci/run), where a missing binary fails.
func Binary(t testing.TB) string {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("etcd is not on PATH: .ci/run installs Debian's etcd-server")
		}
		t.Skip("etcd is not on PATH (apt-get install etcd-server)")
	}
	return bin
}

// New starts n members forming one cluster and waits until it has a leader.
// They are killed when the test ends.
func New(t testing.TB, n int) *Cluster { return start(t, n, false) }

// NewTLS is New with the client URLs on TLS, requiring client
// certificates signed by a CA of the test's own (Cluster.TLS).
func NewTLS(t testing.TB, n int) *Cluster { return start(t, n, true) }

func start(t testing.TB, n int, withTLS bool) *Cluster {
	c := &Cluster{t: t, bin: Binary(t), dir: t.TempDir()}
	scheme := "http://"
	if withTLS {
		c.TLS = writeCerts(t, c.dir)
		scheme = "https://"
	}
	var initial []string
	for i := 0; i < n; i++ {
		m := &member{name: fmt.Sprintf("m%d", i), client: scheme + freeAddr(t), peer: "http://" + freeAddr(t)}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peer)
	}
	for _, m := range c.members {
		c.start(m, strings.Join(initial, ","))
	}
	t.Cleanup(func() {
		for i := range c.members {
			c.Kill(i)
		}
	})
	c.WaitHealthy()
	return c
}

func (c *Cluster) start(m *member, initial string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.out = &syncBuffer{}
	args := []string{
		"--name", m.name,
		"--data-dir", filepath.Join(c.dir, m.name),
		"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
		"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
		"--initial-cluster", initial, "--initial-cluster-state", "new",
		"--initial-cluster-token", "alba-test",
		// Short Raft timings: a test waits seconds, not tens of them, for
		// an election.
		"--heartbeat-interval", "50", "--election-timeout", "500",
		"--max-txn-ops", "1024",
		"--logger", "zap", "--log-level", "warn"}
	if c.TLS != nil {
		args = append(args, "--cert-file", filepath.Join(c.dir, "server.pem"), "--key-file", filepath.Join(c.dir, "server-key.pem"),
			"--trusted-ca-file", c.TLS.CA, "--client-cert-auth")
	}
	m.cmd = exec.Command(c.bin, args...)
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		c.t.Fatalf("starting etcd member %s: %v", m.name, err)
	}
}

// Endpoints returns the members' client URLs.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.client)
	}
	return out
}

// Kill kills member i with SIGKILL (no-op when it is not running).
func (c *Cluster) Kill(i int) {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGKILL)
	m.cmd.Wait()
	m.cmd = nil
}

// Restart starts member i again on its data directory.
func (c *Cluster) Restart(i int) {
	var initial []string
	for _, m := range c.members {
		initial = append(initial, m.name+"="+m.peer)
	}
	c.start(c.members[i], strings.Join(initial, ","))
}

// Leader returns the index of the member that leads now (-1: none found).
func (c *Cluster) Leader() int {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return -1
	}
	defer cli.Close()
	for i, ep := range c.Endpoints() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err == nil && st.Leader == st.Header.MemberId {
			return i
		}
	}
	return -1
}

// Output returns what member i printed in its current run.
func (c *Cluster) Output(i int) string {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.out == nil {
		return ""
	}
	return m.out.String()
}

// WaitHealthy waits until every running member reports itself healthy
// (it has a leader and a quorum answers it).
func (c *Cluster) WaitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, m := range c.members {
		m.mu.Lock()
		running := m.cmd != nil
		m.mu.Unlock()
		if !running {
			continue
		}
		client := http.DefaultClient
		if c.TLS != nil {
			client = c.httpsClient()
		}
		for {
			resp, err := client.Get(m.client + "/health")
			if err == nil {
				var b [256]byte
				n, _ := resp.Body.Read(b[:])
				resp.Body.Close()
				if bytes.Contains(b[:n], []byte(`"health":"true"`)) {
					break
				}
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("etcd member %s not healthy within 30s:\n%s", m.name, c.Output(c.index(m)))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (c *Cluster) index(m *member) int {
	for i, x := range c.members {
		if x == m {
			return i
		}
	}
	return -1
}

// freeAddr returns a loopback host:port nobody listens on now.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
