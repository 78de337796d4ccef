package lbcontroller

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// A load balancer keeps one LoadBalancerStats across compilations, shared
// by its listeners and shown in the snapshot; a deleted one's is dropped,
// and one created again starts from zero.
func TestCompileKeepsLoadBalancerStats(t *testing.T) {
	c := New(nil, dataplane.NewServer(nil), health.NewMonitor())
	web := &model.LoadBalancer{ARN: "arn:lb/web", Name: "web"}
	api := &model.LoadBalancer{ARN: "arn:lb/api", Name: "api"} // no listener
	fixed := []model.Action{{Type: "fixed-response", FixedResponse: &model.FixedResponseConfig{StatusCode: "200"}}}
	listeners := []*model.Listener{
		{ARN: "arn:l80", LoadBalancerARN: web.ARN, Protocol: "HTTP", Port: 80, DefaultActions: fixed},
		{ARN: "arn:l81", LoadBalancerARN: web.ARN, Protocol: "HTTP", Port: 81, DefaultActions: fixed},
	}
	compile := func(lbs ...*model.LoadBalancer) *Snapshot {
		snap, _ := c.compile(lbs, listeners, nil, nil, nil, nil)
		return snap
	}

	snap := compile(api, web) // in name order, as Reconcile sorts them
	st := c.LoadBalancerStats(web.ARN)
	if st == nil || c.LoadBalancerStats(api.ARN) == nil || c.LoadBalancerStats(api.ARN) == st {
		t.Fatalf("stats web %p, api %p: want one each", st, c.LoadBalancerStats(api.ARN))
	}
	for _, addr := range []string{":80", ":81"} {
		if got := snap.Table.Listeners[addr].LoadBalancer.Stats; got != st {
			t.Errorf("listener %s counts in %p, want the load balancer's %p", addr, got, st)
		}
	}
	if len(snap.LoadBalancers) != 2 || snap.LoadBalancers[0].LoadBalancer != api || snap.LoadBalancers[1].LoadBalancer != web ||
		snap.LoadBalancers[1].Stats != st || snap.LoadBalancers[0].Stats != c.LoadBalancerStats(api.ARN) {
		t.Fatalf("snapshot load balancers %+v", snap.LoadBalancers)
	}

	st.NewConnections.Add(1)
	changed := *web
	changed.Attributes = map[string]string{"idle_timeout.timeout_seconds": "5"}
	snap = compile(api, &changed)
	if c.LoadBalancerStats(web.ARN) != st || snap.Table.Listeners[":80"].LoadBalancer.Stats != st || st.NewConnections.Load() != 1 {
		t.Fatal("a recompilation did not keep the load balancer's stats")
	}

	snap = compile(api) // web deleted
	if c.LoadBalancerStats(web.ARN) != nil || len(snap.LoadBalancers) != 1 {
		t.Fatalf("a deleted load balancer's stats are kept: %p, %d in the snapshot", c.LoadBalancerStats(web.ARN), len(snap.LoadBalancers))
	}
	if c.LoadBalancerStats("arn:lb/unknown") != nil {
		t.Fatal("an unknown load balancer has stats")
	}
	compile(api, web)
	if again := c.LoadBalancerStats(web.ARN); again == nil || again == st || again.NewConnections.Load() != 0 {
		t.Fatal("a load balancer created again does not start from zero")
	}
}

// Through the store and a real listener: requests count in the stats the
// controller hands out, which survive a reconcile that changes the load
// balancer and go with its deletion.
func TestReconcileCountsInLoadBalancerStats(t *testing.T) {
	st, c := newTestController(t)
	c.ListenHost = "127.0.0.1"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	update := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := st.Update(fn); err != nil {
			t.Fatal(err)
		}
		if err := c.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var lb *model.LoadBalancer
	update(func(tx store.Tx) error {
		var err error
		if lb, err = elb.CreateLoadBalancer(tx, &model.LoadBalancer{Name: "web"}, time.Now()); err != nil {
			return err
		}
		_, err = elb.CreateListener(tx, &model.Listener{LoadBalancerARN: lb.ARN, Protocol: "HTTP", Port: port,
			DefaultActions: []model.Action{{Type: "fixed-response", FixedResponse: &model.FixedResponseConfig{StatusCode: "200", MessageBody: "ok"}}}})
		return err
	})
	get := func() {
		t.Helper()
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	stats := c.LoadBalancerStats(lb.ARN)
	if stats == nil {
		t.Fatal("no stats for a compiled load balancer")
	}
	if s := c.Snapshot(); len(s.LoadBalancers) != 1 || s.LoadBalancers[0].LoadBalancer.Name != "web" || s.LoadBalancers[0].Stats != stats {
		t.Fatalf("snapshot load balancers %+v", s.LoadBalancers)
	}
	get()
	update(func(tx store.Tx) error {
		_, err := elb.ModifyLoadBalancerAttributes(tx, lb.ARN, map[string]string{"idle_timeout.timeout_seconds": "30"})
		return err
	})
	if c.LoadBalancerStats(lb.ARN) != stats {
		t.Fatal("a reconcile replaced the load balancer's stats")
	}
	get()
	if n, f := stats.NewConnections.Load(), stats.FixedResponses.Load(); n != 2 || f != 2 {
		t.Fatalf("counted %d connections and %d fixed responses, want 2 and 2", n, f)
	}
	update(func(tx store.Tx) error { return elb.DeleteLoadBalancer(tx, lb.ARN) })
	if c.LoadBalancerStats(lb.ARN) != nil || len(c.Snapshot().LoadBalancers) != 0 {
		t.Fatal("a deleted load balancer's stats are still handed out")
	}
}
