package awsapi

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/alba-lb/alba/internal/model"
)

var ctx = context.Background()

func createTG(t *testing.T, e *env, name string, typ types.TargetTypeEnum) *types.TargetGroup {
	t.Helper()
	out, err := e.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), TargetType: typ,
		VpcId: aws.String("vpc-1"), HealthCheckPath: aws.String("/status"), HealthCheckIntervalSeconds: aws.Int32(5),
		HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
		Matcher: &types.Matcher{HttpCode: aws.String("200-299")},
		Tags:    []types.Tag{{Key: aws.String("team"), Value: aws.String("movies")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &out.TargetGroups[0]
}

func createLB(t *testing.T, e *env, name string) *types.LoadBalancer {
	t.Helper()
	out, err := e.elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String(name), Subnets: []string{"subnet-a", "subnet-b"}, SecurityGroups: []string{"sg-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &out.LoadBalancers[0]
}

func forward(arn *string) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: arn}}
}

func attrMap(as []types.TargetGroupAttribute) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		m[*a.Key] = *a.Value
	}
	return m
}

func TestLoadBalancerLifecycle(t *testing.T) {
	e := newEnv(t)
	tg := createTG(t, e, "web", types.TargetTypeEnumIp)
	if *tg.HealthCheckPath != "/status" || *tg.HealthCheckIntervalSeconds != 5 || *tg.HealthCheckTimeoutSeconds != 2 ||
		*tg.HealthyThresholdCount != 2 || *tg.Matcher.HttpCode != "200-299" || *tg.HealthCheckPort != "traffic-port" ||
		tg.TargetType != types.TargetTypeEnumIp || tg.ProtocolVersion == nil || *tg.ProtocolVersion != "HTTP1" || *tg.VpcId != "vpc-1" {
		t.Fatalf("target group: %+v", tg)
	}
	// Same name and settings: the same group back; other settings: an error.
	again := createTG(t, e, "web", types.TargetTypeEnumIp)
	if *again.TargetGroupArn != *tg.TargetGroupArn {
		t.Errorf("idempotent create made a new group")
	}

	lb := createLB(t, e, "movies")
	if lb.State.Code != types.LoadBalancerStateEnumActive || lb.Type != types.LoadBalancerTypeEnumApplication ||
		lb.Scheme != types.LoadBalancerSchemeEnumInternetFacing || len(lb.AvailabilityZones) != 2 ||
		*lb.AvailabilityZones[1].SubnetId != "subnet-b" || lb.SecurityGroups[0] != "sg-1" || lb.CreatedTime == nil ||
		lb.IpAddressType != types.IpAddressTypeIpv4 {
		t.Fatalf("load balancer: %+v", lb)
	}
	byName := must[*elbv2.DescribeLoadBalancersOutput](t)(e.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"movies"}}))
	if *byName.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancerArn || *byName.LoadBalancers[0].DNSName != *lb.DNSName {
		t.Errorf("describe by name: %+v", byName.LoadBalancers)
	}

	lattrs := must[*elbv2.ModifyLoadBalancerAttributesOutput](t)(e.elb.ModifyLoadBalancerAttributes(ctx, &elbv2.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: lb.LoadBalancerArn, Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("120")}}}))
	if len(lattrs.Attributes) < 10 {
		t.Errorf("modify returned %d attributes, want the full list", len(lattrs.Attributes))
	}
	dl := must[*elbv2.DescribeLoadBalancerAttributesOutput](t)(e.elb.DescribeLoadBalancerAttributes(ctx, &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn}))
	found := false
	for _, a := range dl.Attributes {
		if *a.Key == "idle_timeout.timeout_seconds" && *a.Value == "120" {
			found = true
		}
	}
	if !found {
		t.Errorf("idle timeout not kept: %+v", dl.Attributes)
	}

	l := must[*elbv2.CreateListenerOutput](t)(e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp, Port: aws.Int32(18080), DefaultActions: forward(tg.TargetGroupArn)})).Listeners[0]
	if l.Protocol != types.ProtocolEnumHttp || *l.Port != 18080 || l.DefaultActions[0].Type != types.ActionTypeEnumForward ||
		*l.DefaultActions[0].TargetGroupArn != *tg.TargetGroupArn || *l.DefaultActions[0].ForwardConfig.TargetGroups[0].Weight != 1 {
		t.Fatalf("listener: %+v", l)
	}
	ls := must[*elbv2.DescribeListenersOutput](t)(e.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn}))
	if len(ls.Listeners) != 1 || *ls.Listeners[0].ListenerArn != *l.ListenerArn {
		t.Errorf("listeners: %+v", ls.Listeners)
	}
	ml := must[*elbv2.ModifyListenerOutput](t)(e.elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn, Port: aws.Int32(18081)}))
	if *ml.Listeners[0].Port != 18081 || *ml.Listeners[0].DefaultActions[0].TargetGroupArn != *tg.TargetGroupArn {
		t.Errorf("modify listener: %+v", ml.Listeners[0])
	}
	rules := must[*elbv2.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn}))
	if len(rules.Rules) != 1 || *rules.Rules[0].Priority != "default" || !*rules.Rules[0].IsDefault {
		t.Errorf("default rule: %+v", rules.Rules)
	}

	// The group now serves the load balancer.
	tgs := must[*elbv2.DescribeTargetGroupsOutput](t)(e.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: lb.LoadBalancerArn}))
	if len(tgs.TargetGroups) != 1 || len(tgs.TargetGroups[0].LoadBalancerArns) != 1 || tgs.TargetGroups[0].LoadBalancerArns[0] != *lb.LoadBalancerArn {
		t.Errorf("target groups of the load balancer: %+v", tgs.TargetGroups)
	}

	mt := must[*elbv2.ModifyTargetGroupOutput](t)(e.elb.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{
		TargetGroupArn: tg.TargetGroupArn, HealthCheckPath: aws.String("/healthz"), HealthyThresholdCount: aws.Int32(3)}))
	if g := mt.TargetGroups[0]; *g.HealthCheckPath != "/healthz" || *g.HealthyThresholdCount != 3 || *g.HealthCheckIntervalSeconds != 5 {
		t.Errorf("modify target group: %+v", g)
	}
	ma := must[*elbv2.ModifyTargetGroupAttributesOutput](t)(e.elb.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{
		TargetGroupArn: tg.TargetGroupArn, Attributes: []types.TargetGroupAttribute{
			{Key: aws.String("stickiness.enabled"), Value: aws.String("true")}, {Key: aws.String("stickiness.type"), Value: aws.String("lb_cookie")},
			{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("30")}}}))
	if m := attrMap(ma.Attributes); len(m) != len(model.TargetGroupAttributes(nil)) || m["stickiness.enabled"] != "true" ||
		m["deregistration_delay.timeout_seconds"] != "30" || m["load_balancing.algorithm.type"] != "round_robin" {
		t.Errorf("modify attributes returned %v", m)
	}
	da := must[*elbv2.DescribeTargetGroupAttributesOutput](t)(e.elb.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn}))
	if m := attrMap(da.Attributes); m["stickiness.enabled"] != "true" || m["slow_start.duration_seconds"] != "0" {
		t.Errorf("describe attributes %v", m)
	}

	// Targets: register (twice: a no-op), health, deregister (draining).
	targets := []types.TargetDescription{{Id: aws.String("10.0.0.1"), Port: aws.Int32(9001)}, {Id: aws.String("10.0.0.2")}}
	for i := 0; i < 2; i++ {
		must[*elbv2.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: targets}))
	}
	e.setHealth(*tg.TargetGroupArn, "10.0.0.1", 9001, model.TargetHealth{State: "healthy"})
	th := must[*elbv2.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}))
	if len(th.TargetHealthDescriptions) != 2 {
		t.Fatalf("target health: %+v", th.TargetHealthDescriptions)
	}
	d0, d1 := th.TargetHealthDescriptions[0], th.TargetHealthDescriptions[1]
	if *d0.Target.Id != "10.0.0.1" || *d0.Target.Port != 9001 || d0.TargetHealth.State != types.TargetHealthStateEnumHealthy || *d0.HealthCheckPort != "9001" || d0.TargetHealth.Reason != "" {
		t.Errorf("healthy target: %+v %+v", d0.Target, d0.TargetHealth)
	}
	if *d1.Target.Port != 8080 || d1.TargetHealth.State != types.TargetHealthStateEnumInitial || d1.TargetHealth.Reason != types.TargetHealthReasonEnumRegistrationInProgress {
		t.Errorf("new target: %+v %+v", d1.Target, d1.TargetHealth)
	}
	must[*elbv2.DeregisterTargetsOutput](t)(e.elb.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String("10.0.0.1"), Port: aws.Int32(9001)}, {Id: aws.String("10.9.9.9")}}}))
	th = must[*elbv2.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String("10.0.0.1"), Port: aws.Int32(9001)}, {Id: aws.String("10.7.7.7")}}}))
	if s := th.TargetHealthDescriptions[0].TargetHealth; s.State != types.TargetHealthStateEnumDraining || s.Reason != types.TargetHealthReasonEnumDeregistrationInProgress {
		t.Errorf("deregistered target: %+v", s)
	}
	if s := th.TargetHealthDescriptions[1].TargetHealth; s.State != types.TargetHealthStateEnumUnused || s.Reason != types.TargetHealthReasonEnumNotRegistered {
		t.Errorf("unknown target: %+v", s)
	}

	// Tags on every kind of resource.
	must[*elbv2.AddTagsOutput](t)(e.elb.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{*lb.LoadBalancerArn, *tg.TargetGroupArn, *l.ListenerArn},
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("team"), Value: aws.String("catalog")}}}))
	must[*elbv2.RemoveTagsOutput](t)(e.elb.RemoveTags(ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{*lb.LoadBalancerArn}, TagKeys: []string{"env"}}))
	tags := must[*elbv2.DescribeTagsOutput](t)(e.elb.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{*lb.LoadBalancerArn, *tg.TargetGroupArn}}))
	if got := fmt.Sprint(tagList(tags.TagDescriptions[0].Tags)); got != "[team=catalog]" {
		t.Errorf("load balancer tags %s", got)
	}
	if got := fmt.Sprint(tagList(tags.TagDescriptions[1].Tags)); got != "[env=dev team=catalog]" {
		t.Errorf("target group tags %s", got)
	}

	// Teardown in AWS's order; the group is in use until the listener goes.
	_, err := e.elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn})
	if code(err) != "ResourceInUse" {
		t.Errorf("delete of a group in use: %v", err)
	}
	must[*elbv2.DeleteListenerOutput](t)(e.elb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: l.ListenerArn}))
	must[*elbv2.DeleteLoadBalancerOutput](t)(e.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}))
	must[*elbv2.DeleteLoadBalancerOutput](t)(e.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}))
	must[*elbv2.DeleteTargetGroupOutput](t)(e.elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn}))
	all := must[*elbv2.DescribeLoadBalancersOutput](t)(e.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{}))
	if len(all.LoadBalancers) != 0 {
		t.Errorf("load balancers left: %+v", all.LoadBalancers)
	}
}

func tagList(ts []types.Tag) []string {
	var out []string
	for _, t := range ts {
		out = append(out, *t.Key+"="+*t.Value)
	}
	sort.Strings(out)
	return out
}

func TestInstanceTargets(t *testing.T) {
	e := newEnv(t)
	tg := createTG(t, e, "inst", types.TargetTypeEnumInstance)
	inst := e.putInstance("grp", "subnet-a", model.LifecycleInService, "127.0.0.9", 8099)
	must[*elbv2.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String(inst.ID)}}}))
	th := must[*elbv2.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}))
	d := th.TargetHealthDescriptions[0]
	if *d.Target.Id != inst.ID || *d.Target.Port != 8099 || *d.Target.AvailabilityZone != "subnet-a" {
		t.Errorf("instance target resolved to %+v", d.Target)
	}
	_, err := e.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String("i-0123456789abcdef0")}}})
	if code(err) != "InvalidTarget" {
		t.Errorf("unknown instance: %v", err)
	}
	// Deregistering without a port finds the instance's registration.
	must[*elbv2.DeregisterTargetsOutput](t)(e.elb.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String(inst.ID)}}}))
	th = must[*elbv2.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}))
	if th.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumDraining {
		t.Errorf("after deregistration: %+v", th.TargetHealthDescriptions[0].TargetHealth)
	}
}

func TestRules(t *testing.T) {
	e := newEnv(t)
	a := createTG(t, e, "a", types.TargetTypeEnumIp)
	b := createTG(t, e, "b", types.TargetTypeEnumIp)
	lb := createLB(t, e, "rules")
	l := must[*elbv2.CreateListenerOutput](t)(e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp, Port: aws.Int32(18090), DefaultActions: forward(a.TargetGroupArn)})).Listeners[0]
	r1 := must[*elbv2.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(10),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/img/*"}}}},
		Actions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
			TargetGroups:                []types.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn, Weight: aws.Int32(80)}, {TargetGroupArn: b.TargetGroupArn, Weight: aws.Int32(20)}},
			TargetGroupStickinessConfig: &types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(600)}}}}})).Rules[0]
	if *r1.Priority != "10" || *r1.IsDefault || r1.Conditions[0].PathPatternConfig.Values[0] != "/img/*" ||
		*r1.Actions[0].ForwardConfig.TargetGroups[1].Weight != 20 || !*r1.Actions[0].ForwardConfig.TargetGroupStickinessConfig.Enabled {
		t.Fatalf("rule: %+v", r1)
	}
	r2 := must[*elbv2.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(20),
		Conditions: []types.RuleCondition{{Field: aws.String("host-header"), Values: []string{"api.example.com"}}},
		Actions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
			StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("nope")}}}})).Rules[0]
	_, err := e.elb.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(20),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/x"}}}, Actions: forward(b.TargetGroupArn)})
	if code(err) != "PriorityInUse" {
		t.Errorf("duplicate priority: %v", err)
	}
	must[*elbv2.SetRulePrioritiesOutput](t)(e.elb.SetRulePriorities(ctx, &elbv2.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{
		{RuleArn: r1.RuleArn, Priority: aws.Int32(30)}, {RuleArn: r2.RuleArn, Priority: aws.Int32(5)}}}))
	must[*elbv2.ModifyRuleOutput](t)(e.elb.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: r2.RuleArn,
		Conditions: []types.RuleCondition{{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &types.HttpRequestMethodConditionConfig{Values: []string{"POST"}}}}}))
	rs := must[*elbv2.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn}))
	var prios []string
	for _, r := range rs.Rules {
		prios = append(prios, *r.Priority)
	}
	if fmt.Sprint(prios) != "[5 30 default]" || *rs.Rules[0].Conditions[0].Field != "http-request-method" {
		t.Errorf("rules after reordering: %v %+v", prios, rs.Rules[0].Conditions)
	}
	_, err = e.elb.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: rs.Rules[2].RuleArn})
	if code(err) != "OperationNotPermitted" {
		t.Errorf("delete of the default rule: %v", err)
	}
	// b is used only by a rule: still in use.
	_, err = e.elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: b.TargetGroupArn})
	if code(err) != "ResourceInUse" {
		t.Errorf("delete of a group a rule uses: %v", err)
	}
	tgs := must[*elbv2.DescribeTargetGroupsOutput](t)(e.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"b"}}))
	if len(tgs.TargetGroups[0].LoadBalancerArns) != 1 {
		t.Errorf("a group a rule uses serves its load balancer: %+v", tgs.TargetGroups[0])
	}
	must[*elbv2.DeleteRuleOutput](t)(e.elb.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: r1.RuleArn}))
	must[*elbv2.DeleteTargetGroupOutput](t)(e.elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: b.TargetGroupArn}))
	// Deleting the listener takes its rules along.
	must[*elbv2.DeleteListenerOutput](t)(e.elb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: l.ListenerArn}))
	_, err = e.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{*r2.RuleArn}})
	if code(err) != "RuleNotFound" {
		t.Errorf("rule of a deleted listener: %v", err)
	}
}

func TestELBv2Errors(t *testing.T) {
	e := newEnv(t)
	tg := createTG(t, e, "taken", types.TargetTypeEnumIp)
	lb := createLB(t, e, "errs")
	must[*elbv2.CreateListenerOutput](t)(e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp, Port: aws.Int32(18100), DefaultActions: forward(tg.TargetGroupArn)}))
	lb2 := createLB(t, e, "errs2")
	missingLB := "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/nope/0123456789abcdef"
	missingTG := "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/nope/0123456789abcdef"
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown load balancer", func() error {
			_, err := e.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{missingLB}})
			return err
		}, "LoadBalancerNotFound"},
		{"unknown load balancer name", func() error {
			_, err := e.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"nope"}})
			return err
		}, "LoadBalancerNotFound"},
		{"unknown target group", func() error {
			_, err := e.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{missingTG}})
			return err
		}, "TargetGroupNotFound"},
		{"unknown target group name", func() error {
			_, err := e.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"nope"}})
			return err
		}, "TargetGroupNotFound"},
		{"health of unknown group", func() error {
			_, err := e.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(missingTG)})
			return err
		}, "TargetGroupNotFound"},
		{"duplicate target group name", func() error {
			_, err := e.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("taken"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(9090)})
			return err
		}, "DuplicateTargetGroupName"},
		{"duplicate load balancer name", func() error {
			_, err := e.elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("errs"), Subnets: []string{"subnet-x", "subnet-y"}})
			return err
		}, "DuplicateLoadBalancerName"},
		{"one subnet", func() error {
			_, err := e.elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("one"), Subnets: []string{"subnet-x"}})
			return err
		}, "ValidationError"},
		{"bad load balancer name", func() error {
			_, err := e.elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("-bad"), Subnets: []string{"a", "b"}})
			return err
		}, "ValidationError"},
		{"timeout not below interval", func() error {
			_, err := e.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("t2"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80),
				HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(5)})
			return err
		}, "ValidationError"},
		{"interval out of range", func() error {
			_, err := e.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("t3"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80),
				HealthCheckIntervalSeconds: aws.Int32(301)})
			return err
		}, "ValidationError"},
		{"lambda targets", func() error {
			_, err := e.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("t4"), TargetType: types.TargetTypeEnumLambda})
			return err
		}, "ValidationError"},
		{"bad matcher", func() error {
			_, err := e.elb.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: tg.TargetGroupArn, Matcher: &types.Matcher{HttpCode: aws.String("600")}})
			return err
		}, "ValidationError"},
		{"unknown attribute", func() error {
			_, err := e.elb.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn,
				Attributes: []types.TargetGroupAttribute{{Key: aws.String("no.such.key"), Value: aws.String("1")}}})
			return err
		}, "ValidationError"},
		{"attribute out of range", func() error {
			_, err := e.elb.ModifyLoadBalancerAttributes(ctx, &elbv2.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn,
				Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("0")}}})
			return err
		}, "ValidationError"},
		{"public ip target", func() error {
			_, err := e.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []types.TargetDescription{{Id: aws.String("8.8.8.8")}}})
			return err
		}, "InvalidTarget"},
		{"duplicate listener port", func() error {
			_, err := e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(18100), DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}})
			return err
		}, "DuplicateListener"},
		{"group of another load balancer", func() error {
			_, err := e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb2.LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(18101), DefaultActions: forward(tg.TargetGroupArn)})
			return err
		}, "TargetGroupAssociationLimit"},
		{"listener to unknown group", func() error {
			_, err := e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb2.LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(18102), DefaultActions: forward(aws.String(missingTG))})
			return err
		}, "TargetGroupNotFound"},
		{"listener of unknown load balancer", func() error {
			_, err := e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: aws.String(missingLB), Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(18103), DefaultActions: forward(tg.TargetGroupArn)})
			return err
		}, "LoadBalancerNotFound"},
		{"https with unknown certificate", func() error {
			_, err := e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps,
				Port: aws.Int32(18443), DefaultActions: forward(tg.TargetGroupArn),
				Certificates: []types.Certificate{{CertificateArn: aws.String("arn:aws:iam::000000000000:server-certificate/nope")}}})
			return err
		}, "CertificateNotFound"},
		{"https without certificate", func() error {
			_, err := e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps,
				Port: aws.Int32(18444), DefaultActions: forward(tg.TargetGroupArn)})
			return err
		}, "ValidationError"},
		{"unknown ssl policy", func() error {
			_, err := e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps,
				Port: aws.Int32(18445), DefaultActions: forward(tg.TargetGroupArn), SslPolicy: aws.String("ELBSecurityPolicy-Nope")})
			return err
		}, "SSLPolicyNotFound"},
		{"authenticate action", func() error {
			_, err := e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(18446), DefaultActions: []types.Action{{Type: types.ActionTypeEnumAuthenticateOidc}}})
			return err
		}, "InvalidLoadBalancerAction"},
		{"unknown listener", func() error {
			_, err := e.elb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: aws.String(*lb.LoadBalancerArn + "/0000")})
			return err
		}, "ListenerNotFound"},
		{"listeners without filter", func() error {
			_, err := e.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{})
			return err
		}, "ValidationError"},
		{"bad marker", func() error {
			_, err := e.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Marker: aws.String("!!")})
			return err
		}, "ValidationError"},
		{"page size out of range", func() error {
			_, err := e.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(401)})
			return err
		}, "ValidationError"},
		{"tags on unknown resource", func() error {
			_, err := e.elb.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{missingTG}, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
			return err
		}, "TargetGroupNotFound"},
		{"duplicate tag keys", func() error {
			_, err := e.elb.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{*tg.TargetGroupArn},
				Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}})
			return err
		}, "DuplicateTagKeys"},
		{"unknown ssl policy name", func() error {
			_, err := e.elb.DescribeSSLPolicies(ctx, &elbv2.DescribeSSLPoliciesInput{Names: []string{"nope"}})
			return err
		}, "SSLPolicyNotFound"},
		{"deletion protection", func() error {
			if _, err := e.elb.ModifyLoadBalancerAttributes(ctx, &elbv2.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lb2.LoadBalancerArn,
				Attributes: []types.LoadBalancerAttribute{{Key: aws.String("deletion_protection.enabled"), Value: aws.String("true")}}}); err != nil {
				return err
			}
			_, err := e.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lb2.LoadBalancerArn})
			return err
		}, "OperationNotPermitted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := code(c.call()); got != c.code {
				t.Errorf("got %q, want %s", got, c.code)
			}
		})
	}
}

func TestSSLPolicies(t *testing.T) {
	e := newEnv(t)
	out := must[*elbv2.DescribeSSLPoliciesOutput](t)(e.elb.DescribeSSLPolicies(ctx, &elbv2.DescribeSSLPoliciesInput{
		Names: []string{"ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS-1-2-2017-01"}}))
	want := map[string]string{
		"ELBSecurityPolicy-2016-08":           "[TLSv1 TLSv1.1 TLSv1.2]",
		"ELBSecurityPolicy-TLS13-1-2-2021-06": "[TLSv1.2 TLSv1.3]",
		"ELBSecurityPolicy-TLS13-1-3-2021-06": "[TLSv1.3]",
		"ELBSecurityPolicy-TLS-1-2-2017-01":   "[TLSv1.2]",
	}
	if len(out.SslPolicies) != 4 {
		t.Fatalf("policies: %d", len(out.SslPolicies))
	}
	for _, p := range out.SslPolicies {
		if got := fmt.Sprint(p.SslProtocols); got != want[*p.Name] {
			t.Errorf("%s protocols %s, want %s", *p.Name, got, want[*p.Name])
		}
		if len(p.Ciphers) == 0 || *p.Ciphers[0].Priority != 1 {
			t.Errorf("%s ciphers %+v", *p.Name, p.Ciphers)
		}
	}
	var n, pages int
	var marker *string
	for {
		o := must[*elbv2.DescribeSSLPoliciesOutput](t)(e.elb.DescribeSSLPolicies(ctx, &elbv2.DescribeSSLPoliciesInput{PageSize: aws.Int32(3), Marker: marker}))
		n += len(o.SslPolicies)
		pages++
		if o.NextMarker == nil {
			break
		}
		marker = o.NextMarker
	}
	if pages < 2 {
		t.Errorf("%d pages of 3", pages)
	}
	if n != len(SSLPolicies) {
		t.Errorf("paged %d policies, want %d", n, len(SSLPolicies))
	}
}

// Protocol versions HTTP2 and GRPC, through the real SDK: a GRPC group
// takes ALB's health check defaults (/AWS.ALB/healthcheck, GrpcCode 12)
// and a GrpcCode matcher, needs an HTTPS listener (IncompatibleProtocols
// on HTTP), and refuses an HttpCode matcher; HTTP1 refuses a GrpcCode.
func TestProtocolVersions(t *testing.T) {
	e := newEnv(t)
	out, err := e.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String("grpc"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(50051), ProtocolVersion: aws.String("GRPC"), VpcId: aws.String("vpc-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	g := out.TargetGroups[0]
	if *g.ProtocolVersion != "GRPC" || *g.HealthCheckPath != "/AWS.ALB/healthcheck" || g.Matcher == nil || aws.ToString(g.Matcher.GrpcCode) != "12" || g.Matcher.HttpCode != nil {
		t.Fatalf("GRPC group: version %v, path %v, matcher %+v", aws.ToString(g.ProtocolVersion), aws.ToString(g.HealthCheckPath), g.Matcher)
	}
	mod, err := e.elb.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: g.TargetGroupArn, Matcher: &types.Matcher{GrpcCode: aws.String("0-99")}})
	if err != nil || aws.ToString(mod.TargetGroups[0].Matcher.GrpcCode) != "0-99" {
		t.Fatalf("ModifyTargetGroup GrpcCode: %v %v", mod, err)
	}
	for _, in := range []*elbv2.CreateTargetGroupInput{
		{Name: aws.String("g2"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(1), ProtocolVersion: aws.String("GRPC"), Matcher: &types.Matcher{HttpCode: aws.String("200")}},
		{Name: aws.String("g3"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(1), Matcher: &types.Matcher{GrpcCode: aws.String("12")}},
		{Name: aws.String("g4"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(1), ProtocolVersion: aws.String("HTTP3")},
	} {
		if _, err := e.elb.CreateTargetGroup(ctx, in); code(err) != "ValidationError" {
			t.Errorf("CreateTargetGroup %s: %v, want ValidationError", *in.Name, err)
		}
	}
	lb := createLB(t, e, "web")
	_, err = e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(8080), DefaultActions: forward(g.TargetGroupArn)})
	if code(err) != "IncompatibleProtocols" {
		t.Fatalf("HTTP listener forwarding to a GRPC group: %v, want IncompatibleProtocols", err)
	}
}
