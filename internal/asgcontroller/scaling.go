package asgcontroller

import (
	"fmt"
	"math"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/model"
)

// Target tracking, as AWS documents it and Kubernetes' HPA implements it:
// the capacity that brings the metric to the target is proportional,
// desired = ceil(ready × metric / target), skipped within a tolerance band.
// Scale-out acts on the first sustained breach (the metric averaged over a
// short window); scale-in waits until every recommendation over a
// stabilization window agrees, never while instances warm up, and only
// when every policy that may scale in agrees.

// Tracking holds the settings and the scale-in history of the groups.
type Tracking struct {
	// Tolerance is the band around the target in which nothing changes
	// (0.1: a metric within ±10% of the target).
	Tolerance float64
	// ScaleInWindow is the stabilization window of scale-in.
	ScaleInWindow time.Duration

	history map[string][]recommendation // by group, within the window
	since   map[string]time.Time        // when the group's scale-in streak began
}

type recommendation struct {
	at      time.Time
	desired int
}

// NewTracking returns the defaults: tolerance 0.1, scale-in window 5 min.
func NewTracking() *Tracking {
	return &Tracking{Tolerance: 0.1, ScaleInWindow: 5 * time.Minute, history: map[string][]recommendation{}, since: map[string]time.Time{}}
}

// PolicyMetric is a policy with its metric, averaged over the scale-out
// window; Valid is false while there is not enough data (INSUFFICIENT_DATA).
type PolicyMetric struct {
	Policy *model.ScalingPolicy
	Value  float64
	Valid  bool
}

// Decision is a change of desired capacity and its cause.
type Decision struct {
	Desired int
	Cause   string
}

// Decide returns the new desired capacity of g, if it should change. ready
// counts in-service instances past their warmup; warming says whether any
// instance is still pending or warming up.
func (tr *Tracking) Decide(now time.Time, g *model.AutoScalingGroup, ready int, warming bool, metrics []PolicyMetric) (Decision, bool) {
	if len(metrics) == 0 {
		tr.reset(g.Name)
		return Decision{}, false
	}
	cur := g.Desired
	out, in := cur, 0
	var outBy, inBy *PolicyMetric
	canScaleIn := true
	for i := range metrics {
		m := &metrics[i]
		if !m.Policy.Enabled {
			continue
		}
		if !m.Valid || ready == 0 {
			canScaleIn = false
			continue
		}
		rec := cur
		ratio := m.Value / m.Policy.TargetValue
		if math.Abs(ratio-1) > tr.Tolerance {
			rec = int(math.Ceil(float64(ready)*ratio - 1e-9))
		}
		if rec > out {
			out, outBy = rec, m
		}
		if m.Policy.DisableScaleIn {
			rec = max(rec, cur)
		}
		if inBy == nil || rec > in {
			in, inBy = rec, m
		}
	}
	if outBy != nil {
		if target := min(out, g.MaxSize); target > cur {
			tr.reset(g.Name)
			return Decision{Desired: target, Cause: cause(now, outBy, outBy.Policy.AlarmHigh, cur, target, "above")}, true
		}
	}
	if !canScaleIn || inBy == nil || warming {
		tr.reset(g.Name)
		return Decision{}, false
	}
	if _, ok := tr.since[g.Name]; !ok {
		tr.since[g.Name] = now
	}
	// Keep the recommendations of the window; scale in to the highest of
	// them once the window is covered.
	h := append(tr.history[g.Name], recommendation{now, in})
	for len(h) > 0 && now.Sub(h[0].at) > tr.ScaleInWindow {
		h = h[1:]
	}
	tr.history[g.Name] = h
	if now.Sub(tr.since[g.Name]) < tr.ScaleInWindow {
		return Decision{}, false
	}
	highest := 0
	for _, r := range h {
		highest = max(highest, r.desired)
	}
	target := max(highest, g.MinSize)
	if target >= cur {
		return Decision{}, false
	}
	tr.reset(g.Name)
	return Decision{Desired: target, Cause: cause(now, inBy, inBy.Policy.AlarmLow, cur, target, "below")}, true
}

func cause(now time.Time, m *PolicyMetric, alarm string, from, to int, dir string) string {
	name := alarm
	if i := lastIndex(alarm, ':'); i >= 0 {
		name = alarm[i+1:]
	}
	return fmt.Sprintf("At %s a monitor alarm %s in state ALARM triggered policy %s changing the desired capacity from %d to %d (%s was %.2f, %s the target of %.2f).",
		autoscaling.Stamp(now), name, m.Policy.Name, from, to, m.Policy.MetricType, m.Value, dir, m.Policy.TargetValue)
}

func lastIndex(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func (tr *Tracking) reset(group string) {
	delete(tr.history, group)
	delete(tr.since, group)
}
