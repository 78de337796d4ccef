package config

import (
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
	"github.com/alba-lb/alba/internal/tlspolicy"
)

// SourceFile marks resources the file manages: a later apply updates or
// removes them, and leaves resources made through the API alone.
const SourceFile = model.SourceFile

func (g *TargetGroup) model() *model.TargetGroup {
	return &model.TargetGroup{
		Name:            g.Name,
		Protocol:        g.Protocol,
		ProtocolVersion: g.ProtocolVersion,
		Port:            g.Port,
		TargetType:      g.TargetType,
		HealthCheck: model.HealthCheck{
			Protocol:           g.HealthCheck.Protocol,
			Port:               g.HealthCheck.Port,
			Path:               g.HealthCheck.Path,
			IntervalSeconds:    g.HealthCheck.IntervalSeconds,
			TimeoutSeconds:     g.HealthCheck.TimeoutSeconds,
			HealthyThreshold:   g.HealthCheck.HealthyThreshold,
			UnhealthyThreshold: g.HealthCheck.UnhealthyThreshold,
			Matcher:            g.HealthCheck.Matcher,
			GrpcCode:           g.HealthCheck.GrpcCode,
		},
		Attributes: g.Attributes,
		Source:     SourceFile,
	}
}

func (t *Target) model() *model.Target {
	return &model.Target{ID: t.ID, Address: t.Address, Port: t.Port, AvailabilityZone: t.Zone, Source: SourceFile}
}

func (lb *LoadBalancer) model() *model.LoadBalancer {
	m := &model.LoadBalancer{
		Name:          lb.Name,
		Scheme:        lb.Scheme,
		IPAddressType: lb.IPAddressType,
		Zones:         lb.Zones,
		Attributes:    lb.Attributes,
		Source:        SourceFile,
	}
	for _, r := range lb.SecurityGroups {
		m.SecurityGroups = append(m.SecurityGroups, model.SecurityRule{CIDR: r.CIDR, Port: r.Port})
	}
	return m
}

// model converts a listener; arns maps target group and certificate names
// to ARNs (nil leaves the names, for validation of shape only).
func (l *Listener) model(arns map[string]string) *model.Listener {
	m := &model.Listener{Protocol: l.Protocol, Port: l.Port, BindAddress: l.Address, SslPolicy: l.SSLPolicy,
		DefaultActions: []model.Action{l.DefaultAction.model(arns)}, Source: SourceFile}
	if l.Protocol == "HTTPS" && m.SslPolicy == "" {
		// The file follows the console, whose default is AWS's
		// recommended policy (the API's default is older).
		m.SslPolicy = tlspolicy.Recommended
	}
	for _, c := range l.Certificates {
		if arns != nil {
			c = arns["cert:"+c]
		}
		m.Certificates = append(m.Certificates, c)
	}
	return m
}

// Apply makes the store match the file inside tx: resources in the file
// are declared to the service layer (created, or updated keeping their
// ARNs), file-managed resources no longer in it are removed, static targets
// are registered, and targets the file no longer lists start draining. The
// rules are the service layer's; an error it answers is reported at the
// file's line, with its AWS code kept (errors.As a *model.Error).
func (f *File) Apply(tx store.Tx, now time.Time) error {
	// Certificates and target groups first: listeners refer to them.
	arns := map[string]string{}
	certARNs, err := f.applyCertificates(tx, now)
	if err != nil {
		return err
	}
	for name, arn := range certARNs {
		arns["cert:"+name] = arn
	}
	for i := range f.TargetGroups {
		g := &f.TargetGroups[i]
		mg, err := elb.DeclareTargetGroup(tx, g.model())
		if err != nil {
			return f.errFrom(err, "target_groups", i)
		}
		arns[g.Name] = mg.ARN
		if err := f.applyTargets(tx, i, mg, now); err != nil {
			return err
		}
	}
	keepLB := map[string]bool{}
	keepListener := map[string]bool{}
	for i := range f.LoadBalancers {
		lb := &f.LoadBalancers[i]
		mlb, err := elb.DeclareLoadBalancer(tx, lb.model(), now)
		if err != nil {
			return f.errFrom(err, "load_balancers", i)
		}
		keepLB[mlb.ARN] = true
		for j := range lb.Listeners {
			ml := lb.Listeners[j].model(arns)
			ml.LoadBalancerARN = mlb.ARN
			if ml, err = elb.DeclareListener(tx, ml); err != nil {
				return f.errFrom(err, "load_balancers", i, "listeners", j)
			}
			if err := f.applyRules(tx, ml, lb.Listeners[j].Rules, arns, []any{"load_balancers", i, "listeners", j}); err != nil {
				return err
			}
			keepListener[ml.ARN] = true
		}
	}
	if err := f.applyAutoScaling(tx, tgOnly(arns), now); err != nil {
		return err
	}
	// Remove what the file used to declare and no longer does.
	ls, err := elb.Listeners(tx)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.Source == SourceFile && !keepListener[l.ARN] {
			if err := elb.DeleteListener(tx, l.ARN); err != nil {
				return err
			}
		}
	}
	lbs, err := elb.LoadBalancers(tx)
	if err != nil {
		return err
	}
	for _, lb := range lbs {
		if lb.Source == SourceFile && !keepLB[lb.ARN] {
			if err := elb.DeleteLoadBalancer(tx, lb.ARN); err != nil {
				return &Error{Path: f.path, Msg: "load balancer '" + lb.Name + "' was removed from the file but " + err.Error(), Err: err}
			}
		}
	}
	gs, err := elb.TargetGroups(tx)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if _, ok := arns[g.Name]; !ok && g.Source == SourceFile {
			if err := elb.DeleteTargetGroup(tx, g.ARN); err != nil {
				return &Error{Path: f.path, Msg: "target group '" + g.Name + "' was removed from the file but " + err.Error(), Err: err}
			}
		}
	}
	return nil
}

// applyTargets registers the file's static targets of group i and drains
// the file's targets that are gone.
func (f *File) applyTargets(tx store.Tx, i int, g *model.TargetGroup, now time.Time) error {
	var regs []model.Target
	want := map[string]bool{}
	for _, t := range f.TargetGroups[i].Targets {
		mt := t.model()
		mt.TargetGroupARN = g.ARN
		regs = append(regs, *mt)
		want[mt.Key()] = true
	}
	if err := elb.RegisterTargets(tx, g.ARN, regs, now); err != nil {
		return f.errFrom(err, "target_groups", i, "targets")
	}
	cur, err := elb.TargetsOf(tx, g.ARN)
	if err != nil {
		return err
	}
	var gone []elb.TargetRef
	for _, t := range cur {
		if t.Source == SourceFile && !want[t.Key()] {
			gone = append(gone, elb.TargetRef{ID: t.ID, Port: t.Port})
		}
	}
	return elb.DeregisterTargets(tx, g.ARN, gone, now)
}

func tgOnly(arns map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range arns {
		if !strings.HasPrefix(k, "cert:") {
			m[k] = v
		}
	}
	return m
}
