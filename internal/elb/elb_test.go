package elb

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

var (
	lbARNRe       = regexp.MustCompile(`^arn:aws:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/app/[A-Za-z0-9-]+/[0-9a-f]{16}$`)
	tgARNRe       = regexp.MustCompile(`^arn:aws:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[A-Za-z0-9-]+/[0-9a-f]{16}$`)
	listenerARNRe = regexp.MustCompile(`^arn:aws:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener/app/[A-Za-z0-9-]+/[0-9a-f]{16}/[0-9a-f]{16}$`)
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// do runs fn in a read-write transaction and returns its error (the
// transaction is rolled back when fn fails, as for real callers).
func do(t *testing.T, s store.Store, fn func(tx store.Tx) error) error {
	t.Helper()
	return s.Update(fn)
}

// must runs fn in a read-write transaction and fails the test on error.
func must(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var me *model.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *model.Error", err, err)
	}
	if me.Code != code {
		t.Fatalf("error code = %q, want %q (%s)", me.Code, code, me.Message)
	}
}

func newLB(t *testing.T, s store.Store, name string, attrs map[string]string) *model.LoadBalancer {
	t.Helper()
	lb := &model.LoadBalancer{Name: name, Attributes: attrs, CreatedTime: t0}
	must(t, s, func(tx store.Tx) error { return PutLoadBalancer(tx, lb) })
	return lb
}

func newTG(t *testing.T, s store.Store, name string, port int, attrs map[string]string) *model.TargetGroup {
	t.Helper()
	g := &model.TargetGroup{Name: name, Port: port, TargetType: "ip", Attributes: attrs}
	must(t, s, func(tx store.Tx) error { return PutTargetGroup(tx, g) })
	return g
}

func forwardTo(arn string) []model.Action {
	return []model.Action{{Type: "forward", TargetGroupARN: arn}}
}

func newListener(t *testing.T, s store.Store, lbARN string, port int, bind string, actions []model.Action) *model.Listener {
	t.Helper()
	l := &model.Listener{LoadBalancerARN: lbARN, Protocol: "HTTP", Port: port, BindAddress: bind, DefaultActions: actions}
	must(t, s, func(tx store.Tx) error { return PutListener(tx, l) })
	return l
}

func targetsOf(t *testing.T, s store.Store, groupARN string) map[string]*model.Target {
	t.Helper()
	out := map[string]*model.Target{}
	err := s.View(func(tx store.Tx) error {
		groupPort := -1 // the group may be gone
		if g, err := TargetGroup(tx, groupARN); err == nil {
			groupPort = g.Port
		}
		ts, err := TargetsOf(tx, groupARN)
		for _, tg := range ts {
			// A registration on the group's port is named by its id alone.
			if tg.Port == groupPort {
				out[tg.ID] = tg
			} else {
				out[Describe(tg)] = tg
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPutLoadBalancer(t *testing.T) {
	s := openStore(t)
	lb := newLB(t, s, "web", nil)
	if !lbARNRe.MatchString(lb.ARN) || model.ResourceName(lb.ARN) != "web" {
		t.Fatalf("ARN %q", lb.ARN)
	}
	if lb.Scheme != "internet-facing" || lb.IPAddressType != "ipv4" {
		t.Errorf("defaults not applied: %s %s", lb.Scheme, lb.IPAddressType)
	}
	err := s.View(func(tx store.Tx) error {
		got, err := LoadBalancer(tx, lb.ARN)
		if err != nil {
			return err
		}
		if got.Name != "web" || !got.CreatedTime.Equal(t0) {
			t.Errorf("stored %+v", got)
		}
		byName, err := LoadBalancerByName(tx, "web")
		if err != nil || byName == nil || byName.ARN != lb.ARN {
			t.Errorf("LoadBalancerByName = %v, %v", byName, err)
		}
		none, err := LoadBalancerByName(tx, "nope")
		if err != nil || none != nil {
			t.Errorf("LoadBalancerByName(nope) = %v, %v", none, err)
		}
		_, err = LoadBalancer(tx, "arn:nope")
		wantCode(t, err, "LoadBalancerNotFound")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Same name, new resource: refused.
	dup := &model.LoadBalancer{Name: "web"}
	wantCode(t, do(t, s, func(tx store.Tx) error { return PutLoadBalancer(tx, dup) }), "DuplicateLoadBalancerName")

	// Same ARN: an update.
	upd := *lb
	upd.Attributes = map[string]string{"idle_timeout.timeout_seconds": "120"}
	must(t, s, func(tx store.Tx) error { return PutLoadBalancer(tx, &upd) })
	if upd.ARN != lb.ARN {
		t.Errorf("update changed the ARN: %s -> %s", lb.ARN, upd.ARN)
	}
	newLB(t, s, "api", nil)
	s.View(func(tx store.Tx) error {
		lbs, err := LoadBalancers(tx)
		if err != nil {
			t.Fatal(err)
		}
		if len(lbs) != 2 || lbs[0].Name != "api" || lbs[1].Name != "web" {
			t.Fatalf("LoadBalancers = %v", lbs)
		}
		if lbs[1].Attributes["idle_timeout.timeout_seconds"] != "120" {
			t.Errorf("update not stored: %v", lbs[1].Attributes)
		}
		return nil
	})

	// Invalid ones are refused with ValidationError and not stored.
	for _, bad := range []*model.LoadBalancer{
		{Name: "internal-web"},
		{Name: "bad_name"},
		{Name: "ok", Attributes: map[string]string{"idle_timeout.timeout_seconds": "5000"}},
	} {
		wantCode(t, do(t, s, func(tx store.Tx) error { return PutLoadBalancer(tx, bad) }), "ValidationError")
	}
	s.View(func(tx store.Tx) error {
		lbs, _ := LoadBalancers(tx)
		if len(lbs) != 2 {
			t.Errorf("%d load balancers after invalid puts, want 2", len(lbs))
		}
		return nil
	})
}

func TestPutTargetGroup(t *testing.T) {
	s := openStore(t)
	g := newTG(t, s, "web", 80, nil)
	if !tgARNRe.MatchString(g.ARN) || model.ResourceName(g.ARN) != "web" {
		t.Fatalf("ARN %q", g.ARN)
	}
	if g.Protocol != "HTTP" || g.HealthCheck.IntervalSeconds != 30 || g.HealthCheck.Matcher != "200" {
		t.Errorf("defaults not applied: %+v", g)
	}

	dup := &model.TargetGroup{Name: "web", Port: 8080}
	wantCode(t, do(t, s, func(tx store.Tx) error { return PutTargetGroup(tx, dup) }), "DuplicateTargetGroupName")

	upd := *g
	upd.HealthCheck.Path = "/health"
	must(t, s, func(tx store.Tx) error { return PutTargetGroup(tx, &upd) })
	if upd.ARN != g.ARN {
		t.Errorf("update changed the ARN")
	}

	// The target type cannot change.
	chg := *g
	chg.TargetType = "instance"
	wantCode(t, do(t, s, func(tx store.Tx) error { return PutTargetGroup(tx, &chg) }), "ValidationError")

	wantCode(t, do(t, s, func(tx store.Tx) error {
		return PutTargetGroup(tx, &model.TargetGroup{Name: "x", Port: 0})
	}), "ValidationError")
	wantCode(t, do(t, s, func(tx store.Tx) error {
		return PutTargetGroup(tx, &model.TargetGroup{Name: "y", Port: 80, Attributes: map[string]string{"slow_start.duration_seconds": "10"}})
	}), "ValidationError")

	s.View(func(tx store.Tx) error {
		got, err := TargetGroup(tx, g.ARN)
		if err != nil {
			t.Fatal(err)
		}
		if got.HealthCheck.Path != "/health" || got.TargetType != "ip" {
			t.Errorf("stored %+v", got)
		}
		_, err = TargetGroup(tx, "arn:nope")
		wantCode(t, err, "TargetGroupNotFound")
		gs, _ := TargetGroups(tx)
		if len(gs) != 1 {
			t.Errorf("%d target groups, want 1", len(gs))
		}
		byName, err := TargetGroupByName(tx, "web")
		if err != nil || byName == nil || byName.ARN != g.ARN {
			t.Errorf("TargetGroupByName = %v, %v", byName, err)
		}
		return nil
	})
}

// PutTargetGroup's doc comment says "protocol, port and target type cannot
// change after creation", but only the target type is checked.
func TestPutTargetGroupProtocolAndPortCannotChange(t *testing.T) {
	s := openStore(t)
	g := newTG(t, s, "web", 80, nil)
	port := *g
	port.Port = 8080
	wantCode(t, do(t, s, func(tx store.Tx) error { return PutTargetGroup(tx, &port) }), "ValidationError")
	proto := *g
	proto.Protocol, proto.HealthCheck.Protocol = "HTTPS", "HTTPS"
	wantCode(t, do(t, s, func(tx store.Tx) error { return PutTargetGroup(tx, &proto) }), "ValidationError")
}

func TestPutListener(t *testing.T) {
	s := openStore(t)
	lbA := newLB(t, s, "a", nil)
	lbB := newLB(t, s, "b", nil)
	tgA := newTG(t, s, "tg-a", 80, nil)
	tgB := newTG(t, s, "tg-b", 80, nil)
	tgC := newTG(t, s, "tg-c", 80, nil)

	l := newListener(t, s, lbA.ARN, 80, "", forwardTo(tgA.ARN))
	if !listenerARNRe.MatchString(l.ARN) {
		t.Fatalf("listener ARN %q", l.ARN)
	}
	lbID := lbA.ARN[len(lbA.ARN)-16:]
	if want := "listener/app/a/" + lbID + "/"; !strings.Contains(l.ARN, want) {
		t.Errorf("listener ARN %q not under load balancer %q", l.ARN, lbA.ARN)
	}
	if l.DefaultActions[0].Order != 1 {
		t.Errorf("defaults not applied: order %d", l.DefaultActions[0].Order)
	}

	tests := []struct {
		name string
		l    model.Listener
		code string
	}{
		{"unknown load balancer", model.Listener{LoadBalancerARN: "arn:nope", Protocol: "HTTP", Port: 81, DefaultActions: forwardTo(tgA.ARN)}, "LoadBalancerNotFound"},
		{"unknown target group", model.Listener{LoadBalancerARN: lbA.ARN, Protocol: "HTTP", Port: 81, DefaultActions: forwardTo("arn:nope")}, "TargetGroupNotFound"},
		{"unknown weighted target group", model.Listener{LoadBalancerARN: lbA.ARN, Protocol: "HTTP", Port: 81, DefaultActions: []model.Action{{Type: "forward", ForwardConfig: &model.ForwardConfig{TargetGroups: []model.WeightedTargetGroup{{TargetGroupARN: tgA.ARN, Weight: 1}, {TargetGroupARN: "arn:nope", Weight: 1}}}}}}, "TargetGroupNotFound"},
		{"invalid", model.Listener{LoadBalancerARN: lbA.ARN, Protocol: "HTTP", Port: 0, DefaultActions: forwardTo(tgA.ARN)}, "ValidationError"},
		{"no actions", model.Listener{LoadBalancerARN: lbA.ARN, Protocol: "HTTP", Port: 81}, "ValidationError"},
		{"same port same lb", model.Listener{LoadBalancerARN: lbA.ARN, Protocol: "HTTP", Port: 80, DefaultActions: forwardTo(tgA.ARN)}, "DuplicateListener"},
		{"same port same lb, one bound", model.Listener{LoadBalancerARN: lbA.ARN, Protocol: "HTTP", Port: 80, BindAddress: "127.0.0.1", DefaultActions: forwardTo(tgA.ARN)}, "DuplicateListener"},
		{"same port other lb, all addresses", model.Listener{LoadBalancerARN: lbB.ARN, Protocol: "HTTP", Port: 80, DefaultActions: forwardTo(tgB.ARN)}, "DuplicateListener"},
		{"same port other lb, one bound", model.Listener{LoadBalancerARN: lbB.ARN, Protocol: "HTTP", Port: 80, BindAddress: "127.0.0.2", DefaultActions: forwardTo(tgB.ARN)}, "DuplicateListener"},
		{"group serves another lb", model.Listener{LoadBalancerARN: lbB.ARN, Protocol: "HTTP", Port: 81, DefaultActions: forwardTo(tgA.ARN)}, "TargetGroupAssociationLimit"},
		{"weighted group serves another lb", model.Listener{LoadBalancerARN: lbB.ARN, Protocol: "HTTP", Port: 81, DefaultActions: []model.Action{{Type: "forward", ForwardConfig: &model.ForwardConfig{TargetGroups: []model.WeightedTargetGroup{{TargetGroupARN: tgB.ARN, Weight: 1}, {TargetGroupARN: tgA.ARN, Weight: 1}}}}}}, "TargetGroupAssociationLimit"},
		{"other port same lb, same group", model.Listener{LoadBalancerARN: lbA.ARN, Protocol: "HTTP", Port: 8080, DefaultActions: forwardTo(tgA.ARN)}, ""},
		{"fixed response", model.Listener{LoadBalancerARN: lbB.ARN, Protocol: "HTTP", Port: 9000, DefaultActions: []model.Action{{Type: "fixed-response", FixedResponse: &model.FixedResponseConfig{StatusCode: "404"}}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nl := tt.l
			err := do(t, s, func(tx store.Tx) error { return PutListener(tx, &nl) })
			wantCode(t, err, tt.code)
			if tt.code != "" {
				return
			}
			if !listenerARNRe.MatchString(nl.ARN) {
				t.Errorf("listener ARN %q", nl.ARN)
			}
		})
	}

	// Different bind addresses share a port, on one load balancer or two.
	b1 := newListener(t, s, lbA.ARN, 7000, "127.0.0.1", forwardTo(tgA.ARN))
	newListener(t, s, lbA.ARN, 7000, "127.0.0.2", forwardTo(tgA.ARN))
	newListener(t, s, lbB.ARN, 7000, "127.0.0.3", forwardTo(tgC.ARN))
	wantCode(t, do(t, s, func(tx store.Tx) error {
		return PutListener(tx, &model.Listener{LoadBalancerARN: lbB.ARN, Protocol: "HTTP", Port: 7000, BindAddress: "127.0.0.1", DefaultActions: forwardTo(tgC.ARN)})
	}), "DuplicateListener")
	wantCode(t, do(t, s, func(tx store.Tx) error {
		return PutListener(tx, &model.Listener{LoadBalancerARN: lbB.ARN, Protocol: "HTTP", Port: 7000, DefaultActions: forwardTo(tgC.ARN)})
	}), "DuplicateListener")

	// Updating a listener in place keeps its port without conflicting with itself.
	upd := *b1
	upd.DefaultActions = []model.Action{{Type: "redirect", Redirect: &model.RedirectConfig{Protocol: "HTTPS", StatusCode: "HTTP_301"}}}
	must(t, s, func(tx store.Tx) error { return PutListener(tx, &upd) })
	if upd.ARN != b1.ARN {
		t.Errorf("update changed the ARN")
	}
	// The same listener switching to a group that serves another LB is refused.
	upd.DefaultActions = forwardTo(tgC.ARN)
	wantCode(t, do(t, s, func(tx store.Tx) error { return PutListener(tx, &upd) }), "TargetGroupAssociationLimit")

	s.View(func(tx store.Tx) error {
		ls, err := Listeners(tx)
		if err != nil {
			t.Fatal(err)
		}
		// 80, 8080 and 7000x2 on a; 9000 and 7000 on b.
		if len(ls) != 6 {
			t.Errorf("%d listeners, want 6", len(ls))
		}
		for i := 1; i < len(ls); i++ {
			if ls[i-1].Port > ls[i].Port {
				t.Errorf("Listeners not sorted by port")
			}
		}
		got, err := Listener(tx, b1.ARN)
		if err != nil || got.DefaultActions[0].Type != "redirect" {
			t.Errorf("Listener(b1) = %+v, %v", got, err)
		}
		_, err = Listener(tx, "arn:nope")
		wantCode(t, err, "ListenerNotFound")
		return nil
	})
}

func TestDeleteListener(t *testing.T) {
	s := openStore(t)
	lb := newLB(t, s, "a", nil)
	g := newTG(t, s, "g", 80, nil)
	l := newListener(t, s, lb.ARN, 80, "", forwardTo(g.ARN))
	must(t, s, func(tx store.Tx) error { return DeleteListener(tx, l.ARN) })
	wantCode(t, do(t, s, func(tx store.Tx) error { return DeleteListener(tx, l.ARN) }), "ListenerNotFound")
	// The port is free again.
	newListener(t, s, lb.ARN, 80, "", forwardTo(g.ARN))
}

func TestDeleteTargetGroup(t *testing.T) {
	s := openStore(t)
	lb := newLB(t, s, "a", nil)
	g := newTG(t, s, "g", 80, nil)
	other := newTG(t, s, "other", 80, nil)
	must(t, s, func(tx store.Tx) error {
		if err := RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.1"}, {ID: "10.0.0.2", Port: 8080}}, t0); err != nil {
			return err
		}
		return RegisterTargets(tx, other.ARN, []model.Target{{ID: "10.0.0.1"}}, t0)
	})
	must(t, s, func(tx store.Tx) error { return DeregisterTargets(tx, g.ARN, []TargetRef{{ID: "10.0.0.1"}}, t0) })
	l := newListener(t, s, lb.ARN, 80, "", []model.Action{{Type: "forward", ForwardConfig: &model.ForwardConfig{
		TargetGroups: []model.WeightedTargetGroup{{TargetGroupARN: other.ARN, Weight: 1}, {TargetGroupARN: g.ARN, Weight: 1}},
	}}})

	wantCode(t, do(t, s, func(tx store.Tx) error { return DeleteTargetGroup(tx, g.ARN) }), "ResourceInUse")
	if n := len(targetsOf(t, s, g.ARN)); n != 2 {
		t.Fatalf("%d targets after a refused delete, want 2", n)
	}

	must(t, s, func(tx store.Tx) error { return DeleteListener(tx, l.ARN) })
	must(t, s, func(tx store.Tx) error { return DeleteTargetGroup(tx, g.ARN) })
	if ts := targetsOf(t, s, g.ARN); len(ts) != 0 {
		t.Errorf("targets left after the group was deleted: %v", ts)
	}
	if ts := targetsOf(t, s, other.ARN); len(ts) != 1 {
		t.Errorf("the other group's targets = %v, want 1", ts)
	}
	s.View(func(tx store.Tx) error {
		_, err := TargetGroup(tx, g.ARN)
		wantCode(t, err, "TargetGroupNotFound")
		return nil
	})
	if err := do(t, s, func(tx store.Tx) error { return DeleteTargetGroup(tx, g.ARN) }); err != nil {
		t.Errorf("deleting a deleted target group: %v, want success as on AWS", err)
	}
}

func TestDeleteLoadBalancer(t *testing.T) {
	s := openStore(t)
	a := newLB(t, s, "a", nil)
	b := newLB(t, s, "b", nil)
	ga := newTG(t, s, "ga", 80, nil)
	gb := newTG(t, s, "gb", 80, nil)
	newListener(t, s, a.ARN, 80, "", forwardTo(ga.ARN))
	newListener(t, s, a.ARN, 81, "", forwardTo(ga.ARN))
	lbB := newListener(t, s, b.ARN, 82, "", forwardTo(gb.ARN))
	must(t, s, func(tx store.Tx) error { return RegisterTargets(tx, ga.ARN, []model.Target{{ID: "10.0.0.1"}}, t0) })

	must(t, s, func(tx store.Tx) error { return DeleteLoadBalancer(tx, a.ARN) })
	s.View(func(tx store.Tx) error {
		ls, _ := Listeners(tx)
		if len(ls) != 1 || ls[0].ARN != lbB.ARN {
			t.Errorf("listeners after delete = %v, want only b's", ls)
		}
		_, err := LoadBalancer(tx, a.ARN)
		wantCode(t, err, "LoadBalancerNotFound")
		// The target group and its targets stay.
		if _, err := TargetGroup(tx, ga.ARN); err != nil {
			t.Errorf("target group gone: %v", err)
		}
		return nil
	})
	if n := len(targetsOf(t, s, ga.ARN)); n != 1 {
		t.Errorf("%d targets after the load balancer was deleted, want 1", n)
	}
	// The group is free: it can now serve b, and be deleted.
	newListener(t, s, b.ARN, 80, "", forwardTo(ga.ARN))

	// Unknown or already deleted: success.
	must(t, s, func(tx store.Tx) error { return DeleteLoadBalancer(tx, a.ARN) })
	must(t, s, func(tx store.Tx) error { return DeleteLoadBalancer(tx, "arn:nope") })

	// Deletion protection.
	p := newLB(t, s, "p", map[string]string{"deletion_protection.enabled": "true"})
	pl := newListener(t, s, p.ARN, 90, "", []model.Action{{Type: "fixed-response", FixedResponse: &model.FixedResponseConfig{StatusCode: "200"}}})
	wantCode(t, do(t, s, func(tx store.Tx) error { return DeleteLoadBalancer(tx, p.ARN) }), "OperationNotPermitted")
	s.View(func(tx store.Tx) error {
		if _, err := LoadBalancer(tx, p.ARN); err != nil {
			t.Errorf("protected load balancer deleted: %v", err)
		}
		if _, err := Listener(tx, pl.ARN); err != nil {
			t.Errorf("protected load balancer's listener deleted: %v", err)
		}
		return nil
	})
	p.Attributes["deletion_protection.enabled"] = "false"
	must(t, s, func(tx store.Tx) error { return PutLoadBalancer(tx, p) })
	must(t, s, func(tx store.Tx) error { return DeleteLoadBalancer(tx, p.ARN) })
}

// DeleteLoadBalancer treats any error reading the load balancer as "not
// found" and reports success without deleting anything.
func TestDeleteLoadBalancerReportsStoreErrors(t *testing.T) {
	s := openStore(t)
	const arn = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/x/0123456789abcdef"
	must(t, s, func(tx store.Tx) error { return tx.Put(model.KindLoadBalancer, arn, []byte("{corrupt")) })
	if err := do(t, s, func(tx store.Tx) error { return DeleteLoadBalancer(tx, arn) }); err == nil {
		t.Fatal("DeleteLoadBalancer of an unreadable record succeeded; the record is still there")
	}
}

func TestRegisterTargets(t *testing.T) {
	s := openStore(t)
	g := newTG(t, s, "g", 80, nil)
	t1 := t0.Add(time.Minute)
	t2 := t0.Add(2 * time.Minute)

	must(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.1"}, {ID: "10.0.0.1", Port: 8080}, {ID: "10.0.0.2", AvailabilityZone: "us-east-1a"}}, t0)
	})
	ts := targetsOf(t, s, g.ARN)
	if len(ts) != 3 {
		t.Fatalf("targets = %v, want 3 (the same id may be registered on several ports)", ts)
	}
	for k, tg := range ts {
		if !tg.RegisteredAt.Equal(t0) || tg.DrainingSince != nil || tg.TargetGroupARN != g.ARN {
			t.Errorf("%s: %+v", k, tg)
		}
	}

	// Re-registering is a no-op: RegisteredAt is kept.
	must(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.1"}, {ID: "10.0.0.1", Port: 8080}}, t1)
	})
	ts = targetsOf(t, s, g.ARN)
	if len(ts) != 3 {
		t.Fatalf("targets after re-register = %v", ts)
	}
	for k, tg := range ts {
		if !tg.RegisteredAt.Equal(t0) {
			t.Errorf("%s: RegisteredAt = %v after re-register, want %v", k, tg.RegisteredAt, t0)
		}
	}

	// Changing a registration's zone keeps RegisteredAt and stores the zone.
	must(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.2", AvailabilityZone: "us-east-1b"}}, t1)
	})
	if tg := targetsOf(t, s, g.ARN)["10.0.0.2"]; tg.AvailabilityZone != "us-east-1b" || !tg.RegisteredAt.Equal(t0) {
		t.Errorf("after a zone change: %+v", tg)
	}

	// Re-registering a draining target brings it back.
	must(t, s, func(tx store.Tx) error { return DeregisterTargets(tx, g.ARN, []TargetRef{{ID: "10.0.0.1"}}, t1) })
	if tg := targetsOf(t, s, g.ARN)["10.0.0.1"]; tg.DrainingSince == nil {
		t.Fatalf("not draining after deregister: %+v", tg)
	}
	must(t, s, func(tx store.Tx) error { return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.1"}}, t2) })
	tg := targetsOf(t, s, g.ARN)["10.0.0.1"]
	if tg.DrainingSince != nil {
		t.Errorf("still draining after re-register: %v", *tg.DrainingSince)
	}
	if !tg.RegisteredAt.Equal(t0) {
		t.Errorf("RegisteredAt = %v, want the original %v", tg.RegisteredAt, t0)
	}
	// And RemoveDrained leaves it alone, however late.
	must(t, s, func(tx store.Tx) error {
		n, err := RemoveDrained(tx, t2.Add(24*time.Hour))
		if n != 0 {
			t.Errorf("RemoveDrained removed %d", n)
		}
		return err
	})

	// Errors: unknown group, invalid target; nothing of a refused batch is stored.
	wantCode(t, do(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, "arn:nope", []model.Target{{ID: "10.0.0.9"}}, t0)
	}), "TargetGroupNotFound")
	wantCode(t, do(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.9"}, {ID: "8.8.8.8"}}, t0)
	}), "InvalidTarget")
	if _, ok := targetsOf(t, s, g.ARN)["10.0.0.9"]; ok {
		t.Error("a target of a refused batch was stored")
	}
	wantCode(t, do(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.9", Port: 70000}}, t0)
	}), "ValidationError")
}

// On AWS a registration without a port uses the group's port, so Id and
// Id:<group port> are one registration; here they are two records.
func TestRegisterTargetsGroupPortIsTheDefaultPort(t *testing.T) {
	s := openStore(t)
	g := newTG(t, s, "g", 80, nil)
	must(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.1"}, {ID: "10.0.0.1", Port: 80}}, t0)
	})
	if ts := targetsOf(t, s, g.ARN); len(ts) != 1 {
		t.Errorf("registrations = %v, want one for 10.0.0.1:80", ts)
	}
}

// A target registered with Port equal to the group's port and deregistered
// without a port (which on AWS means the group's port) must drain.
func TestDeregisterTargetsWithoutPortFindsGroupPortRegistration(t *testing.T) {
	s := openStore(t)
	g := newTG(t, s, "g", 80, nil)
	must(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.1", Port: 80}}, t0)
	})
	must(t, s, func(tx store.Tx) error { return DeregisterTargets(tx, g.ARN, []TargetRef{{ID: "10.0.0.1"}}, t0) })
	for k, tg := range targetsOf(t, s, g.ARN) {
		if tg.DrainingSince == nil {
			t.Errorf("%s is not draining", k)
		}
	}
}

func TestDeregisterTargets(t *testing.T) {
	s := openStore(t)
	g := newTG(t, s, "g", 80, nil)
	t1 := t0.Add(time.Minute)
	t2 := t0.Add(2 * time.Minute)
	must(t, s, func(tx store.Tx) error {
		return RegisterTargets(tx, g.ARN, []model.Target{
			{ID: "10.0.0.1"}, {ID: "10.0.0.2"}, {ID: "10.0.0.3", Port: 8080}, {ID: "10.0.0.4"}, {ID: "10.0.0.5", Port: 9090},
		}, t0)
	})

	must(t, s, func(tx store.Tx) error {
		return DeregisterTargets(tx, g.ARN, []TargetRef{
			{ID: "10.0.0.1"},             // registered without a port
			{ID: "10.0.0.2", Port: 80},   // registered without a port, deregistered with the group's
			{ID: "10.0.0.3", Port: 8080}, // port override, same port
			{ID: "10.0.0.5"},             // port override, no port given: not this registration
			{ID: "10.9.9.9"},             // unknown: ignored
			{ID: "10.0.0.4", Port: 81},   // wrong port: ignored
		}, t1)
	})
	ts := targetsOf(t, s, g.ARN)
	if len(ts) != 5 {
		t.Fatalf("targets = %v, want 5 (deregistering only starts draining)", ts)
	}
	for _, k := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3:8080"} {
		if ts[k].DrainingSince == nil || !ts[k].DrainingSince.Equal(t1) {
			t.Errorf("%s DrainingSince = %v, want %v", k, ts[k].DrainingSince, t1)
		}
	}
	for _, k := range []string{"10.0.0.4", "10.0.0.5:9090"} {
		if ts[k].DrainingSince != nil {
			t.Errorf("%s is draining, want untouched", k)
		}
	}

	// Deregistering again does not restart the drain.
	must(t, s, func(tx store.Tx) error { return DeregisterTargets(tx, g.ARN, []TargetRef{{ID: "10.0.0.1"}}, t2) })
	if d := targetsOf(t, s, g.ARN)["10.0.0.1"].DrainingSince; d == nil || !d.Equal(t1) {
		t.Errorf("DrainingSince = %v after a second deregister, want %v", d, t1)
	}

	wantCode(t, do(t, s, func(tx store.Tx) error {
		return DeregisterTargets(tx, "arn:nope", []TargetRef{{ID: "10.0.0.1"}}, t1)
	}), "TargetGroupNotFound")
}

func TestDeregistrationDelay(t *testing.T) {
	tests := []struct {
		attrs map[string]string
		want  time.Duration
	}{
		{nil, 300 * time.Second},
		{map[string]string{}, 300 * time.Second},
		{map[string]string{"stickiness.enabled": "true"}, 300 * time.Second},
		{map[string]string{"deregistration_delay.timeout_seconds": "0"}, 0},
		{map[string]string{"deregistration_delay.timeout_seconds": "30"}, 30 * time.Second},
		{map[string]string{"deregistration_delay.timeout_seconds": "3600"}, time.Hour},
	}
	for _, tt := range tests {
		g := &model.TargetGroup{Attributes: tt.attrs}
		if got := DeregistrationDelay(g); got != tt.want {
			t.Errorf("DeregistrationDelay(%v) = %v, want %v", tt.attrs, got, tt.want)
		}
	}
}

func TestRemoveDrained(t *testing.T) {
	s := openStore(t)
	def := newTG(t, s, "default", 80, nil) // 300 s
	short := newTG(t, s, "short", 80, map[string]string{"deregistration_delay.timeout_seconds": "30"})
	zero := newTG(t, s, "zero", 80, map[string]string{"deregistration_delay.timeout_seconds": "0"})
	gone := newTG(t, s, "gone", 80, nil)
	for _, g := range []*model.TargetGroup{def, short, zero, gone} {
		must(t, s, func(tx store.Tx) error {
			return RegisterTargets(tx, g.ARN, []model.Target{{ID: "10.0.0.1"}, {ID: "10.0.0.2"}}, t0)
		})
		must(t, s, func(tx store.Tx) error { return DeregisterTargets(tx, g.ARN, []TargetRef{{ID: "10.0.0.1"}}, t0) })
	}
	// A group that disappears without DeleteTargetGroup's clean-up (e.g.
	// removed by another writer) leaves draining records behind.
	must(t, s, func(tx store.Tx) error { return tx.Delete(model.KindTargetGroup, gone.ARN) })

	remaining := func() map[string]bool {
		out := map[string]bool{}
		s.View(func(tx store.Tx) error {
			ts, err := Targets(tx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tg := range ts {
				out[model.ResourceName(tg.TargetGroupARN)+"/"+tg.ID] = true // every target is on port 80
			}
			return nil
		})
		return out
	}
	steps := []struct {
		at      time.Duration
		removed int
		gone    []string
		kept    []string
	}{
		{0, 2, []string{"zero/10.0.0.1", "gone/10.0.0.1"}, []string{"short/10.0.0.1", "default/10.0.0.1", "gone/10.0.0.2"}},
		{29 * time.Second, 0, nil, []string{"short/10.0.0.1", "default/10.0.0.1"}},
		{30 * time.Second, 1, []string{"short/10.0.0.1"}, []string{"default/10.0.0.1"}},
		{299 * time.Second, 0, nil, []string{"default/10.0.0.1"}},
		{300 * time.Second, 1, []string{"default/10.0.0.1"}, nil},
		{time.Hour, 0, nil, nil},
	}
	for _, st := range steps {
		var n int
		must(t, s, func(tx store.Tx) error {
			var err error
			n, err = RemoveDrained(tx, t0.Add(st.at))
			return err
		})
		if n != st.removed {
			t.Errorf("at +%v: removed %d, want %d", st.at, n, st.removed)
		}
		r := remaining()
		for _, k := range st.gone {
			if r[k] {
				t.Errorf("at +%v: %s still registered", st.at, k)
			}
		}
		for _, k := range st.kept {
			if !r[k] {
				t.Errorf("at +%v: %s removed too early", st.at, k)
			}
		}
		// Registrations that are not draining are never removed.
		for _, g := range []string{"default", "short", "zero", "gone"} {
			if !r[g+"/10.0.0.2"] {
				t.Errorf("at +%v: active target %s/10.0.0.2 removed", st.at, g)
			}
		}
	}
}

func TestActionTargetGroups(t *testing.T) {
	tests := []struct {
		name string
		a    model.Action
		want []string
	}{
		{"plain forward", model.Action{Type: "forward", TargetGroupARN: "arn:a"}, []string{"arn:a"}},
		{"weighted", model.Action{Type: "forward", ForwardConfig: &model.ForwardConfig{TargetGroups: []model.WeightedTargetGroup{
			{TargetGroupARN: "arn:a", Weight: 10}, {TargetGroupARN: "arn:b", Weight: 0}, {TargetGroupARN: "arn:c", Weight: 999},
		}}}, []string{"arn:a", "arn:b", "arn:c"}},
		{"weighted wins over single", model.Action{Type: "forward", TargetGroupARN: "arn:x", ForwardConfig: &model.ForwardConfig{TargetGroups: []model.WeightedTargetGroup{
			{TargetGroupARN: "arn:a", Weight: 1},
		}}}, []string{"arn:a"}},
		{"empty forward config", model.Action{Type: "forward", TargetGroupARN: "arn:a", ForwardConfig: &model.ForwardConfig{}}, []string{"arn:a"}},
		{"fixed response", model.Action{Type: "fixed-response", TargetGroupARN: "arn:a", FixedResponse: &model.FixedResponseConfig{StatusCode: "200"}}, nil},
		{"redirect", model.Action{Type: "redirect", Redirect: &model.RedirectConfig{StatusCode: "HTTP_301"}}, nil},
		{"unknown", model.Action{Type: "authenticate-oidc", TargetGroupARN: "arn:a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ActionTargetGroups(&tt.a)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	if got := Describe(&model.Target{ID: "10.0.0.1"}); got != "10.0.0.1" {
		t.Errorf("Describe = %q", got)
	}
	if got := Describe(&model.Target{ID: "10.0.0.1", Port: 8080}); got != "10.0.0.1:8080" {
		t.Errorf("Describe = %q", got)
	}
}
