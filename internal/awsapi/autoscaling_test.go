package awsapi

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	asg "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

var userData = base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\nexec alba catalog --listen \"$ALBA_PRIVATE_IP:$PORT\"\n"))

func createTemplate(t *testing.T, e *env, name string) *ec2types.LaunchTemplate {
	t.Helper()
	out, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name), VersionDescription: aws.String("first"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-0123456789abcdef0"), InstanceType: ec2types.InstanceTypeT2Micro,
			UserData: aws.String(userData), SecurityGroupIds: []string{"sg-1", "sg-2"}, KeyName: aws.String("key"),
			TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}}}},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: []ec2types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.LaunchTemplate
}

func TestLaunchTemplates(t *testing.T) {
	e := newEnv(t)
	lt := createTemplate(t, e, "web-lt")
	if !strings.HasPrefix(*lt.LaunchTemplateId, "lt-") || len(*lt.LaunchTemplateId) != 20 || *lt.DefaultVersionNumber != 1 ||
		*lt.LatestVersionNumber != 1 || *lt.Tags[0].Key != "env" || lt.CreateTime == nil || !strings.HasPrefix(*lt.CreatedBy, "arn:aws:iam::") {
		t.Fatalf("template: %+v", lt)
	}
	// The same ClientToken returns the same template; another name clashes.
	tok := aws.String("token-1")
	a := must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{ClientToken: tok,
		LaunchTemplateName: aws.String("tok-lt"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Micro}}))
	b := must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{ClientToken: tok,
		LaunchTemplateName: aws.String("tok-lt"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Micro}}))
	if *a.LaunchTemplate.LaunchTemplateId != *b.LaunchTemplate.LaunchTemplateId {
		t.Errorf("client token not idempotent")
	}
	_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{ClientToken: tok,
		LaunchTemplateName: aws.String("tok-lt"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT2Small}})
	if code(err) != "IdempotentParameterMismatch" {
		t.Errorf("token reused with other parameters: %v", err)
	}

	v2 := must[*ec2.CreateLaunchTemplateVersionOutput](t)(e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String("web-lt"), SourceVersion: aws.String("1"), VersionDescription: aws.String("bigger"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Medium}})).LaunchTemplateVersion
	if *v2.VersionNumber != 2 || *v2.DefaultVersion || v2.LaunchTemplateData.InstanceType != ec2types.InstanceTypeT3Medium ||
		*v2.LaunchTemplateData.UserData != userData || *v2.LaunchTemplateData.ImageId != "ami-0123456789abcdef0" {
		t.Fatalf("version 2 did not inherit from 1: %+v %+v", v2, v2.LaunchTemplateData)
	}
	m := must[*ec2.ModifyLaunchTemplateOutput](t)(e.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
		LaunchTemplateId: lt.LaunchTemplateId, DefaultVersion: aws.String("2")}))
	if *m.LaunchTemplate.DefaultVersionNumber != 2 || *m.LaunchTemplate.LatestVersionNumber != 2 {
		t.Errorf("modify: %+v", m.LaunchTemplate)
	}
	vs := must[*ec2.DescribeLaunchTemplateVersionsOutput](t)(e.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: lt.LaunchTemplateId, Versions: []string{"$Latest", "$Default", "1"}}))
	if len(vs.LaunchTemplateVersions) != 2 {
		t.Errorf("versions $Latest,$Default,1: %d", len(vs.LaunchTemplateVersions))
	}
	v1 := vs.LaunchTemplateVersions[0]
	if *v1.VersionNumber != 1 || *v1.VersionDescription != "first" || fmt.Sprint(v1.LaunchTemplateData.SecurityGroupIds) != "[sg-1 sg-2]" ||
		*v1.LaunchTemplateData.TagSpecifications[0].Tags[0].Value != "web" || *v1.LaunchTemplateData.KeyName != "key" {
		t.Errorf("version 1: %+v %+v", v1, v1.LaunchTemplateData)
	}
	vs = must[*ec2.DescribeLaunchTemplateVersionsOutput](t)(e.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String("web-lt"), MinVersion: aws.String("2")}))
	if len(vs.LaunchTemplateVersions) != 1 || *vs.LaunchTemplateVersions[0].VersionNumber != 2 || !*vs.LaunchTemplateVersions[0].DefaultVersion {
		t.Errorf("versions from 2: %+v", vs.LaunchTemplateVersions)
	}
	del := must[*ec2.DeleteLaunchTemplateVersionsOutput](t)(e.ec2.DeleteLaunchTemplateVersions(ctx, &ec2.DeleteLaunchTemplateVersionsInput{
		LaunchTemplateId: lt.LaunchTemplateId, Versions: []string{"1", "2", "7"}}))
	if len(del.SuccessfullyDeletedLaunchTemplateVersions) != 1 || *del.SuccessfullyDeletedLaunchTemplateVersions[0].VersionNumber != 1 ||
		len(del.UnsuccessfullyDeletedLaunchTemplateVersions) != 2 ||
		del.UnsuccessfullyDeletedLaunchTemplateVersions[0].ResponseError.Code != ec2types.LaunchTemplateErrorCodeUnexpectedError {
		t.Errorf("delete versions: %+v", del)
	}
	all := must[*ec2.DescribeLaunchTemplatesOutput](t)(e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:env"), Values: []string{"dev"}}}}))
	if len(all.LaunchTemplates) != 1 || *all.LaunchTemplates[0].LaunchTemplateName != "web-lt" {
		t.Errorf("describe by tag: %+v", all.LaunchTemplates)
	}
	must[*ec2.DeleteLaunchTemplateOutput](t)(e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String("web-lt")}))

	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"duplicate name", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("tok-lt"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{}})
			return err
		}, "InvalidLaunchTemplateName.AlreadyExistsException"},
		{"bad name", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("bad name!"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{}})
			return err
		}, "InvalidLaunchTemplateName.MalformedException"},
		{"unknown instance type", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("big-lt"),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeP4d24xlarge}})
			return err
		}, "InvalidParameterValue"},
		{"user data not base64", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("ud-lt"),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{UserData: aws.String("#!/bin/bash")}})
			return err
		}, "InvalidUserData.Malformed"},
		{"unknown name", func() error {
			_, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"web-lt"}})
			return err
		}, "InvalidLaunchTemplateName.NotFoundException"},
		{"unknown id", func() error {
			_, err := e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId})
			return err
		}, "InvalidLaunchTemplateId.NotFound"},
		{"malformed id", func() error {
			_, err := e.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: aws.String("nope"), DefaultVersion: aws.String("1")})
			return err
		}, "InvalidLaunchTemplateId.Malformed"},
		{"unknown version", func() error {
			_, err := e.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateName: aws.String("tok-lt"), DefaultVersion: aws.String("9")})
			return err
		}, "InvalidLaunchTemplateId.VersionNotFound"},
		{"dry run", func() error {
			_, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{DryRun: aws.Bool(true)})
			return err
		}, "DryRunOperation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := code(c.call()); got != c.code {
				t.Errorf("got %q, want %s", got, c.code)
			}
		})
	}
}

func TestAutoScalingGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	lt := createTemplate(t, e, "web-lt")
	tg := createTG(t, e, "web", types.TargetTypeEnumInstance)
	tg2 := createTG(t, e, "web2", types.TargetTypeEnumInstance)
	must[*asg.CreateAutoScalingGroupOutput](t)(e.as.CreateAutoScalingGroup(ctx, &asg.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-asg"), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web-lt"), Version: aws.String("$Latest")},
		MinSize: aws.Int32(1), MaxSize: aws.Int32(3), VPCZoneIdentifier: aws.String("subnet-a, subnet-b"), TargetGroupARNs: []string{*tg.TargetGroupArn},
		HealthCheckType: aws.String("ELB"), HealthCheckGracePeriod: aws.Int32(30),
		Tags: []astypes.Tag{{Key: aws.String("team"), Value: aws.String("movies"), PropagateAtLaunch: aws.Bool(true)}},
	}))
	describe := func() astypes.AutoScalingGroup {
		t.Helper()
		out := must[*asg.DescribeAutoScalingGroupsOutput](t)(e.as.DescribeAutoScalingGroups(ctx, &asg.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web-asg"}}))
		if len(out.AutoScalingGroups) != 1 {
			t.Fatalf("groups: %+v", out.AutoScalingGroups)
		}
		return out.AutoScalingGroups[0]
	}
	g := describe()
	if *g.DesiredCapacity != 1 || *g.MinSize != 1 || *g.MaxSize != 3 || *g.HealthCheckType != "ELB" || *g.HealthCheckGracePeriod != 30 ||
		*g.LaunchTemplate.LaunchTemplateId != *lt.LaunchTemplateId || *g.LaunchTemplate.Version != "$Latest" ||
		fmt.Sprint(g.AvailabilityZones) != "[subnet-a subnet-b]" || *g.VPCZoneIdentifier != "subnet-a,subnet-b" ||
		g.TargetGroupARNs[0] != *tg.TargetGroupArn || !*g.Tags[0].PropagateAtLaunch || *g.DefaultCooldown != 300 ||
		g.DefaultInstanceWarmup != nil || !strings.Contains(*g.AutoScalingGroupARN, ":autoScalingGroupName/web-asg") {
		t.Fatalf("group: %+v", g)
	}
	none := must[*asg.DescribeAutoScalingGroupsOutput](t)(e.as.DescribeAutoScalingGroups(ctx, &asg.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"nope"}}))
	if len(none.AutoScalingGroups) != 0 {
		t.Errorf("unknown name gave %+v", none.AutoScalingGroups)
	}

	// Update: only the fields sent; a new min above desired raises it, a
	// new max below lowers it.
	must[*asg.UpdateAutoScalingGroupOutput](t)(e.as.UpdateAutoScalingGroup(ctx, &asg.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-asg"), MinSize: aws.Int32(2)}))
	if g = describe(); *g.DesiredCapacity != 2 || *g.MaxSize != 3 || *g.HealthCheckGracePeriod != 30 {
		t.Errorf("after min 2: desired %d max %d", *g.DesiredCapacity, *g.MaxSize)
	}
	must[*asg.UpdateAutoScalingGroupOutput](t)(e.as.UpdateAutoScalingGroup(ctx, &asg.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-asg"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1)}))
	if g = describe(); *g.DesiredCapacity != 1 || *g.MinSize != 0 {
		t.Errorf("after max 1: desired %d min %d", *g.DesiredCapacity, *g.MinSize)
	}
	must[*asg.UpdateAutoScalingGroupOutput](t)(e.as.UpdateAutoScalingGroup(ctx, &asg.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-asg"),
		MaxSize: aws.Int32(4), DefaultInstanceWarmup: aws.Int32(10)}))
	must[*asg.SetDesiredCapacityOutput](t)(e.as.SetDesiredCapacity(ctx, &asg.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web-asg"), DesiredCapacity: aws.Int32(3)}))
	if g = describe(); *g.DesiredCapacity != 3 || *g.DefaultInstanceWarmup != 10 {
		t.Errorf("after set-desired-capacity 3: %d", *g.DesiredCapacity)
	}

	// Instances as the controller records them.
	i1 := e.putInstance("web-asg", "subnet-a", model.LifecycleInService, "127.0.0.11", 8080)
	i2 := e.putInstance("web-asg", "subnet-b", model.LifecycleInService, "127.0.0.12", 8080)
	i3 := e.putInstance("web-asg", "subnet-a", model.LifecycleInService, "127.0.0.13", 8080)
	for _, i := range []*model.Instance{i1, i2, i3} {
		must[*elbv2.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
			Targets: []types.TargetDescription{{Id: aws.String(i.ID)}}}))
	}
	g = describe()
	if len(g.Instances) != 3 || *g.Instances[0].InstanceId != i1.ID || g.Instances[0].LifecycleState != "InService" ||
		*g.Instances[0].HealthStatus != "Healthy" || *g.Instances[0].AvailabilityZone != "subnet-a" || *g.Instances[0].InstanceType != "t2.micro" {
		t.Fatalf("instances: %+v", g.Instances)
	}
	ai := must[*asg.DescribeAutoScalingInstancesOutput](t)(e.as.DescribeAutoScalingInstances(ctx, &asg.DescribeAutoScalingInstancesInput{InstanceIds: []string{i2.ID}}))
	if len(ai.AutoScalingInstances) != 1 || *ai.AutoScalingInstances[0].HealthStatus != "HEALTHY" || *ai.AutoScalingInstances[0].AutoScalingGroupName != "web-asg" {
		t.Errorf("auto scaling instances: %+v", ai.AutoScalingInstances)
	}

	// Terminate with decrement: the instance drains, desired drops.
	act := must[*asg.TerminateInstanceInAutoScalingGroupOutput](t)(e.as.TerminateInstanceInAutoScalingGroup(ctx, &asg.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(i1.ID), ShouldDecrementDesiredCapacity: aws.Bool(true)})).Activity
	if *act.Description != "Terminating EC2 instance: "+i1.ID || !strings.Contains(*act.Cause, "taken out of service in response to a user request, shrinking the capacity from 3 to 2.") ||
		act.StatusCode != astypes.ScalingActivityStatusCodeWaitingForELBConnectionDraining || *act.AutoScalingGroupName != "web-asg" {
		t.Errorf("terminate activity: %+v", act)
	}
	if inst := e.instance(i1.ID); inst.LifecycleState != model.LifecycleTerminating || inst.TerminateActivity != *act.ActivityId || inst.TerminatingSince == nil {
		t.Errorf("terminated instance: %+v", inst)
	}
	if g = describe(); *g.DesiredCapacity != 2 {
		t.Errorf("desired after terminate with decrement: %d", *g.DesiredCapacity)
	}
	th := must[*elbv2.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String(i1.ID)}}}))
	if th.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumDraining {
		t.Errorf("terminated instance's target: %+v", th.TargetHealthDescriptions[0].TargetHealth)
	}
	// Without decrement the desired capacity stays (the controller replaces it).
	act = must[*asg.TerminateInstanceInAutoScalingGroupOutput](t)(e.as.TerminateInstanceInAutoScalingGroup(ctx, &asg.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(i2.ID), ShouldDecrementDesiredCapacity: aws.Bool(false)})).Activity
	if g = describe(); *g.DesiredCapacity != 2 || strings.Contains(*act.Cause, "shrinking") {
		t.Errorf("desired after terminate: %d, cause %s", *g.DesiredCapacity, *act.Cause)
	}

	// Health: respecting a grace period that is over marks it Unhealthy.
	must[*asg.SetInstanceHealthOutput](t)(e.as.SetInstanceHealth(ctx, &asg.SetInstanceHealthInput{InstanceId: aws.String(i3.ID), HealthStatus: aws.String("Unhealthy")}))
	if inst := e.instance(i3.ID); inst.HealthStatus != "Unhealthy" {
		t.Errorf("health status %s", inst.HealthStatus)
	}
	must[*asg.SetInstanceProtectionOutput](t)(e.as.SetInstanceProtection(ctx, &asg.SetInstanceProtectionInput{AutoScalingGroupName: aws.String("web-asg"),
		InstanceIds: []string{i3.ID}, ProtectedFromScaleIn: aws.Bool(true)}))
	if !e.instance(i3.ID).ProtectedFromScaleIn {
		t.Errorf("protection not set")
	}

	// Attach a second target group: running instances are registered.
	must[*asg.AttachLoadBalancerTargetGroupsOutput](t)(e.as.AttachLoadBalancerTargetGroups(ctx, &asg.AttachLoadBalancerTargetGroupsInput{
		AutoScalingGroupName: aws.String("web-asg"), TargetGroupARNs: []string{*tg2.TargetGroupArn}}))
	th = must[*elbv2.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg2.TargetGroupArn}))
	if len(th.TargetHealthDescriptions) != 1 || *th.TargetHealthDescriptions[0].Target.Id != i3.ID {
		t.Errorf("attached group's targets: %+v", th.TargetHealthDescriptions)
	}
	lbtg := must[*asg.DescribeLoadBalancerTargetGroupsOutput](t)(e.as.DescribeLoadBalancerTargetGroups(ctx, &asg.DescribeLoadBalancerTargetGroupsInput{AutoScalingGroupName: aws.String("web-asg")}))
	if len(lbtg.LoadBalancerTargetGroups) != 2 {
		t.Errorf("attached groups: %+v", lbtg.LoadBalancerTargetGroups)
	}
	must[*asg.DetachLoadBalancerTargetGroupsOutput](t)(e.as.DetachLoadBalancerTargetGroups(ctx, &asg.DetachLoadBalancerTargetGroupsInput{
		AutoScalingGroupName: aws.String("web-asg"), TargetGroupARNs: []string{*tg2.TargetGroupArn}}))
	th = must[*elbv2.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg2.TargetGroupArn}))
	if th.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumDraining {
		t.Errorf("detached group's target: %+v", th.TargetHealthDescriptions[0].TargetHealth)
	}
	if g = describe(); len(g.TargetGroupARNs) != 1 {
		t.Errorf("target groups after detach: %v", g.TargetGroupARNs)
	}

	// Scaling policy.
	pol := must[*asg.PutScalingPolicyOutput](t)(e.as.PutScalingPolicy(ctx, &asg.PutScalingPolicyInput{AutoScalingGroupName: aws.String("web-asg"),
		PolicyName: aws.String("cpu50"), PolicyType: aws.String("TargetTrackingScaling"), EstimatedInstanceWarmup: aws.Int32(60),
		TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(50),
			PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeASGAverageCPUUtilization}}}))
	if !strings.Contains(*pol.PolicyARN, ":policyName/cpu50") || len(pol.Alarms) != 2 || !strings.HasPrefix(*pol.Alarms[0].AlarmName, "TargetTracking-web-asg-AlarmHigh-") {
		t.Errorf("policy: %+v %+v", *pol.PolicyARN, pol.Alarms)
	}
	ps := must[*asg.DescribePoliciesOutput](t)(e.as.DescribePolicies(ctx, &asg.DescribePoliciesInput{AutoScalingGroupName: aws.String("web-asg")}))
	if len(ps.ScalingPolicies) != 1 || *ps.ScalingPolicies[0].TargetTrackingConfiguration.TargetValue != 50 ||
		ps.ScalingPolicies[0].TargetTrackingConfiguration.PredefinedMetricSpecification.PredefinedMetricType != astypes.MetricTypeASGAverageCPUUtilization ||
		*ps.ScalingPolicies[0].EstimatedInstanceWarmup != 60 || !*ps.ScalingPolicies[0].Enabled {
		t.Errorf("policies: %+v", ps.ScalingPolicies)
	}
	must[*asg.DeletePolicyOutput](t)(e.as.DeletePolicy(ctx, &asg.DeletePolicyInput{AutoScalingGroupName: aws.String("web-asg"), PolicyName: aws.String("cpu50")}))

	// Activities: newest first.
	acts := must[*asg.DescribeScalingActivitiesOutput](t)(e.as.DescribeScalingActivities(ctx, &asg.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("web-asg")}))
	if len(acts.Activities) != 2 || *acts.Activities[0].Description != "Terminating EC2 instance: "+i2.ID || *acts.Activities[0].AutoScalingGroupARN != *g.AutoScalingGroupARN ||
		*acts.Activities[1].Progress != 0 || acts.Activities[1].StartTime == nil {
		t.Errorf("activities: %+v", acts.Activities)
	}

	// Tags.
	must[*asg.CreateOrUpdateTagsOutput](t)(e.as.CreateOrUpdateTags(ctx, &asg.CreateOrUpdateTagsInput{Tags: []astypes.Tag{
		{ResourceId: aws.String("web-asg"), ResourceType: aws.String("auto-scaling-group"), Key: aws.String("env"), Value: aws.String("dev")}}}))
	must[*asg.DeleteTagsOutput](t)(e.as.DeleteTags(ctx, &asg.DeleteTagsInput{Tags: []astypes.Tag{{ResourceId: aws.String("web-asg"), Key: aws.String("team")}}}))
	tags := must[*asg.DescribeTagsOutput](t)(e.as.DescribeTags(ctx, &asg.DescribeTagsInput{Filters: []astypes.Filter{{Name: aws.String("auto-scaling-group"), Values: []string{"web-asg"}}}}))
	if len(tags.Tags) != 1 || *tags.Tags[0].Key != "env" || *tags.Tags[0].PropagateAtLaunch {
		t.Errorf("tags: %+v", tags.Tags)
	}

	// Delete: in use while instances remain; ForceDelete marks it.
	_, err := e.as.DeleteAutoScalingGroup(ctx, &asg.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-asg")})
	if code(err) != "ResourceInUse" {
		t.Errorf("delete with instances: %v", err)
	}
	must[*asg.DeleteAutoScalingGroupOutput](t)(e.as.DeleteAutoScalingGroup(ctx, &asg.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-asg"), ForceDelete: aws.Bool(true)}))
	if g = describe(); *g.Status != "Delete in progress" || *g.DesiredCapacity != 0 {
		t.Errorf("force-deleted group: status %v desired %d", g.Status, *g.DesiredCapacity)
	}
	_, err = e.as.SetDesiredCapacity(ctx, &asg.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web-asg"), DesiredCapacity: aws.Int32(0)})
	if code(err) != "ValidationError" {
		t.Errorf("set desired on a group being deleted: %v", err)
	}
}

func TestAutoScalingErrors(t *testing.T) {
	e := newEnv(t)
	createTemplate(t, e, "the-lt")
	ipTG := createTG(t, e, "ips", types.TargetTypeEnumIp)
	mk := func(name string, min, max int32, desired *int32) error {
		_, err := e.as.CreateAutoScalingGroup(ctx, &asg.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name),
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("the-lt")}, MinSize: aws.Int32(min), MaxSize: aws.Int32(max),
			DesiredCapacity: desired, VPCZoneIdentifier: aws.String("subnet-a")})
		return err
	}
	if err := mk("g", 0, 2, nil); err != nil {
		t.Fatal(err)
	}
	inst := e.putInstance("g", "subnet-a", model.LifecycleInService, "127.0.0.21", 8080)
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"duplicate group", func() error { return mk("g", 0, 2, nil) }, "AlreadyExists"},
		{"desired above max", func() error { return mk("g2", 0, 2, aws.Int32(3)) }, "ValidationError"},
		{"min above max", func() error { return mk("g3", 3, 2, nil) }, "ValidationError"},
		{"unknown template", func() error {
			_, err := e.as.CreateAutoScalingGroup(ctx, &asg.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g4"),
				LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("nope")}, MinSize: aws.Int32(0), MaxSize: aws.Int32(1), VPCZoneIdentifier: aws.String("s")})
			return err
		}, "ValidationError"},
		{"no zones", func() error {
			_, err := e.as.CreateAutoScalingGroup(ctx, &asg.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g5"),
				LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("the-lt")}, MinSize: aws.Int32(0), MaxSize: aws.Int32(1)})
			return err
		}, "ValidationError"},
		{"launch configuration", func() error {
			_, err := e.as.CreateAutoScalingGroup(ctx, &asg.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g6"),
				LaunchConfigurationName: aws.String("lc"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), VPCZoneIdentifier: aws.String("s")})
			return err
		}, "ValidationError"},
		{"ip target group", func() error {
			_, err := e.as.CreateAutoScalingGroup(ctx, &asg.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g7"),
				LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("the-lt")}, MinSize: aws.Int32(0), MaxSize: aws.Int32(1),
				VPCZoneIdentifier: aws.String("s"), TargetGroupARNs: []string{*ipTG.TargetGroupArn}})
			return err
		}, "ValidationError"},
		{"update unknown group", func() error {
			_, err := e.as.UpdateAutoScalingGroup(ctx, &asg.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("nope"), MinSize: aws.Int32(1)})
			return err
		}, "ValidationError"},
		{"update desired out of bounds", func() error {
			_, err := e.as.UpdateAutoScalingGroup(ctx, &asg.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(5)})
			return err
		}, "ValidationError"},
		{"update min above max", func() error {
			_, err := e.as.UpdateAutoScalingGroup(ctx, &asg.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(3)})
			return err
		}, "ValidationError"},
		{"set desired above max", func() error {
			_, err := e.as.SetDesiredCapacity(ctx, &asg.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(3)})
			return err
		}, "ValidationError"},
		{"terminate below min", func() error {
			if _, err := e.as.UpdateAutoScalingGroup(ctx, &asg.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(1), DesiredCapacity: aws.Int32(1)}); err != nil {
				return err
			}
			_, err := e.as.TerminateInstanceInAutoScalingGroup(ctx, &asg.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(inst.ID), ShouldDecrementDesiredCapacity: aws.Bool(true)})
			return err
		}, "ValidationError"},
		{"terminate unknown instance", func() error {
			_, err := e.as.TerminateInstanceInAutoScalingGroup(ctx, &asg.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String("i-0000000000000000a"), ShouldDecrementDesiredCapacity: aws.Bool(false)})
			return err
		}, "ValidationError"},
		{"bad health status", func() error {
			_, err := e.as.SetInstanceHealth(ctx, &asg.SetInstanceHealthInput{InstanceId: aws.String(inst.ID), HealthStatus: aws.String("Sick")})
			return err
		}, "ValidationError"},
		{"step scaling", func() error {
			_, err := e.as.PutScalingPolicy(ctx, &asg.PutScalingPolicyInput{AutoScalingGroupName: aws.String("g"), PolicyName: aws.String("p"),
				PolicyType: aws.String("StepScaling"), AdjustmentType: aws.String("ChangeInCapacity")})
			return err
		}, "ValidationError"},
		{"policy of unknown group", func() error {
			_, err := e.as.PutScalingPolicy(ctx, &asg.PutScalingPolicyInput{AutoScalingGroupName: aws.String("nope"), PolicyName: aws.String("p"),
				PolicyType: aws.String("TargetTrackingScaling"), TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(50),
					PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeASGAverageCPUUtilization}}})
			return err
		}, "ValidationError"},
		{"cpu target over 100", func() error {
			_, err := e.as.PutScalingPolicy(ctx, &asg.PutScalingPolicyInput{AutoScalingGroupName: aws.String("g"), PolicyName: aws.String("p"),
				PolicyType: aws.String("TargetTrackingScaling"), TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(150),
					PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeASGAverageCPUUtilization}}})
			return err
		}, "ValidationError"},
		{"delete unknown policy", func() error {
			_, err := e.as.DeletePolicy(ctx, &asg.DeletePolicyInput{AutoScalingGroupName: aws.String("g"), PolicyName: aws.String("nope")})
			return err
		}, "ValidationError"},
		{"bad next token", func() error {
			_, err := e.as.DescribeAutoScalingGroups(ctx, &asg.DescribeAutoScalingGroupsInput{NextToken: aws.String("!!")})
			return err
		}, "InvalidNextToken"},
		{"max records over 100", func() error {
			_, err := e.as.DescribeAutoScalingGroups(ctx, &asg.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(101)})
			return err
		}, "ValidationError"},
		{"delete unknown group", func() error {
			_, err := e.as.DeleteAutoScalingGroup(ctx, &asg.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("nope")})
			return err
		}, "ValidationError"},
		{"delete while terminating", func() error {
			if err := e.st.Update(func(tx store.Tx) error {
				i, err := store.GetJSON[model.Instance](tx, model.KindInstance, inst.ID)
				if err != nil {
					return err
				}
				i.LifecycleState = model.LifecycleTerminating
				return store.PutJSON(tx, model.KindInstance, i.ID, i)
			}); err != nil {
				return err
			}
			_, err := e.as.DeleteAutoScalingGroup(ctx, &asg.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("g")})
			return err
		}, "ScalingActivityInProgress"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := code(c.call()); got != c.code {
				t.Errorf("got %q, want %s", got, c.code)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		createTG(t, e, fmt.Sprintf("tg-%d", i), types.TargetTypeEnumInstance)
		createLB(t, e, fmt.Sprintf("lb-%d", i))
		createTemplate(t, e, fmt.Sprintf("lt-%d", i))
	}
	for i := 0; i < 5; i++ {
		must[*asg.CreateAutoScalingGroupOutput](t)(e.as.CreateAutoScalingGroup(ctx, &asg.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(fmt.Sprintf("asg-%d", i)),
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("lt-0")}, MinSize: aws.Int32(0), MaxSize: aws.Int32(1), VPCZoneIdentifier: aws.String("s")}))
		must[*asg.SetDesiredCapacityOutput](t)(e.as.SetDesiredCapacity(ctx, &asg.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("asg-0"), DesiredCapacity: aws.Int32(int32(i % 2))}))
	}
	// Activities for the activity listing.
	if err := e.st.Update(func(tx store.Tx) error {
		for i := 0; i < 5; i++ {
			a := &model.Activity{ID: model.NewUUID(), Group: "asg-0", Description: fmt.Sprint("activity ", i), StartTime: time.Now().Add(time.Duration(i) * time.Second), StatusCode: "Successful"}
			if err := store.PutJSON(tx, model.KindActivity, a.Key(), a); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	count := func(name string, want int, pages func() (int, int)) {
		t.Run(name, func(t *testing.T) {
			n, p := pages()
			if n != want || p != 3 {
				t.Errorf("%d items in %d pages, want %d in 3", n, p, want)
			}
		})
	}
	count("target groups", 5, func() (n, p int) {
		pg := elbv2.NewDescribeTargetGroupsPaginator(e.elb, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(2)})
		seen := map[string]bool{}
		for pg.HasMorePages() {
			for _, g := range must[*elbv2.DescribeTargetGroupsOutput](t)(pg.NextPage(ctx)).TargetGroups {
				seen[*g.TargetGroupName] = true
				n++
			}
			p++
		}
		if len(seen) != n {
			t.Errorf("duplicates across pages")
		}
		return
	})
	count("load balancers", 5, func() (n, p int) {
		pg := elbv2.NewDescribeLoadBalancersPaginator(e.elb, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(2)})
		for pg.HasMorePages() {
			n += len(must[*elbv2.DescribeLoadBalancersOutput](t)(pg.NextPage(ctx)).LoadBalancers)
			p++
		}
		return
	})
	count("auto scaling groups", 5, func() (n, p int) {
		pg := asg.NewDescribeAutoScalingGroupsPaginator(e.as, &asg.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(2)})
		for pg.HasMorePages() {
			n += len(must[*asg.DescribeAutoScalingGroupsOutput](t)(pg.NextPage(ctx)).AutoScalingGroups)
			p++
		}
		return
	})
	count("launch templates", 5, func() (n, p int) {
		pg := ec2.NewDescribeLaunchTemplatesPaginator(e.ec2, &ec2.DescribeLaunchTemplatesInput{MaxResults: aws.Int32(2)})
		for pg.HasMorePages() {
			n += len(must[*ec2.DescribeLaunchTemplatesOutput](t)(pg.NextPage(ctx)).LaunchTemplates)
			p++
		}
		return
	})
	count("scaling activities", 5, func() (n, p int) {
		pg := asg.NewDescribeScalingActivitiesPaginator(e.as, &asg.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("asg-0"), MaxRecords: aws.Int32(2)})
		last := time.Now().Add(time.Hour)
		for pg.HasMorePages() {
			for _, a := range must[*asg.DescribeScalingActivitiesOutput](t)(pg.NextPage(ctx)).Activities {
				if a.StartTime.After(last) {
					t.Errorf("activities not newest first")
				}
				last = *a.StartTime
				n++
			}
			p++
		}
		return
	})
}
