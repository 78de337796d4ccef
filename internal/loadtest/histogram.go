package loadtest

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear like HdrHistogram: values below subCount
// nanoseconds get one bucket each, and every further power of two is split
// into subHalf equal buckets. A bucket is then at most 1/subHalf of its lower
// bound wide, and reporting its midpoint keeps the error of any percentile
// under 1/(2*subHalf) = 0.4%, well inside the 1% we promise.
const (
	subBits  = 8
	subCount = 1 << subBits // 256
	subHalf  = subCount / 2 // 128
	// maxBits bounds recorded values to 2^40 ns (about 18 minutes), far above
	// any sensible request timeout; larger values are clamped.
	maxBits    = 40
	maxValue   = 1<<maxBits - 1
	numBuckets = subCount + (maxBits-subBits)*subHalf
)

// histogram records latencies with atomic counters so that workers share it
// without locks and the progress reporter can read it while they write.
type histogram struct {
	counts [numBuckets]atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	min    atomic.Int64  // math.MaxInt64 until the first record
	max    atomic.Int64
}

func newHistogram() *histogram {
	h := &histogram{}
	h.min.Store(math.MaxInt64)
	return h
}

// bucketIndex maps a value in nanoseconds to its bucket.
func bucketIndex(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits // >= 1
	sub := int(v >> shift)                   // in [subHalf, subCount)
	return subCount + (shift-1)*subHalf + sub - subHalf
}

// bucketMid is the value reported for every sample in bucket i.
func bucketMid(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	j := i - subCount
	shift := j/subHalf + 1
	lo := int64(j%subHalf+subHalf) << shift
	return lo + (int64(1)<<shift)/2
}

func clampValue(d time.Duration) int64 {
	v := int64(d)
	if v < 0 {
		return 0
	}
	if v > maxValue {
		return maxValue
	}
	return v
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	v := clampValue(d)
	h.sum.Add(uint64(v))
	for cur := h.min.Load(); v < cur && !h.min.CompareAndSwap(cur, v); cur = h.min.Load() {
	}
	for cur := h.max.Load(); v > cur && !h.max.CompareAndSwap(cur, v); cur = h.max.Load() {
	}
	// The count goes last: snapshot reads counts first, so every sample it
	// counts already has its min and max in place.
	h.counts[bucketIndex(v)].Add(1)
}

// histSnapshot is a plain copy of a histogram, consistent enough for
// percentiles even when taken while workers record.
type histSnapshot struct {
	counts   [numBuckets]uint64
	total    uint64
	sum      uint64
	min, max int64
}

func (h *histogram) snapshot() *histSnapshot {
	s := &histSnapshot{}
	for i := range h.counts {
		c := h.counts[i].Load()
		s.counts[i] = c
		s.total += c
	}
	s.sum, s.min, s.max = h.sum.Load(), h.min.Load(), h.max.Load()
	return s
}

// percentile returns the value at quantile q in [0, 1]; 0 if empty. The
// bucket midpoint is clamped to the exact min and max so that P0 and P100
// are never outside what was observed.
func (s *histSnapshot) percentile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.total)))
	rank = max(rank, 1)
	rank = min(rank, s.total)
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketMid(i), s.min), s.max))
		}
	}
	return time.Duration(s.max)
}

func (s *histSnapshot) percentiles() Percentiles {
	if s.total == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Min:  time.Duration(s.min),
		P50:  s.percentile(0.50),
		P90:  s.percentile(0.90),
		P95:  s.percentile(0.95),
		P99:  s.percentile(0.99),
		P999: s.percentile(0.999),
		Max:  time.Duration(s.max),
		Mean: time.Duration(s.sum / s.total),
	}
}
