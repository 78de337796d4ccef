package asgcontroller

import (
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/model"
)

func cpuPolicy(target float64) *model.ScalingPolicy {
	return &model.ScalingPolicy{Name: "cpu", Group: "g", PolicyType: "TargetTrackingScaling", MetricType: "ASGAverageCPUUtilization",
		TargetValue: target, Enabled: true, AlarmHigh: "arn:aws:cloudwatch:r:a:alarm:TargetTracking-g-AlarmHigh-x", AlarmLow: "arn:aws:cloudwatch:r:a:alarm:TargetTracking-g-AlarmLow-x"}
}

func TestScaleOutIsProportionalAndClamped(t *testing.T) {
	cases := []struct {
		name            string
		desired, ready  int
		max             int
		value           float64
		want            int
		wantDecision    bool
		wantCauseSubstr string
	}{
		{"double load doubles", 1, 1, 4, 100, 2, true, "above the target of 50.00"},
		{"rounded up", 2, 2, 10, 80, 4, true, "from 2 to 4"},
		{"clamped to max", 1, 1, 2, 400, 2, true, "from 1 to 2"},
		{"within tolerance", 2, 2, 4, 54, 0, false, ""},
		{"at max already", 2, 2, 2, 200, 0, false, ""},
		{"warming instance counts", 2, 1, 4, 90, 0, false, ""}, // ceil(1*1.8)=2: nothing to add
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracking()
			g := &model.AutoScalingGroup{Name: "g", MinSize: 1, MaxSize: tc.max, Desired: tc.desired}
			d, ok := tr.Decide(time.Unix(1000, 0), g, tc.ready, false, []PolicyMetric{{Policy: cpuPolicy(50), Value: tc.value, Valid: true}})
			if ok != tc.wantDecision || ok && d.Desired != tc.want {
				t.Fatalf("decision %v %+v, want %v %d", ok, d, tc.wantDecision, tc.want)
			}
			if ok && !strings.Contains(d.Cause, tc.wantCauseSubstr) {
				t.Errorf("cause %q lacks %q", d.Cause, tc.wantCauseSubstr)
			}
		})
	}
}

func TestScaleInWaitsForTheWindow(t *testing.T) {
	tr := NewTracking()
	tr.ScaleInWindow = time.Minute
	g := &model.AutoScalingGroup{Name: "g", MinSize: 1, MaxSize: 4, Desired: 3}
	low := []PolicyMetric{{Policy: cpuPolicy(50), Value: 10, Valid: true}}
	t0 := time.Unix(1000, 0)
	for s := 0; s < 60; s += 5 {
		if d, ok := tr.Decide(t0.Add(time.Duration(s)*time.Second), g, 3, false, low); ok {
			t.Fatalf("scaled in after %ds, before the window: %+v", s, d)
		}
	}
	d, ok := tr.Decide(t0.Add(60*time.Second), g, 3, false, low)
	if !ok || d.Desired != 1 || !strings.Contains(d.Cause, "below the target") || !strings.Contains(d.Cause, "AlarmLow") {
		t.Fatalf("after the window: %v %+v", ok, d)
	}
}

func TestScaleInUsesTheHighestRecommendationOfTheWindow(t *testing.T) {
	tr := NewTracking()
	tr.ScaleInWindow = time.Minute
	g := &model.AutoScalingGroup{Name: "g", MinSize: 1, MaxSize: 4, Desired: 4}
	t0 := time.Unix(1000, 0)
	// A spike to 40% (recommends ceil(4*0.8)=4... within tolerance? no: 0.8)
	// then 10%: the window's highest recommendation wins.
	values := []float64{10, 30, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}
	var got int
	for i, v := range values {
		d, ok := tr.Decide(t0.Add(time.Duration(i*5)*time.Second), g, 4, false, []PolicyMetric{{Policy: cpuPolicy(50), Value: v, Valid: true}})
		if ok {
			got = d.Desired
		}
	}
	if got != 3 { // ceil(4 * 30/50) = 3 was seen within the window
		t.Errorf("scaled in to %d, want 3", got)
	}
}

func TestScaleInNeedsEveryPolicyAndNoWarmup(t *testing.T) {
	t0 := time.Unix(1000, 0)
	g := &model.AutoScalingGroup{Name: "g", MinSize: 1, MaxSize: 4, Desired: 2}
	noScaleIn := cpuPolicy(50)
	noScaleIn.DisableScaleIn = true
	requests := &model.ScalingPolicy{Name: "req", Group: "g", MetricType: "ALBRequestCountPerTarget", TargetValue: 100, Enabled: true}
	cases := []struct {
		name    string
		warming bool
		metrics []PolicyMetric
	}{
		{"disable scale-in", false, []PolicyMetric{{Policy: noScaleIn, Value: 5, Valid: true}}},
		{"another policy disagrees", false, []PolicyMetric{{Policy: cpuPolicy(50), Value: 5, Valid: true}, {Policy: requests, Value: 100, Valid: true}}},
		{"insufficient data", false, []PolicyMetric{{Policy: cpuPolicy(50), Value: 5, Valid: true}, {Policy: requests, Valid: false}}},
		{"warming up", true, []PolicyMetric{{Policy: cpuPolicy(50), Value: 5, Valid: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracking()
			tr.ScaleInWindow = 10 * time.Second
			for s := 0; s <= 30; s += 5 {
				if d, ok := tr.Decide(t0.Add(time.Duration(s)*time.Second), g, 2, tc.warming, tc.metrics); ok {
					t.Fatalf("scaled in at %ds: %+v", s, d)
				}
			}
		})
	}
	// Any policy may scale out, even one that disables scale-in.
	tr := NewTracking()
	d, ok := tr.Decide(t0, g, 2, false, []PolicyMetric{{Policy: cpuPolicy(50), Value: 5, Valid: true}, {Policy: noScaleIn, Value: 100, Valid: true}})
	if !ok || d.Desired != 4 {
		t.Errorf("scale-out by any policy: %v %+v", ok, d)
	}
}
