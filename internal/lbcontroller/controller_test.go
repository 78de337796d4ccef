package lbcontroller

import (
	"crypto/tls"
	"net/netip"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/model"
)

func TestCompile(t *testing.T) {
	c := New(nil, dataplane.NewServer(nil), health.NewMonitor())
	body, key, err := certs.Generate(certs.GenerateOptions{CommonName: "a.test", KeyType: "ecdsa-p256"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	lb := &model.LoadBalancer{ARN: "arn:lb", Name: "web", SecurityGroups: []model.SecurityRule{{CIDR: "10.0.0.0/8", Port: 80}, {CIDR: "::1/128"}}}
	used := &model.TargetGroup{ARN: "arn:tg/used", Name: "used", Port: 8080}
	unused := &model.TargetGroup{ARN: "arn:tg/unused", Name: "unused", Port: 8080}
	for _, g := range []*model.TargetGroup{used, unused} {
		g.ApplyDefaults()
	}
	fwd := []model.Action{{Type: "forward", TargetGroupARN: used.ARN}}
	listeners := []*model.Listener{
		{ARN: "arn:l80", LoadBalancerARN: lb.ARN, Protocol: "HTTP", Port: 80, DefaultActions: fwd},
		{ARN: "arn:l443", LoadBalancerARN: lb.ARN, Protocol: "HTTPS", Port: 443, DefaultActions: fwd, Certificates: []string{"arn:cert"}, SslPolicy: "ELBSecurityPolicy-TLS13-1-3-2021-06"},
		{ARN: "arn:l8443", LoadBalancerARN: lb.ARN, Protocol: "HTTPS", Port: 8443, DefaultActions: fwd, Certificates: []string{"arn:missing"}},
	}
	drainAt := now
	targets := []*model.Target{
		{TargetGroupARN: used.ARN, ID: "10.0.0.1", Port: 8080},
		{TargetGroupARN: used.ARN, ID: "10.0.0.2", Port: 8080, DrainingSince: &drainAt},
		{TargetGroupARN: unused.ARN, ID: "10.0.0.3", Port: 8080},
	}
	rules := []*model.Rule{
		{ARN: "arn:r20", ListenerARN: "arn:l80", Priority: 20, Conditions: []model.Condition{{Field: "path-pattern", Values: []string{"/b"}}}, Actions: fwd},
		{ARN: "arn:r10", ListenerARN: "arn:l80", Priority: 10, Conditions: []model.Condition{{Field: "host-header", Values: []string{"a.test"}}},
			Actions: []model.Action{{Type: "fixed-response", FixedResponse: &model.FixedResponseConfig{StatusCode: "404"}}}},
	}
	cs := []*model.Certificate{{ARN: "arn:cert", Name: "c", Body: string(body), PrivateKey: string(key)}}
	snap, watched := c.compile([]*model.LoadBalancer{lb}, listeners, []*model.TargetGroup{used, unused}, targets, rules, cs)

	l80 := snap.Table.Listeners[":80"]
	if l80 == nil || len(l80.Rules) != 3 {
		t.Fatalf("listener :80 %+v", l80)
	}
	if l80.Rules[0].Priority != 10 || l80.Rules[0].Action.Type != dataplane.ActionFixedResponse || l80.Rules[1].Priority != 20 || l80.Rules[2].Priority != 0 {
		t.Errorf("rules not in priority order, default last: %+v %+v %+v", l80.Rules[0], l80.Rules[1], l80.Rules[2])
	}
	want80 := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if got := l80.LoadBalancer.AllowCIDRs; len(got) != 2 || got[0] != want80[0] || got[1] != want80[1] {
		t.Errorf("port 80 security group %v, want %v", got, want80)
	}
	l443 := snap.Table.Listeners[":443"]
	if got := l443.LoadBalancer.AllowCIDRs; len(got) != 1 || got[0] != want80[1] {
		t.Errorf("port 443 security group %v: the 10/8 rule is for port 80 only", got)
	}
	if l443.TLS == nil || l443.TLS.MinVersion != tls.VersionTLS13 || l443.TLS.NextProtos[0] != "h2" {
		t.Errorf("HTTPS listener TLS config %+v", l443.TLS)
	}
	if l := snap.Table.Listeners[":8443"]; l.TLS != nil {
		t.Error("a listener whose certificate is missing must not serve TLS")
	}
	g := snap.Table.Group(used.ARN)
	if g == nil || len(g.Targets) != 2 || g.Targets[1].Draining() {
		t.Fatalf("draining set on a live target before the new table is in force: %+v", g)
	}
	for _, d := range snap.draining { // as Reconcile does after the swap
		d.target.SetDraining(d.draining)
	}
	if !g.Targets[1].Draining() || g.Targets[0].Draining() {
		t.Fatalf("compiled group %+v", g)
	}
	if len(watched) != 1 || watched[0].Target != g.Targets[0] || watched[0].Spec.Path != "/" {
		t.Errorf("health checks on %d targets, want only the used, registered one: %+v", len(watched), watched)
	}
	// A recompilation keeps each target's identity.
	snap2, _ := c.compile([]*model.LoadBalancer{lb}, listeners, []*model.TargetGroup{used, unused}, targets, rules, cs)
	if snap2.Table.Group(used.ARN).Targets[0] != g.Targets[0] {
		t.Error("a target's live state was not carried over")
	}
}
