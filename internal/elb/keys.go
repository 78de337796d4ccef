package elb

import "github.com/alba-lb/alba/internal/model"

// Store keys name their parents (see model's ARN constructors and
// TargetKey), so a key prefix selects a resource by name, or a parent's
// children, with a store Scan instead of reading a whole kind. The callers
// still check each record's fields: a prefix only narrows the read.

// arnPrefix is what the ARNs of one ELB resource type begin with.
func arnPrefix(resource string) string {
	return "arn:aws:elasticloadbalancing:" + model.Region + ":" + model.Account + ":" + resource + "/"
}

// loadBalancerNamePrefix begins the ARN of the load balancer called name
// (names hold no slash).
func loadBalancerNamePrefix(name string) string {
	return arnPrefix("loadbalancer") + "app/" + name + "/"
}

// targetGroupNamePrefix begins the ARN of the target group called name.
func targetGroupNamePrefix(name string) string { return arnPrefix("targetgroup") + name + "/" }

// targetKeyPrefix begins the store keys of a group's registrations.
func targetKeyPrefix(groupARN string) string { return groupARN + "|" }

// ruleKeyPrefix begins the ARNs of a listener's rules; "" (every rule)
// stays "".
func ruleKeyPrefix(listenerARN string) string {
	if listenerARN == "" {
		return ""
	}
	return model.RuleARNPrefix(listenerARN)
}
