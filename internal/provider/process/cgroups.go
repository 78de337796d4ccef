package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cgroups enforces an instance's vCPU count as a CPU limit, with the cgroup
// v2 cpu controller (cpu.max) or the v1 one (cpu.cfs_quota_us), whichever
// is mounted and writable. Where neither is, instances run unlimited and
// their CPU utilization is still measured against their vCPUs.
type Cgroups struct {
	// Root is Alba's parent cgroup directory.
	Root string
	// V2 selects the cgroup v2 files.
	V2 bool
}

// DetectCgroups finds a writable CPU controller, or returns nil.
func DetectCgroups() *Cgroups {
	candidates := []Cgroups{
		{Root: "/sys/fs/cgroup/alba", V2: true},
		{Root: "/sys/fs/cgroup/cpu/alba", V2: false},
		{Root: "/sys/fs/cgroup/cpu,cpuacct/alba", V2: false},
	}
	for _, c := range candidates {
		parent := filepath.Dir(c.Root)
		if c.V2 {
			ctrl, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
			if err != nil || !strings.Contains(string(ctrl), "cpu") {
				continue
			}
		} else if _, err := os.Stat(filepath.Join(parent, "cpu.cfs_quota_us")); err != nil {
			continue
		}
		if err := os.MkdirAll(c.Root, 0o755); err != nil {
			continue
		}
		if c.V2 {
			// Let children use the cpu controller.
			if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+cpu"), 0o644); err != nil {
				continue
			}
			if err := os.WriteFile(filepath.Join(c.Root, "cgroup.subtree_control"), []byte("+cpu"), 0o644); err != nil {
				continue
			}
		}
		cc := c
		return &cc
	}
	return nil
}

// Limit creates the instance's cgroup with a quota of vcpus CPUs and moves
// pid into it.
func (c *Cgroups) Limit(id string, pid int, vcpus float64) (string, error) {
	dir := filepath.Join(c.Root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	const period = 100000
	quota := int(vcpus * period)
	var err error
	if c.V2 {
		err = os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(fmt.Sprintf("%d %d", quota, period)), 0o644)
	} else {
		err = os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(period)), 0o644)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(strconv.Itoa(quota)), 0o644)
		}
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
	}
	if err != nil {
		os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// Usage is the CPU time used by the cgroup's processes.
func (c *Cgroups) Usage(dir string) (time.Duration, error) {
	if c.V2 {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				return time.Duration(n) * time.Microsecond, err
			}
		}
		return 0, errors.New("no usage_usec in cpu.stat")
	}
	// cgroup v1: cpuacct is a separate hierarchy; the cpu one has
	// cpuacct.usage only when they are co-mounted.
	b, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage"))
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(n), err
}

// Remove deletes an instance's cgroup once its processes are gone.
func (c *Cgroups) Remove(dir string) {
	for i := 0; i < 20; i++ {
		if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
