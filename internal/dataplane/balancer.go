package dataplane

import (
	"math/rand/v2"
	"time"
)

// pick chooses a target for a new request. exclude (may be nil) is a target
// that already failed this request. When no target is routable the group
// fails open to every registered target that is not draining, as ALB does.
// It returns nil when there is nothing to send to.
func (g *TargetGroup) pick(exclude *Target, now time.Time) *Target {
	n := len(g.Targets)
	if n == 0 {
		return nil
	}
	start := int(g.state.next.Add(1) % uint64(n))
	if t := g.pickFrom(start, exclude, now, (*Target).routable); t != nil {
		return t
	}
	return g.pickFrom(start, exclude, now, func(t *Target) bool { return !t.draining.Load() })
}

// pickFrom applies the group's algorithm to the targets that pass ok.
func (g *TargetGroup) pickFrom(start int, exclude *Target, now time.Time, ok func(*Target) bool) *Target {
	n := len(g.Targets)
	switch g.Algorithm {
	case LeastOutstandingRequests:
		var best *Target
		var bestLoad int64
		for i := 0; i < n; i++ {
			t := g.Targets[(start+i)%n]
			if t == exclude || !ok(t) {
				continue
			}
			if l := t.inflight.Load(); best == nil || l < bestLoad {
				best, bestLoad = t, l
			}
		}
		return best
	case WeightedRandom:
		return g.weightedRandom(exclude, now, ok)
	default: // round robin
		var first *Target
		for i := 0; i < n; i++ {
			t := g.Targets[(start+i)%n]
			if t == exclude || !ok(t) {
				continue
			}
			if g.SlowStart == 0 {
				return t // no slow start: plain round robin
			}
			if t.slowStart.Load() != 0 {
				// A target in slow start gets weight elapsed/duration
				// relative to the others: pick by weight instead.
				return g.weightedRandom(exclude, now, ok)
			}
			if first == nil {
				first = t
			}
		}
		return first
	}
}

// weightedRandom picks at random in proportion to the targets' weights.
func (g *TargetGroup) weightedRandom(exclude *Target, now time.Time, ok func(*Target) bool) *Target {
	total := 0.0
	for _, t := range g.Targets {
		if t != exclude && ok(t) {
			total += g.weight(t, now)
		}
	}
	if total == 0 {
		return nil
	}
	x := rand.Float64() * total
	var last *Target
	for _, t := range g.Targets {
		if t == exclude || !ok(t) {
			continue
		}
		last = t
		if x -= g.weight(t, now); x < 0 {
			return t
		}
	}
	return last
}

// minSlowStartWeight keeps a target in slow start from getting nothing at
// all in its first moments.
const minSlowStartWeight = 0.02

// weight is the target's share relative to a fully warmed target: it grows
// linearly through the slow-start duration.
func (g *TargetGroup) weight(t *Target, now time.Time) float64 {
	began := t.slowStart.Load()
	if began == 0 || g.SlowStart <= 0 {
		return 1
	}
	elapsed := now.UnixNano() - began
	if elapsed >= int64(g.SlowStart) {
		t.slowStart.CompareAndSwap(began, 0)
		return 1
	}
	w := float64(elapsed) / float64(g.SlowStart)
	if w < minSlowStartWeight {
		w = minSlowStartWeight
	}
	return w
}

// pickGroup chooses among weighted groups of a forward action.
func pickGroup(gs []WeightedGroup) *TargetGroup {
	if len(gs) == 1 {
		return gs[0].Group
	}
	total := 0
	for _, g := range gs {
		total += g.Weight
	}
	if total <= 0 {
		return gs[0].Group
	}
	x := rand.IntN(total)
	for _, g := range gs {
		if x -= g.Weight; x < 0 {
			return g.Group
		}
	}
	return gs[len(gs)-1].Group
}
