package model

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// Region and Account appear in every ARN. Alba has no accounts; these are
// the values its ARNs carry unless configured otherwise.
var (
	Region  = "us-east-1"
	Account = "000000000000"
)

// randomHex returns n random hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// NewLoadBalancerARN makes an ALB ARN:
// arn:aws:elasticloadbalancing:<region>:<acct>:loadbalancer/app/<name>/<16 hex>.
func NewLoadBalancerARN(name string) string {
	return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%s", Region, Account, name, randomHex(16))
}

// NewTargetGroupARN makes a target group ARN.
func NewTargetGroupARN(name string) string {
	return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", Region, Account, name, randomHex(16))
}

// NewListenerARN makes a listener ARN under its load balancer's:
// listener/app/<lb-name>/<lb-id>/<16 hex>.
func NewListenerARN(lbARN string) string {
	return strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1) + "/" + randomHex(16)
}

// NewRuleARN makes a rule ARN under its listener's.
func NewRuleARN(listenerARN string) string { return RuleARNPrefix(listenerARN) + randomHex(16) }

// RuleARNPrefix is what the ARNs of a listener's rules begin with:
// listener-rule/app/<lb-name>/<lb-id>/<listener-id>/.
func RuleARNPrefix(listenerARN string) string {
	return strings.Replace(listenerARN, ":listener/", ":listener-rule/", 1) + "/"
}

// LoadBalancerDNSName is the DNS name shown for a load balancer, in AWS's
// shape; it resolves nowhere, the listener's address is what clients use.
func LoadBalancerDNSName(lb *LoadBalancer) string {
	id := lb.ARN[strings.LastIndexByte(lb.ARN, '/')+1:]
	n := fmt.Sprintf("%s-%d.%s.elb.alba.local", lb.Name, hexToNum(id[:min(8, len(id))]), Region)
	if lb.Scheme == "internal" {
		n = "internal-" + n
	}
	return n
}

func hexToNum(s string) uint64 {
	var n uint64
	fmt.Sscanf(s, "%x", &n)
	return n % 1_000_000_000
}

// ResourceName returns the name part of a load balancer or target group ARN.
func ResourceName(arn string) string {
	parts := strings.Split(arn, "/")
	if len(parts) >= 3 {
		return parts[len(parts)-2]
	}
	return arn
}

// NewLaunchTemplateID makes lt- and 17 hex digits.
func NewLaunchTemplateID() string { return "lt-" + randomHex(17) }

// NewInstanceID makes i- and 17 hex digits.
func NewInstanceID() string { return "i-" + randomHex(17) }

// NewUUID makes a random (version 4) UUID.
func NewUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewAutoScalingGroupARN makes arn:aws:autoscaling:…:autoScalingGroup:<uuid>:autoScalingGroupName/<name>.
func NewAutoScalingGroupARN(name string) string {
	return fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", Region, Account, NewUUID(), name)
}

// NewScalingPolicyARN makes a scaling policy ARN.
func NewScalingPolicyARN(group, name string) string {
	return fmt.Sprintf("arn:aws:autoscaling:%s:%s:scalingPolicy:%s:autoScalingGroupName/%s:policyName/%s", Region, Account, NewUUID(), group, name)
}

// NewAlarmARN makes the ARN of a target tracking alarm (High or Low).
func NewAlarmARN(group, kind string) string {
	return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:TargetTracking-%s-Alarm%s-%s", Region, Account, group, kind, NewUUID())
}
