package lbcontroller

import (
	"context"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// newTestController is a controller on a bolt store in a temporary
// directory, with a data plane and health checks that never probe; all
// are closed when the test ends.
func newTestController(tb testing.TB) (store.Store, *Controller) {
	tb.Helper()
	st, err := store.OpenBolt(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	srv := dataplane.NewServer(nil)
	tb.Cleanup(func() { srv.Shutdown(context.Background()) })
	hm := health.NewMonitor()
	hm.Check = func(context.Context, health.Spec, string) health.Result { return health.Result{} }
	tb.Cleanup(hm.Stop)
	return st, New(st, srv, hm)
}

// A reconcile builds again only the target groups whose record or
// registrations changed; the others keep what the last one built.
func TestReconcileRebuildsChangedGroupsOnly(t *testing.T) {
	st, c := newTestController(t)
	update := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := st.Update(fn); err != nil {
			t.Fatal(err)
		}
		if err := c.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	groups := map[string]*model.TargetGroup{}
	update(func(tx store.Tx) error {
		for _, name := range []string{"a", "b"} {
			g := &model.TargetGroup{Name: name, Protocol: "HTTP", Port: 8080, TargetType: "ip"}
			if err := elb.PutTargetGroup(tx, g); err != nil {
				return err
			}
			groups[name] = g
			if err := elb.RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.1"}, {ID: "10.0.0.2"}}, now); err != nil {
				return err
			}
		}
		return nil
	})
	a, b := groups["a"].ARN, groups["b"].ARN
	built := func(arn string) *dataplane.TargetGroup { return c.groupCache[arn].dg }
	a1, b1 := built(a), built(b)
	if len(a1.Targets) != 2 || len(b1.Targets) != 2 {
		t.Fatalf("compiled %d and %d targets, want 2 and 2", len(a1.Targets), len(b1.Targets))
	}

	update(func(tx store.Tx) error {
		return elb.RegisterTargets(tx, a, []model.Target{{ID: "10.0.0.3"}}, now)
	})
	a2, b2 := built(a), built(b)
	if a2 == a1 || len(a2.Targets) != 3 {
		t.Errorf("group a after a registration: rebuilt %v, %d targets, want rebuilt with 3", a2 != a1, len(a2.Targets))
	}
	if a2.Targets[0] != a1.Targets[0] || a2.State() != a1.State() {
		t.Error("rebuilding group a lost its live targets or its state")
	}
	if b2 != b1 {
		t.Error("group b was rebuilt though nothing of it changed")
	}

	update(func(tx store.Tx) error {
		_, err := elb.ModifyTargetGroupAttributes(tx, b, map[string]string{"load_balancing.algorithm.type": "least_outstanding_requests"})
		return err
	})
	if b3 := built(b); b3 == b2 || b3.Algorithm != dataplane.LeastOutstandingRequests || b3.Targets[0] != b2.Targets[0] {
		t.Errorf("group b after an attribute change: rebuilt %v, algorithm %v, targets kept %v", b3 != b2, b3.Algorithm, b3.Targets[0] == b2.Targets[0])
	}
	if built(a) != a2 {
		t.Error("group a was rebuilt by a change of group b")
	}

	update(func(tx store.Tx) error {
		return elb.DeregisterTargets(tx, a, []elb.TargetRef{{ID: "10.0.0.1"}}, now)
	})
	var draining int
	for _, g := range c.Snapshot().Groups {
		for _, tv := range g.Targets {
			if tv.Registration.DrainingSince != nil {
				draining++
				if g.Group.ARN != a || !tv.Live.Draining() {
					t.Errorf("draining registration %s of %s: live target draining %v", tv.Registration.ID, g.Group.Name, tv.Live.Draining())
				}
			}
		}
	}
	if draining != 1 {
		t.Errorf("%d draining registrations in the snapshot, want 1", draining)
	}
	if g, ok := c.Snapshot().Group(b); !ok || g.Group.Name != "b" || len(g.Targets) != 2 {
		t.Errorf("Snapshot.Group(b) = %+v, %v", g, ok)
	}
	if _, ok := c.Snapshot().Group("arn:none"); ok {
		t.Error("Snapshot.Group found a group that does not exist")
	}
}
