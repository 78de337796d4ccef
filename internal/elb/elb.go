// Package elb holds the Elastic Load Balancing operations on the resources
// in the store: create, describe, modify and delete load balancers,
// listeners and target groups, register and deregister targets. The YAML
// file, the AWS API and the console all go through these functions, inside
// a store transaction, so validation and references are checked once.
package elb

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// LoadBalancers returns every load balancer, by name.
func LoadBalancers(tx store.Tx) ([]*model.LoadBalancer, error) {
	lbs, err := store.ListJSON[model.LoadBalancer](tx, model.KindLoadBalancer)
	sort.Slice(lbs, func(i, j int) bool { return lbs[i].Name < lbs[j].Name })
	return lbs, err
}

// Listeners returns every listener, by port.
func Listeners(tx store.Tx) ([]*model.Listener, error) {
	ls, err := store.ListJSON[model.Listener](tx, model.KindListener)
	sort.Slice(ls, func(i, j int) bool { return ls[i].Port < ls[j].Port })
	return ls, err
}

// TargetGroups returns every target group, by name.
func TargetGroups(tx store.Tx) ([]*model.TargetGroup, error) {
	gs, err := store.ListJSON[model.TargetGroup](tx, model.KindTargetGroup)
	sort.Slice(gs, func(i, j int) bool { return gs[i].Name < gs[j].Name })
	return gs, err
}

// Targets returns every registration (keys sort by group, then id).
func Targets(tx store.Tx) ([]*model.Target, error) {
	return store.ListJSON[model.Target](tx, model.KindTarget)
}

// TargetsOf returns the registrations of one group.
func TargetsOf(tx store.Tx, groupARN string) ([]*model.Target, error) {
	all, err := store.ScanJSON[model.Target](tx, model.KindTarget, targetKeyPrefix(groupARN))
	if err != nil {
		return nil, err
	}
	var out []*model.Target
	for _, t := range all {
		if t.TargetGroupARN == groupARN {
			out = append(out, t)
		}
	}
	return out, nil
}

// LoadBalancer returns the load balancer with arn, or LoadBalancerNotFound.
func LoadBalancer(tx store.Tx, arn string) (*model.LoadBalancer, error) {
	lb, err := store.GetJSON[model.LoadBalancer](tx, model.KindLoadBalancer, arn)
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf("LoadBalancerNotFound", "One or more load balancers not found")
	}
	return lb, err
}

// TargetGroup returns the target group with arn, or TargetGroupNotFound.
func TargetGroup(tx store.Tx, arn string) (*model.TargetGroup, error) {
	g, err := store.GetJSON[model.TargetGroup](tx, model.KindTargetGroup, arn)
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf("TargetGroupNotFound", "One or more target groups not found")
	}
	return g, err
}

// Listener returns the listener with arn, or ListenerNotFound.
func Listener(tx store.Tx, arn string) (*model.Listener, error) {
	l, err := store.GetJSON[model.Listener](tx, model.KindListener, arn)
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf("ListenerNotFound", "One or more listeners not found")
	}
	return l, err
}

// LoadBalancerByName returns the named load balancer, or nil.
func LoadBalancerByName(tx store.Tx, name string) (*model.LoadBalancer, error) {
	lbs, err := store.ScanJSON[model.LoadBalancer](tx, model.KindLoadBalancer, loadBalancerNamePrefix(name))
	for _, lb := range lbs {
		if lb.Name == name {
			return lb, err
		}
	}
	return nil, err
}

// TargetGroupByName returns the named target group, or nil.
func TargetGroupByName(tx store.Tx, name string) (*model.TargetGroup, error) {
	gs, err := store.ScanJSON[model.TargetGroup](tx, model.KindTargetGroup, targetGroupNamePrefix(name))
	for _, g := range gs {
		if g.Name == name {
			return g, err
		}
	}
	return nil, err
}

// PutLoadBalancer validates and writes a load balancer (new or changed).
// Names are unique.
func PutLoadBalancer(tx store.Tx, lb *model.LoadBalancer) error {
	lb.ApplyDefaults()
	if err := lb.Validate(); err != nil {
		return err
	}
	other, err := LoadBalancerByName(tx, lb.Name)
	if err != nil {
		return err
	}
	if other != nil && other.ARN != lb.ARN {
		return model.Errorf("DuplicateLoadBalancerName", "A load balancer with the name '%s' already exists", lb.Name)
	}
	if lb.ARN == "" {
		lb.ARN = model.NewLoadBalancerARN(lb.Name)
	}
	return store.PutJSON(tx, model.KindLoadBalancer, lb.ARN, lb)
}

// PutTargetGroup validates and writes a target group. Names are unique;
// protocol, port and target type cannot change after creation, as on AWS.
func PutTargetGroup(tx store.Tx, g *model.TargetGroup) error {
	g.ApplyDefaults()
	if err := g.Validate(); err != nil {
		return err
	}
	other, err := TargetGroupByName(tx, g.Name)
	if err != nil {
		return err
	}
	if other != nil && other.ARN != g.ARN {
		return model.Errorf("DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings", g.Name)
	}
	if g.ARN == "" {
		g.ARN = model.NewTargetGroupARN(g.Name)
	} else if old, err := TargetGroup(tx, g.ARN); err == nil {
		switch {
		case old.TargetType != g.TargetType:
			return model.Errorf("ValidationError", "the target type of target group '%s' cannot be changed; create a new target group", g.Name)
		case old.Protocol != g.Protocol:
			return model.Errorf("ValidationError", "the protocol of target group '%s' cannot be changed; create a new target group", g.Name)
		case old.Port != g.Port:
			return model.Errorf("ValidationError", "the port of target group '%s' cannot be changed; create a new target group", g.Name)
		}
	}
	return store.PutJSON(tx, model.KindTargetGroup, g.ARN, g)
}

// ALB's quotas that Alba keeps: listeners per load balancer and targets
// per target group.
const (
	MaxListenersPerLoadBalancer = 50
	MaxTargetsPerGroup          = 1000
)

// PutListener validates and writes a listener: its load balancer and the
// target groups it forwards to must exist, its address and port must be
// free, and a target group serves one load balancer only.
func PutListener(tx store.Tx, l *model.Listener) error {
	l.ApplyDefaults()
	if err := l.Validate(); err != nil {
		return err
	}
	if err := checkListenerTLS(tx, l); err != nil {
		return err
	}
	if _, err := LoadBalancer(tx, l.LoadBalancerARN); err != nil {
		return err
	}
	all, err := Listeners(tx)
	if err != nil {
		return err
	}
	siblings := 0
	for _, o := range all {
		if o.ARN == l.ARN {
			continue
		}
		if o.LoadBalancerARN == l.LoadBalancerARN {
			siblings++
		}
		if o.Port == l.Port && (o.BindAddress == l.BindAddress || o.BindAddress == "" || l.BindAddress == "") {
			if o.LoadBalancerARN == l.LoadBalancerARN {
				return model.Errorf("DuplicateListener", "A listener already exists on port %d of this load balancer", l.Port)
			}
			return model.Errorf("DuplicateListener", "Port %d is already used by a listener of load balancer '%s'", l.Port, model.ResourceName(o.LoadBalancerARN))
		}
	}
	if siblings >= MaxListenersPerLoadBalancer {
		return model.Errorf("TooManyListeners", "A load balancer can have at most %d listeners", MaxListenersPerLoadBalancer)
	}
	for _, a := range l.DefaultActions {
		for _, arn := range ActionTargetGroups(&a) {
			g, err := TargetGroup(tx, arn)
			if err != nil {
				return err
			}
			if err := checkProtocolVersion(g, l); err != nil {
				return err
			}
			if err := checkGroupServesOneLB(tx, arn, l); err != nil {
				return err
			}
		}
	}
	if l.ARN == "" {
		l.ARN = model.NewListenerARN(l.LoadBalancerARN)
	}
	return store.PutJSON(tx, model.KindListener, l.ARN, l)
}

// checkProtocolVersion holds ALB's rule that HTTP/2 and gRPC to targets
// need an HTTPS listener (the clients' HTTP/2 comes by ALPN).
func checkProtocolVersion(g *model.TargetGroup, l *model.Listener) error {
	if g.ProtocolVersion != "" && g.ProtocolVersion != "HTTP1" && l.Protocol != "HTTPS" {
		return model.Errorf("IncompatibleProtocols", "Target group '%s' has protocol version %s, which needs an HTTPS listener; listener port %d is %s", g.Name, g.ProtocolVersion, l.Port, l.Protocol)
	}
	return nil
}

func checkGroupServesOneLB(tx store.Tx, groupARN string, l *model.Listener) error {
	lbs, err := TargetGroupLoadBalancers(tx, groupARN)
	if err != nil {
		return err
	}
	for _, lb := range lbs {
		if lb != l.LoadBalancerARN {
			return model.Errorf("TargetGroupAssociationLimit", "The target group '%s' is already associated with load balancer '%s'; a target group can serve one load balancer", model.ResourceName(groupARN), model.ResourceName(lb))
		}
	}
	return nil
}

// ActionTargetGroups lists the target groups an action forwards to.
func ActionTargetGroups(a *model.Action) []string {
	if a.Type != "forward" {
		return nil
	}
	if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
		out := make([]string, 0, len(a.ForwardConfig.TargetGroups))
		for _, g := range a.ForwardConfig.TargetGroups {
			out = append(out, g.TargetGroupARN)
		}
		return out
	}
	return []string{a.TargetGroupARN}
}

// DeleteListener removes a listener; an unknown one is ListenerNotFound.
func DeleteListener(tx store.Tx, arn string) error {
	if _, err := Listener(tx, arn); err != nil {
		return err
	}
	if err := DeleteRulesOf(tx, arn); err != nil {
		return err
	}
	return tx.Delete(model.KindListener, arn)
}

// DeleteLoadBalancer removes a load balancer and its listeners. Deleting an
// unknown load balancer succeeds, as on AWS; deletion protection refuses.
func DeleteLoadBalancer(tx store.Tx, arn string) error {
	lb, err := LoadBalancer(tx, arn)
	if model.HasCode(err, "LoadBalancerNotFound") {
		return nil
	}
	if err != nil {
		return err
	}
	if lb.Attrs().DeletionProtection {
		return model.Errorf("OperationNotPermitted", "Load balancer '%s' cannot be deleted because deletion protection is enabled", lb.Name)
	}
	ls, err := Listeners(tx)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.LoadBalancerARN == arn {
			if err := DeleteListener(tx, l.ARN); err != nil {
				return err
			}
		}
	}
	return tx.Delete(model.KindLoadBalancer, arn)
}

// DeleteTargetGroup removes a target group and its registrations; a group
// that an action still forwards to is ResourceInUse. Deleting an unknown
// group succeeds, as on AWS.
func DeleteTargetGroup(tx store.Tx, arn string) error {
	g, err := TargetGroup(tx, arn)
	if model.HasCode(err, "TargetGroupNotFound") {
		return nil
	}
	if err != nil {
		return err
	}
	ls, err := Listeners(tx)
	if err != nil {
		return err
	}
	for _, l := range ls {
		for _, a := range l.DefaultActions {
			for _, ga := range ActionTargetGroups(&a) {
				if ga == arn {
					return model.Errorf("ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", g.Name)
				}
			}
		}
	}
	if used, err := GroupInUseByRule(tx, arn); err != nil {
		return err
	} else if used {
		return model.Errorf("ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", g.Name)
	}
	ts, err := TargetsOf(tx, arn)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := tx.Delete(model.KindTarget, t.Key()); err != nil {
			return err
		}
	}
	return tx.Delete(model.KindTargetGroup, arn)
}

// RegisterTargets adds targets to a group. Registering a target again is a
// no-op, and it brings back a draining one.
func RegisterTargets(tx store.Tx, groupARN string, targets []model.Target, now time.Time) error {
	g, err := TargetGroup(tx, groupARN)
	if err != nil {
		return err
	}
	cur, err := TargetsOf(tx, groupARN)
	if err != nil {
		return err
	}
	registered := make(map[string]bool, len(cur)+len(targets))
	for _, t := range cur {
		registered[t.Key()] = true
	}
	for _, t := range targets {
		t.TargetGroupARN = groupARN
		if t.Port == 0 { // no port means the group's: one registration either way
			t.Port = g.Port
		}
		if err := t.Validate(g); err != nil {
			return err
		}
		if !registered[t.Key()] {
			registered[t.Key()] = true
			if len(registered) > MaxTargetsPerGroup {
				return model.Errorf("TooManyTargets", "A target group can have at most %d targets", MaxTargetsPerGroup)
			}
		}
		old, err := store.GetJSON[model.Target](tx, model.KindTarget, t.Key())
		if err == nil {
			if old.DrainingSince == nil && old.Address == t.Address && old.AvailabilityZone == t.AvailabilityZone {
				continue
			}
			t.RegisteredAt = old.RegisteredAt
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if t.RegisteredAt.IsZero() {
			t.RegisteredAt = now
		}
		t.DrainingSince = nil
		if err := store.PutJSON(tx, model.KindTarget, t.Key(), &t); err != nil {
			return err
		}
	}
	return nil
}

// TargetRef names a registration: an id and a port (0 for the group's).
type TargetRef struct {
	ID   string
	Port int
}

// DeregisterTargets starts draining targets: they get no new requests and
// are removed once the group's deregistration delay has passed. Unknown
// targets are ignored, as on AWS.
func DeregisterTargets(tx store.Tx, groupARN string, refs []TargetRef, now time.Time) error {
	g, err := TargetGroup(tx, groupARN)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if r.Port == 0 {
			r.Port = g.Port
		}
		key := model.TargetKey(groupARN, r.ID, r.Port)
		t, err := store.GetJSON[model.Target](tx, model.KindTarget, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if t.DrainingSince != nil {
			continue
		}
		t.DrainingSince = &now
		if err := store.PutJSON(tx, model.KindTarget, key, t); err != nil {
			return err
		}
	}
	return nil
}

// RemoveTarget deletes a registration at once, without draining: for a
// target whose instance is already gone.
func RemoveTarget(tx store.Tx, t *model.Target) error {
	return tx.Delete(model.KindTarget, t.Key())
}

// DeregistrationDelay is a group's draining time.
func DeregistrationDelay(g *model.TargetGroup) time.Duration {
	return g.Attrs().DeregistrationDelay
}

// RemoveDrained deletes registrations whose draining is over. It returns how
// many it removed.
func RemoveDrained(tx store.Tx, now time.Time) (int, error) {
	ts, err := Targets(tx)
	if err != nil {
		return 0, err
	}
	delays := map[string]time.Duration{}
	n := 0
	for _, t := range ts {
		if t.DrainingSince == nil {
			continue
		}
		d, ok := delays[t.TargetGroupARN]
		if !ok {
			g, err := TargetGroup(tx, t.TargetGroupARN)
			if err != nil {
				d = 0 // the group is gone: nothing to drain for
			} else {
				d = DeregistrationDelay(g)
			}
			delays[t.TargetGroupARN] = d
		}
		if now.Sub(*t.DrainingSince) >= d {
			if err := tx.Delete(model.KindTarget, t.Key()); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Describe is a short human name for error messages.
func Describe(t *model.Target) string {
	if t.Port != 0 {
		return fmt.Sprintf("%s:%d", t.ID, t.Port)
	}
	return t.ID
}
