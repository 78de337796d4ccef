package docker

import "github.com/moby/moby/api/types/container"

// CPUPercent is the container's CPU utilization between two samples of
// its stats as `docker stats` shows it: the container's CPU time delta over
// the host's CPU time delta, times the online CPUs, in percent (100 is one
// CPU busy). Pass a stats response's PreCPUStats and CPUStats; it is 0 when
// either delta is not positive (a one-shot sample has no previous one).
func CPUPercent(prev, cur container.CPUStats) float64 {
	cpuDelta := float64(cur.CPUUsage.TotalUsage) - float64(prev.CPUUsage.TotalUsage)
	systemDelta := float64(cur.SystemUsage) - float64(prev.SystemUsage)
	online := float64(cur.OnlineCPUs)
	if online == 0 {
		// Engines before API 1.27 report no online_cpus; the CLI counts
		// the per-CPU usages instead.
		online = float64(len(cur.CPUUsage.PercpuUsage))
	}
	if prev.SystemUsage == 0 || cpuDelta <= 0 || systemDelta <= 0 {
		return 0
	}
	return cpuDelta / systemDelta * online * 100
}
