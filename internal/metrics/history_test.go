package metrics

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/alba-lb/alba/internal/clock"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func TestSlotSizeIsWhatTheDocsSay(t *testing.T) {
	if got := unsafe.Sizeof(slot{}); got*(secondSlots+minuteSlots) != SeriesBytes {
		t.Fatalf("slot is %d bytes: SeriesBytes (%d) is wrong", got, SeriesBytes)
	}
}

func TestQueryStatistics(t *testing.T) {
	h := NewHistory()
	m := New(NamespaceELB, "HealthyHostCount", DimTargetGroup, "targetgroup/a/1", DimLoadBalancer, "app/lb/2")
	// One sample a second for two minutes: 1, 2, …, 120.
	for i := range 120 {
		h.Put(m, nil, t0.Add(time.Duration(i)*time.Second), Value(float64(i+1)))
	}
	// The same metric with its dimensions in the other order is the same series.
	same := New(NamespaceELB, "HealthyHostCount", DimLoadBalancer, "app/lb/2", DimTargetGroup, "targetgroup/a/1")
	cases := []struct {
		name       string
		start, end time.Duration
		period     time.Duration
		want       [][5]float64 // sum, count, min, max, average per datapoint
	}{
		{"one minute periods", 0, 120 * time.Second, time.Minute, [][5]float64{{1830, 60, 1, 60, 30.5}, {5430, 60, 61, 120, 90.5}}},
		{"ten second periods", 0, 20 * time.Second, 10 * time.Second, [][5]float64{{55, 10, 1, 10, 5.5}, {155, 10, 11, 20, 15.5}}},
		{"a start rounded down to the minute", 30 * time.Second, 90 * time.Second, time.Minute, [][5]float64{{1830, 60, 1, 60, 30.5}, {2265, 30, 61, 90, 75.5}}},
		{"a start rounded down to the period", 13 * time.Second, 20 * time.Second, 5 * time.Second, [][5]float64{{65, 5, 11, 15, 13}, {90, 5, 16, 20, 18}}},
		{"no data after the end", 120 * time.Second, 180 * time.Second, time.Minute, nil},
		{"end before start", 60 * time.Second, 0, time.Minute, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dps, err := h.Query(Query{Metric: same, Start: t0.Add(c.start), End: t0.Add(c.end), Period: c.period})
			if err != nil {
				t.Fatal(err)
			}
			if len(dps) != len(c.want) {
				t.Fatalf("got %d datapoints, want %d: %+v", len(dps), len(c.want), dps)
			}
			for i, d := range dps {
				got := [5]float64{d.Sum, d.SampleCount, d.Minimum, d.Maximum, d.Average()}
				if got != c.want[i] {
					t.Errorf("datapoint %d: got %v, want %v", i, got, c.want[i])
				}
				if want := t0.Add(c.start).Truncate(min(c.period, time.Minute)).Add(time.Duration(i) * c.period); !d.Timestamp.Equal(want) {
					t.Errorf("datapoint %d at %v, want %v", i, d.Timestamp, want)
				}
			}
		})
	}
	if _, err := h.Query(Query{Metric: m, Start: t0, End: t0.Add(time.Minute), Period: 1500 * time.Millisecond}); err != ErrPeriod {
		t.Errorf("a period of 1.5 s: err %v, want ErrPeriod", err)
	}
}

func TestOlderThanAnHourComesFromTheMinuteSlots(t *testing.T) {
	h := NewHistory()
	m := New(NamespaceELB, "RequestCount", DimLoadBalancer, "app/lb/1")
	// 10 requests a second for 3 hours.
	for s := 0; s < 3*3600; s++ {
		h.Put(m, nil, t0.Add(time.Duration(s)*time.Second), Value(10))
	}
	now := t0.Add(3 * time.Hour)
	// The first hour is gone from the seconds but kept per minute.
	dps, _ := h.Query(Query{Metric: m, Start: t0, End: t0.Add(time.Hour), Period: time.Hour})
	if len(dps) != 1 || dps[0].Sum != 36000 || dps[0].SampleCount != 3600 {
		t.Fatalf("first hour: %+v, want one datapoint of 36000 requests in 3600 samples", dps)
	}
	// A 1 s period over it finds nothing: high resolution is kept an hour.
	if dps, _ := h.Query(Query{Metric: m, Start: t0, End: t0.Add(time.Minute), Period: time.Second}); len(dps) != 0 {
		t.Errorf("1 s datapoints two hours old: %d, want none", len(dps))
	}
	// The last minute at 1 s: 60 datapoints of 10.
	dps, _ = h.Query(Query{Metric: m, Start: now.Add(-time.Minute), End: now, Period: time.Second})
	if len(dps) != 60 || dps[59].Sum != 10 {
		t.Errorf("last minute at 1 s: %d datapoints", len(dps))
	}
	// A day later the minutes of the first hour are overwritten too.
	for s := 3 * 3600; s < 25*3600+60; s += 60 {
		h.Put(m, nil, t0.Add(time.Duration(s)*time.Second), Value(1))
	}
	if dps, _ := h.Query(Query{Metric: m, Start: t0, End: t0.Add(time.Hour), Period: time.Hour}); len(dps) != 0 {
		t.Errorf("a day and an hour later the first hour is still there: %+v", dps)
	}
}

func TestCountersAndHistograms(t *testing.T) {
	h := NewHistory()
	s := &Sampler{History: h}
	req := New(NamespaceELB, "RequestCount", DimLoadBalancer, "app/lb/1")
	rt := New(NamespaceELB, "TargetResponseTime", DimLoadBalancer, "app/lb/1")
	bounds := []float64{0.001, 0.01, 0.1, 1}
	type reading struct {
		total   uint64
		buckets []uint64 // cumulative, +Inf last
		sum     float64
	}
	readings := []reading{
		{5, []uint64{0, 0, 0, 0, 0}, 0},       // five requests before the first reading, none timed yet
		{15, []uint64{2, 6, 10, 10, 10}, 0.5}, // ten: 2 under 1 ms, 4 under 10 ms, 4 under 100 ms
		{15, []uint64{2, 6, 10, 10, 10}, 0.5}, // nothing
		{3, []uint64{0, 0, 3, 3, 3}, 0.09},    // the counters were made anew
	}
	wantReq := []float64{5, 10, 0, 3}
	for i, rd := range readings {
		s.Sources = []Source{func(r *Recorder) {
			if got := r.Counter(req, rd.total); got != wantReq[i] {
				t.Errorf("reading %d: counter delta %v, want %v", i, got, wantReq[i])
			}
			r.Histogram(rt, bounds, rd.buckets, rd.sum)
		}}
		s.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	dps, _ := h.Query(Query{Metric: req, Start: t0, End: t0.Add(time.Minute), Period: time.Minute})
	if len(dps) != 1 || dps[0].Sum != 18 || dps[0].SampleCount != 4 {
		t.Fatalf("RequestCount: %+v, want Sum 18 over 4 readings", dps)
	}
	dps, _ = h.Query(Query{Metric: rt, Start: t0, End: t0.Add(time.Minute), Period: time.Minute})
	if len(dps) != 1 {
		t.Fatalf("TargetResponseTime: %d datapoints", len(dps))
	}
	d := dps[0]
	if d.SampleCount != 13 || math.Abs(d.Sum-0.59) > 1e-9 {
		t.Errorf("TargetResponseTime: %v requests summing to %v s, want 13 and 0.59", d.SampleCount, d.Sum)
	}
	if d.Minimum != 0 || math.Abs(d.Maximum-0.1) > 1e-6 {
		t.Errorf("min %v max %v, want the bounds of the buckets used: 0 and 0.1", d.Minimum, d.Maximum)
	}
	cases := []struct {
		stat   string
		lo, hi float64
	}{
		// The buckets hold 2, 4 and 7 of the 13 requests.
		{"p10", 0, 0.001},    // the 1.3rd: in the first
		{"p30", 0.001, 0.01}, // the 3.9th: in the second
		{"p50", 0.01, 0.1},   // the 6.5th: in the third
		{"p99", 0.01, 0.1},
		{"p100", 0.1, 0.1},
	}
	for _, c := range cases {
		v, ok := d.Statistic(c.stat)
		if !ok || v < c.lo || v > c.hi {
			t.Errorf("%s = %v (%v), want in [%v, %v]", c.stat, v, ok, c.lo, c.hi)
		}
	}
	plain, _ := h.Query(Query{Metric: req, Start: t0, End: t0.Add(time.Minute), Period: time.Minute})
	if _, ok := plain[0].Statistic("p99"); ok {
		t.Error("a plain series answered a percentile")
	}
}

func TestParsePercentile(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"p99", 99, true}, {"p99.9", 99.9, true}, {"p0", 0, true}, {"p100", 100, true}, {"p99.99", 99.99, true},
		{"p101", 0, false}, {"p99.999", 0, false}, {"p", 0, false}, {"P99", 0, false}, {"p9x", 0, false}, {"p.5", 0, false}, {"p5.", 0, false}, {"Average", 0, false},
	}
	for _, c := range cases {
		got, ok := ParsePercentile(c.in)
		if ok != c.ok || ok && math.Abs(got-c.want) > 1e-9 {
			t.Errorf("ParsePercentile(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestListAndForget(t *testing.T) {
	h := NewHistory()
	a := New(NamespaceELB, "RequestCount", DimLoadBalancer, "app/a/1")
	b := New(NamespaceELB, "RequestCount", DimLoadBalancer, "app/b/2", DimTargetGroup, "targetgroup/t/3")
	c := New(NamespaceEC2, "CPUUtilization", DimInstanceID, "i-1")
	h.Put(a, nil, t0, Value(1))
	h.Put(b, nil, t0.Add(time.Hour), Value(1))
	h.Put(c, nil, t0.Add(time.Hour), Value(1))
	cases := []struct {
		name string
		f    Filter
		want []Metric
	}{
		{"all", Filter{}, []Metric{a, b, c}},
		{"namespace", Filter{Namespace: NamespaceEC2}, []Metric{c}},
		{"dimension of any value", Filter{Dimensions: []Dimension{{DimTargetGroup, ""}}}, []Metric{b}},
		{"dimension value", Filter{Name: "RequestCount", Dimensions: []Dimension{{DimLoadBalancer, "app/a/1"}}}, []Metric{a}},
		{"recently active", Filter{Since: t0.Add(time.Minute)}, []Metric{b, c}},
		{"nothing", Filter{Name: "Nope"}, nil},
	}
	for _, cs := range cases {
		got := h.List(cs.f)
		if len(got) != len(cs.want) {
			t.Errorf("%s: got %d metrics, want %d", cs.name, len(got), len(cs.want))
			continue
		}
		for i := range got {
			if got[i].key() != cs.want[i].key() {
				t.Errorf("%s: metric %d is %v, want %v", cs.name, i, got[i], cs.want[i])
			}
		}
	}
	h.Forget(t0.Add(time.Minute))
	if h.Len() != 2 {
		t.Errorf("after forgetting what is older than a minute past t0: %d series, want 2", h.Len())
	}
}

func TestSamplerRunsEverySecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHistory()
		m := New(NamespaceAutoScaling, "GroupDesiredCapacity", DimAutoScalingGroup, "web")
		readings := 0
		s := &Sampler{History: h, Clock: clock.Real{}, Sources: []Source{func(r *Recorder) {
			readings++
			r.Gauge(m, float64(readings))
		}}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { s.Run(ctx); close(done) }()
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		if readings != 10 {
			t.Errorf("%d readings in 10 s, want 10", readings)
		}
		dps, _ := h.Query(Query{Metric: m, Start: start, End: start.Add(10 * time.Second), Period: time.Second})
		if len(dps) != 10 || dps[9].Maximum != 10 {
			t.Errorf("%d datapoints, want one a second", len(dps))
		}
	})
}
