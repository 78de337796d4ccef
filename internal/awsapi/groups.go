package awsapi

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- auto scaling groups: create, describe, update, delete, desired
// capacity, target groups, termination policy types.

// serviceLinkedRole is the role AWS reports a group uses.
func serviceLinkedRole() string {
	return "arn:aws:iam::" + model.Account + ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
}

// instanceRecord returns an instance by id, nil when there is none.
func instanceRecord(tx store.Tx, id string) (*model.Instance, error) {
	inst, err := store.GetJSON[model.Instance](tx, model.KindInstance, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return inst, err
}

type launchTemplateSpecXML struct {
	LaunchTemplateID   string `xml:"LaunchTemplateId,omitempty"`
	LaunchTemplateName string `xml:",omitempty"`
	Version            string `xml:",omitempty"`
}

// templateSpecXML encodes a launch template reference, filling in the id
// and name from the template when it still exists.
func templateSpecXML(tx store.Tx, s model.LaunchTemplateSpec) launchTemplateSpecXML {
	id, name := s.ID, s.Name
	if lt, err := autoscaling.TemplateByRef(tx, s.ID, s.Name); err == nil {
		id, name = lt.ID, lt.Name
	}
	return launchTemplateSpecXML{id, name, s.Version}
}

type groupInstanceXML struct {
	InstanceID           string `xml:"InstanceId"`
	InstanceType         string
	AvailabilityZone     string
	LifecycleState       string
	HealthStatus         string
	LaunchTemplate       launchTemplateSpecXML
	ProtectedFromScaleIn bool
}

type trafficSourceXML struct{ Identifier, Type string }

type groupXML struct {
	AutoScalingGroupName             string
	AutoScalingGroupARN              string
	LaunchTemplate                   launchTemplateSpecXML
	MinSize                          int
	MaxSize                          int
	DesiredCapacity                  int
	DefaultCooldown                  int
	AvailabilityZones                memberList[string]
	LoadBalancerNames                memberList[string]
	TargetGroupARNs                  memberList[string]
	HealthCheckType                  string
	HealthCheckGracePeriod           int
	Instances                        memberList[groupInstanceXML]
	CreatedTime                      isoTime
	SuspendedProcesses               memberList[string]
	VPCZoneIdentifier                string
	EnabledMetrics                   memberList[string]
	Status                           string `xml:",omitempty"`
	Tags                             memberList[asgTagXML]
	TerminationPolicies              memberList[string]
	NewInstancesProtectedFromScaleIn bool
	ServiceLinkedRoleARN             string
	DefaultInstanceWarmup            *int
	TrafficSources                   memberList[trafficSourceXML]
}

func groupOut(tx store.Tx, g *model.AutoScalingGroup) (groupXML, error) {
	insts, err := autoscaling.InstancesOf(tx, g.Name)
	if err != nil {
		return groupXML{}, err
	}
	x := groupXML{AutoScalingGroupName: g.Name, AutoScalingGroupARN: g.ARN, LaunchTemplate: templateSpecXML(tx, g.LaunchTemplate),
		MinSize: g.MinSize, MaxSize: g.MaxSize, DesiredCapacity: g.Desired, DefaultCooldown: g.DefaultCooldown,
		AvailabilityZones: members(g.Zones), TargetGroupARNs: members(g.TargetGroupARNs), HealthCheckType: g.HealthCheckType,
		HealthCheckGracePeriod: g.HealthCheckGracePeriod, CreatedTime: isoTime(g.CreatedTime), VPCZoneIdentifier: strings.Join(g.Zones, ","),
		Status: g.Status, TerminationPolicies: members(g.TerminationPolicies), NewInstancesProtectedFromScaleIn: g.NewInstancesProtectedFromScaleIn,
		ServiceLinkedRoleARN: serviceLinkedRole()}
	for _, i := range insts {
		x.Instances.Items = append(x.Instances.Items, groupInstanceXML{i.ID, i.InstanceType, i.Zone, i.LifecycleState, i.HealthStatus,
			templateSpecXML(tx, i.LaunchTemplate), i.ProtectedFromScaleIn})
	}
	for _, t := range g.Tags {
		x.Tags.Items = append(x.Tags.Items, asgTagOut(g, t))
	}
	for _, arn := range g.TargetGroupARNs {
		x.TrafficSources.Items = append(x.TrafficSources.Items, trafficSourceXML{arn, "elbv2"})
	}
	if g.DefaultInstanceWarmup >= 0 {
		x.DefaultInstanceWarmup = &g.DefaultInstanceWarmup
	}
	return x, nil
}

// zonesIn is VPCZoneIdentifier (comma-separated subnet ids) or
// AvailabilityZones.
type zonesIn struct {
	VPCZoneIdentifier string   `q:"VPCZoneIdentifier"`
	AvailabilityZones []string `q:"AvailabilityZones"`
}

// zones returns the zones named, nil when neither was sent.
func (in zonesIn) zones() ([]string, error) {
	var out []string
	if v := in.VPCZoneIdentifier; v != "" {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil, validation("VPCZoneIdentifier '%s' names no subnet", model.Quote(v))
		}
		return out, nil
	}
	for _, z := range in.AvailabilityZones {
		if z != "" && !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	return out, nil
}

type launchTemplateIn struct {
	LaunchTemplateID   string `q:"LaunchTemplateId"`
	LaunchTemplateName string `q:"LaunchTemplateName"`
	Version            string `q:"Version"`
}

// spec converts a launch template reference (nil when none was sent).
func (in *launchTemplateIn) spec() (*model.LaunchTemplateSpec, error) {
	if in == nil {
		return nil, nil
	}
	if (in.LaunchTemplateID == "") == (in.LaunchTemplateName == "") {
		return nil, validation("Valid requests must contain either LaunchTemplateId or LaunchTemplateName")
	}
	return &model.LaunchTemplateSpec{ID: in.LaunchTemplateID, Name: in.LaunchTemplateName, Version: in.Version}, nil
}

// unsupportedIn is what Alba refuses: launch configurations and mixed
// instances policies.
type unsupportedIn struct {
	LaunchConfigurationName string    `q:"LaunchConfigurationName"`
	MixedInstancesPolicy    *struct{} `q:"MixedInstancesPolicy"`
}

func (in unsupportedIn) used() bool {
	return in.LaunchConfigurationName != "" || in.MixedInstancesPolicy != nil
}

type trafficSourceIn struct {
	Identifier string `q:"Identifier,arn"`
	Type       string `q:"Type"`
}

// groupSettingsIn is what Create and UpdateAutoScalingGroup both set.
type groupSettingsIn struct {
	groupNameIn
	unsupportedIn
	LaunchTemplate                   *launchTemplateIn `q:"LaunchTemplate"`
	MinSize                          *int              `q:"MinSize"`
	MaxSize                          *int              `q:"MaxSize"`
	DesiredCapacity                  *int              `q:"DesiredCapacity"`
	DefaultCooldown                  *int              `q:"DefaultCooldown"`
	HealthCheckGracePeriod           *int              `q:"HealthCheckGracePeriod"`
	DefaultInstanceWarmup            *int              `q:"DefaultInstanceWarmup"`
	HealthCheckType                  *string           `q:"HealthCheckType"`
	TerminationPolicies              []string          `q:"TerminationPolicies"`
	NewInstancesProtectedFromScaleIn *bool             `q:"NewInstancesProtectedFromScaleIn"`
	zonesIn
}

type createAutoScalingGroupIn struct {
	groupSettingsIn
	InstanceID        string            `q:"InstanceId"`
	LoadBalancerNames []string          `q:"LoadBalancerNames"`
	TargetGroupARNs   []string          `q:"TargetGroupARNs,arn"`
	TrafficSources    []trafficSourceIn `q:"TrafficSources"`
	Tags              []asgTagIn        `q:"Tags"`
}

// targetGroups merges TargetGroupARNs and elbv2 TrafficSources.
func (in *createAutoScalingGroupIn) targetGroups() ([]string, error) {
	arns := in.TargetGroupARNs
	for _, ts := range in.TrafficSources {
		if ts.Type != "" && ts.Type != "elbv2" {
			return nil, validation("Traffic source type '%s' is not supported: use elbv2", model.Quote(ts.Type))
		}
		arns = append(arns, ts.Identifier)
	}
	var out []string
	for _, a := range arns {
		if a == "" {
			return nil, validation("A target group ARN must not be empty")
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (h *handler) createAutoScalingGroup(c *call, in *createAutoScalingGroupIn) (any, error) {
	if in.used() || in.InstanceID != "" {
		return nil, validation("Only launch templates are supported: use LaunchTemplate (launch configurations, mixed instances policies and instance ids are not)")
	}
	if len(in.LoadBalancerNames) > 0 {
		return nil, validation("Classic load balancers are not supported: use TargetGroupARNs")
	}
	lt, err := in.LaunchTemplate.spec()
	if err != nil {
		return nil, err
	}
	if lt == nil {
		return nil, validation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	for _, n := range []struct {
		name string
		v    *int
	}{{"MinSize", in.MinSize}, {"MaxSize", in.MaxSize}} {
		if n.v == nil {
			return nil, c.f.missing(n.name)
		}
	}
	zones, err := in.zones()
	if err != nil {
		return nil, err
	}
	if len(zones) == 0 {
		return nil, validation("At least one Availability Zone or VPC Subnet is required.")
	}
	tgs, err := in.targetGroups()
	if err != nil {
		return nil, err
	}
	tags, err := groupTags(in.Tags, in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	g := &model.AutoScalingGroup{
		Name: in.AutoScalingGroupName, LaunchTemplate: *lt, MinSize: *in.MinSize, MaxSize: *in.MaxSize,
		Desired: orDefault(in.DesiredCapacity, *in.MinSize), Zones: zones, TargetGroupARNs: tgs, HealthCheckType: orEmpty(in.HealthCheckType),
		HealthCheckGracePeriod: orDefault(in.HealthCheckGracePeriod, 0), DefaultCooldown: orDefault(in.DefaultCooldown, 300),
		DefaultInstanceWarmup: max(orDefault(in.DefaultInstanceWarmup, -1), -1), TerminationPolicies: in.TerminationPolicies,
		NewInstancesProtectedFromScaleIn: in.NewInstancesProtectedFromScaleIn != nil && *in.NewInstancesProtectedFromScaleIn, Source: SourceAPI,
	}
	for _, t := range tags {
		g.Tags = append(g.Tags, t.Tag)
	}
	return nil, h.update(func(tx store.Tx) error { return autoscaling.CreateGroup(tx, g, c.now) })
}

// filterIn is one DescribeAutoScalingGroups / DescribeTags filter.
type filterIn struct {
	Name   string   `q:"Name"`
	Values []string `q:"Values"`
}

func matchAny(vals []string, s string) bool { return len(vals) == 0 || slices.Contains(vals, s) }

// matchesTags reports whether a group's tags pass every filter.
func matchesTags(g *model.AutoScalingGroup, filters []filterIn) bool {
	for _, f := range filters {
		ok := false
		for _, t := range g.Tags {
			switch {
			case f.Name == "tag-key":
				ok = ok || matchAny(f.Values, t.Key)
			case f.Name == "tag-value":
				ok = ok || matchAny(f.Values, t.Value)
			case strings.HasPrefix(f.Name, "tag:"):
				ok = ok || (t.Key == f.Name[4:] && matchAny(f.Values, t.Value))
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

type describeAutoScalingGroupsIn struct {
	AutoScalingGroupNames []string   `q:"AutoScalingGroupNames"`
	Filters               []filterIn `q:"Filters"`
	MaxRecords            *int       `q:"MaxRecords,min=1,max=100"`
	tokenPage
}

type groupsOut struct {
	AutoScalingGroups memberList[groupXML]
	NextToken         string `xml:",omitempty"`
}

func (h *handler) describeAutoScalingGroups(c *call, in *describeAutoScalingGroupsIn) (any, error) {
	pg := in.paging(in.MaxRecords, 50)
	gs, next, err := describe(h, pg, autoscaling.Groups, func(g *model.AutoScalingGroup) bool {
		return (len(in.AutoScalingGroupNames) == 0 || slices.Contains(in.AutoScalingGroupNames, g.Name)) && matchesTags(g, in.Filters)
	}, func(g *model.AutoScalingGroup) string { return g.Name }, groupOut)
	if err != nil {
		return nil, err
	}
	return groupsOut{members(gs), next}, nil
}

type groupNameIn struct {
	AutoScalingGroupName string `q:"AutoScalingGroupName,req"`
}

type updateAutoScalingGroupIn struct {
	groupSettingsIn
}

func (h *handler) updateAutoScalingGroup(c *call, in *updateAutoScalingGroupIn) (any, error) {
	if in.used() {
		return nil, validation("Only launch templates are supported: use LaunchTemplate")
	}
	ch := autoscaling.GroupChange{MinSize: in.MinSize, MaxSize: in.MaxSize, Desired: in.DesiredCapacity, DefaultCooldown: in.DefaultCooldown,
		HealthCheckGracePeriod: in.HealthCheckGracePeriod, DefaultInstanceWarmup: in.DefaultInstanceWarmup, HealthCheckType: in.HealthCheckType,
		TerminationPolicies: in.TerminationPolicies, NewInstancesProtectedFromScaleIn: in.NewInstancesProtectedFromScaleIn}
	var err error
	if ch.LaunchTemplate, err = in.LaunchTemplate.spec(); err != nil {
		return nil, err
	}
	if ch.Zones, err = in.zones(); err != nil {
		return nil, err
	}
	_, err = inUpdate(h, func(tx store.Tx) (*model.AutoScalingGroup, error) {
		return autoscaling.UpdateGroup(tx, in.AutoScalingGroupName, ch, c.now)
	})
	return nil, err
}

type deleteAutoScalingGroupIn struct {
	groupNameIn
	ForceDelete *bool `q:"ForceDelete"`
}

func (h *handler) deleteAutoScalingGroup(c *call, in *deleteAutoScalingGroupIn) (any, error) {
	force := in.ForceDelete != nil && *in.ForceDelete
	return nil, h.update(func(tx store.Tx) error { return autoscaling.DeleteGroup(tx, in.AutoScalingGroupName, force) })
}

type setDesiredCapacityIn struct {
	groupNameIn
	DesiredCapacity *int  `q:"DesiredCapacity,req"`
	HonorCooldown   *bool `q:"HonorCooldown"`
}

func (h *handler) setDesiredCapacity(c *call, in *setDesiredCapacityIn) (any, error) {
	name, desired := in.AutoScalingGroupName, *in.DesiredCapacity
	return nil, h.update(func(tx store.Tx) error {
		g, err := autoscaling.Group(tx, name)
		if err != nil {
			return err
		}
		if g.Status != "" {
			return validation("AutoScalingGroup %s is pending delete.", name)
		}
		return autoscaling.SetDesiredCapacity(tx, name, desired, autoscaling.UserCause(c.now, g.Desired, desired))
	})
}

type groupTargetGroupsIn struct {
	groupNameIn
	TargetGroupARNs []string `q:"TargetGroupARNs,req,arn"`
}

// changeTargetGroups makes Attach/DetachLoadBalancerTargetGroups.
func changeTargetGroups(fn func(tx store.Tx, group string, arns []string, now time.Time) error) op {
	return handle(func(h *handler, c *call, in *groupTargetGroupsIn) (any, error) {
		if err := h.update(func(tx store.Tx) error { return fn(tx, in.AutoScalingGroupName, in.TargetGroupARNs, c.now) }); err != nil {
			return nil, err
		}
		return noOutput{}, nil
	})
}

type loadBalancerTargetGroupXML struct {
	LoadBalancerTargetGroupARN string
	State                      string
}

type loadBalancerTargetGroupsOut struct {
	LoadBalancerTargetGroups memberList[loadBalancerTargetGroupXML]
}

func (h *handler) describeLoadBalancerTargetGroups(c *call, in *groupNameIn) (any, error) {
	return inView(h, func(tx store.Tx) (any, error) {
		g, err := autoscaling.Group(tx, in.AutoScalingGroupName)
		if err != nil {
			return nil, err
		}
		insts, err := autoscaling.InstancesOf(tx, g.Name)
		if err != nil {
			return nil, err
		}
		state := "Added"
		for _, i := range insts {
			if i.LifecycleState == model.LifecycleInService {
				state = "InService"
			}
		}
		var out []loadBalancerTargetGroupXML
		for _, arn := range g.TargetGroupARNs {
			out = append(out, loadBalancerTargetGroupXML{arn, state})
		}
		return loadBalancerTargetGroupsOut{members(out)}, nil
	})
}

type terminationPolicyTypesOut struct {
	TerminationPolicyTypes memberList[string]
}

func (h *handler) describeTerminationPolicyTypes(c *call, _ *noInput) (any, error) {
	return terminationPolicyTypesOut{members([]string{"ClosestToNextInstanceHour", "Default", "NewestInstance",
		"OldestInstance", "OldestLaunchConfiguration", "OldestLaunchTemplate", "AllocationStrategy"})}, nil
}
