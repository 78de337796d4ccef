package awsapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	asg "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/config"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// The YAML file and the AWS API are two fronts of one service layer: the
// same system, declared in a file or built with the SDK, is accepted alike
// or refused with the same AWS error code. Each case says it both ways.

// apiSeq runs SDK calls in order and keeps the first error: the outcome of
// a case's API side.
type apiSeq struct {
	e   *env
	arn map[string]string // target groups, load balancers ("lb:"), listeners ("lb:name:port"), certificates ("cert:")
	pem map[string][2]string
	err error
}

func (a *apiSeq) do(f func() error) {
	if a.err == nil {
		a.err = f()
	}
}

func (a *apiSeq) tg(name string, mod func(*elbv2.CreateTargetGroupInput)) {
	a.do(func() error {
		in := &elbv2.CreateTargetGroupInput{Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), TargetType: types.TargetTypeEnumIp}
		if mod != nil {
			mod(in)
		}
		out, err := a.e.elb.CreateTargetGroup(ctx, in)
		if err == nil {
			a.arn[name] = *out.TargetGroups[0].TargetGroupArn
		}
		return err
	})
}

func (a *apiSeq) lb(name string, mod func(*elbv2.CreateLoadBalancerInput)) {
	a.do(func() error {
		in := &elbv2.CreateLoadBalancerInput{Name: aws.String(name), Subnets: []string{"zone-a", "zone-b"}}
		if mod != nil {
			mod(in)
		}
		out, err := a.e.elb.CreateLoadBalancer(ctx, in)
		if err == nil {
			a.arn["lb:"+name] = *out.LoadBalancers[0].LoadBalancerArn
		}
		return err
	})
}

// fwd is a forward action to the named target group (resolved when the
// call runs).
func (a *apiSeq) fwd(group string) func() []types.Action {
	return func() []types.Action {
		return []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(a.arn[group])}}
	}
}

func (a *apiSeq) listener(lb string, port int32, proto types.ProtocolEnum, actions func() []types.Action, mod func(*elbv2.CreateListenerInput)) {
	a.do(func() error {
		in := &elbv2.CreateListenerInput{LoadBalancerArn: aws.String(a.arn["lb:"+lb]), Port: aws.Int32(port), Protocol: proto, DefaultActions: actions()}
		if mod != nil {
			mod(in)
		}
		out, err := a.e.elb.CreateListener(ctx, in)
		if err == nil {
			a.arn[fmt.Sprintf("lb:%s:%d", lb, port)] = *out.Listeners[0].ListenerArn
		}
		return err
	})
}

func (a *apiSeq) cert(name string) {
	a.do(func() error {
		p := a.pem[name]
		out, err := a.e.iam.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{ServerCertificateName: aws.String(name),
			CertificateBody: aws.String(p[0]), PrivateKey: aws.String(p[1])})
		if err == nil {
			a.arn["cert:"+name] = *out.ServerCertificateMetadata.Arn
		}
		return err
	})
}

func (a *apiSeq) certs(names ...string) func(*elbv2.CreateListenerInput) {
	return func(in *elbv2.CreateListenerInput) {
		for _, n := range names {
			in.Certificates = append(in.Certificates, types.Certificate{CertificateArn: aws.String(a.arn["cert:"+n])})
		}
	}
}

func (a *apiSeq) addCerts(lb string, port int, names ...string) {
	a.do(func() error {
		var cs []types.Certificate
		for _, n := range names {
			cs = append(cs, types.Certificate{CertificateArn: aws.String(a.arn["cert:"+n])})
		}
		_, err := a.e.elb.AddListenerCertificates(ctx, &elbv2.AddListenerCertificatesInput{
			ListenerArn: aws.String(a.arn[fmt.Sprintf("lb:%s:%d", lb, port)]), Certificates: cs})
		return err
	})
}

func hostIs(hosts ...string) []types.RuleCondition {
	return []types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: hosts}}}
}

func (a *apiSeq) rule(lb string, port int, prio int32, conds []types.RuleCondition, actions func() []types.Action) {
	a.do(func() error {
		_, err := a.e.elb.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: aws.String(a.arn[fmt.Sprintf("lb:%s:%d", lb, port)]),
			Priority: aws.Int32(prio), Conditions: conds, Actions: actions()})
		return err
	})
}

func (a *apiSeq) attrs(group string, kv ...string) {
	a.do(func() error {
		var as []types.TargetGroupAttribute
		for i := 0; i+1 < len(kv); i += 2 {
			as = append(as, types.TargetGroupAttribute{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		_, err := a.e.elb.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(a.arn[group]), Attributes: as})
		return err
	})
}

func (a *apiSeq) lbAttrs(lb string, kv ...string) {
	a.do(func() error {
		var as []types.LoadBalancerAttribute
		for i := 0; i+1 < len(kv); i += 2 {
			as = append(as, types.LoadBalancerAttribute{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		_, err := a.e.elb.ModifyLoadBalancerAttributes(ctx, &elbv2.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(a.arn["lb:"+lb]), Attributes: as})
		return err
	})
}

func (a *apiSeq) register(group string, ids ...string) {
	a.do(func() error {
		var ts []types.TargetDescription
		for _, id := range ids {
			ts = append(ts, types.TargetDescription{Id: aws.String(id)})
		}
		_, err := a.e.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(a.arn[group]), Targets: ts})
		return err
	})
}

func (a *apiSeq) template(name, instanceType string) {
	a.do(func() error {
		_, err := a.e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-0123456789abcdef0"), InstanceType: ec2types.InstanceType(instanceType)}})
		return err
	})
}

func (a *apiSeq) group(name string, min, max, desired int32, groups ...string) {
	a.do(func() error {
		var arns []string
		for _, g := range groups {
			arns = append(arns, a.arn[g])
		}
		_, err := a.e.as.CreateAutoScalingGroup(ctx, &asg.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name),
			LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web-lt")},
			MinSize:        aws.Int32(min), MaxSize: aws.Int32(max), DesiredCapacity: aws.Int32(desired),
			AvailabilityZones: []string{"zone-a", "zone-b"}, TargetGroupARNs: arns})
		return err
	})
}

func (a *apiSeq) cpuPolicy(group string, target float64) { a.cpuPolicyNamed(group, "cpu", target) }

func manyPolicies(n int) string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("{name: cpu%d, metric: ASGAverageCPUUtilization, target_value: 50}", i))
	}
	return strings.Join(out, ", ")
}

func (a *apiSeq) cpuPolicyNamed(group, name string, target float64) {
	a.do(func() error {
		_, err := a.e.as.PutScalingPolicy(ctx, &asg.PutScalingPolicyInput{AutoScalingGroupName: aws.String(group), PolicyName: aws.String(name),
			PolicyType: aws.String("TargetTrackingScaling"), TargetTrackingConfiguration: &asgtypes.TargetTrackingConfiguration{
				PredefinedMetricSpecification: &asgtypes.PredefinedMetricSpecification{PredefinedMetricType: asgtypes.MetricTypeASGAverageCPUUtilization},
				TargetValue:                   aws.Float64(target)}})
		return err
	})
}

// The file's building blocks. Targets groups are HTTP on port 80 of type
// ip unless a case says otherwise; load balancers are in zone-a and
// zone-b.
const (
	yWeb    = "  - {name: web, protocol: HTTP, port: 80, target_type: ip}\n"
	yApi    = "  - {name: api, protocol: HTTP, port: 80, target_type: ip}\n"
	yLBHead = "load_balancers:\n  - name: lb\n    zones: [zone-a, zone-b]\n"
	yTGs    = "target_groups:\n"
)

func yListener(port int, proto, action string, extra string) string {
	return fmt.Sprintf("      - protocol: %s\n        port: %d\n        default_action: %s\n%s", proto, port, action, extra)
}

func yLB(listeners ...string) string {
	return yLBHead + "    listeners:\n" + strings.Join(listeners, "")
}

const yTemplate = "launch_templates:\n  - name: web-lt\n    versions:\n      - {image_id: ami-0123456789abcdef0, instance_type: t2.micro}\n"

type parityCase struct {
	name string
	// setup runs through the API on both sides first.
	setup func(a *apiSeq)
	// yaml is the file; certificate files c1.crt/c1.key … c3 sit beside it.
	yaml string
	api  func(a *apiSeq)
	// want is "" when both accept, else the AWS error code both answer.
	want string
}

func parityCases() []parityCase {
	webLB := func(a *apiSeq) {
		a.tg("web", nil)
		a.lb("lb", nil)
	}
	var manyRules strings.Builder
	for i := 1; i <= 101; i++ {
		fmt.Fprintf(&manyRules, "          - {priority: %d, conditions: {path: [\"/p%d\"]}, action: {forward: web}}\n", i, i)
	}
	return []parityCase{
		// Load balancers.
		{name: "load balancer", yaml: yLBHead, api: func(a *apiSeq) { a.lb("lb", nil) }},
		{name: "load balancer in one zone", yaml: "load_balancers:\n  - {name: lb, zones: [zone-a]}\n",
			api: func(a *apiSeq) {
				a.lb("lb", func(in *elbv2.CreateLoadBalancerInput) { in.Subnets = []string{"zone-a"} })
			}, want: "ValidationError"},
		{name: "load balancer name with an underscore", yaml: "load_balancers:\n  - {name: my_lb, zones: [zone-a, zone-b]}\n",
			api: func(a *apiSeq) { a.lb("my_lb", nil) }, want: "ValidationError"},
		{name: "load balancer name internal-", yaml: "load_balancers:\n  - {name: internal-lb, zones: [zone-a, zone-b]}\n",
			api: func(a *apiSeq) { a.lb("internal-lb", nil) }, want: "ValidationError"},
		{name: "load balancer scheme", yaml: "load_balancers:\n  - {name: lb, scheme: private, zones: [zone-a, zone-b]}\n",
			api: func(a *apiSeq) {
				a.lb("lb", func(in *elbv2.CreateLoadBalancerInput) { in.Scheme = "private" })
			}, want: "ValidationError"},
		{name: "load balancer attribute", yaml: yLBHead + "    attributes: {idle_timeout.timeout_seconds: 120}\n",
			api: func(a *apiSeq) { a.lb("lb", nil); a.lbAttrs("lb", "idle_timeout.timeout_seconds", "120") }},
		{name: "load balancer attribute out of range", yaml: yLBHead + "    attributes: {idle_timeout.timeout_seconds: 0}\n",
			api: func(a *apiSeq) { a.lb("lb", nil); a.lbAttrs("lb", "idle_timeout.timeout_seconds", "0") }, want: "ValidationError"},
		{name: "load balancer attribute unknown", yaml: yLBHead + "    attributes: {no.such.attribute: 1}\n",
			api: func(a *apiSeq) { a.lb("lb", nil); a.lbAttrs("lb", "no.such.attribute", "1") }, want: "ValidationError"},

		// Target groups and targets.
		{name: "target group", yaml: yTGs + yWeb, api: func(a *apiSeq) { a.tg("web", nil) }},
		{name: "target group port 0", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 0, target_type: ip}\n",
			api: func(a *apiSeq) { a.tg("web", func(in *elbv2.CreateTargetGroupInput) { in.Port = aws.Int32(0) }) }, want: "ValidationError"},
		{name: "target group protocol TCP", yaml: yTGs + "  - {name: web, protocol: TCP, port: 80, target_type: ip}\n",
			api: func(a *apiSeq) {
				a.tg("web", func(in *elbv2.CreateTargetGroupInput) { in.Protocol = types.ProtocolEnumTcp })
			}, want: "ValidationError"},
		{name: "target group name of 33 characters", yaml: yTGs + "  - {name: " + strings.Repeat("a", 33) + ", protocol: HTTP, port: 80}\n",
			api: func(a *apiSeq) { a.tg(strings.Repeat("a", 33), nil) }, want: "ValidationError"},
		{name: "target type lambda", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: lambda}\n",
			api: func(a *apiSeq) {
				a.tg("web", func(in *elbv2.CreateTargetGroupInput) { in.TargetType = types.TargetTypeEnumLambda })
			}, want: "ValidationError"},
		{name: "health check", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, health_check: {path: /status, interval_seconds: 5, timeout_seconds: 2, healthy_threshold: 2, unhealthy_threshold: 3, matcher: \"200-299\"}}\n",
			api: func(a *apiSeq) {
				a.tg("web", func(in *elbv2.CreateTargetGroupInput) {
					in.HealthCheckPath, in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds = aws.String("/status"), aws.Int32(5), aws.Int32(2)
					in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher = aws.Int32(2), aws.Int32(3), &types.Matcher{HttpCode: aws.String("200-299")}
				})
			}},
		{name: "health check interval of 1 s", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, health_check: {interval_seconds: 1}}\n",
			api: func(a *apiSeq) {
				a.tg("web", func(in *elbv2.CreateTargetGroupInput) { in.HealthCheckIntervalSeconds = aws.Int32(1) })
			}, want: "ValidationError"},
		{name: "health check healthy threshold 11", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, health_check: {healthy_threshold: 11}}\n",
			api: func(a *apiSeq) {
				a.tg("web", func(in *elbv2.CreateTargetGroupInput) { in.HealthyThresholdCount = aws.Int32(11) })
			}, want: "ValidationError"},
		{name: "health check matcher", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, health_check: {matcher: \"abc\"}}\n",
			api: func(a *apiSeq) {
				a.tg("web", func(in *elbv2.CreateTargetGroupInput) { in.Matcher = &types.Matcher{HttpCode: aws.String("abc")} })
			}, want: "ValidationError"},
		{name: "stickiness", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, attributes: {stickiness.enabled: true, stickiness.type: lb_cookie}}\n",
			api: func(a *apiSeq) {
				a.tg("web", nil)
				a.attrs("web", "stickiness.enabled", "true", "stickiness.type", "lb_cookie")
			}},
		{name: "stickiness type", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, attributes: {stickiness.type: sticky}}\n",
			api: func(a *apiSeq) { a.tg("web", nil); a.attrs("web", "stickiness.type", "sticky") }, want: "ValidationError"},
		{name: "deregistration delay over an hour", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, attributes: {deregistration_delay.timeout_seconds: 4000}}\n",
			api: func(a *apiSeq) { a.tg("web", nil); a.attrs("web", "deregistration_delay.timeout_seconds", "4000") }, want: "ValidationError"},
		{name: "ip targets", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, targets: [{id: 10.0.0.1}, {id: 127.0.0.2, port: 8080}]}\n",
			api: func(a *apiSeq) { a.tg("web", nil); a.register("web", "10.0.0.1") }},
		{name: "public ip target", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, targets: [{id: 8.8.8.8}]}\n",
			api: func(a *apiSeq) { a.tg("web", nil); a.register("web", "8.8.8.8") }, want: "InvalidTarget"},
		{name: "ip target that is no address", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, targets: [{id: i-0abc}]}\n",
			api: func(a *apiSeq) { a.tg("web", nil); a.register("web", "i-0abc") }, want: "InvalidTarget"},

		// Listeners and their actions.
		{name: "HTTP listener", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "")),
			api: func(a *apiSeq) { webLB(a); a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil) }},
		{name: "listener protocol TCP", yaml: yTGs + yWeb + yLB(yListener(80, "TCP", "{forward: web}", "")),
			api: func(a *apiSeq) { webLB(a); a.listener("lb", 80, types.ProtocolEnumTcp, a.fwd("web"), nil) }, want: "ValidationError"},
		{name: "two listeners on one port", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", ""), yListener(80, "HTTP", "{fixed_response: {status_code: 404}}", "")),
			api: func(a *apiSeq) {
				webLB(a)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.listener("lb", 80, types.ProtocolEnumHttp, fixed("404"), nil)
			}, want: "DuplicateListener"},
		{name: "a port another load balancer uses", yaml: yTGs + yWeb + yApi + yLB(yListener(80, "HTTP", "{forward: web}", "")) +
			"  - name: lb2\n    zones: [zone-a, zone-b]\n    listeners:\n" + yListener(80, "HTTP", "{forward: api}", ""),
			api: func(a *apiSeq) {
				webLB(a)
				a.tg("api", nil)
				a.lb("lb2", nil)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.listener("lb2", 80, types.ProtocolEnumHttp, a.fwd("api"), nil)
			}, want: "DuplicateListener"},
		{name: "a target group behind two load balancers", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "")) +
			"  - name: lb2\n    zones: [zone-a, zone-b]\n    listeners:\n" + yListener(81, "HTTP", "{forward: web}", ""),
			api: func(a *apiSeq) {
				webLB(a)
				a.lb("lb2", nil)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.listener("lb2", 81, types.ProtocolEnumHttp, a.fwd("web"), nil)
			}, want: "TargetGroupAssociationLimit"},
		{name: "a rule sending a target group to a second load balancer", yaml: yTGs + yWeb + yApi + yLB(yListener(80, "HTTP", "{forward: web}", "")) +
			"  - name: lb2\n    zones: [zone-a, zone-b]\n    listeners:\n" + yListener(81, "HTTP", "{forward: api}",
			"        rules:\n          - {priority: 1, conditions: {path: [\"/web\"]}, action: {forward: web}}\n"),
			api: func(a *apiSeq) {
				webLB(a)
				a.tg("api", nil)
				a.lb("lb2", nil)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.listener("lb2", 81, types.ProtocolEnumHttp, a.fwd("api"), nil)
				a.rule("lb2", 81, 1, []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/web"}}}, a.fwd("web"))
			}, want: "TargetGroupAssociationLimit"},
		{name: "fixed response", yaml: yLB(yListener(80, "HTTP", "{fixed_response: {status_code: 503, content_type: text/plain, body: down}}", "")),
			api: func(a *apiSeq) { a.lb("lb", nil); a.listener("lb", 80, types.ProtocolEnumHttp, fixed("503"), nil) }},
		{name: "fixed response status 600", yaml: yLB(yListener(80, "HTTP", "{fixed_response: {status_code: 600}}", "")),
			api: func(a *apiSeq) { a.lb("lb", nil); a.listener("lb", 80, types.ProtocolEnumHttp, fixed("600"), nil) }, want: "ValidationError"},
		{name: "redirect", yaml: yLB(yListener(80, "HTTP", "{redirect: {protocol: HTTPS, port: \"443\", status_code: 301}}", "")),
			api: func(a *apiSeq) {
				a.lb("lb", nil)
				a.listener("lb", 80, types.ProtocolEnumHttp, func() []types.Action {
					return []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{Protocol: aws.String("HTTPS"),
						Port: aws.String("443"), StatusCode: types.RedirectActionStatusCodeEnumHttp301}}}
				}, nil)
			}},
		{name: "weighted forward over six groups", yaml: yTGs + sixGroupsYAML() + yLB(yListener(80, "HTTP", "{forward_weighted: ["+weightedYAML(6, 1)+"]}", "")),
			api: func(a *apiSeq) {
				sixGroups(a)
				a.lb("lb", nil)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.weighted(6, 1), nil)
			}, want: "ValidationError"},
		{name: "weight 1000", yaml: yTGs + sixGroupsYAML() + yLB(yListener(80, "HTTP", "{forward_weighted: ["+weightedYAML(2, 1000)+"]}", "")),
			api: func(a *apiSeq) {
				sixGroups(a)
				a.lb("lb", nil)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.weighted(2, 1000), nil)
			}, want: "ValidationError"},

		{name: "51 listeners on a load balancer", yaml: yTGs + yWeb + yLB(manyListeners(51)...),
			api: func(a *apiSeq) {
				webLB(a)
				for p := int32(1); p <= 51; p++ {
					a.listener("lb", 10000+p, types.ProtocolEnumHttp, fixed("404"), nil)
				}
			}, want: "TooManyListeners"},
		{name: "1001 targets in a target group", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, targets: [" + manyTargets(1001) + "]}\n",
			api: func(a *apiSeq) {
				ids := manyTargetIDs(1001)
				a.tg("web", nil)
				a.register("web", ids[:1000]...) // a request holds at most 1000 list members
				a.register("web", ids[1000])
			}, want: "TooManyTargets"},
		{name: "1000 targets in a target group", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: ip, targets: [" + manyTargets(1000) + "]}\n",
			api: func(a *apiSeq) { a.tg("web", nil); a.register("web", manyTargetIDs(1000)...) }},

		// HTTPS.
		{name: "HTTPS listener", yaml: yCerts("c1") + yTGs + yWeb + yLB(yListener(443, "HTTPS", "{forward: web}", "        certificates: [c1]\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.cert("c1")
				a.listener("lb", 443, types.ProtocolEnumHttps, a.fwd("web"), a.certs("c1"))
			}},
		{name: "HTTPS listener with SNI certificates", yaml: yCerts("c1", "c2", "c3") + yTGs + yWeb + yLB(yListener(443, "HTTPS", "{forward: web}", "        certificates: [c1, c2, c3]\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.cert("c1")
				a.cert("c2")
				a.cert("c3")
				a.listener("lb", 443, types.ProtocolEnumHttps, a.fwd("web"), a.certs("c1"))
				a.addCerts("lb", 443, "c2", "c3")
			}},
		{name: "26 SNI certificates on a load balancer", yaml: yCerts(certNames(28)...) + yTGs + yWeb +
			yLB(yListener(443, "HTTPS", "{forward: web}", "        certificates: ["+strings.Join(certNames(14), ", ")+"]\n"),
				yListener(444, "HTTPS", "{fixed_response: {status_code: 404}}", "        certificates: ["+strings.Join(certNames(28)[14:], ", ")+"]\n")),
			api: func(a *apiSeq) {
				webLB(a)
				for _, n := range certNames(28) {
					a.cert(n)
				}
				a.listener("lb", 443, types.ProtocolEnumHttps, a.fwd("web"), a.certs("c1"))
				a.addCerts("lb", 443, certNames(14)[1:]...)
				a.listener("lb", 444, types.ProtocolEnumHttps, fixed("404"), a.certs("c15"))
				a.addCerts("lb", 444, certNames(28)[15:]...)
			}, want: "TooManyCertificates"},
		{name: "HTTPS listener without a certificate", yaml: yTGs + yWeb + yLB(yListener(443, "HTTPS", "{forward: web}", "")),
			api: func(a *apiSeq) { webLB(a); a.listener("lb", 443, types.ProtocolEnumHttps, a.fwd("web"), nil) }, want: "ValidationError"},
		{name: "unknown security policy", yaml: yCerts("c1") + yTGs + yWeb + yLB(yListener(443, "HTTPS", "{forward: web}", "        certificates: [c1]\n        ssl_policy: ELBSecurityPolicy-Nope\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.cert("c1")
				a.listener("lb", 443, types.ProtocolEnumHttps, a.fwd("web"), func(in *elbv2.CreateListenerInput) {
					a.certs("c1")(in)
					in.SslPolicy = aws.String("ELBSecurityPolicy-Nope")
				})
			}, want: "SSLPolicyNotFound"},
		{name: "security policy on an HTTP listener", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "        ssl_policy: ELBSecurityPolicy-2016-08\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), func(in *elbv2.CreateListenerInput) { in.SslPolicy = aws.String("ELBSecurityPolicy-2016-08") })
			}, want: "ValidationError"},
		{name: "certificate on an HTTP listener", yaml: yCerts("c1") + yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "        certificates: [c1]\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.cert("c1")
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), a.certs("c1"))
			}, want: "ValidationError"},

		// Rules.
		{name: "rule", yaml: yTGs + yWeb + yApi + yLB(yListener(80, "HTTP", "{forward: web}", "        rules:\n          - {priority: 5, conditions: {host: [api.example.com]}, action: {forward: api}}\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.tg("api", nil)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.rule("lb", 80, 5, hostIs("api.example.com"), a.fwd("api"))
			}},
		{name: "two rules at one priority", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "        rules:\n          - {priority: 5, conditions: {host: [a.example.com]}, action: {forward: web}}\n          - {priority: 5, conditions: {host: [b.example.com]}, action: {forward: web}}\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.rule("lb", 80, 5, hostIs("a.example.com"), a.fwd("web"))
				a.rule("lb", 80, 5, hostIs("b.example.com"), a.fwd("web"))
			}, want: "PriorityInUse"},
		{name: "rule priority 50001", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "        rules:\n          - {priority: 50001, conditions: {host: [a.example.com]}, action: {forward: web}}\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.rule("lb", 80, 50001, hostIs("a.example.com"), a.fwd("web"))
			}, want: "ValidationError"},
		{name: "rule with six condition values", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "        rules:\n          - {priority: 1, conditions: {host: [a, b, c, d, e, f]}, action: {forward: web}}\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.rule("lb", 80, 1, hostIs("a", "b", "c", "d", "e", "f"), a.fwd("web"))
			}, want: "ValidationError"},
		{name: "source-ip that is no CIDR", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "        rules:\n          - {priority: 1, conditions: {source_ip: [nope]}, action: {forward: web}}\n")),
			api: func(a *apiSeq) {
				webLB(a)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				a.rule("lb", 80, 1, []types.RuleCondition{{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: []string{"nope"}}}}, a.fwd("web"))
			}, want: "ValidationError"},
		{name: "101 rules on a load balancer", yaml: yTGs + yWeb + yLB(yListener(80, "HTTP", "{forward: web}", "        rules:\n"+manyRules.String())),
			api: func(a *apiSeq) {
				webLB(a)
				a.listener("lb", 80, types.ProtocolEnumHttp, a.fwd("web"), nil)
				for i := int32(1); i <= 101; i++ {
					a.rule("lb", 80, i, []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{fmt.Sprintf("/p%d", i)}}}, a.fwd("web"))
				}
			}, want: "TooManyRules"},

		// Auto scaling.
		{name: "auto scaling group", yaml: yTGs + "  - {name: web, protocol: HTTP, port: 80, target_type: instance}\n" + yTemplate +
			"auto_scaling_groups:\n  - {name: g, launch_template: {name: web-lt}, min_size: 0, max_size: 2, desired_capacity: 0, zones: [zone-a, zone-b], target_groups: [web]}\n",
			api: func(a *apiSeq) {
				a.tg("web", func(in *elbv2.CreateTargetGroupInput) { in.TargetType = types.TargetTypeEnumInstance })
				a.template("web-lt", "t2.micro")
				a.group("g", 0, 2, 0, "web")
			}},
		{name: "auto scaling group with an ip target group", yaml: yTGs + yWeb + yTemplate +
			"auto_scaling_groups:\n  - {name: g, launch_template: {name: web-lt}, min_size: 0, max_size: 2, desired_capacity: 0, zones: [zone-a, zone-b], target_groups: [web]}\n",
			api: func(a *apiSeq) { a.tg("web", nil); a.template("web-lt", "t2.micro"); a.group("g", 0, 2, 0, "web") }, want: "ValidationError"},
		{name: "min size over max size", yaml: yTemplate +
			"auto_scaling_groups:\n  - {name: g, launch_template: {name: web-lt}, min_size: 3, max_size: 2, desired_capacity: 0, zones: [zone-a, zone-b]}\n",
			api: func(a *apiSeq) { a.template("web-lt", "t2.micro"); a.group("g", 3, 2, 0) }, want: "ValidationError"},
		{name: "desired capacity over max size", yaml: yTemplate +
			"auto_scaling_groups:\n  - {name: g, launch_template: {name: web-lt}, min_size: 0, max_size: 2, desired_capacity: 3, zones: [zone-a, zone-b]}\n",
			api: func(a *apiSeq) { a.template("web-lt", "t2.micro"); a.group("g", 0, 2, 3) }, want: "ValidationError"},
		{name: "unknown instance type", yaml: "launch_templates:\n  - name: web-lt\n    versions:\n      - {image_id: ami-0123456789abcdef0, instance_type: t9.huge}\n",
			api: func(a *apiSeq) { a.template("web-lt", "t9.huge") }, want: "InvalidParameterValue"},
		{name: "CPU policy", yaml: yTemplate +
			"auto_scaling_groups:\n  - {name: g, launch_template: {name: web-lt}, min_size: 0, max_size: 2, desired_capacity: 0, zones: [zone-a, zone-b], policies: [{name: cpu, metric: ASGAverageCPUUtilization, target_value: 50}]}\n",
			api: func(a *apiSeq) { a.template("web-lt", "t2.micro"); a.group("g", 0, 2, 0); a.cpuPolicy("g", 50) }},
		{name: "CPU policy over 100%", yaml: yTemplate +
			"auto_scaling_groups:\n  - {name: g, launch_template: {name: web-lt}, min_size: 0, max_size: 2, desired_capacity: 0, zones: [zone-a, zone-b], policies: [{name: cpu, metric: ASGAverageCPUUtilization, target_value: 150}]}\n",
			api: func(a *apiSeq) { a.template("web-lt", "t2.micro"); a.group("g", 0, 2, 0); a.cpuPolicy("g", 150) }, want: "ValidationError"},

		{name: "51 policies on a group", yaml: yTemplate +
			"auto_scaling_groups:\n  - {name: g, launch_template: {name: web-lt}, min_size: 0, max_size: 2, desired_capacity: 0, zones: [zone-a, zone-b], policies: [" + manyPolicies(51) + "]}\n",
			api: func(a *apiSeq) {
				a.template("web-lt", "t2.micro")
				a.group("g", 0, 2, 0)
				for i := 1; i <= 51; i++ {
					a.cpuPolicyNamed("g", fmt.Sprintf("cpu%d", i), 50)
				}
			}, want: "LimitExceeded"},

		// Ownership and idempotent repeats: what the API made, the file
		// does not take over; the API's creates answer the existing
		// resource when nothing differs.
		{name: "a target group the API made, declared again", setup: func(a *apiSeq) { a.tg("web", nil) },
			yaml: yTGs + "  - {name: web, protocol: HTTP, port: 8080, target_type: ip}\n",
			api:  func(a *apiSeq) { a.tg("web", func(in *elbv2.CreateTargetGroupInput) { in.Port = aws.Int32(8080) }) }, want: "DuplicateTargetGroupName"},
		{name: "a load balancer the API made, declared again", setup: func(a *apiSeq) { a.lb("lb", nil) },
			yaml: "load_balancers:\n  - {name: lb, scheme: internal, zones: [zone-a, zone-b]}\n",
			api:  func(a *apiSeq) { a.lb("lb", func(in *elbv2.CreateLoadBalancerInput) { in.Scheme = "internal" }) }, want: "DuplicateLoadBalancerName"},
		{name: "a certificate the API uploaded, declared again", setup: func(a *apiSeq) { a.cert("c1") },
			yaml: yCerts("c1"), api: func(a *apiSeq) { a.cert("c1") }, want: "EntityAlreadyExists"},
		{name: "a launch template the API made, declared again", setup: func(a *apiSeq) { a.template("web-lt", "t2.micro") },
			yaml: yTemplate, api: func(a *apiSeq) { a.template("web-lt", "t2.micro") }, want: "InvalidLaunchTemplateName.AlreadyExistsException"},
		{name: "the same target group twice", yaml: yTGs + yWeb,
			api: func(a *apiSeq) { a.tg("web", nil); a.tg("web", nil) }},
		{name: "the same load balancer twice", yaml: yLBHead, api: func(a *apiSeq) { a.lb("lb", nil); a.lb("lb", nil) }},
	}
}

func manyListeners(n int) []string {
	var out []string
	for p := 1; p <= n; p++ {
		out = append(out, yListener(10000+p, "HTTP", "{fixed_response: {status_code: 404}}", ""))
	}
	return out
}

func manyTargetIDs(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250))
	}
	return out
}

func manyTargets(n int) string {
	var out []string
	for _, id := range manyTargetIDs(n) {
		out = append(out, "{id: "+id+"}")
	}
	return strings.Join(out, ", ")
}

// certNames are c1 … cn.
func certNames(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("c%d", i))
	}
	return out
}

func fixed(status string) func() []types.Action {
	return func() []types.Action {
		return []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String(status)}}}
	}
}

func sixGroupsYAML() string {
	var b strings.Builder
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, "  - {name: g%d, protocol: HTTP, port: 80, target_type: ip}\n", i)
	}
	return b.String()
}

func sixGroups(a *apiSeq) {
	for i := 1; i <= 6; i++ {
		a.tg(fmt.Sprintf("g%d", i), nil)
	}
}

func weightedYAML(n, weight int) string {
	var parts []string
	for i := 1; i <= n; i++ {
		parts = append(parts, fmt.Sprintf("{target_group: g%d, weight: %d}", i, weight))
	}
	return strings.Join(parts, ", ")
}

func (a *apiSeq) weighted(n int, weight int32) func() []types.Action {
	return func() []types.Action {
		fc := &types.ForwardActionConfig{}
		for i := 1; i <= n; i++ {
			fc.TargetGroups = append(fc.TargetGroups, types.TargetGroupTuple{TargetGroupArn: aws.String(a.arn[fmt.Sprintf("g%d", i)]), Weight: aws.Int32(weight)})
		}
		return []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: fc}}
	}
}

func yCerts(names ...string) string {
	s := "certificates:\n"
	for _, n := range names {
		s += fmt.Sprintf("  - {name: %s, certificate_file: %s.crt, private_key_file: %s.key}\n", n, n, n)
	}
	return s
}

// fileOutcome applies a file to the store and returns the AWS code of its
// error ("" when accepted; "file: …" for an error with no AWS code).
func fileOutcome(t *testing.T, st store.Store, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "alba.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err == nil {
		err = st.Update(func(tx store.Tx) error { return f.Apply(tx, time.Now()) })
	}
	if err == nil {
		return ""
	}
	var me *model.Error
	if errors.As(err, &me) {
		return me.Code
	}
	return "file: " + err.Error()
}

func TestFileAndAPIAgree(t *testing.T) {
	dir := t.TempDir()
	pems := map[string][2]string{}
	for _, n := range certNames(28) {
		c, k, err := certs.Generate(certs.GenerateOptions{CommonName: n + ".example.com", KeyType: certs.KeyECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		pems[n] = [2]string{string(c), string(k)}
		os.WriteFile(filepath.Join(dir, n+".crt"), c, 0o644)
		os.WriteFile(filepath.Join(dir, n+".key"), k, 0o600)
	}
	cases := parityCases()
	if len(cases) < 40 {
		t.Fatalf("%d cases; the parity table keeps at least 40", len(cases))
	}
	accepted, refused := 0, 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fe, ae := newEnv(t), newEnv(t)
			fa, aa := &apiSeq{e: fe, arn: map[string]string{}, pem: pems}, &apiSeq{e: ae, arn: map[string]string{}, pem: pems}
			if tc.setup != nil {
				tc.setup(fa)
				tc.setup(aa)
				if fa.err != nil || aa.err != nil {
					t.Fatalf("setup: %v / %v", fa.err, aa.err)
				}
			}
			fileCode := fileOutcome(t, fe.st, dir, tc.yaml)
			tc.api(aa)
			apiCode := code(aa.err)
			if fileCode != tc.want || apiCode != tc.want {
				t.Errorf("file: %q, API: %q, want %q for both\nfile:\n%s", fileCode, apiCode, tc.want, tc.yaml)
			}
		})
		if tc.want == "" {
			accepted++
		} else {
			refused++
		}
	}
	if accepted < 10 || refused < 20 {
		t.Errorf("%d accepted and %d refused cases: the table needs both kinds", accepted, refused)
	}
}
