package docker

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestCPUPercentOfRecordedStats(t *testing.T) {
	// Recorded from Docker 20.10 (API 1.41) with stream=false while the
	// catalog served /discover with --cpu-cost 5ms.
	b, err := os.ReadFile("testdata/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	var st container.StatsResponse
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.CPUStats.CPUUsage.TotalUsage != 913423446 {
		t.Errorf("total_usage %d", st.CPUStats.CPUUsage.TotalUsage)
	}
	// (913423446-498105794) / 1890000000 × 2 × 100
	got := CPUPercent(st.PreCPUStats, st.CPUStats)
	if want := 43.948957883597885; math.Abs(got-want) > 1e-9 {
		t.Errorf("CPUPercent = %v, want %v", got, want)
	}
	// Without online_cpus the per-CPU usages count the CPUs.
	cur := st.CPUStats
	cur.OnlineCPUs = 0
	if got2 := CPUPercent(st.PreCPUStats, cur); math.Abs(got2-got) > 1e-9 {
		t.Errorf("CPUPercent without online_cpus = %v, want %v", got2, got)
	}
	// A one-shot sample has no previous one.
	if got := CPUPercent(container.CPUStats{}, st.CPUStats); got != 0 {
		t.Errorf("CPUPercent without a previous sample = %v, want 0", got)
	}
}
