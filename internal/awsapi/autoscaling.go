package awsapi

import "github.com/alba-lb/alba/internal/autoscaling"

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
