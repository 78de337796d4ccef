package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactPercentile uses the same rank definition as histSnapshot.percentile:
// the ceil(q*n)-th smallest sample.
func exactPercentile(sorted []time.Duration, q float64) time.Duration {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[min(rank, len(sorted))-1]
}

func TestHistogramPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name    string
		samples func() []time.Duration
	}{
		{"uniform 1..10000µs", func() []time.Duration {
			var s []time.Duration
			for i := 1; i <= 10000; i++ {
				s = append(s, time.Duration(i)*time.Microsecond)
			}
			return s
		}},
		{"constant 42ms", func() []time.Duration {
			return slices.Repeat([]time.Duration{42 * time.Millisecond}, 1000)
		}},
		{"single sample", func() []time.Duration { return []time.Duration{1234567 * time.Nanosecond} }},
		{"exponential mean 2ms", func() []time.Duration {
			var s []time.Duration
			for range 50000 {
				s = append(s, time.Duration(rng.ExpFloat64()*float64(2*time.Millisecond)))
			}
			return s
		}},
		{"bimodal 200µs and 3s", func() []time.Duration {
			s := slices.Repeat([]time.Duration{200 * time.Microsecond}, 990)
			return append(s, slices.Repeat([]time.Duration{3 * time.Second}, 10)...)
		}},
		{"log-uniform 1µs..60s", func() []time.Duration {
			var s []time.Duration
			for range 50000 {
				s = append(s, time.Duration(math.Exp(rng.Float64()*math.Log(60e6))*1e3))
			}
			return s
		}},
		{"sub-µs exact", func() []time.Duration {
			var s []time.Duration
			for i := range 256 {
				s = append(s, time.Duration(i))
			}
			return s
		}},
	}
	quantiles := []float64{0, 0.5, 0.9, 0.95, 0.99, 0.999, 1}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			samples := tt.samples()
			h := newHistogram()
			var sum time.Duration
			for _, d := range samples {
				h.record(d)
				sum += d
			}
			slices.Sort(samples)
			snap := h.snapshot()
			if snap.total != uint64(len(samples)) {
				t.Fatalf("total = %d, want %d", snap.total, len(samples))
			}
			for _, q := range quantiles {
				got, want := snap.percentile(q), exactPercentile(samples, q)
				if diff := math.Abs(float64(got - want)); diff > 0.01*float64(want) {
					t.Errorf("P%g = %v, want %v ±1%%", q*100, got, want)
				}
			}
			p := snap.percentiles()
			if p.Min != samples[0] || p.Max != samples[len(samples)-1] {
				t.Errorf("min/max = %v/%v, want %v/%v", p.Min, p.Max, samples[0], samples[len(samples)-1])
			}
			if want := sum / time.Duration(len(samples)); p.Mean != want {
				t.Errorf("mean = %v, want %v", p.Mean, want)
			}
		})
	}
}

func TestHistogramUniformP50(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	p := h.snapshot().percentiles()
	if got := p.P50; got < 4950*time.Microsecond || got > 5050*time.Microsecond {
		t.Errorf("P50 = %v, want 5000µs ±1%%", got)
	}
	if got := p.P99; got < 9801*time.Microsecond || got > 9999*time.Microsecond {
		t.Errorf("P99 = %v, want 9900µs ±1%%", got)
	}
}

func TestHistogramEmptyAndClamp(t *testing.T) {
	h := newHistogram()
	if p := h.snapshot().percentiles(); p != (Percentiles{}) {
		t.Errorf("empty percentiles = %+v, want zero", p)
	}
	h.record(-time.Second)
	h.record(time.Hour)
	p := h.snapshot().percentiles()
	if p.Min != 0 || p.Max != maxValue {
		t.Errorf("min/max = %v/%v, want 0/%v", p.Min, p.Max, time.Duration(maxValue))
	}
}

// TestBucketLayout checks that buckets are ordered, within the array, and
// that every value's bucket midpoint is within 0.4% of it.
func TestBucketLayout(t *testing.T) {
	if got := bucketIndex(maxValue); got != numBuckets-1 {
		t.Errorf("bucketIndex(max) = %d, want %d", got, numBuckets-1)
	}
	prev := -1
	for v := int64(0); v <= maxValue; v = v + 1 + v/97 {
		i := bucketIndex(v)
		if i < prev {
			t.Fatalf("bucketIndex(%d) = %d < previous %d", v, i, prev)
		}
		prev = i
		if mid := bucketMid(i); math.Abs(float64(mid-v)) > 0.004*float64(v)+0.5 {
			t.Fatalf("value %d: bucket %d midpoint %d off by more than 0.4%%", v, i, mid)
		}
	}
}
