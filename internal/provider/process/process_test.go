package process

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/provider"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses must not shift fields.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 987654 1000000 100 18446744073709551615"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.state != 'S' || st.pgrp != 4242 || st.utime != 250 || st.stime != 50 || st.cutime != 7 || st.cstime != 3 || st.startTicks != 987654 {
		t.Errorf("parsed %+v", st)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestLaunchRunsUserDataAndStops(t *testing.T) {
	p, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p.Cgroups = nil // measured from /proc here, whatever the machine offers
	// The user data burns CPU and listens, as a real instance would.
	ud := `#!/bin/bash
echo "id=$ALBA_INSTANCE_ID ip=$ALBA_PRIVATE_IP port=$PORT vcpus=$ALBA_VCPUS env=$GREETING"
exec python3 -c '
import socket, os, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ["ALBA_PRIVATE_IP"], int(os.environ["PORT"]))); s.listen()
end = time.time() + 0.3
while time.time() < end: pass
while True: time.sleep(1)
'`
	l, err := p.Launch(context.Background(), provider.LaunchSpec{InstanceID: "i-test", Zone: "zone-a", InstanceType: "t2.micro",
		Size: model.InstanceTypes["t2.micro"], UserData: ud, Env: map[string]string{"GREETING": "hi"}, Port: 8080})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background(), l.Runtime, time.Second)
	if !strings.HasPrefix(l.PrivateIP, "127.0.") || l.Port == 0 || l.Runtime.PID == 0 || l.Runtime.StartTicks == 0 {
		t.Fatalf("launched %+v", l)
	}
	waitListening(t, net.JoinHostPort(l.PrivateIP, strconv.Itoa(l.Port)))
	out, _ := os.ReadFile(filepath.Join(l.Runtime.WorkDir, "output.log"))
	want := "id=i-test ip=" + l.PrivateIP + " port=" + strconv.Itoa(l.Port) + " vcpus=1 env=hi"
	if !strings.Contains(string(out), want) {
		t.Errorf("user data environment: %q, want %q", out, want)
	}
	if !p.Alive(l.Runtime) {
		t.Fatal("not alive")
	}
	// The busy loop's ~300 ms of CPU shows up in the measurement.
	var cpu time.Duration
	for deadline := time.Now().Add(10 * time.Second); cpu < 200*time.Millisecond && time.Now().Before(deadline); {
		if cpu, err = p.CPUTime(l.Runtime); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cpu < 200*time.Millisecond {
		t.Errorf("CPU time %v, want the busy loop's ~300 ms", cpu)
	}
	// A stale record (same PID, another start time) is not this instance.
	stale := l.Runtime
	stale.StartTicks++
	if p.Alive(stale) {
		t.Error("a PID with another start time counted as alive")
	}
	// Adoption after a restart reserves the address again.
	p2, _ := New(p.Dir)
	if !p2.Adopt(&model.Instance{ID: "i-test", PrivateIP: l.PrivateIP, Runtime: l.Runtime}) {
		t.Error("a running instance was not adopted")
	}
	if ip, _ := p2.allocIP("i-other"); ip == l.PrivateIP {
		t.Error("an adopted instance's address was handed out again")
	}
	if err := p.Stop(context.Background(), l.Runtime, time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Alive(l.Runtime) {
		t.Error("still alive after Stop")
	}
}

func TestCgroupLimits(t *testing.T) {
	cg := DetectCgroups()
	if cg == nil {
		t.Skip("no writable cgroup CPU controller here: instances run unlimited (docs/autoscaling.md)")
	}
	p, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p.Cgroups = cg
	l, err := p.Launch(context.Background(), provider.LaunchSpec{InstanceID: "i-cgtest" + strconv.Itoa(os.Getpid()), InstanceType: "t3.micro",
		Size: model.InstanceTypes["t3.micro"], UserData: "#!/bin/bash\nexec sleep 30\n"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background(), l.Runtime, time.Second)
	if l.Runtime.CgroupPath == "" {
		t.Fatal("no cgroup for the instance")
	}
	read := func(path string) string {
		b, _ := os.ReadFile(path)
		return strings.TrimSpace(string(b))
	}
	procs := read(filepath.Join(l.Runtime.CgroupPath, "cgroup.procs"))
	if !strings.Contains(procs, strconv.Itoa(l.Runtime.PID)) {
		t.Errorf("pid %d not in its cgroup: %q", l.Runtime.PID, procs)
	}
	if cg.V2 {
		if got := read(filepath.Join(l.Runtime.CgroupPath, "cpu.max")); got != "200000 100000" {
			t.Errorf("cpu.max %q, want 2 vCPUs", got)
		}
	} else if got := read(filepath.Join(l.Runtime.CgroupPath, "cpu.cfs_quota_us")); got != "200000" {
		t.Errorf("cfs quota %q, want 2 vCPUs", got)
	}
	if cg.MemRoot != "" {
		if got := read(filepath.Join(cg.MemRoot, "i-cgtest"+strconv.Itoa(os.Getpid()), "memory.limit_in_bytes")); got != strconv.Itoa(1024<<20) {
			t.Errorf("memory limit %q, want 1 GiB", got)
		}
	}
	p.Stop(context.Background(), l.Runtime, time.Second)
	if _, err := os.Stat(l.Runtime.CgroupPath); !os.IsNotExist(err) {
		t.Errorf("the cgroup was not removed after stop")
	}
}

// With an instance address, instances share it, each on a port of its own,
// even when the second launches before the first has bound its port.
func TestInstanceAddressSharedWithPortsOfTheirOwn(t *testing.T) {
	p, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p.Cgroups = nil
	p.Address = "127.0.0.1"
	ud := "#!/bin/bash\nsleep 0.3\nexec python3 -c 'import socket,os,time; s=socket.socket(); s.bind((os.environ[\"ALBA_PRIVATE_IP\"], int(os.environ[\"PORT\"]))); s.listen(); time.sleep(60)'\n"
	var addrs []string
	prefer := freeTestPort(t)
	for _, id := range []string{"i-a", "i-b"} {
		l, err := p.Launch(context.Background(), provider.LaunchSpec{InstanceID: id, InstanceType: "t2.micro",
			Size: model.InstanceTypes["t2.micro"], UserData: ud, Port: prefer})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop(context.Background(), l.Runtime, time.Second)
		if l.PrivateIP != "127.0.0.1" {
			t.Errorf("instance %s on %s, want the instance address", id, l.PrivateIP)
		}
		addrs = append(addrs, net.JoinHostPort(l.PrivateIP, strconv.Itoa(l.Port)))
	}
	if addrs[0] == addrs[1] {
		t.Fatalf("both instances on %s", addrs[0])
	}
	for _, addr := range addrs {
		waitListening(t, addr)
	}
}

// waitListening waits until something accepts connections at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance never listened on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeTestPort is a port free on 127.0.0.1 now: the one both launches
// prefer (a target group's port).
func freeTestPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
