package asgcontroller

import (
	"context"
	"slices"
	"testing"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// watchRecorder passes Watch on to the store and reports its kinds.
type watchRecorder struct {
	store.Store
	kinds chan []string
}

func (w watchRecorder) Watch(ctx context.Context, kinds ...string) <-chan struct{} {
	w.kinds <- kinds
	return w.Store.Watch(ctx, kinds...)
}

// The controller steps at once on changes of groups and instances, and not
// on target registrations or templates (the bolt store's tests check that a
// watch of some kinds is not woken by others).
func TestRunWatchesGroupsAndInstances(t *testing.T) {
	r := newRig(t, []string{"zone-a"}, 0, 0, 2, "EC2")
	rec := watchRecorder{r.st, make(chan []string, 1)}
	r.c.Store = rec
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.c.Run(ctx) }()
	kinds := <-rec.kinds
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{model.KindAutoScalingGroup, model.KindInstance} {
		if !slices.Contains(kinds, k) {
			t.Errorf("the controller does not watch %s: %v", k, kinds)
		}
	}
	for _, k := range []string{model.KindTarget, model.KindTargetGroup, model.KindListener, model.KindLaunchTemplate, model.KindActivity} {
		if slices.Contains(kinds, k) {
			t.Errorf("the controller watches %s: %v", k, kinds)
		}
	}
	if len(kinds) == 0 {
		t.Error("the controller watches every kind")
	}
}
