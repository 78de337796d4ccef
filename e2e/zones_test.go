package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// tcpToEngine is a second real path to this machine's Docker Engine: these
// machines run one engine, so zone-b reaches it over TCP, through this
// byte-for-byte relay to its unix socket, on the machine's outward address
// (which makes Alba treat it as a remote engine). It counts connections.
type tcpToEngine struct {
	URL   string
	conns atomic.Int64
}

func newTCPToEngine(t *testing.T) *tcpToEngine {
	t.Helper()
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		var ok bool
		if sock, ok = strings.CutPrefix(h, "unix://"); !ok {
			t.Skipf("DOCKER_HOST=%s is not a unix socket to relay to", h)
		}
	}
	ip := "127.0.0.1"
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
				ip = n.IP.String()
				break
			}
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpToEngine{URL: "tcp://" + ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				e, err := net.Dial("unix", sock)
				if err != nil {
					return
				}
				defer e.Close()
				go func() { io.Copy(e, c); e.(*net.UnixConn).CloseWrite() }()
				io.Copy(c, e)
			})
		}
	})
	return r
}

// dockerInspect formats what docker inspect knows of a container.
func dockerInspect(t *testing.T, name, format string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", format, name).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// One group over two zones whose Docker engines are two endpoints: each
// zone's instance runs on its engine, is reached on that zone's address,
// serves through the load balancer, is adopted after a kill -9 of Alba,
// and is removed when Alba stops.
func TestDockerZonesOnTwoEngines(t *testing.T) {
	image := dockerImage(t)
	relay := newTCPToEngine(t)
	lport := freePort(t)
	cfg := dockerize(asgConfig(lport, "0s", "    min_size: 2\n    max_size: 2\n    health_check_grace_period: 10\n"), image, "0s")
	zoneB := "zone-b=" + relay.URL + ",address=127.0.0.2"
	l := up(t, cfg, "--docker-zone", zoneB)
	waitFor(t, 60*time.Second, func() bool { return len(l.inService(t)) == 2 })
	zoneOf := map[string]string{}
	for _, inst := range l.group(t).Instances {
		zoneOf[inst.ID] = inst.Zone
	}
	ids := l.inService(t)
	t.Cleanup(func() {
		for _, c := range containers(t, ids...) {
			exec.Command("docker", "rm", "-f", c).Run()
		}
	})
	if zoneOf[ids[0]] == zoneOf[ids[1]] {
		t.Fatalf("both instances in %s, want one per zone", zoneOf[ids[0]])
	}
	if relay.conns.Load() == 0 {
		t.Error("zone-b's engine endpoint was never dialed")
	}
	if !strings.Contains(l.out.String(), "zone zone-b on "+relay.URL+" (published on 127.0.0.2)") {
		t.Errorf("start-up lines do not say where zone-b runs:\n%s", l.out.String())
	}
	want := map[string]string{"zone-a": "127.0.0.1", "zone-b": "127.0.0.2"}
	addrs := map[string]string{}
	for _, th := range l.targets(t) {
		addrs[th.ID] = th.Address
	}
	for _, id := range ids {
		z := zoneOf[id]
		if host, _, _ := net.SplitHostPort(addrs[id]); host != want[z] {
			t.Errorf("target %s of %s at %q, want %s", id, z, addrs[id], want[z])
		}
		if got := dockerInspect(t, "alba-"+id, `{{index .Config.Labels "alba.zone"}} {{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIP}}{{end}}{{end}}`); got != z+" "+want[z] {
			t.Errorf("docker inspect alba-%s: zone and published address %q, want %q", id, got, z+" "+want[z])
		}
	}
	// Both serve through the load balancer.
	seen := map[string]bool{}
	waitFor(t, 20*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/status", lport))
		if err == nil {
			resp.Body.Close()
			seen[resp.Header.Get("X-Instance-Id")] = true
		}
		return seen[ids[0]] && seen[ids[1]]
	})

	// kill -9, restart with the same zones: the same two containers.
	acts := len(l.activities(t))
	l.kill()
	l2 := l.restart(t, "--docker-zone", zoneB)
	adoptedSame(t, l2, ids, acts)
	if c := containers(t, ids...); len(c) != 2 {
		t.Errorf("containers after the restart: %v, want 2", c)
	}

	l2.proc.signal(syscall.SIGTERM)
	if ec := l2.proc.wait(t, 60*time.Second); ec != 0 {
		t.Errorf("exit code %d", ec)
	}
	if c := containers(t, ids...); len(c) != 0 {
		t.Errorf("containers left after Alba stopped: %v", c)
	}
}

// A --docker-zone Alba cannot use stops alba up with a sentence, before
// anything starts.
func TestDockerZoneFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for flag, want := range map[string]string{
		"zone-b":                                     "write ZONE=ENDPOINT",
		"zone-b=ssh://me@host":                       "unix:// sockets and tcp:// only",
		"zone-b=tcp://docker.example:2375":           "say which IP address its published ports are reached on",
		"zone-b=tcp://10.0.0.2:2375,adress=10.0.0.2": "unknown option adress",
	} {
		_, stderr, code := runAlba(t, 30*time.Second, "up", "--empty", "--data-dir", dir, "--admin", "127.0.0.1:0", "--docker-zone", flag)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("--docker-zone %s: exit %d, stderr %q; want a failure saying %q", flag, code, stderr, want)
		}
	}
	_, stderr, code := runAlba(t, 30*time.Second, "up", "--empty", "--data-dir", dir, "--admin", "127.0.0.1:0",
		"--docker-zone", "zone-b=tcp://10.0.0.2:2375", "--docker-zone", "zone-b=tcp://10.0.0.3:2375")
	if code == 0 || !strings.Contains(stderr, "names zone zone-b twice") {
		t.Errorf("a zone given twice: exit %d, stderr %q", code, stderr)
	}
}
