package awsapi

import (
	"strings"

	"github.com/alba-lb/alba/internal/model"
)

func elbv2Service() *service {
	s := &service{
		name: "elasticloadbalancing", version: "2015-12-01",
		ns: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", wrapEmpty: true,
		ops: map[string]op{
			"CreateLoadBalancer":           handle((*handler).createLoadBalancer),
			"DescribeLoadBalancers":        handle((*handler).describeLoadBalancers),
			"DeleteLoadBalancer":           handle((*handler).deleteLoadBalancer),
			"SetSecurityGroups":            handle((*handler).setSecurityGroups),
			"SetSubnets":                   handle((*handler).setSubnets),
			"SetIpAddressType":             handle((*handler).setIPAddressType),
			"CreateTargetGroup":            handle((*handler).createTargetGroup),
			"DescribeTargetGroups":         handle((*handler).describeTargetGroups),
			"ModifyTargetGroup":            handle((*handler).modifyTargetGroup),
			"DeleteTargetGroup":            handle((*handler).deleteTargetGroup),
			"RegisterTargets":              handle((*handler).registerTargets),
			"DeregisterTargets":            handle((*handler).deregisterTargets),
			"DescribeTargetHealth":         handle((*handler).describeTargetHealth),
			"CreateListener":               handle((*handler).createListener),
			"DescribeListeners":            handle((*handler).describeListeners),
			"ModifyListener":               handle((*handler).modifyListener),
			"DeleteListener":               handle((*handler).deleteListener),
			"AddListenerCertificates":      handle((*handler).addListenerCertificates),
			"RemoveListenerCertificates":   handle((*handler).removeListenerCertificates),
			"DescribeListenerCertificates": handle((*handler).describeListenerCertificates),
			"CreateRule":                   handle((*handler).createRule),
			"DescribeRules":                handle((*handler).describeRules),
			"ModifyRule":                   handle((*handler).modifyRule),
			"DeleteRule":                   handle((*handler).deleteRule),
			"SetRulePriorities":            handle((*handler).setRulePriorities),
			"AddTags":                      handle((*handler).addTags),
			"RemoveTags":                   handle((*handler).removeTags),
			"DescribeTags":                 handle((*handler).describeTags),
			"DescribeSSLPolicies":          handle((*handler).describeSSLPolicies),
			"DescribeAccountLimits":        handle((*handler).describeAccountLimits),
		},
	}
	for name, fn := range attributeOps() {
		s.ops[name] = fn
	}
	return s
}

// checkARN rejects a string that is not an ARN of the kind.
func checkARN(arn, kind, what string) error {
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":"+kind+"/") {
		return validation("'%s' is not a valid %s ARN", model.Quote(arn), what)
	}
	return nil
}
