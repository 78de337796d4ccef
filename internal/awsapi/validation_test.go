package awsapi

import (
	"net/url"
	"strings"
	"testing"
)

// form builds a raw request for a service version.
func rawForm(version, action string, kv ...string) url.Values {
	v := url.Values{"Version": {version}, "Action": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

const (
	elbVersion = "2015-12-01"
	asgVersion = "2011-01-01"
	ec2Version = "2016-11-15"
	iamVersion = "2010-05-08"
)

// TestListNumbering: list members numbered out of range or with gaps are
// a ValidationError for every operation, not dropped (a dropped filter
// would answer every resource).
func TestListNumbering(t *testing.T) {
	e := newEnv(t, unsigned)
	for _, n := range []string{"a", "b"} {
		if st, body := post(t, e.srv.URL, rawForm(elbVersion, "CreateTargetGroup", "Name", n, "Protocol", "HTTP", "Port", "80", "TargetType", "ip")); st != 200 {
			t.Fatalf("create %s: %d %s", n, st, body)
		}
	}
	cases := []struct {
		name string
		form url.Values
		code string
	}{
		{"member 0", rawForm(elbVersion, "DescribeTargetGroups", "Names.member.0", "a"), "ValidationError"},
		{"member 999999999", rawForm(elbVersion, "DescribeTargetGroups", "Names.member.999999999", "a"), "ValidationError"},
		{"member 1 and 3", rawForm(elbVersion, "DescribeTargetGroups", "Names.member.1", "a", "Names.member.3", "b"), "ValidationError"},
		{"only member 2", rawForm(elbVersion, "DescribeLoadBalancers", "Names.member.2", "a"), "ValidationError"},
		{"nested gap", rawForm(elbVersion, "RegisterTargets", "TargetGroupArn", "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/a/1",
			"Targets.member.2.Id", "10.0.0.1"), "ValidationError"},
		{"autoscaling", rawForm(asgVersion, "DescribeAutoScalingGroups", "AutoScalingGroupNames.member.0", "g"), "ValidationError"},
		{"ec2 flat list", rawForm(ec2Version, "DescribeLaunchTemplates", "LaunchTemplateName.0", "lt"), "InvalidParameterValue"},
		{"ec2 gap", rawForm(ec2Version, "DescribeLaunchTemplates", "LaunchTemplateName.1", "lt", "LaunchTemplateName.3", "x"), "InvalidParameterValue"},
		{"iam", rawForm(iamVersion, "UploadServerCertificate", "ServerCertificateName", "c", "CertificateBody", "x", "PrivateKey", "y",
			"Tags.member.5.Key", "k"), "ValidationError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := post(t, e.srv.URL, c.form)
			if st != 400 || !strings.Contains(body, "<Code>"+c.code+"</Code>") || !strings.Contains(body, "list members are numbered from 1") {
				t.Errorf("%d %s, want 400 %s on the list's numbering", st, body, c.code)
			}
			if strings.Contains(body, "<TargetGroupName>") {
				t.Errorf("answered groups: %s", body)
			}
		})
	}
}

// TestMalformedARN: an ARN parameter that is not an ARN is a
// ValidationError naming the parameter, not a …NotFound.
func TestMalformedARN(t *testing.T) {
	e := newEnv(t, unsigned)
	cases := []struct {
		version, action, param string
		kv                     []string
	}{
		{elbVersion, "DeleteLoadBalancer", "LoadBalancerArn", nil},
		{elbVersion, "DescribeLoadBalancers", "LoadBalancerArns.member.1", nil},
		{elbVersion, "DescribeLoadBalancerAttributes", "LoadBalancerArn", nil},
		{elbVersion, "ModifyLoadBalancerAttributes", "LoadBalancerArn", []string{"Attributes.member.1.Key", "idle_timeout.timeout_seconds", "Attributes.member.1.Value", "30"}},
		{elbVersion, "SetSecurityGroups", "LoadBalancerArn", []string{"SecurityGroups.member.1", "sg-1"}},
		{elbVersion, "SetSubnets", "LoadBalancerArn", []string{"Subnets.member.1", "a", "Subnets.member.2", "b"}},
		{elbVersion, "SetIpAddressType", "LoadBalancerArn", []string{"IpAddressType", "ipv4"}},
		{elbVersion, "DescribeTargetGroups", "TargetGroupArns.member.1", nil},
		{elbVersion, "DescribeTargetGroups", "LoadBalancerArn", nil},
		{elbVersion, "ModifyTargetGroup", "TargetGroupArn", nil},
		{elbVersion, "DeleteTargetGroup", "TargetGroupArn", nil},
		{elbVersion, "DescribeTargetGroupAttributes", "TargetGroupArn", nil},
		{elbVersion, "RegisterTargets", "TargetGroupArn", []string{"Targets.member.1.Id", "10.0.0.1"}},
		{elbVersion, "DeregisterTargets", "TargetGroupArn", []string{"Targets.member.1.Id", "10.0.0.1"}},
		{elbVersion, "DescribeTargetHealth", "TargetGroupArn", nil},
		{elbVersion, "CreateListener", "LoadBalancerArn", []string{"Protocol", "HTTP", "Port", "80", "DefaultActions.member.1.Type", "fixed-response",
			"DefaultActions.member.1.FixedResponseConfig.StatusCode", "200"}},
		{elbVersion, "CreateListener", "DefaultActions.member.1.TargetGroupArn", []string{"LoadBalancerArn", "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/x/1",
			"Protocol", "HTTP", "Port", "80", "DefaultActions.member.1.Type", "forward"}},
		{elbVersion, "DescribeListeners", "ListenerArns.member.1", nil},
		{elbVersion, "ModifyListener", "ListenerArn", nil},
		{elbVersion, "DeleteListener", "ListenerArn", nil},
		{elbVersion, "AddListenerCertificates", "Certificates.member.1.CertificateArn", []string{"ListenerArn", "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/x/1/2"}},
		{elbVersion, "DescribeListenerCertificates", "ListenerArn", nil},
		{elbVersion, "CreateRule", "ListenerArn", []string{"Priority", "1", "Actions.member.1.Type", "fixed-response", "Actions.member.1.FixedResponseConfig.StatusCode", "200"}},
		{elbVersion, "DescribeRules", "RuleArns.member.1", nil},
		{elbVersion, "ModifyRule", "RuleArn", nil},
		{elbVersion, "DeleteRule", "RuleArn", nil},
		{elbVersion, "SetRulePriorities", "RulePriorities.member.1.RuleArn", []string{"RulePriorities.member.1.Priority", "1"}},
		{elbVersion, "AddTags", "ResourceArns.member.1", []string{"Tags.member.1.Key", "k"}},
		{elbVersion, "RemoveTags", "ResourceArns.member.1", []string{"TagKeys.member.1", "k"}},
		{elbVersion, "DescribeTags", "ResourceArns.member.1", nil},
		{asgVersion, "AttachLoadBalancerTargetGroups", "TargetGroupARNs.member.1", []string{"AutoScalingGroupName", "g"}},
		{asgVersion, "DetachLoadBalancerTargetGroups", "TargetGroupARNs.member.1", []string{"AutoScalingGroupName", "g"}},
	}
	for _, c := range cases {
		for _, bad := range []string{"not-an-arn", "arn:aws:nope"} {
			t.Run(c.action+"/"+c.param+"/"+bad, func(t *testing.T) {
				kv := append([]string{c.param, bad}, c.kv...)
				st, body := post(t, e.srv.URL, rawForm(c.version, c.action, kv...))
				if st != 400 || !strings.Contains(body, "<Code>ValidationError</Code>") || !strings.Contains(body, c.param) {
					t.Errorf("%d %s, want a ValidationError naming %s", st, body, c.param)
				}
			})
		}
	}
}

// TestLongValueQuoted: an error message quotes a short prefix of a long
// bad value, never the value whole.
func TestLongValueQuoted(t *testing.T) {
	e := newEnv(t, unsigned)
	long := strings.Repeat("x", 10000)
	lbARN := "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/x/1"
	cases := []struct {
		name string
		form url.Values
	}{
		{"load balancer name", rawForm(elbVersion, "CreateLoadBalancer", "Name", long, "Subnets.member.1", "a", "Subnets.member.2", "b")},
		{"load balancer type", rawForm(elbVersion, "CreateLoadBalancer", "Name", "n", "Type", long)},
		{"unknown name", rawForm(elbVersion, "DescribeLoadBalancers", "Names.member.1", long)},
		{"unknown target group", rawForm(elbVersion, "DescribeTargetGroups", "Names.member.1", long)},
		{"bad ARN", rawForm(elbVersion, "DeleteLoadBalancer", "LoadBalancerArn", long)},
		{"unknown ARN", rawForm(elbVersion, "DescribeTargetGroups", "TargetGroupArns.member.1", "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/"+long)},
		{"bad integer", rawForm(elbVersion, "DescribeLoadBalancers", "PageSize", long)},
		{"bad boolean", rawForm(asgVersion, "DeleteAutoScalingGroup", "AutoScalingGroupName", "g", "ForceDelete", long)},
		{"condition field", rawForm(elbVersion, "CreateRule", "ListenerArn", lbARN, "Priority", "1", "Conditions.member.1.Field", long,
			"Actions.member.1.Type", "fixed-response", "Actions.member.1.FixedResponseConfig.StatusCode", "200")},
		{"action type", rawForm(elbVersion, "CreateListener", "LoadBalancerArn", lbARN, "Protocol", "HTTP", "Port", "80", "DefaultActions.member.1.Type", long)},
		{"target type", rawForm(elbVersion, "CreateTargetGroup", "Name", "n", "Protocol", "HTTP", "Port", "80", "TargetType", long)},
		{"ssl policy", rawForm(elbVersion, "DescribeSSLPolicies", "Names.member.1", long)},
		{"group name", rawForm(asgVersion, "SetDesiredCapacity", "AutoScalingGroupName", long, "DesiredCapacity", "1")},
		{"policy type", rawForm(asgVersion, "PutScalingPolicy", "AutoScalingGroupName", "g", "PolicyName", "p", "PolicyType", long)},
		{"filter name", rawForm(asgVersion, "DescribeTags", "Filters.member.1.Name", long)},
		{"subnets", rawForm(asgVersion, "CreateAutoScalingGroup", "AutoScalingGroupName", "g", "LaunchTemplate.LaunchTemplateName", "lt",
			"MinSize", "0", "MaxSize", "1", "VPCZoneIdentifier", " , "+long)},
		{"template name", rawForm(ec2Version, "DescribeLaunchTemplates", "LaunchTemplateName.1", long)},
		{"template id", rawForm(ec2Version, "DeleteLaunchTemplate", "LaunchTemplateId", long)},
		{"resource type", rawForm(ec2Version, "CreateLaunchTemplate", "LaunchTemplateName", "lt", "TagSpecification.1.ResourceType", long)},
		{"certificate", rawForm(iamVersion, "GetServerCertificate", "ServerCertificateName", long)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := post(t, e.srv.URL, c.form)
			if st < 400 {
				t.Fatalf("status %d: %s", st, body)
			}
			if strings.Contains(body, strings.Repeat("x", 161)) {
				t.Errorf("the answer quotes more than 160 characters of the value: %d bytes: %.300s…", len(body), body)
			}
		})
	}
}

// TestEveryOperationDecodes sends each operation of each service with no
// parameters: every input struct's tags must parse and decode (a bad tag
// would be an internal failure), and the answer is a client error or a
// success, never a 500.
func TestEveryOperationDecodes(t *testing.T) {
	e := newEnv(t, unsigned)
	h := NewHandler(Options{Store: e.st}).(*handler)
	for _, svc := range h.services {
		for action := range svc.ops {
			t.Run(svc.name+"/"+action, func(t *testing.T) {
				if st, body := post(t, e.srv.URL, rawForm(svc.version, action)); st >= 500 {
					t.Errorf("%d %s", st, body)
				}
			})
		}
	}
}
