package metrics

import "math"

// Resolutions and retention: a slot per second for the last hour and a slot
// per minute for the last day.
const (
	secondSlots = 3600
	minuteSlots = 1440
)

// SeriesBytes is what one series costs: a 24-byte slot per second of the
// last hour and per minute of the last day. A histogram series (response
// times) adds 4 bytes per bucket per slot.
const SeriesBytes = (secondSlots + minuteSlots) * 24

// slot aggregates the samples that fell into one second or one minute.
// Min and Max are float32 to keep a slot at 24 bytes: they are shown, never
// summed.
type slot struct {
	sum      float64
	count    uint32
	min, max float32
}

func (s *slot) merge(o slot) {
	if o.count == 0 {
		return
	}
	if s.count == 0 {
		*s = o
		return
	}
	s.sum += o.sum
	s.count += o.count
	s.min = min(s.min, o.min)
	s.max = max(s.max, o.max)
}

// ring holds consecutive slots of step seconds: slot index i covers
// [i*step, (i+1)*step) in Unix seconds. Indexes older than head-len(slots)
// have been overwritten.
type ring struct {
	step  int64
	slots []slot
	// buckets holds nb bucket counts per slot for a histogram series.
	buckets []uint32
	nb      int
	head    int64 // newest index written; -1 before the first
}

func newRing(step int64, n, nb int) ring {
	r := ring{step: step, slots: make([]slot, n), nb: nb, head: -1}
	if nb > 0 {
		r.buckets = make([]uint32, n*nb)
	}
	return r
}

func (r *ring) pos(i int64) int { return int(i % int64(len(r.slots))) }

// add merges s (and its bucket counts) into the slot of Unix second sec.
// A sample older than the ring's window is dropped.
func (r *ring) add(sec int64, s slot, b []uint32) {
	i := sec / r.step
	n := int64(len(r.slots))
	if r.head < 0 {
		r.head = i
	}
	if i > r.head {
		// Clear the slots skipped since head: they held data n slots old.
		from := max(r.head+1, i-n+1)
		for j := from; j <= i; j++ {
			p := r.pos(j)
			r.slots[p] = slot{}
			if r.nb > 0 {
				clear(r.buckets[p*r.nb : (p+1)*r.nb])
			}
		}
		r.head = i
	}
	if i <= r.head-n {
		return
	}
	p := r.pos(i)
	r.slots[p].merge(s)
	if r.nb > 0 && len(b) == r.nb {
		for k, c := range b {
			r.buckets[p*r.nb+k] += c
		}
	}
}

// get returns the slot at index i and its bucket counts; ok is false when i
// is outside the window or nothing was recorded there.
func (r *ring) get(i int64) (s slot, b []uint32, ok bool) {
	if r.head < 0 || i > r.head || i <= r.head-int64(len(r.slots)) {
		return slot{}, nil, false
	}
	p := r.pos(i)
	s = r.slots[p]
	if s.count == 0 {
		return slot{}, nil, false
	}
	if r.nb > 0 {
		b = r.buckets[p*r.nb : (p+1)*r.nb]
	}
	return s, b, true
}

// oldest is the first Unix second the ring still holds.
func (r *ring) oldest() int64 {
	if r.head < 0 {
		return math.MaxInt64
	}
	return (r.head - int64(len(r.slots)) + 1) * r.step
}

// series is one metric's history at both resolutions.
type series struct {
	metric  Metric
	bounds  []float64 // histogram bucket upper bounds, +Inf implied; nil for plain series
	sec     ring
	min     ring
	lastSec int64 // Unix second of the newest sample
}

func newSeries(m Metric, bounds []float64) *series {
	nb := 0
	if bounds != nil {
		nb = len(bounds) + 1
	}
	return &series{metric: m, bounds: bounds, sec: newRing(1, secondSlots, nb), min: newRing(60, minuteSlots, nb)}
}

func (s *series) add(sec int64, v slot, b []uint32) {
	s.sec.add(sec, v, b)
	s.min.add(sec, v, b)
	s.lastSec = max(s.lastSec, sec)
}
