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
	// MemRoot is the v1 memory controller's Alba directory ("" when not
	// writable); with v2 the memory limit goes in the same directory as
	// the CPU limit when the memory controller is available.
	MemRoot string
	// v2Memory reports that the v2 memory controller is enabled.
	v2Memory bool
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
		if c.V2 {
			if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory"), 0o644); err == nil {
				cc.v2Memory = os.WriteFile(filepath.Join(c.Root, "cgroup.subtree_control"), []byte("+memory"), 0o644) == nil
			}
		} else if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
			if os.MkdirAll("/sys/fs/cgroup/memory/alba", 0o755) == nil {
				cc.MemRoot = "/sys/fs/cgroup/memory/alba"
			}
		}
		return &cc
	}
	return nil
}

// Limit creates the instance's cgroup with a quota of vcpus CPUs (and a
// memory limit of memMB where the memory controller is writable) and moves
// pid into it.
func (c *Cgroups) Limit(id string, pid int, vcpus float64, memMB int) (string, error) {
	dir := filepath.Join(c.Root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	const period = 100000
	quota := int(vcpus * period)
	var err error
	if c.V2 {
		err = os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(fmt.Sprintf("%d %d", quota, period)), 0o644)
		if err == nil && c.v2Memory && memMB > 0 {
			err = os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.Itoa(memMB<<20)), 0o644)
		}
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
	if c.MemRoot != "" && memMB > 0 {
		// cgroup v1 keeps memory in its own hierarchy.
		mdir := filepath.Join(c.MemRoot, id)
		if os.MkdirAll(mdir, 0o755) == nil {
			if os.WriteFile(filepath.Join(mdir, "memory.limit_in_bytes"), []byte(strconv.Itoa(memMB<<20)), 0o644) != nil ||
				os.WriteFile(filepath.Join(mdir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644) != nil {
				os.Remove(mdir)
			}
		}
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

// Remove deletes an instance's cgroups once its processes are gone.
func (c *Cgroups) Remove(dir string) {
	if c.MemRoot != "" {
		defer removeDir(filepath.Join(c.MemRoot, filepath.Base(dir)))
	}
	removeDir(dir)
}

func removeDir(dir string) {
	for i := 0; i < 20; i++ {
		if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
