package awsapi

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

func autoscalingService() *service {
	return &service{
		name: "autoscaling", version: "2011-01-01", ns: "http://autoscaling.amazonaws.com/doc/2011-01-01/",
		ops: map[string]op{
			"CreateAutoScalingGroup":              legacy((*handler).createAutoScalingGroup),
			"DescribeAutoScalingGroups":           legacy((*handler).describeAutoScalingGroups),
			"UpdateAutoScalingGroup":              legacy((*handler).updateAutoScalingGroup),
			"DeleteAutoScalingGroup":              legacy((*handler).deleteAutoScalingGroup),
			"SetDesiredCapacity":                  legacy((*handler).setDesiredCapacity),
			"TerminateInstanceInAutoScalingGroup": legacy((*handler).terminateInstance),
			"SetInstanceHealth":                   legacy((*handler).setInstanceHealth),
			"SetInstanceProtection":               legacy((*handler).setInstanceProtection),
			"DescribeAutoScalingInstances":        legacy((*handler).describeAutoScalingInstances),
			"AttachLoadBalancerTargetGroups":      legacy((*handler).attachTargetGroups),
			"DetachLoadBalancerTargetGroups":      legacy((*handler).detachTargetGroups),
			"DescribeLoadBalancerTargetGroups":    legacy((*handler).describeLoadBalancerTargetGroups),
			"PutScalingPolicy":                    legacy((*handler).putScalingPolicy),
			"DescribePolicies":                    legacy((*handler).describePolicies),
			"DeletePolicy":                        legacy((*handler).deletePolicy),
			"DescribeScalingActivities":           legacy((*handler).describeScalingActivities),
			"CreateOrUpdateTags":                  legacy((*handler).createOrUpdateTags),
			"DeleteTags":                          legacy((*handler).deleteASGTags),
			"DescribeTags":                        legacy((*handler).describeASGTags),
			"DescribeTerminationPolicyTypes":      legacy((*handler).describeTerminationPolicyTypes),
		},
	}
}

// serviceLinkedRole is the role AWS reports a group uses.
func serviceLinkedRole() string {
	return "arn:aws:iam::" + model.Account + ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
}

func badToken() error { return apiErrorf("InvalidNextToken", "The token is not valid") }

// maxRecords reads MaxRecords (1-max, default def).
func (c *call) maxRecords(def, max int) (int, error) {
	n, err := c.intIn("MaxRecords", 1, max)
	return orDefault(n, def), err
}

// instanceRecord returns an instance by id, nil when there is none.
func instanceRecord(tx store.Tx, id string) (*model.Instance, error) {
	inst, err := store.GetJSON[model.Instance](tx, model.KindInstance, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return inst, err
}

// templateSpecXML renders a launch template reference, filling in the id
// and name from the template when it still exists.
func templateSpecXML(tx store.Tx, s model.LaunchTemplateSpec) *node {
	id, name := s.ID, s.Name
	if lt, err := autoscaling.TemplateByRef(tx, s.ID, s.Name); err == nil {
		id, name = lt.ID, lt.Name
	}
	return el("LaunchTemplate", opt("LaunchTemplateId", id), opt("LaunchTemplateName", name), opt("Version", s.Version))
}

func asgTagXML(g *model.AutoScalingGroup, t model.Tag) *node {
	return el("member", txt("ResourceId", g.Name), txt("ResourceType", "auto-scaling-group"), txt("Key", t.Key),
		txt("Value", t.Value), boolean("PropagateAtLaunch", t.PropagateAtLaunch))
}

func groupXML(tx store.Tx, g *model.AutoScalingGroup) (*node, error) {
	insts, err := autoscaling.InstancesOf(tx, g.Name)
	if err != nil {
		return nil, err
	}
	var is []*node
	for _, i := range insts {
		is = append(is, el("member", txt("InstanceId", i.ID), txt("InstanceType", i.InstanceType), txt("AvailabilityZone", i.Zone),
			txt("LifecycleState", i.LifecycleState), txt("HealthStatus", i.HealthStatus), templateSpecXML(tx, i.LaunchTemplate),
			boolean("ProtectedFromScaleIn", i.ProtectedFromScaleIn)))
	}
	var tags, sources []*node
	for _, t := range g.Tags {
		tags = append(tags, asgTagXML(g, t))
	}
	for _, arn := range g.TargetGroupARNs {
		sources = append(sources, el("member", txt("Identifier", arn), txt("Type", "elbv2")))
	}
	var warmup *node
	if g.DefaultInstanceWarmup >= 0 {
		warmup = num("DefaultInstanceWarmup", g.DefaultInstanceWarmup)
	}
	return el("member",
		txt("AutoScalingGroupName", g.Name),
		txt("AutoScalingGroupARN", g.ARN),
		templateSpecXML(tx, g.LaunchTemplate),
		num("MinSize", g.MinSize),
		num("MaxSize", g.MaxSize),
		num("DesiredCapacity", g.Desired),
		num("DefaultCooldown", g.DefaultCooldown),
		strMembers("AvailabilityZones", g.Zones),
		strMembers("LoadBalancerNames", nil),
		strMembers("TargetGroupARNs", g.TargetGroupARNs),
		txt("HealthCheckType", g.HealthCheckType),
		num("HealthCheckGracePeriod", g.HealthCheckGracePeriod),
		nodeMembers("Instances", is),
		stamp("CreatedTime", g.CreatedTime),
		nodeMembers("SuspendedProcesses", nil),
		txt("VPCZoneIdentifier", strings.Join(g.Zones, ",")),
		nodeMembers("EnabledMetrics", nil),
		opt("Status", g.Status),
		nodeMembers("Tags", tags),
		strMembers("TerminationPolicies", g.TerminationPolicies),
		boolean("NewInstancesProtectedFromScaleIn", g.NewInstancesProtectedFromScaleIn),
		txt("ServiceLinkedRoleARN", serviceLinkedRole()),
		warmup,
		nodeMembers("TrafficSources", sources),
	), nil
}

// zones reads VPCZoneIdentifier (comma-separated subnet ids) or
// AvailabilityZones; nil when neither was sent.
func (c *call) zones() ([]string, error) {
	var out []string
	if v := c.p.get("VPCZoneIdentifier"); v != "" {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !containsStr(out, s) {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil, validation("VPCZoneIdentifier '%s' names no subnet", v)
		}
		return out, nil
	}
	for _, z := range c.p.strs("AvailabilityZones") {
		if z != "" && !containsStr(out, z) {
			out = append(out, z)
		}
	}
	return out, nil
}

// launchTemplate reads LaunchTemplate.{LaunchTemplateId,LaunchTemplateName,Version}.
func (c *call) launchTemplate() (*model.LaunchTemplateSpec, error) {
	if !c.p.hasAny("LaunchTemplate") {
		return nil, nil
	}
	lp := c.p.sub("LaunchTemplate")
	s := &model.LaunchTemplateSpec{ID: lp.get("LaunchTemplateId"), Name: lp.get("LaunchTemplateName"), Version: lp.get("Version")}
	if (s.ID == "") == (s.Name == "") {
		return nil, validation("Valid requests must contain either LaunchTemplateId or LaunchTemplateName")
	}
	return s, nil
}

// targetGroupARNs reads TargetGroupARNs and elbv2 TrafficSources, and
// checks the groups hold instances.
func (c *call) targetGroupARNs() ([]string, error) {
	arns := c.p.strs("TargetGroupARNs")
	for _, ts := range c.p.structs("TrafficSources") {
		if t := ts.get("Type"); t != "" && t != "elbv2" {
			return nil, validation("Traffic source type '%s' is not supported: use elbv2", t)
		}
		arns = append(arns, ts.get("Identifier"))
	}
	var out []string
	for _, a := range arns {
		if a == "" {
			return nil, validation("A target group ARN must not be empty")
		}
		if !containsStr(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// asgTags reads Tags.member.N.{Key,Value,PropagateAtLaunch,ResourceId,ResourceType}.
func (c *call) asgTags(group string) ([]autoscaling.GroupTag, error) {
	var out []autoscaling.GroupTag
	seen := map[string]bool{}
	for _, p := range c.p.structs("Tags") {
		t := model.Tag{Key: p.get("Key"), Value: p.get("Value")}
		prop, err := p.boolp("PropagateAtLaunch")
		if err != nil {
			return nil, err
		}
		g := p.get("ResourceId")
		if group != "" {
			if g != "" && g != group {
				return nil, validation("Tag resource id '%s' is not the group '%s'", g, group)
			}
			g = group
		}
		if g == "" {
			return nil, validation("A tag needs a ResourceId (the Auto Scaling group name)")
		}
		if rt := p.get("ResourceType"); rt != "" && rt != "auto-scaling-group" {
			return nil, validation("Tag resource type '%s' must be auto-scaling-group", rt)
		}
		if seen[g+"\x00"+t.Key] {
			return nil, apiErrorf("ValidationError", "Tag key '%s' is given more than once for %s", t.Key, g)
		}
		seen[g+"\x00"+t.Key] = true
		t.PropagateAtLaunch = prop != nil && *prop
		out = append(out, autoscaling.GroupTag{Group: g, Tag: t})
	}
	return out, nil
}

func (h *handler) createAutoScalingGroup(c *call) (*node, error) {
	name, err := c.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	if c.p.get("LaunchConfigurationName") != "" || c.p.hasAny("MixedInstancesPolicy") || c.p.get("InstanceId") != "" {
		return nil, validation("Only launch templates are supported: use LaunchTemplate (launch configurations, mixed instances policies and instance ids are not)")
	}
	if len(c.p.strs("LoadBalancerNames")) > 0 {
		return nil, validation("Classic load balancers are not supported: use TargetGroupARNs")
	}
	lt, err := c.launchTemplate()
	if err != nil {
		return nil, err
	}
	if lt == nil {
		return nil, validation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	minSize, err := c.p.intp("MinSize")
	if err != nil {
		return nil, err
	}
	maxSize, err := c.p.intp("MaxSize")
	if err != nil {
		return nil, err
	}
	if minSize == nil || maxSize == nil {
		return nil, missing(c.svc, map[bool]string{true: "MinSize", false: "MaxSize"}[minSize == nil])
	}
	desired, err := c.p.intp("DesiredCapacity")
	if err != nil {
		return nil, err
	}
	zones, err := c.zones()
	if err != nil {
		return nil, err
	}
	if len(zones) == 0 {
		return nil, validation("At least one Availability Zone or VPC Subnet is required.")
	}
	tgs, err := c.targetGroupARNs()
	if err != nil {
		return nil, err
	}
	grace, err := c.p.intp("HealthCheckGracePeriod")
	if err != nil {
		return nil, err
	}
	cooldown, err := c.p.intp("DefaultCooldown")
	if err != nil {
		return nil, err
	}
	warmup, err := c.p.intp("DefaultInstanceWarmup")
	if err != nil {
		return nil, err
	}
	protect, err := c.p.boolp("NewInstancesProtectedFromScaleIn")
	if err != nil {
		return nil, err
	}
	tags, err := c.asgTags(name)
	if err != nil {
		return nil, err
	}
	g := &model.AutoScalingGroup{
		Name: name, LaunchTemplate: *lt, MinSize: *minSize, MaxSize: *maxSize, Desired: orDefault(desired, *minSize),
		Zones: zones, TargetGroupARNs: tgs, HealthCheckType: c.p.get("HealthCheckType"),
		HealthCheckGracePeriod: orDefault(grace, 0), DefaultCooldown: orDefault(cooldown, 300),
		DefaultInstanceWarmup: max(orDefault(warmup, -1), -1), TerminationPolicies: c.p.strs("TerminationPolicies"),
		NewInstancesProtectedFromScaleIn: protect != nil && *protect, Source: SourceAPI,
	}
	for _, t := range tags {
		g.Tags = append(g.Tags, t.Tag)
	}
	return nil, h.update(func(tx store.Tx) error { return autoscaling.CreateGroup(tx, g, c.now) })
}

// tagFilter is one DescribeAutoScalingGroups / DescribeTags filter.
type tagFilter struct {
	name   string
	values []string
}

func (c *call) filters() []tagFilter {
	var out []tagFilter
	for _, f := range c.p.structs("Filters") {
		out = append(out, tagFilter{name: f.get("Name"), values: f.strs("Values")})
	}
	return out
}

func matchAny(vals []string, s string) bool { return len(vals) == 0 || containsStr(vals, s) }

func (h *handler) describeAutoScalingGroups(c *call) (*node, error) {
	size, err := c.maxRecords(50, 100)
	if err != nil {
		return nil, err
	}
	names := c.p.strs("AutoScalingGroupNames")
	filters := c.filters()
	var out []*node
	next := ""
	err = h.view(func(tx store.Tx) error {
		all, err := autoscaling.Groups(tx)
		if err != nil {
			return err
		}
		var sel []*model.AutoScalingGroup
	groups:
		for _, g := range all {
			if len(names) > 0 && !containsStr(names, g.Name) {
				continue
			}
			for _, f := range filters {
				ok := false
				for _, t := range g.Tags {
					switch {
					case f.name == "tag-key":
						ok = ok || matchAny(f.values, t.Key)
					case f.name == "tag-value":
						ok = ok || matchAny(f.values, t.Value)
					case strings.HasPrefix(f.name, "tag:"):
						ok = ok || (t.Key == f.name[4:] && matchAny(f.values, t.Value))
					}
				}
				if !ok {
					continue groups
				}
			}
			sel = append(sel, g)
		}
		pg, nx, err := page(sel, func(g *model.AutoScalingGroup) string { return g.Name }, c.p.get("NextToken"), size, badToken)
		if err != nil {
			return err
		}
		next = nx
		for _, g := range pg {
			n, err := groupXML(tx, g)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("AutoScalingGroups", out), opt("NextToken", next)), nil
}

func (h *handler) updateAutoScalingGroup(c *call) (*node, error) {
	name, err := c.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	if c.p.get("LaunchConfigurationName") != "" || c.p.hasAny("MixedInstancesPolicy") {
		return nil, validation("Only launch templates are supported: use LaunchTemplate")
	}
	var ch autoscaling.GroupChange
	if ch.LaunchTemplate, err = c.launchTemplate(); err != nil {
		return nil, err
	}
	for key, dst := range map[string]**int{"MinSize": &ch.MinSize, "MaxSize": &ch.MaxSize, "DesiredCapacity": &ch.Desired,
		"DefaultCooldown": &ch.DefaultCooldown, "HealthCheckGracePeriod": &ch.HealthCheckGracePeriod, "DefaultInstanceWarmup": &ch.DefaultInstanceWarmup} {
		if *dst, err = c.p.intp(key); err != nil {
			return nil, err
		}
	}
	if ch.Zones, err = c.zones(); err != nil {
		return nil, err
	}
	if c.p.has("HealthCheckType") {
		v := c.p.get("HealthCheckType")
		ch.HealthCheckType = &v
	}
	if c.p.hasAny("TerminationPolicies") {
		ch.TerminationPolicies = c.p.strs("TerminationPolicies")
	}
	if ch.NewInstancesProtectedFromScaleIn, err = c.p.boolp("NewInstancesProtectedFromScaleIn"); err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error {
		_, err := autoscaling.UpdateGroup(tx, name, ch, c.now)
		return err
	})
}

func (h *handler) deleteAutoScalingGroup(c *call) (*node, error) {
	name, err := c.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	force, err := c.p.boolp("ForceDelete")
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error { return autoscaling.DeleteGroup(tx, name, force != nil && *force) })
}

func (h *handler) setDesiredCapacity(c *call) (*node, error) {
	name, err := c.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	desired, err := c.p.intp("DesiredCapacity")
	if err != nil {
		return nil, err
	}
	if desired == nil {
		return nil, missing(c.svc, "DesiredCapacity")
	}
	if _, err := c.p.boolp("HonorCooldown"); err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error {
		g, err := autoscaling.Group(tx, name)
		if err != nil {
			return err
		}
		if g.Status != "" {
			return validation("AutoScalingGroup %s is pending delete.", name)
		}
		return autoscaling.SetDesiredCapacity(tx, name, *desired, autoscaling.UserCause(c.now, g.Desired, *desired))
	})
}

func activityXML(name string, a *model.Activity, groupARN string) *node {
	return el(name,
		txt("ActivityId", a.ID),
		txt("AutoScalingGroupName", a.Group),
		txt("Description", a.Description),
		txt("Cause", a.Cause),
		stamp("StartTime", a.StartTime),
		optStamp("EndTime", a.EndTime),
		txt("StatusCode", a.StatusCode),
		opt("StatusMessage", a.StatusMessage),
		num("Progress", a.Progress),
		txt("Details", a.Details),
		opt("AutoScalingGroupARN", groupARN),
	)
}

func (h *handler) terminateInstance(c *call) (*node, error) {
	id, err := c.required("InstanceId")
	if err != nil {
		return nil, err
	}
	dec, err := c.p.boolp("ShouldDecrementDesiredCapacity")
	if err != nil {
		return nil, err
	}
	if dec == nil {
		return nil, missing(c.svc, "ShouldDecrementDesiredCapacity")
	}
	var a *model.Activity
	var arn string
	err = h.update(func(tx store.Tx) error {
		if a, err = autoscaling.TerminateInstance(tx, id, *dec, c.now); err != nil {
			return err
		}
		if g, err := autoscaling.Group(tx, a.Group); err == nil {
			arn = g.ARN
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(activityXML("Activity", a, arn)), nil
}

func (h *handler) setInstanceHealth(c *call) (*node, error) {
	id, err := c.required("InstanceId")
	if err != nil {
		return nil, err
	}
	status, err := c.required("HealthStatus")
	if err != nil {
		return nil, err
	}
	respect, err := c.p.boolp("ShouldRespectGracePeriod")
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error {
		return autoscaling.SetInstanceHealth(tx, id, status, respect == nil || *respect, c.now)
	})
}

func (h *handler) setInstanceProtection(c *call) (*node, error) {
	name, err := c.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	ids := c.p.strs("InstanceIds")
	if len(ids) == 0 {
		return nil, missing(c.svc, "InstanceIds")
	}
	prot, err := c.p.boolp("ProtectedFromScaleIn")
	if err != nil {
		return nil, err
	}
	if prot == nil {
		return nil, missing(c.svc, "ProtectedFromScaleIn")
	}
	err = h.update(func(tx store.Tx) error { return autoscaling.SetInstanceProtection(tx, name, ids, *prot) })
	if err != nil {
		return nil, err
	}
	return frag(), nil
}

func (h *handler) describeAutoScalingInstances(c *call) (*node, error) {
	size, err := c.maxRecords(50, 50)
	if err != nil {
		return nil, err
	}
	ids := c.p.strs("InstanceIds")
	var out []*node
	next := ""
	err = h.view(func(tx store.Tx) error {
		all, err := autoscaling.Instances(tx)
		if err != nil {
			return err
		}
		var sel []*model.Instance
		for _, i := range all {
			if len(ids) == 0 || containsStr(ids, i.ID) {
				sel = append(sel, i)
			}
		}
		pg, nx, err := page(sel, func(i *model.Instance) string { return i.ID }, c.p.get("NextToken"), size, badToken)
		if err != nil {
			return err
		}
		next = nx
		for _, i := range pg {
			out = append(out, el("member", txt("InstanceId", i.ID), txt("InstanceType", i.InstanceType),
				txt("AutoScalingGroupName", i.Group), txt("AvailabilityZone", i.Zone), txt("LifecycleState", i.LifecycleState),
				txt("HealthStatus", strings.ToUpper(i.HealthStatus)), templateSpecXML(tx, i.LaunchTemplate),
				boolean("ProtectedFromScaleIn", i.ProtectedFromScaleIn)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("AutoScalingInstances", out), opt("NextToken", next)), nil
}

func (h *handler) attachTargetGroups(c *call) (*node, error) {
	return h.changeTargetGroups(c, autoscaling.AttachTargetGroups)
}

func (h *handler) detachTargetGroups(c *call) (*node, error) {
	return h.changeTargetGroups(c, autoscaling.DetachTargetGroups)
}

// changeTargetGroups answers Attach/DetachLoadBalancerTargetGroups.
func (h *handler) changeTargetGroups(c *call, op func(tx store.Tx, group string, arns []string, now time.Time) error) (*node, error) {
	name, err := c.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	arns := c.p.strs("TargetGroupARNs")
	if len(arns) == 0 {
		return nil, missing(c.svc, "TargetGroupARNs")
	}
	if err := h.update(func(tx store.Tx) error { return op(tx, name, arns, c.now) }); err != nil {
		return nil, err
	}
	return frag(), nil
}

func (h *handler) describeLoadBalancerTargetGroups(c *call) (*node, error) {
	name, err := c.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	var out []*node
	err = h.view(func(tx store.Tx) error {
		g, err := autoscaling.Group(tx, name)
		if err != nil {
			return err
		}
		insts, err := autoscaling.InstancesOf(tx, name)
		if err != nil {
			return err
		}
		state := "Added"
		for _, i := range insts {
			if i.LifecycleState == model.LifecycleInService {
				state = "InService"
			}
		}
		for _, arn := range g.TargetGroupARNs {
			out = append(out, el("member", txt("LoadBalancerTargetGroupARN", arn), txt("State", state)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("LoadBalancerTargetGroups", out)), nil
}

// ---- scaling policies

func alarmsXML(p *model.ScalingPolicy) *node {
	var as []*node
	for _, arn := range []string{p.AlarmHigh, p.AlarmLow} {
		if arn == "" {
			continue
		}
		name := arn
		if i := strings.Index(arn, ":alarm:"); i >= 0 {
			name = arn[i+len(":alarm:"):]
		}
		as = append(as, el("member", txt("AlarmName", name), txt("AlarmARN", arn)))
	}
	return nodeMembers("Alarms", as)
}

func policyXML(p *model.ScalingPolicy) *node {
	var warmup *node
	if p.EstimatedInstanceWarmup >= 0 {
		warmup = num("EstimatedInstanceWarmup", p.EstimatedInstanceWarmup)
	}
	return el("member",
		txt("AutoScalingGroupName", p.Group),
		txt("PolicyName", p.Name),
		txt("PolicyARN", p.ARN),
		txt("PolicyType", p.PolicyType),
		nodeMembers("StepAdjustments", nil),
		alarmsXML(p),
		el("TargetTrackingConfiguration",
			el("PredefinedMetricSpecification", txt("PredefinedMetricType", p.MetricType), opt("ResourceLabel", p.ResourceLabel)),
			float("TargetValue", p.TargetValue),
			boolean("DisableScaleIn", p.DisableScaleIn)),
		boolean("Enabled", p.Enabled),
		warmup,
	)
}

func (h *handler) putScalingPolicy(c *call) (*node, error) {
	group, err := c.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	name, err := c.required("PolicyName")
	if err != nil {
		return nil, err
	}
	typ := c.p.get("PolicyType")
	if typ == "" {
		typ = "SimpleScaling"
	}
	if typ != "TargetTrackingScaling" {
		return nil, validation("Policy type %s is not supported: Alba supports only target tracking scaling policies (PolicyType TargetTrackingScaling)", typ)
	}
	tt := c.p.sub("TargetTrackingConfiguration")
	if tt.hasAny("CustomizedMetricSpecification") {
		return nil, validation("Customized metric specifications are not supported: use a PredefinedMetricSpecification")
	}
	target, err := tt.floatp("TargetValue")
	if err != nil {
		return nil, err
	}
	if target == nil {
		return nil, validation("TargetTrackingConfiguration.TargetValue is required for a target tracking policy")
	}
	disable, err := tt.boolp("DisableScaleIn")
	if err != nil {
		return nil, err
	}
	warmup, err := c.p.intp("EstimatedInstanceWarmup")
	if err != nil {
		return nil, err
	}
	enabled, err := c.p.boolp("Enabled")
	if err != nil {
		return nil, err
	}
	pm := tt.sub("PredefinedMetricSpecification")
	p := &model.ScalingPolicy{Name: name, Group: group, PolicyType: typ, MetricType: pm.get("PredefinedMetricType"),
		ResourceLabel: pm.get("ResourceLabel"), TargetValue: *target, DisableScaleIn: disable != nil && *disable,
		EstimatedInstanceWarmup: max(orDefault(warmup, -1), -1), Enabled: enabled == nil || *enabled, Source: SourceAPI}
	if p.MetricType == "" {
		return nil, validation("TargetTrackingConfiguration.PredefinedMetricSpecification.PredefinedMetricType is required")
	}
	if err := h.update(func(tx store.Tx) error { return autoscaling.PutPolicy(tx, p) }); err != nil {
		return nil, err
	}
	return frag(txt("PolicyARN", p.ARN), alarmsXML(p)), nil
}

func (h *handler) describePolicies(c *call) (*node, error) {
	size, err := c.maxRecords(50, 100)
	if err != nil {
		return nil, err
	}
	group := c.p.get("AutoScalingGroupName")
	names, types := c.p.strs("PolicyNames"), c.p.strs("PolicyTypes")
	var out []*node
	next := ""
	err = h.view(func(tx store.Tx) error {
		all, err := autoscaling.Policies(tx)
		if err != nil {
			return err
		}
		var sel []*model.ScalingPolicy
		for _, p := range all {
			if (group == "" || p.Group == group) && (len(names) == 0 || containsStr(names, p.Name) || containsStr(names, p.ARN)) &&
				(len(types) == 0 || containsStr(types, p.PolicyType)) {
				sel = append(sel, p)
			}
		}
		pg, nx, err := page(sel, func(p *model.ScalingPolicy) string { return p.Key() }, c.p.get("NextToken"), size, badToken)
		if err != nil {
			return err
		}
		next = nx
		for _, p := range pg {
			out = append(out, policyXML(p))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("ScalingPolicies", out), opt("NextToken", next)), nil
}

func (h *handler) deletePolicy(c *call) (*node, error) {
	name, err := c.required("PolicyName")
	if err != nil {
		return nil, err
	}
	group := c.p.get("AutoScalingGroupName")
	return nil, h.update(func(tx store.Tx) error {
		if strings.HasPrefix(name, "arn:") {
			all, err := autoscaling.Policies(tx)
			if err != nil {
				return err
			}
			for _, p := range all {
				if p.ARN == name {
					return autoscaling.DeletePolicy(tx, p.Group, p.Name)
				}
			}
			return validation("Scaling policy %s not found", name)
		}
		if group == "" {
			return missing(c.svc, "AutoScalingGroupName")
		}
		return autoscaling.DeletePolicy(tx, group, name)
	})
}

func (h *handler) describeScalingActivities(c *call) (*node, error) {
	size, err := c.maxRecords(100, 100)
	if err != nil {
		return nil, err
	}
	group := c.p.get("AutoScalingGroupName")
	ids := c.p.strs("ActivityIds")
	if _, err := c.p.boolp("IncludeDeletedGroups"); err != nil {
		return nil, err
	}
	var out []*node
	next := ""
	err = h.view(func(tx store.Tx) error {
		all, err := autoscaling.Activities(tx, group)
		if err != nil {
			return err
		}
		var sel []*model.Activity
		for _, a := range all {
			if len(ids) == 0 || containsStr(ids, a.ID) {
				sel = append(sel, a)
			}
		}
		// Newest first; in-progress activities before finished ones of
		// the same instant.
		key := func(a *model.Activity) string {
			return fmt.Sprintf("%020d|%s", math.MaxInt64-a.StartTime.UnixNano(), a.ID)
		}
		pg, nx, err := page(sel, key, c.p.get("NextToken"), size, badToken)
		if err != nil {
			return err
		}
		next = nx
		arns := map[string]string{}
		for _, a := range pg {
			if _, ok := arns[a.Group]; !ok {
				if g, err := autoscaling.Group(tx, a.Group); err == nil {
					arns[a.Group] = g.ARN
				} else {
					arns[a.Group] = ""
				}
			}
			out = append(out, activityXML("member", a, arns[a.Group]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("Activities", out), opt("NextToken", next)), nil
}

// ---- tags

func (h *handler) createOrUpdateTags(c *call) (*node, error) {
	tags, err := c.asgTags("")
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, missing(c.svc, "Tags")
	}
	return nil, h.update(func(tx store.Tx) error { return autoscaling.CreateOrUpdateTags(tx, tags) })
}

func (h *handler) deleteASGTags(c *call) (*node, error) {
	tags, err := c.asgTags("")
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, missing(c.svc, "Tags")
	}
	return nil, h.update(func(tx store.Tx) error { return autoscaling.DeleteTags(tx, tags) })
}

func (h *handler) describeASGTags(c *call) (*node, error) {
	size, err := c.maxRecords(50, 100)
	if err != nil {
		return nil, err
	}
	filters := c.filters()
	for _, f := range filters {
		switch f.name {
		case "auto-scaling-group", "key", "value", "propagate-at-launch":
		default:
			return nil, validation("Filter name '%s' must be auto-scaling-group, key, value or propagate-at-launch", f.name)
		}
	}
	type row struct {
		key  string
		node *node
	}
	var rows []row
	err = h.view(func(tx store.Tx) error {
		gs, err := autoscaling.Groups(tx)
		if err != nil {
			return err
		}
		for _, g := range gs {
		tags:
			for _, t := range g.Tags {
				for _, f := range filters {
					var v string
					switch f.name {
					case "auto-scaling-group":
						v = g.Name
					case "key":
						v = t.Key
					case "value":
						v = t.Value
					case "propagate-at-launch":
						v = strconv.FormatBool(t.PropagateAtLaunch)
					}
					if !matchAny(f.values, v) {
						continue tags
					}
				}
				rows = append(rows, row{g.Name + "\x00" + t.Key, asgTagXML(g, t)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
	pg, next, err := page(rows, func(r row) string { return r.key }, c.p.get("NextToken"), size, badToken)
	if err != nil {
		return nil, err
	}
	var out []*node
	for _, r := range pg {
		out = append(out, r.node)
	}
	return frag(nodeMembers("Tags", out), opt("NextToken", next)), nil
}

func (h *handler) describeTerminationPolicyTypes(c *call) (*node, error) {
	return frag(strMembers("TerminationPolicyTypes", []string{"ClosestToNextInstanceHour", "Default", "NewestInstance",
		"OldestInstance", "OldestLaunchConfiguration", "OldestLaunchTemplate", "AllocationStrategy"})), nil
}
