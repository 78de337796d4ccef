package lbcontroller

import (
	"context"
	"slices"
	"testing"

	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/health"
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

// The controller recompiles on the kinds the routing table is built from,
// not on auto scaling's (the bolt store's tests check that a watch of some
// kinds is not woken by others).
func TestRunWatchesTheKindsItCompiles(t *testing.T) {
	st, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := watchRecorder{st, make(chan []string, 1)}
	srv := dataplane.NewServer(nil)
	defer srv.Shutdown(context.Background())
	c := New(rec, srv, health.NewMonitor())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	kinds := <-rec.kinds
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{model.KindLoadBalancer, model.KindListener, model.KindRule, model.KindTargetGroup, model.KindTarget, model.KindCertificate} {
		if !slices.Contains(kinds, k) {
			t.Errorf("the controller does not watch %s: %v", k, kinds)
		}
	}
	for _, k := range []string{model.KindLaunchTemplate, model.KindInstance, model.KindAutoScalingGroup, model.KindActivity} {
		if slices.Contains(kinds, k) {
			t.Errorf("the controller watches %s, which it does not compile", k)
		}
	}
}
