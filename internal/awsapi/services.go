package awsapi

import "github.com/alba-lb/alba/internal/autoscaling"

// The operations of each service, by Action. Each is decode → service
// call → encode: handle decodes the input struct its function takes.

func elbv2Service() *service {
	return &service{
		name: "elasticloadbalancing", version: "2015-12-01",
		ns: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", wrapEmpty: true,
		ops: map[string]op{
			"CreateLoadBalancer":             handle((*handler).createLoadBalancer),
			"DescribeLoadBalancers":          handle((*handler).describeLoadBalancers),
			"DeleteLoadBalancer":             handle((*handler).deleteLoadBalancer),
			"SetSecurityGroups":              handle((*handler).setSecurityGroups),
			"SetSubnets":                     handle((*handler).setSubnets),
			"SetIpAddressType":               handle((*handler).setIPAddressType),
			"CreateTargetGroup":              handle((*handler).createTargetGroup),
			"DescribeTargetGroups":           handle((*handler).describeTargetGroups),
			"ModifyTargetGroup":              handle((*handler).modifyTargetGroup),
			"DeleteTargetGroup":              handle((*handler).deleteTargetGroup),
			"RegisterTargets":                handle((*handler).registerTargets),
			"DeregisterTargets":              handle((*handler).deregisterTargets),
			"DescribeTargetHealth":           handle((*handler).describeTargetHealth),
			"CreateListener":                 handle((*handler).createListener),
			"DescribeListeners":              handle((*handler).describeListeners),
			"ModifyListener":                 handle((*handler).modifyListener),
			"DeleteListener":                 handle((*handler).deleteListener),
			"AddListenerCertificates":        handle((*handler).addListenerCertificates),
			"RemoveListenerCertificates":     handle((*handler).removeListenerCertificates),
			"DescribeListenerCertificates":   handle((*handler).describeListenerCertificates),
			"CreateRule":                     handle((*handler).createRule),
			"DescribeRules":                  handle((*handler).describeRules),
			"ModifyRule":                     handle((*handler).modifyRule),
			"DeleteRule":                     handle((*handler).deleteRule),
			"SetRulePriorities":              handle((*handler).setRulePriorities),
			"AddTags":                        handle((*handler).addTags),
			"RemoveTags":                     handle((*handler).removeTags),
			"DescribeTags":                   handle((*handler).describeTags),
			"DescribeSSLPolicies":            handle((*handler).describeSSLPolicies),
			"DescribeAccountLimits":          handle((*handler).describeAccountLimits),
			"DescribeLoadBalancerAttributes": attributesOp[lbAttributesIn](false, loadBalancerAttributes),
			"ModifyLoadBalancerAttributes":   attributesOp[lbAttributesIn](true, loadBalancerAttributes),
			"DescribeTargetGroupAttributes":  attributesOp[tgAttributesIn](false, targetGroupAttributes),
			"ModifyTargetGroupAttributes":    attributesOp[tgAttributesIn](true, targetGroupAttributes),
			"DescribeListenerAttributes":     attributesOp[listenerAttributesIn](false, listenerAttributes),
		},
	}
}

func autoscalingService() *service {
	return &service{
		name: "autoscaling", version: "2011-01-01", ns: "http://autoscaling.amazonaws.com/doc/2011-01-01/",
		ops: map[string]op{
			"CreateAutoScalingGroup":              handle((*handler).createAutoScalingGroup),
			"DescribeAutoScalingGroups":           handle((*handler).describeAutoScalingGroups),
			"UpdateAutoScalingGroup":              handle((*handler).updateAutoScalingGroup),
			"DeleteAutoScalingGroup":              handle((*handler).deleteAutoScalingGroup),
			"SetDesiredCapacity":                  handle((*handler).setDesiredCapacity),
			"TerminateInstanceInAutoScalingGroup": handle((*handler).terminateInstance),
			"SetInstanceHealth":                   handle((*handler).setInstanceHealth),
			"SetInstanceProtection":               handle((*handler).setInstanceProtection),
			"DescribeAutoScalingInstances":        handle((*handler).describeAutoScalingInstances),
			"AttachLoadBalancerTargetGroups":      changeTargetGroups(autoscaling.AttachTargetGroups),
			"DetachLoadBalancerTargetGroups":      changeTargetGroups(autoscaling.DetachTargetGroups),
			"DescribeLoadBalancerTargetGroups":    handle((*handler).describeLoadBalancerTargetGroups),
			"PutScalingPolicy":                    handle((*handler).putScalingPolicy),
			"DescribePolicies":                    handle((*handler).describePolicies),
			"DeletePolicy":                        handle((*handler).deletePolicy),
			"DescribeScalingActivities":           handle((*handler).describeScalingActivities),
			"CreateOrUpdateTags":                  changeGroupTags(autoscaling.CreateOrUpdateTags),
			"DeleteTags":                          changeGroupTags(autoscaling.DeleteTags),
			"DescribeTags":                        handle((*handler).describeASGTags),
			"DescribeTerminationPolicyTypes":      handle((*handler).describeTerminationPolicyTypes),
		},
	}
}

// ec2Service answers EC2's launch template operations (EC2's flavour of
// the Query protocol: flat lists, lowerCamel elements, no Result wrapper).
func ec2Service() *service {
	return &service{
		name: "ec2", version: "2016-11-15", ns: "http://ec2.amazonaws.com/doc/2016-11-15/", ec2: true,
		ops: map[string]op{
			"CreateLaunchTemplate":           handle((*handler).createLaunchTemplate),
			"CreateLaunchTemplateVersion":    handle((*handler).createLaunchTemplateVersion),
			"ModifyLaunchTemplate":           handle((*handler).modifyLaunchTemplate),
			"DescribeLaunchTemplates":        handle((*handler).describeLaunchTemplates),
			"DescribeLaunchTemplateVersions": handle((*handler).describeLaunchTemplateVersions),
			"DeleteLaunchTemplate":           handle((*handler).deleteLaunchTemplate),
			"DeleteLaunchTemplateVersions":   handle((*handler).deleteLaunchTemplateVersions),
		},
	}
}

// iamService answers IAM's server certificate operations.
func iamService() *service {
	return &service{
		name: "iam", version: "2010-05-08", ns: "https://iam.amazonaws.com/doc/2010-05-08/",
		ops: map[string]op{
			"UploadServerCertificate": handle((*handler).uploadServerCertificate),
			"GetServerCertificate":    handle((*handler).getServerCertificate),
			"ListServerCertificates":  handle((*handler).listServerCertificates),
			"UpdateServerCertificate": handle((*handler).updateServerCertificate),
			"DeleteServerCertificate": handle((*handler).deleteServerCertificate),
		},
	}
}
