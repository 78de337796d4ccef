package elb

import (
	"fmt"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// The YAML file declares resources rather than creating them: applying it
// again updates what it declared before (keeping ARNs, tags and attributes
// set through the API) and leaves resources made through the API alone. A
// declaration that would take over an API resource (same name, same port,
// same priority) is an error naming both, never a silent takeover.

// DeclareLoadBalancer creates or updates the file's load balancer of
// lb.Name. Attributes the API set and the file does not name are kept.
func DeclareLoadBalancer(tx store.Tx, lb *model.LoadBalancer, now time.Time) (*model.LoadBalancer, error) {
	lb.Source = model.SourceFile
	old, err := LoadBalancerByName(tx, lb.Name)
	if err != nil {
		return nil, err
	}
	if old == nil {
		lb.ARN, lb.CreatedTime = "", now
		return lb, PutLoadBalancer(tx, lb)
	}
	if old.Source != model.SourceFile {
		return nil, model.Takeover("DuplicateLoadBalancerName", fmt.Sprintf("Load balancer '%s'", lb.Name), old.ARN)
	}
	lb.ARN, lb.CreatedTime, lb.Tags, lb.SecurityGroupIDs = old.ARN, old.CreatedTime, old.Tags, old.SecurityGroupIDs
	lb.Attributes = mergeAttributes(old.Attributes, lb.Attributes)
	return lb, PutLoadBalancer(tx, lb)
}

// DeclareTargetGroup creates or updates the file's target group of g.Name.
func DeclareTargetGroup(tx store.Tx, g *model.TargetGroup) (*model.TargetGroup, error) {
	g.Source = model.SourceFile
	old, err := TargetGroupByName(tx, g.Name)
	if err != nil {
		return nil, err
	}
	if old == nil {
		g.ARN = ""
		return g, PutTargetGroup(tx, g)
	}
	if old.Source != model.SourceFile {
		return nil, model.Takeover("DuplicateTargetGroupName", fmt.Sprintf("Target group '%s'", g.Name), old.ARN)
	}
	g.ARN, g.Tags, g.IPAddressType = old.ARN, old.Tags, old.IPAddressType
	g.Attributes = mergeAttributes(old.Attributes, g.Attributes)
	return g, PutTargetGroup(tx, g)
}

// DeclareListener creates or updates the file's listener on l's port of
// its load balancer. Its first certificate is the default, the others are
// added as with AddListenerCertificates.
func DeclareListener(tx store.Tx, l *model.Listener) (*model.Listener, error) {
	l.Source = model.SourceFile
	all, err := Listeners(tx)
	if err != nil {
		return nil, err
	}
	l.ARN = ""
	for _, o := range all {
		if o.LoadBalancerARN != l.LoadBalancerARN || o.Port != l.Port {
			continue
		}
		if o.Source != model.SourceFile {
			return nil, model.Takeover("DuplicateListener", fmt.Sprintf("A listener on port %d of load balancer '%s'", l.Port, model.ResourceName(l.LoadBalancerARN)), o.ARN)
		}
		l.ARN, l.Tags = o.ARN, o.Tags
	}
	extra := []string(nil)
	if len(l.Certificates) > 1 {
		extra = l.Certificates[1:]
		l.Certificates = l.Certificates[:1:1]
	}
	if err := PutListener(tx, l); err != nil {
		return nil, err
	}
	if len(extra) > 0 {
		return AddListenerCertificates(tx, l.ARN, extra)
	}
	return l, nil
}

// DeclareRule creates or updates the file's rule at r's priority on its
// listener.
func DeclareRule(tx store.Tx, r *model.Rule) (*model.Rule, error) {
	r.Source = model.SourceFile
	rs, err := Rules(tx, r.ListenerARN)
	if err != nil {
		return nil, err
	}
	r.ARN = ""
	for _, o := range rs {
		if o.Priority != r.Priority {
			continue
		}
		if o.Source != model.SourceFile {
			return nil, model.Takeover("PriorityInUse", fmt.Sprintf("A rule at priority %d of this listener", r.Priority), o.ARN)
		}
		r.ARN, r.Tags = o.ARN, o.Tags
	}
	return r, PutRule(tx, r)
}

// mergeAttributes keeps attributes set elsewhere (the API) that the file
// does not mention; the file wins for the keys it names.
func mergeAttributes(old, file map[string]string) map[string]string {
	if len(old) == 0 {
		return file
	}
	m := make(map[string]string, len(old)+len(file))
	for k, v := range old {
		m[k] = v
	}
	for k, v := range file {
		m[k] = v
	}
	return m
}
