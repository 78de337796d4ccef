package dataplane

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds (seconds) of the response time
// histogram kept per target: what TargetResponseTime means on ALB, from the
// request sent to the response head received.
var LatencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// latency is a fixed-bucket histogram updated with atomics on the request
// path.
type latency struct {
	counts [15]atomic.Uint64 // one per bucket, plus +Inf
	sumNs  atomic.Uint64
}

func (h *latency) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d))
}

// Latency returns the cumulative bucket counts (aligned with
// LatencyBuckets, +Inf last), the total count and the sum in seconds.
func (t *Target) Latency() (buckets []uint64, count uint64, sum float64) {
	buckets = make([]uint64, len(t.latency.counts))
	for i := range t.latency.counts {
		count += t.latency.counts[i].Load()
		buckets[i] = count
	}
	return buckets, count, float64(t.latency.sumNs.Load()) / 1e9
}
