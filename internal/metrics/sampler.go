package metrics

import (
	"context"
	"math"
	"time"

	"github.com/alba-lb/alba/internal/clock"
)

// Recorder is what a Source writes one reading through. Counters are given
// as running totals; the recorder turns them into what happened since the
// previous reading.
type Recorder struct {
	h    *History
	at   time.Time
	prev map[string][]uint64
	seen map[string]bool
}

// At is the reading's time.
func (r *Recorder) At() time.Time { return r.at }

// Gauge records a value seen now (HealthyHostCount, CPUUtilization).
func (r *Recorder) Gauge(m Metric, v float64) { r.h.Put(m, nil, r.at, Value(v)) }

// Counter records the increase of a running total since the previous
// reading (RequestCount) and returns it. A counter seen for the first time
// counts from zero, as Alba's counters start when their object is made; one
// that went down was made anew and counts from zero too.
func (r *Recorder) Counter(m Metric, total uint64) float64 {
	k := m.key()
	r.seen[k] = true
	d := total
	if p, ok := r.prev[k]; ok && len(p) == 1 && p[0] <= total {
		d = total - p[0]
	}
	if p := r.prev[k]; len(p) == 1 {
		p[0] = total
	} else {
		r.prev[k] = []uint64{total}
	}
	r.h.Put(m, nil, r.at, Value(float64(d)))
	return float64(d)
}

// Histogram records the observations made since the previous reading from
// a running histogram: cumulative bucket counts (Prometheus's layout,
// aligned with bounds, +Inf last) and the running sum of the observed
// values. Minimum and Maximum are the bounds of the lowest and highest
// buckets that got an observation, the most a histogram can tell.
func (r *Recorder) Histogram(m Metric, bounds []float64, cumulative []uint64, sum float64) Sample {
	k := m.key()
	r.seen[k] = true
	n := len(cumulative)
	// prev holds the cumulative counts, then the sum's bits.
	prev := r.prev[k]
	fresh := len(prev) != n+1
	if !fresh {
		for i := range n {
			if cumulative[i] < prev[i] {
				fresh = true
			}
		}
	}
	if fresh {
		prev = make([]uint64, n+1)
	}
	prevSum := float64frombits(prev[n])
	s := Sample{Buckets: make([]uint32, n), Sum: sum - prevSum}
	var below uint64
	first, last := -1, -1
	for i := range n {
		c := cumulative[i] - prev[i] - below
		below += c
		s.Buckets[i] = uint32(c)
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	s.Count = uint32(below)
	for i := range n {
		prev[i] = cumulative[i]
	}
	prev[n] = float64bits(sum)
	r.prev[k] = prev
	if s.Count == 0 {
		return s
	}
	if first > 0 {
		s.Min = bounds[first-1]
	}
	s.Max = bounds[min(last, len(bounds)-1)]
	r.h.Put(m, bounds, r.at, s)
	return s
}

// Put records a sample made of others (a target group's response times
// from its targets'); bounds as for History.Put.
func (r *Recorder) Put(m Metric, bounds []float64, s Sample) { r.h.Put(m, bounds, r.at, s) }

// Source takes one reading: it writes the current value of every metric it
// knows through r.
type Source func(r *Recorder)

// Sampler takes a reading of its sources every Interval and records it in
// History; once a minute it forgets the series that have had no sample for
// a day.
type Sampler struct {
	// History receives the readings.
	History *History
	// Sources are read in order at every tick.
	Sources []Source
	// Interval between readings; 1 s when zero.
	Interval time.Duration
	// Clock tells the time; the real clock when nil.
	Clock clock.Clock

	prev     map[string][]uint64
	lastTidy time.Time
}

// Run samples until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	clk := s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	every := s.Interval
	if every <= 0 {
		every = time.Second
	}
	for {
		s.Sample(clk.Now())
		select {
		case <-ctx.Done():
			return
		case <-clk.After(every):
		}
	}
}

// Sample takes one reading at now. Run calls it; tests call it directly.
func (s *Sampler) Sample(now time.Time) {
	if s.prev == nil {
		s.prev = map[string][]uint64{}
	}
	r := &Recorder{h: s.History, at: now, prev: s.prev, seen: map[string]bool{}}
	for _, src := range s.Sources {
		src(r)
	}
	// A counter that was not read this time is gone: forget its total, so
	// that the next object of that name counts from zero.
	for k := range s.prev {
		if !r.seen[k] {
			delete(s.prev, k)
		}
	}
	if now.Sub(s.lastTidy) >= time.Minute {
		s.lastTidy = now
		s.History.Forget(now.Add(-24 * time.Hour))
	}
}

func float64bits(f float64) uint64     { return math.Float64bits(f) }
func float64frombits(b uint64) float64 { return math.Float64frombits(b) }
