package metrics

import (
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxSeries bounds how many series a History keeps: a new one beyond it is
// not recorded. Each costs about SeriesBytes.
const MaxSeries = 20000

// History is the metrics history. It is safe for concurrent use.
type History struct {
	mu     sync.RWMutex
	series map[string]*series
}

// NewHistory returns an empty history.
func NewHistory() *History { return &History{series: map[string]*series{}} }

// Sample is what one reading adds to a series: Count observations whose
// values sum to Sum and range from Min to Max. Buckets, for a histogram
// series, counts the observations per bucket (len(bounds)+1, +Inf last).
type Sample struct {
	Sum      float64
	Count    uint32
	Min, Max float64
	Buckets  []uint32
}

// Merge adds o's observations to s.
func (s *Sample) Merge(o Sample) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 {
		s.Min, s.Max = o.Min, o.Max
	} else {
		s.Min, s.Max = min(s.Min, o.Min), max(s.Max, o.Max)
	}
	s.Sum += o.Sum
	s.Count += o.Count
	if len(s.Buckets) < len(o.Buckets) {
		s.Buckets = append(s.Buckets, make([]uint32, len(o.Buckets)-len(s.Buckets))...)
	}
	for i, c := range o.Buckets {
		s.Buckets[i] += c
	}
}

// Value is a sample of one observation.
func Value(v float64) Sample { return Sample{Sum: v, Count: 1, Min: v, Max: v} }

// Put adds s to m's series at time at; bounds are a histogram series'
// bucket upper bounds (nil for a plain series), fixed when the series is
// made.
func (h *History) Put(m Metric, bounds []float64, at time.Time, s Sample) {
	if s.Count == 0 || math.IsNaN(s.Sum) {
		return
	}
	k := m.key()
	h.mu.Lock()
	defer h.mu.Unlock()
	sr := h.series[k]
	if sr == nil {
		if len(h.series) >= MaxSeries {
			return
		}
		m.Dimensions = slices.Clone(m.Dimensions)
		m.sortDims()
		sr = newSeries(m, bounds)
		h.series[k] = sr
	}
	sr.add(at.Unix(), slot{sum: s.Sum, count: s.Count, min: float32(s.Min), max: float32(s.Max)}, s.Buckets)
}

// Forget drops the series with no sample since before: a day after a
// target or an instance is gone, its series goes too.
func (h *History) Forget(before time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, s := range h.series {
		if s.lastSec < before.Unix() {
			delete(h.series, k)
		}
	}
}

// Len is the number of series held.
func (h *History) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.series)
}

// Filter selects metrics for List: empty fields match everything; a
// dimension filter with an empty Value matches any value of that name.
type Filter struct {
	Namespace  string
	Name       string
	Dimensions []Dimension
	// Since keeps only metrics with a sample since then (zero: all).
	Since time.Time
}

func (f Filter) match(s *series) bool {
	m := s.metric
	if f.Namespace != "" && f.Namespace != m.Namespace || f.Name != "" && f.Name != m.Name {
		return false
	}
	if !f.Since.IsZero() && s.lastSec < f.Since.Unix() {
		return false
	}
	for _, d := range f.Dimensions {
		v, ok := "", false
		for _, md := range m.Dimensions {
			if md.Name == d.Name {
				v, ok = md.Value, true
			}
		}
		if !ok || d.Value != "" && d.Value != v {
			return false
		}
	}
	return true
}

// List returns the metrics f selects, ordered by namespace, name and
// dimensions.
func (h *History) List(f Filter) []Metric {
	h.mu.RLock()
	var keys []string
	out := map[string]Metric{}
	for k, s := range h.series {
		if f.match(s) {
			keys = append(keys, k)
			out[k] = s.metric
		}
	}
	h.mu.RUnlock()
	slices.Sort(keys)
	ms := make([]Metric, len(keys))
	for i, k := range keys {
		ms[i] = out[k]
		ms[i].Dimensions = slices.Clone(ms[i].Dimensions)
	}
	return ms
}

// Query asks for one metric's datapoints: one per Period from Start
// (inclusive) to End (exclusive), periods without a sample left out.
type Query struct {
	Metric     Metric
	Start, End time.Time
	Period     time.Duration
}

// Datapoint aggregates the samples of one period.
type Datapoint struct {
	// Timestamp is the start of the period.
	Timestamp time.Time
	// Sum, SampleCount, Minimum and Maximum are CloudWatch's statistics.
	Sum, SampleCount, Minimum, Maximum float64

	bounds  []float64
	buckets []uint64
}

// Average is Sum / SampleCount.
func (d Datapoint) Average() float64 {
	if d.SampleCount == 0 {
		return 0
	}
	return d.Sum / d.SampleCount
}

// ErrPeriod is returned for a period that is not a whole number of seconds
// or is not positive.
var ErrPeriod = errors.New("the period must be a positive whole number of seconds")

// Query returns q's datapoints, oldest first, the first period starting at
// Start rounded down to the minute (or to the period, if shorter). Periods
// shorter than a minute, or ranges the last hour holds entirely, are read
// at 1 s resolution; others from the minute slots. The series' histogram, if any, gives each datapoint its
// percentiles.
func (h *History) Query(q Query) ([]Datapoint, error) {
	if q.Period <= 0 || q.Period%time.Second != 0 {
		return nil, ErrPeriod
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	s := h.series[q.Metric.key()]
	if s == nil || !q.End.After(q.Start) {
		return nil, nil
	}
	r := &s.sec
	period := int64(q.Period / time.Second)
	start, end := q.Start.Unix(), q.End.Unix()
	if q.End.Nanosecond() > 0 {
		end++
	}
	// As CloudWatch does, a start is rounded down to the whole minute (for
	// periods of a minute or more) or to the period.
	start -= mod(start, min(period, 60))
	if period%60 == 0 && start < r.oldest() {
		r = &s.min
	}
	var out []Datapoint
	for p := start; p < end; p += period {
		d := Datapoint{Timestamp: time.Unix(p, 0).UTC(), bounds: s.bounds}
		pend := min(p+period, end)
		for i := floorDiv(p, r.step); i*r.step < pend; i++ {
			sl, b, ok := r.get(i)
			if !ok {
				continue
			}
			if d.SampleCount == 0 {
				d.Minimum, d.Maximum = float64(sl.min), float64(sl.max)
			} else {
				d.Minimum, d.Maximum = min(d.Minimum, float64(sl.min)), max(d.Maximum, float64(sl.max))
			}
			d.Sum += sl.sum
			d.SampleCount += float64(sl.count)
			if b != nil {
				if d.buckets == nil {
					d.buckets = make([]uint64, len(b))
				}
				for k, c := range b {
					d.buckets[k] += uint64(c)
				}
			}
		}
		if d.SampleCount > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func floorDiv(a, b int64) int64 { return (a - mod(a, b)) / b }

// Statistic returns the named statistic: Average, Sum, Minimum, Maximum,
// SampleCount, or a percentile pNN (p50, p99, p99.9), which only a
// histogram series has (ok false otherwise, or for an unknown name).
func (d Datapoint) Statistic(name string) (float64, bool) {
	switch name {
	case "Average":
		return d.Average(), true
	case "Sum":
		return d.Sum, true
	case "Minimum":
		return d.Minimum, true
	case "Maximum":
		return d.Maximum, true
	case "SampleCount":
		return d.SampleCount, true
	}
	p, ok := ParsePercentile(name)
	if !ok || d.buckets == nil {
		return 0, false
	}
	return d.percentile(p), true
}

// ParsePercentile reads a CloudWatch percentile statistic, p0 to p100 with
// up to two decimals (p99.99).
func ParsePercentile(name string) (float64, bool) {
	if len(name) < 2 || name[0] != 'p' {
		return 0, false
	}
	num := name[1:]
	if i := strings.IndexByte(num, '.'); i >= 0 && (len(num)-i-1 > 2 || i == 0 || i == len(num)-1) {
		return 0, false
	}
	var v float64
	seenDot, scale := false, 1.0
	for _, c := range num {
		switch {
		case c == '.' && !seenDot:
			seenDot = true
		case c >= '0' && c <= '9':
			if seenDot {
				scale /= 10
				v += float64(c-'0') * scale
			} else {
				v = v*10 + float64(c-'0')
			}
		default:
			return 0, false
		}
	}
	if v > 100 {
		return 0, false
	}
	return v, true
}

// percentile estimates the p-th percentile from the bucket counts, linear
// within a bucket (as Prometheus's histogram_quantile), clamped to the
// period's minimum and maximum.
func (d Datapoint) percentile(p float64) float64 {
	var total uint64
	for _, c := range d.buckets {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := p / 100 * float64(total)
	var cum uint64
	for i, c := range d.buckets {
		if c == 0 || float64(cum+c) < rank {
			cum += c
			continue
		}
		lo := 0.0
		if i > 0 {
			lo = d.bounds[i-1]
		}
		if i >= len(d.bounds) {
			return d.Maximum
		}
		hi := d.bounds[i]
		v := lo + (hi-lo)*(rank-float64(cum))/float64(c)
		return min(max(v, d.Minimum), d.Maximum)
	}
	return d.Maximum
}
