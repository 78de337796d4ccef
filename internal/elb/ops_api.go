package elb

import (
	"errors"
	"sort"
	"strings"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// Operations the AWS API needs beyond create, put and delete: partial
// modifications, attributes, tags and listener certificates. Each works
// inside the caller's transaction and validates as the Put functions do.

// TargetGroupLoadBalancers returns the ARNs of the load balancers whose
// listeners or rules forward to the group, sorted.
func TargetGroupLoadBalancers(tx store.Tx, groupARN string) ([]string, error) {
	ls, err := Listeners(tx)
	if err != nil {
		return nil, err
	}
	rules, err := Rules(tx, "")
	if err != nil {
		return nil, err
	}
	lbOf := map[string]string{}
	seen := map[string]bool{}
	var out []string
	use := func(lbARN string, actions []model.Action) {
		for _, a := range actions {
			for _, arn := range ActionTargetGroups(&a) {
				if arn == groupARN && lbARN != "" && !seen[lbARN] {
					seen[lbARN] = true
					out = append(out, lbARN)
				}
			}
		}
	}
	for _, l := range ls {
		lbOf[l.ARN] = l.LoadBalancerARN
		use(l.LoadBalancerARN, l.DefaultActions)
	}
	for _, r := range rules {
		use(lbOf[r.ListenerARN], r.Actions)
	}
	sort.Strings(out)
	return out, nil
}

// Rules returns a listener's rules by priority; an empty listenerARN
// returns every rule.
func Rules(tx store.Tx, listenerARN string) ([]*model.Rule, error) {
	all, err := store.ScanJSON[model.Rule](tx, model.KindRule, ruleKeyPrefix(listenerARN))
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, r := range all {
		if listenerARN == "" || r.ListenerARN == listenerARN {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Priority < out[j].Priority })
	return out, nil
}

// Rule returns the rule with arn, or RuleNotFound.
func Rule(tx store.Tx, arn string) (*model.Rule, error) {
	r, err := store.GetJSON[model.Rule](tx, model.KindRule, arn)
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf("RuleNotFound", "One or more rules not found")
	}
	return r, err
}

// MaxRulesPerLoadBalancer is ALB's quota of rules (default rules not
// counted).
const MaxRulesPerLoadBalancer = 100

// PutRule validates and writes a rule (new when its ARN is empty): its
// listener and target groups must exist, its priority must be free on the
// listener, a target group serves one load balancer, and a load balancer
// has at most 100 rules.
func PutRule(tx store.Tx, r *model.Rule) error {
	for i := range r.Actions {
		if r.Actions[i].Order == 0 {
			r.Actions[i].Order = i + 1
		}
	}
	if err := r.Validate(); err != nil {
		return err
	}
	l, err := Listener(tx, r.ListenerARN)
	if err != nil {
		return err
	}
	siblings, err := Rules(tx, r.ListenerARN)
	if err != nil {
		return err
	}
	for _, o := range siblings {
		if o.ARN != r.ARN && o.Priority == r.Priority {
			return model.Errorf("PriorityInUse", "Priority '%d' is currently in use", r.Priority)
		}
	}
	for _, a := range r.Actions {
		for _, arn := range ActionTargetGroups(&a) {
			g, err := TargetGroup(tx, arn)
			if err != nil {
				return err
			}
			if err := checkProtocolVersion(g, l); err != nil {
				return err
			}
			lbs, err := TargetGroupLoadBalancers(tx, arn)
			if err != nil {
				return err
			}
			for _, lb := range lbs {
				if lb != l.LoadBalancerARN {
					return model.Errorf("TargetGroupAssociationLimit", "The target group '%s' is already associated with load balancer '%s'; a target group can serve one load balancer", model.ResourceName(arn), model.ResourceName(lb))
				}
			}
		}
	}
	if r.ARN == "" {
		ls, err := Listeners(tx)
		if err != nil {
			return err
		}
		all, err := Rules(tx, "")
		if err != nil {
			return err
		}
		n := 0
		for _, o := range all {
			for _, ol := range ls {
				if ol.ARN == o.ListenerARN && ol.LoadBalancerARN == l.LoadBalancerARN {
					n++
				}
			}
		}
		if n >= MaxRulesPerLoadBalancer {
			return model.Errorf("TooManyRules", "A load balancer can have at most %d rules", MaxRulesPerLoadBalancer)
		}
		r.ARN = model.NewRuleARN(r.ListenerARN)
	}
	return store.PutJSON(tx, model.KindRule, r.ARN, r)
}

// DeleteRule removes a rule; an unknown one is RuleNotFound, the default
// rule OperationNotPermitted.
func DeleteRule(tx store.Tx, arn string) error {
	if err := refuseDefaultRule(tx, arn, "The default rule cannot be deleted"); err != nil {
		return err
	}
	if _, err := Rule(tx, arn); err != nil {
		return err
	}
	return tx.Delete(model.KindRule, arn)
}

// SetRulePriorities changes the priorities of rules (by ARN) at once;
// afterwards every listener's priorities must still be unique.
func SetRulePriorities(tx store.Tx, prios map[string]int) ([]*model.Rule, error) {
	var changed []*model.Rule
	listeners := map[string]bool{}
	for arn := range prios {
		if err := refuseDefaultRule(tx, arn, "The priority of the default rule cannot be changed"); err != nil {
			return nil, err
		}
	}
	for arn, p := range prios {
		r, err := Rule(tx, arn)
		if err != nil {
			return nil, err
		}
		if p < 1 || p > 50000 {
			return nil, model.Errorf("ValidationError", "rule priority %d must be 1-50000", p)
		}
		r.Priority = p
		changed = append(changed, r)
		listeners[r.ListenerARN] = true
	}
	for l := range listeners {
		rs, err := Rules(tx, l)
		if err != nil {
			return nil, err
		}
		used := map[int]string{}
		for _, r := range rs {
			p := r.Priority
			if np, ok := prios[r.ARN]; ok {
				p = np
			}
			if other, ok := used[p]; ok && other != r.ARN {
				return nil, model.Errorf("PriorityInUse", "Priority '%d' is currently in use", p)
			}
			used[p] = r.ARN
		}
	}
	for _, r := range changed {
		if err := store.PutJSON(tx, model.KindRule, r.ARN, r); err != nil {
			return nil, err
		}
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Priority < changed[j].Priority })
	return changed, nil
}

// DeleteRulesOf removes a listener's rules (when the listener goes).
func DeleteRulesOf(tx store.Tx, listenerARN string) error {
	rs, err := Rules(tx, listenerARN)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := tx.Delete(model.KindRule, r.ARN); err != nil {
			return err
		}
	}
	return nil
}

// GroupInUseByRule reports whether a rule forwards to the group.
func GroupInUseByRule(tx store.Tx, groupARN string) (bool, error) {
	rs, err := Rules(tx, "")
	if err != nil {
		return false, err
	}
	for _, r := range rs {
		for _, a := range r.Actions {
			for _, arn := range ActionTargetGroups(&a) {
				if arn == groupARN {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// TargetGroupChange holds the health check fields ModifyTargetGroup may
// change; nil fields are left as they are.
type TargetGroupChange struct {
	HealthCheckProtocol        *string
	HealthCheckPort            *string
	HealthCheckPath            *string
	HealthCheckEnabled         *bool
	HealthCheckIntervalSeconds *int
	HealthCheckTimeoutSeconds  *int
	HealthyThresholdCount      *int
	UnhealthyThresholdCount    *int
	// Matcher is the HTTP codes (Matcher.HttpCode); GrpcCode a GRPC
	// group's (Matcher.GrpcCode).
	Matcher  *string
	GrpcCode *string
}

// ModifyTargetGroup changes a group's health check settings.
func ModifyTargetGroup(tx store.Tx, arn string, ch TargetGroupChange) (*model.TargetGroup, error) {
	g, err := TargetGroup(tx, arn)
	if err != nil {
		return nil, err
	}
	h := &g.HealthCheck
	if ch.HealthCheckEnabled != nil && !*ch.HealthCheckEnabled {
		return nil, model.Errorf("ValidationError", "Health checks cannot be disabled for target groups with target type '%s'", g.TargetType)
	}
	setStr := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setInt := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setStr(&h.Protocol, ch.HealthCheckProtocol)
	setStr(&h.Port, ch.HealthCheckPort)
	setStr(&h.Path, ch.HealthCheckPath)
	setStr(&h.Matcher, ch.Matcher)
	setStr(&h.GrpcCode, ch.GrpcCode)
	setInt(&h.IntervalSeconds, ch.HealthCheckIntervalSeconds)
	setInt(&h.TimeoutSeconds, ch.HealthCheckTimeoutSeconds)
	setInt(&h.HealthyThreshold, ch.HealthyThresholdCount)
	setInt(&h.UnhealthyThreshold, ch.UnhealthyThresholdCount)
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return g, PutTargetGroup(tx, g)
}

// ModifyTargetGroupAttributes sets attributes (other keys keep their
// values) and returns the group.
func ModifyTargetGroupAttributes(tx store.Tx, arn string, attrs map[string]string) (*model.TargetGroup, error) {
	g, err := TargetGroup(tx, arn)
	if err != nil {
		return nil, err
	}
	merged := map[string]string{}
	for k, v := range g.Attributes {
		merged[k] = v
	}
	for k, v := range attrs {
		merged[k] = v
	}
	if err := model.ValidateTargetGroupAttributes(merged); err != nil {
		return nil, err
	}
	g.Attributes = merged
	return g, PutTargetGroup(tx, g)
}

// ModifyLoadBalancerAttributes sets attributes (other keys keep their
// values) and returns the load balancer.
func ModifyLoadBalancerAttributes(tx store.Tx, arn string, attrs map[string]string) (*model.LoadBalancer, error) {
	lb, err := LoadBalancer(tx, arn)
	if err != nil {
		return nil, err
	}
	merged := map[string]string{}
	for k, v := range lb.Attributes {
		merged[k] = v
	}
	for k, v := range attrs {
		merged[k] = v
	}
	if err := model.ValidateLoadBalancerAttributes(merged); err != nil {
		return nil, err
	}
	lb.Attributes = merged
	return lb, PutLoadBalancer(tx, lb)
}

// ListenerChange holds what ModifyListener may change; nil fields are
// left as they are.
type ListenerChange struct {
	Protocol  *string
	Port      *int
	SslPolicy *string
	// Certificates replace the default certificate (the first).
	Certificates []string
	// DefaultActions replace the default actions.
	DefaultActions []model.Action
}

// ModifyListener changes a listener. Switching HTTPS to HTTP drops the
// certificates and the TLS policy; an HTTPS listener needs a certificate.
func ModifyListener(tx store.Tx, arn string, ch ListenerChange) (*model.Listener, error) {
	l, err := Listener(tx, arn)
	if err != nil {
		return nil, err
	}
	if ch.Protocol != nil {
		l.Protocol = *ch.Protocol
	}
	if ch.Port != nil {
		l.Port = *ch.Port
	}
	if ch.SslPolicy != nil {
		l.SslPolicy = *ch.SslPolicy
	}
	if len(ch.Certificates) > 1 {
		return nil, model.Errorf("ValidationError", "A listener has exactly one default certificate; add more with AddListenerCertificates")
	}
	if ch.Certificates != nil {
		rest := []string{}
		if len(l.Certificates) > 1 {
			rest = l.Certificates[1:]
		}
		l.Certificates = append(append([]string{}, ch.Certificates...), without(rest, ch.Certificates)...)
	}
	if ch.DefaultActions != nil {
		l.DefaultActions = ch.DefaultActions
	}
	if l.Protocol == "HTTP" {
		if ch.Certificates != nil || ch.SslPolicy != nil {
			return nil, model.Errorf("ValidationError", "Certificates and an SSL policy can only be set on HTTPS listeners")
		}
		l.Certificates, l.SslPolicy = nil, ""
	}
	if l.Protocol == "HTTPS" && len(l.Certificates) == 0 {
		return nil, model.Errorf("ValidationError", "A certificate must be specified for HTTPS listeners")
	}
	return l, PutListener(tx, l)
}

func without(list, drop []string) []string {
	var out []string
	for _, s := range list {
		keep := true
		for _, d := range drop {
			if s == d {
				keep = false
			}
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

// AddListenerCertificates adds certificates to an HTTPS listener's list
// (for SNI); ones already there are left alone.
func AddListenerCertificates(tx store.Tx, arn string, certs []string) (*model.Listener, error) {
	l, err := Listener(tx, arn)
	if err != nil {
		return nil, err
	}
	if l.Protocol != "HTTPS" {
		return nil, model.Errorf("ValidationError", "Certificates can only be added to HTTPS listeners")
	}
	l.Certificates = append(l.Certificates, without(certs, l.Certificates)...)
	if err := checkListenerTLS(tx, l); err != nil {
		return nil, err
	}
	return l, store.PutJSON(tx, model.KindListener, l.ARN, l)
}

// RemoveListenerCertificates removes certificates from a listener's list;
// the default certificate cannot be removed this way.
func RemoveListenerCertificates(tx store.Tx, arn string, certs []string) (*model.Listener, error) {
	l, err := Listener(tx, arn)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		if len(l.Certificates) > 0 && l.Certificates[0] == c {
			return nil, model.Errorf("OperationNotPermitted", "The default certificate of a listener cannot be removed; use ModifyListener to replace it")
		}
	}
	if len(l.Certificates) > 0 {
		l.Certificates = append(l.Certificates[:1:1], without(l.Certificates[1:], certs)...)
	}
	return l, store.PutJSON(tx, model.KindListener, l.ARN, l)
}

// ResourceTags returns the tags of a load balancer, target group, listener
// or rule, by ARN.
func ResourceTags(tx store.Tx, arn string) ([]model.Tag, error) {
	switch {
	case strings.Contains(arn, ":loadbalancer/"):
		lb, err := LoadBalancer(tx, arn)
		if err != nil {
			return nil, err
		}
		return lb.Tags, nil
	case strings.Contains(arn, ":targetgroup/"):
		g, err := TargetGroup(tx, arn)
		if err != nil {
			return nil, err
		}
		return g.Tags, nil
	case strings.Contains(arn, ":listener/"):
		l, err := Listener(tx, arn)
		if err != nil {
			return nil, err
		}
		return l.Tags, nil
	case strings.Contains(arn, ":listener-rule/"):
		r, err := Rule(tx, arn)
		if err != nil {
			return nil, err
		}
		return r.Tags, nil
	}
	return nil, model.Errorf("ValidationError", "'%s' is not a valid load balancer, target group or listener ARN", arn)
}
