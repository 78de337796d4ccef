package dataplane

import (
	"testing"
	"time"
)

func TestSlowStartRampsLinearly(t *testing.T) {
	r := NewRegistry()
	old := r.Get("g", "old", 1, "x:1", "z")
	young := r.Get("g", "young", 2, "x:2", "z")
	old.SetHealthy(true)
	young.SetHealthy(true)
	g := NewTargetGroup("g", "g", []*Target{old, young}, RoundRobin, 100*time.Second, nil)
	start := time.Unix(1000, 0)
	young.StartSlowStart(start)
	cases := []struct {
		at   time.Duration
		want float64 // young's share relative to old's
	}{
		{25 * time.Second, 0.25},
		{50 * time.Second, 0.5},
		{75 * time.Second, 0.75},
		{100 * time.Second, 1},
	}
	for _, tc := range cases {
		now := start.Add(tc.at)
		counts := map[*Target]int{}
		for i := 0; i < 40000; i++ {
			counts[g.pick(nil, now)]++
		}
		ratio := float64(counts[young]) / float64(counts[old])
		if ratio < tc.want*0.85 || ratio > tc.want*1.15 {
			t.Errorf("at %v: young/old = %.2f, want %.2f", tc.at, ratio, tc.want)
		}
	}
	if young.InSlowStart() {
		t.Error("slow start should end after its duration")
	}
}

func TestLeastOutstandingPicksTheIdlest(t *testing.T) {
	r := NewRegistry()
	var ts []*Target
	for i, load := range []int64{5, 1, 3} {
		tg := r.Get("g", string(rune('a'+i)), i, "x", "z")
		tg.SetHealthy(true)
		tg.inflight.Store(load)
		ts = append(ts, tg)
	}
	g := NewTargetGroup("g", "g", ts, LeastOutstandingRequests, 0, nil)
	for i := 0; i < 10; i++ {
		if got := g.pick(nil, time.Now()); got != ts[1] {
			t.Fatalf("picked %s, want the one with 1 in flight", got.ID)
		}
	}
	if got := g.pick(ts[1], time.Now()); got != ts[2] {
		t.Errorf("excluding the idlest picked %s, want c", got.ID)
	}
}

func TestDrainingAndPassiveTargetsGetNothing(t *testing.T) {
	r := NewRegistry()
	a, b, c := r.Get("g", "a", 1, "x", "z"), r.Get("g", "b", 2, "x", "z"), r.Get("g", "c", 3, "x", "z")
	for _, tg := range []*Target{a, b, c} {
		tg.SetHealthy(true)
	}
	b.SetDraining(true)
	c.MarkFailed()
	g := NewTargetGroup("g", "g", []*Target{a, b, c}, WeightedRandom, 0, nil)
	for i := 0; i < 100; i++ {
		if got := g.pick(nil, time.Now()); got != a {
			t.Fatalf("picked %s", got.ID)
		}
	}
	// Everything out of rotation: fail open, but never to a draining target.
	a.SetHealthy(false)
	for i := 0; i < 100; i++ {
		if got := g.pick(nil, time.Now()); got == b {
			t.Fatal("fail-open picked a draining target")
		}
	}
	b.SetDraining(true)
	a.SetDraining(true)
	c.SetDraining(true)
	if got := g.pick(nil, time.Now()); got != nil {
		t.Errorf("all draining: picked %s, want none (503)", got.ID)
	}
}
