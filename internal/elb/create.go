package elb

import (
	"reflect"
	"slices"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// AWS's creates are idempotent: creating a resource again with the same
// settings answers the existing one, with other settings it is a
// Duplicate… error. The functions here are those creates, for every front.

// CreateLoadBalancer creates lb, or answers the load balancer of that name
// when its settings are lb's.
func CreateLoadBalancer(tx store.Tx, lb *model.LoadBalancer, now time.Time) (*model.LoadBalancer, error) {
	lb.ApplyDefaults()
	old, err := LoadBalancerByName(tx, lb.Name)
	if err != nil {
		return nil, err
	}
	if old != nil {
		if old.Scheme == lb.Scheme && old.IPAddressType == lb.IPAddressType && slices.Equal(old.Zones, lb.Zones) &&
			slices.Equal(old.SecurityGroupIDs, lb.SecurityGroupIDs) {
			return old, nil
		}
		return nil, duplicateLoadBalancer(lb.Name, old)
	}
	if err := model.ValidateTags(lb.Tags, "TooManyTags", "DuplicateTagKeys"); err != nil {
		return nil, err
	}
	lb.ARN, lb.CreatedTime = "", now
	return lb, PutLoadBalancer(tx, lb)
}

// CreateTargetGroup creates g, or answers the target group of that name
// when its settings are g's.
func CreateTargetGroup(tx store.Tx, g *model.TargetGroup) (*model.TargetGroup, error) {
	g.ApplyDefaults()
	old, err := TargetGroupByName(tx, g.Name)
	if err != nil {
		return nil, err
	}
	if old != nil {
		if g.Protocol == old.Protocol && g.Port == old.Port && g.TargetType == old.TargetType &&
			g.ProtocolVersion == old.ProtocolVersion && g.HealthCheck == old.HealthCheck && g.VPCID == old.VPCID {
			return old, nil
		}
		return nil, duplicateTargetGroup(g.Name, old)
	}
	if err := model.ValidateTags(g.Tags, "TooManyTags", "DuplicateTagKeys"); err != nil {
		return nil, err
	}
	g.ARN = ""
	return g, PutTargetGroup(tx, g)
}

// CreateListener creates l, or answers the listener on that port of the
// load balancer when its settings are l's. An HTTPS listener is created
// with exactly one certificate, its default; more are added with
// AddListenerCertificates.
func CreateListener(tx store.Tx, l *model.Listener) (*model.Listener, error) {
	if l.Protocol == "HTTPS" && len(l.Certificates) > 1 {
		return nil, model.Errorf("ValidationError", "An HTTPS listener needs exactly one default certificate; add more with AddListenerCertificates")
	}
	l.ApplyDefaults()
	all, err := Listeners(tx)
	if err != nil {
		return nil, err
	}
	for _, o := range all {
		if o.LoadBalancerARN == l.LoadBalancerARN && o.Port == l.Port && o.BindAddress == l.BindAddress &&
			o.Protocol == l.Protocol && reflect.DeepEqual(o.DefaultActions, l.DefaultActions) &&
			len(o.Certificates) > 0 == (len(l.Certificates) > 0) && (len(l.Certificates) == 0 || o.Certificates[0] == l.Certificates[0]) &&
			o.SslPolicy == l.SslPolicy {
			return o, nil
		}
	}
	if err := model.ValidateTags(l.Tags, "TooManyTags", "DuplicateTagKeys"); err != nil {
		return nil, err
	}
	l.ARN = ""
	return l, PutListener(tx, l)
}

// CreateRule creates a rule on its listener.
func CreateRule(tx store.Tx, r *model.Rule) (*model.Rule, error) {
	if err := model.ValidateTags(r.Tags, "TooManyTags", "DuplicateTagKeys"); err != nil {
		return nil, err
	}
	r.ARN = ""
	return r, PutRule(tx, r)
}

func duplicateLoadBalancer(name string, old *model.LoadBalancer) error {
	if old.Source == model.SourceFile {
		return model.Errorf("DuplicateLoadBalancerName", "A load balancer with the name '%s' already exists: the YAML file declares it (%s)", name, old.ARN)
	}
	return model.Errorf("DuplicateLoadBalancerName", "A load balancer with the name '%s' already exists", name)
}

func duplicateTargetGroup(name string, old *model.TargetGroup) error {
	if old.Source == model.SourceFile {
		return model.Errorf("DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings: the YAML file declares it (%s)", name, old.ARN)
	}
	return model.Errorf("DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings", name)
}
