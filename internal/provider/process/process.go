// Package process runs instances as local child processes: the embedded
// default provider. Each instance is a process group started from the
// launch template's user data with bash, in its own working directory, with
// its own loopback address (127.0.1.N) and port, its output in a log file.
// Processes outlive Alba on purpose: a restarted Alba adopts them.
package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/provider"
)

// Provider starts instances as process groups.
type Provider struct {
	// Dir holds one working directory per instance.
	Dir string
	// BinDir is put first on the instances' PATH, so user data can run
	// `alba catalog` with the same binary.
	BinDir string
	// Cgroups limits each instance to its vCPUs where a cgroup CPU
	// controller is writable; nil when none is.
	Cgroups *Cgroups

	// Address, when set, is the one address every instance listens on,
	// each on a port of its own: one the other nodes of a cluster reach.
	// Unset, each instance gets a loopback address of its own, reachable
	// from this machine only.
	Address string

	mu     sync.Mutex
	usedIP map[string]string // private IP (ip:port with Address) -> instance id
}

// New returns a provider that keeps instances under dir.
func New(dir string) (*Provider, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the instances directory: %w", err)
	}
	p := &Provider{Dir: dir, usedIP: map[string]string{}, Cgroups: DetectCgroups()}
	if exe, err := os.Executable(); err == nil {
		p.BinDir = filepath.Dir(exe)
	}
	return p, nil
}

// Name is "process".
func (p *Provider) Name() string { return "process" }

// allocIP picks an unused loopback address for an instance.
func (p *Provider) allocIP(id string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := 2; n < 255*250; n++ {
		ip := fmt.Sprintf("127.0.%d.%d", 1+n/255, n%255)
		if n%255 == 0 || n%255 == 1 {
			continue
		}
		if _, used := p.usedIP[ip]; !used {
			p.usedIP[ip] = id
			return ip, nil
		}
	}
	return "", errors.New("no free loopback address for a new instance")
}

// alloc picks the instance's address and port, and the key that reserves
// them: a loopback address of its own, or a port of its own on Address.
func (p *Provider) alloc(id string, prefer int) (ip string, port int, key string, err error) {
	if p.Address == "" {
		if ip, err = p.allocIP(id); err != nil {
			return "", 0, "", err
		}
		if port, err = freePort(ip, prefer); err != nil {
			p.freeIP(ip)
			return "", 0, "", fmt.Errorf("no free port on %s: %w", ip, err)
		}
		return ip, port, ip, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// A port handed out is reserved until the instance ends: its process
	// binds it a moment after, and a second launch must not pick it then.
	if _, used := p.usedIP[net.JoinHostPort(p.Address, strconv.Itoa(prefer))]; used {
		prefer = 0
	}
	for range 100 {
		if port, err = freePort(p.Address, prefer); err != nil {
			return "", 0, "", fmt.Errorf("no free port on the instance address %s: %w", p.Address, err)
		}
		key = net.JoinHostPort(p.Address, strconv.Itoa(port))
		if _, used := p.usedIP[key]; !used {
			p.usedIP[key] = id
			return p.Address, port, key, nil
		}
		prefer = 0
	}
	return "", 0, "", fmt.Errorf("no free port on the instance address %s", p.Address)
}

func (p *Provider) freeIP(ip string) {
	p.mu.Lock()
	delete(p.usedIP, ip)
	p.mu.Unlock()
}

// freePort finds a port nobody listens on at ip. The instance binds it a
// moment later; should another process win the race, the instance fails
// its health checks and is replaced.
func freePort(ip string, prefer int) (int, error) {
	if prefer > 0 {
		if ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(prefer))); err == nil {
			ln.Close()
			return prefer, nil
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// DefaultUserData runs when a template has none: the movie catalog.
const DefaultUserData = "#!/bin/bash\nexec alba catalog --listen \"$ALBA_PRIVATE_IP:$PORT\"\n"

// Launch writes the user data to the instance's directory and runs it with
// bash in a new process group.
func (p *Provider) Launch(ctx context.Context, spec provider.LaunchSpec) (provider.Launched, error) {
	ip, port, key, err := p.alloc(spec.InstanceID, spec.Port)
	if err != nil {
		return provider.Launched{}, err
	}
	fail := func(err error) (provider.Launched, error) {
		p.freeIP(key)
		return provider.Launched{}, err
	}
	dir := filepath.Join(p.Dir, spec.InstanceID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	script := spec.UserData
	if strings.TrimSpace(script) == "" {
		script = DefaultUserData
	}
	scriptPath := filepath.Join(dir, "user-data")
	if err := os.WriteFile(scriptPath, []byte(script), 0o700); err != nil {
		return fail(err)
	}
	logPath := filepath.Join(dir, "output.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	defer logf.Close()
	cmd := exec.Command("/bin/bash", scriptPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = p.env(spec, ip, port)
	// Its own process group: stopped as a whole, and not hit by a Ctrl-C
	// meant for Alba.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting the user data: %w", err))
	}
	pid := cmd.Process.Pid
	go cmd.Wait() // reap it when it exits
	rt := model.InstanceRuntime{Provider: "process", PID: pid, WorkDir: dir, LogPath: logPath}
	rt.StartTicks, _ = startTicks(pid)
	if p.Cgroups != nil {
		if path, err := p.Cgroups.Limit(spec.InstanceID, pid, spec.Size.VCPUs, spec.Size.MemoryMB); err == nil {
			rt.CgroupPath = path
		}
	}
	os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(pid)), 0o600)
	return provider.Launched{PrivateIP: ip, Port: port, Runtime: rt}, nil
}

func (p *Provider) env(spec provider.LaunchSpec, ip string, port int) []string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if p.BinDir != "" {
		env["PATH"] = p.BinDir + string(os.PathListSeparator) + env["PATH"]
	}
	env["ALBA_INSTANCE_ID"] = spec.InstanceID
	env["ALBA_PRIVATE_IP"] = ip
	env["PORT"] = strconv.Itoa(port)
	env["ALBA_ZONE"] = spec.Zone
	env["ALBA_INSTANCE_TYPE"] = spec.InstanceType
	env["ALBA_VCPUS"] = strconv.FormatFloat(spec.Size.VCPUs, 'f', -1, 64)
	env["ALBA_IMAGE_ID"] = spec.ImageID
	for k, v := range spec.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Adopt reserves a restarted Alba's instance's address when its process is
// still the one Alba started.
func (p *Provider) Adopt(inst *model.Instance) bool {
	if !p.Alive(inst.Runtime) {
		return false
	}
	p.mu.Lock()
	if p.Address != "" {
		p.usedIP[net.JoinHostPort(inst.PrivateIP, strconv.Itoa(inst.Port))] = inst.ID
	} else {
		p.usedIP[inst.PrivateIP] = inst.ID
	}
	p.mu.Unlock()
	return true
}

// Alive reports whether the instance's process (the group leader) runs and
// is the one started: same PID and same start time.
func (p *Provider) Alive(rt model.InstanceRuntime) bool {
	if rt.PID <= 0 {
		return false
	}
	st, err := readStat(rt.PID)
	if err != nil || st.state == 'Z' || st.state == 'X' {
		return false
	}
	return rt.StartTicks == 0 || st.startTicks == rt.StartTicks
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *Provider) Stop(ctx context.Context, rt model.InstanceRuntime, grace time.Duration) error {
	defer func() {
		if p.Cgroups != nil && rt.CgroupPath != "" {
			p.Cgroups.Remove(rt.CgroupPath)
		}
	}()
	if !p.Alive(rt) {
		p.releaseByPID(rt)
		return nil
	}
	syscall.Kill(-rt.PID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && p.Alive(rt) {
		select {
		case <-ctx.Done():
			deadline = time.Now()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if p.Alive(rt) {
		syscall.Kill(-rt.PID, syscall.SIGKILL)
	}
	// Children that left the group's leader behind die with the group.
	syscall.Kill(-rt.PID, syscall.SIGKILL)
	p.releaseByPID(rt)
	return nil
}

func (p *Provider) releaseByPID(rt model.InstanceRuntime) {
	id := filepath.Base(rt.WorkDir)
	p.mu.Lock()
	for ip, owner := range p.usedIP {
		if owner == id {
			delete(p.usedIP, ip)
		}
	}
	p.mu.Unlock()
}

// CPUTime sums the CPU time of the instance: from its cgroup when it has
// one, else over every process of its process group.
func (p *Provider) CPUTime(rt model.InstanceRuntime) (time.Duration, error) {
	if p.Cgroups != nil && rt.CgroupPath != "" {
		if d, err := p.Cgroups.Usage(rt.CgroupPath); err == nil {
			return d, nil
		}
	}
	return groupCPUTime(rt.PID)
}

// clockTicks is USER_HZ, 100 on every Linux Alba runs on.
const clockTicks = 100

type procStat struct {
	state          byte
	pgrp           int
	utime, stime   uint64
	cutime, cstime uint64
	startTicks     uint64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

// parseStat reads /proc/PID/stat; the command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 20 {
		return procStat{}, errors.New("malformed stat")
	}
	num := func(k int) uint64 { n, _ := strconv.ParseUint(f[k], 10, 64); return n }
	// f[0] is field 3 (state); field N is f[N-3].
	return procStat{
		state:      f[0][0],
		pgrp:       int(num(2)),
		utime:      num(11),
		stime:      num(12),
		cutime:     num(13),
		cstime:     num(14),
		startTicks: num(19),
	}, nil
}

func startTicks(pid int) (uint64, error) {
	st, err := readStat(pid)
	return st.startTicks, err
}

// groupCPUTime sums utime+stime (and reaped children's) of every process
// whose process group is pgid.
func groupCPUTime(pgid int) (time.Duration, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var ticks uint64
	found := false
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != pgid {
			continue
		}
		found = true
		ticks += st.utime + st.stime + st.cutime + st.cstime
	}
	if !found {
		return 0, fmt.Errorf("no process in group %d", pgid)
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
