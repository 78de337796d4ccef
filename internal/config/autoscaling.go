package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// LaunchTemplate is a launch template in the file. Its versions are listed
// in order (version 1 first); a file that adds an entry adds a version.
type LaunchTemplate struct {
	Name string `yaml:"name"`
	// Versions of the template's data, oldest first.
	Versions []TemplateData `yaml:"versions"`
	// DefaultVersion is the version $Default means (default 1).
	DefaultVersion int `yaml:"default_version"`
}

// TemplateData is one version's contents.
type TemplateData struct {
	Description  string `yaml:"description"`
	ImageID      string `yaml:"image_id"`
	InstanceType string `yaml:"instance_type"`
	// UserData is the boot script, as text (stored base64 as on AWS).
	UserData    string            `yaml:"user_data"`
	Environment map[string]string `yaml:"environment"`
	Tags        map[string]string `yaml:"tags"`
}

// AutoScalingGroup is a group in the file.
type AutoScalingGroup struct {
	Name           string `yaml:"name"`
	LaunchTemplate struct {
		Name    string `yaml:"name"`
		Version string `yaml:"version"`
	} `yaml:"launch_template"`
	MinSize         int      `yaml:"min_size"`
	MaxSize         int      `yaml:"max_size"`
	DesiredCapacity *int     `yaml:"desired_capacity"`
	Zones           []string `yaml:"zones"`
	// TargetGroups by name.
	TargetGroups           []string `yaml:"target_groups"`
	HealthCheckType        string   `yaml:"health_check_type"`
	HealthCheckGracePeriod int      `yaml:"health_check_grace_period"`
	DefaultInstanceWarmup  *int     `yaml:"default_instance_warmup"`
	TerminationPolicies    []string `yaml:"termination_policies"`
	Policies               []Policy `yaml:"policies"`
}

// Policy is a target tracking policy in the file.
type Policy struct {
	Name string `yaml:"name"`
	// Metric is ASGAverageCPUUtilization or ALBRequestCountPerTarget.
	Metric string `yaml:"metric"`
	// TargetGroup names the group whose requests ALBRequestCountPerTarget
	// counts.
	TargetGroup             string  `yaml:"target_group"`
	TargetValue             float64 `yaml:"target_value"`
	DisableScaleIn          bool    `yaml:"disable_scale_in"`
	EstimatedInstanceWarmup *int    `yaml:"estimated_instance_warmup"`
}

func (d *TemplateData) model() model.LaunchTemplateData {
	m := model.LaunchTemplateData{ImageID: d.ImageID, InstanceType: d.InstanceType, Environment: d.Environment}
	if d.UserData != "" {
		m.UserData = base64.StdEncoding.EncodeToString([]byte(d.UserData))
	}
	for k, v := range d.Tags {
		m.InstanceTags = append(m.InstanceTags, model.Tag{Key: k, Value: v})
	}
	return m
}

func (g *AutoScalingGroup) desired() int {
	if g.DesiredCapacity != nil {
		return *g.DesiredCapacity
	}
	return g.MinSize
}

// checkAutoScaling applies the rules of launch templates and groups.
func (f *File) checkAutoScaling(tgNames map[string]bool) error {
	lts := map[string]int{}
	for i, lt := range f.LaunchTemplates {
		if _, dup := lts[lt.Name]; dup {
			return f.dupAt("InvalidLaunchTemplateName.AlreadyExistsException", fmt.Sprintf("launch template name '%s' is used twice", lt.Name), "launch_templates", i, "name")
		}
		lts[lt.Name] = len(lt.Versions)
		if err := model.ValidateLaunchTemplateName(lt.Name); err != nil {
			return f.errFrom(err, "launch_templates", i, "name")
		}
		if len(lt.Versions) == 0 {
			return f.errAt("a launch template needs at least one version", "launch_templates", i)
		}
		if lt.DefaultVersion < 0 || lt.DefaultVersion > len(lt.Versions) {
			return f.errAt(fmt.Sprintf("default version %d does not exist (the template has %d)", lt.DefaultVersion, len(lt.Versions)), "launch_templates", i, "default_version")
		}
		for j, v := range lt.Versions {
			d := v.model()
			if err := d.Validate(); err != nil {
				return f.errFrom(err, "launch_templates", i, "versions", j)
			}
		}
	}
	names := map[string]bool{}
	for i, g := range f.AutoScalingGroups {
		at := []any{"auto_scaling_groups", i}
		if names[g.Name] {
			return f.dupAt("AlreadyExists", fmt.Sprintf("auto scaling group name '%s' is used twice", g.Name), append(at, "name")...)
		}
		names[g.Name] = true
		n, ok := lts[g.LaunchTemplate.Name]
		if !ok {
			return f.errAt(fmt.Sprintf("launch template '%s' is not defined in launch_templates", g.LaunchTemplate.Name), append(at, "launch_template")...)
		}
		if v := g.LaunchTemplate.Version; v != "" && v != "$Default" && v != "$Latest" {
			if k, err := strconv.Atoi(v); err != nil || k < 1 || k > n {
				return f.errAt(fmt.Sprintf("launch template version '%s' must be $Default, $Latest or 1-%d", v, n), append(at, "launch_template")...)
			}
		}
		for _, tg := range g.TargetGroups {
			if !tgNames[tg] {
				return f.errAt(fmt.Sprintf("target group '%s' is not defined in target_groups", tg), append(at, "target_groups")...)
			}
		}
		mg := g.model(nil)
		mg.LaunchTemplate.Name = "x" // checked above
		mg.ApplyDefaults()
		if err := mg.Validate(); err != nil {
			return f.errFrom(err, at...)
		}
		for j, p := range g.Policies {
			mp := p.model(g.Name)
			if mp.MetricType == "ALBRequestCountPerTarget" {
				if !tgNames[p.TargetGroup] {
					return f.errAt(fmt.Sprintf("policy target group '%s' is not defined in target_groups", p.TargetGroup), append(at, "policies", j)...)
				}
				mp.ResourceLabel = "set-on-apply"
			}
			if err := mp.Validate(); err != nil {
				return f.errFrom(err, append(at, "policies", j)...)
			}
		}
	}
	return nil
}

func (g *AutoScalingGroup) model(tgARNs map[string]string) *model.AutoScalingGroup {
	m := &model.AutoScalingGroup{
		Name:                   g.Name,
		LaunchTemplate:         model.LaunchTemplateSpec{Name: g.LaunchTemplate.Name, Version: g.LaunchTemplate.Version},
		MinSize:                g.MinSize,
		MaxSize:                g.MaxSize,
		Desired:                g.desired(),
		Zones:                  g.Zones,
		HealthCheckType:        g.HealthCheckType,
		HealthCheckGracePeriod: g.HealthCheckGracePeriod,
		DefaultInstanceWarmup:  -1,
		TerminationPolicies:    g.TerminationPolicies,
		Source:                 SourceFile,
	}
	if g.DefaultInstanceWarmup != nil {
		m.DefaultInstanceWarmup = *g.DefaultInstanceWarmup
	}
	for _, tg := range g.TargetGroups {
		m.TargetGroupARNs = append(m.TargetGroupARNs, tgARNs[tg])
	}
	return m
}

func (p *Policy) model(group string) *model.ScalingPolicy {
	m := &model.ScalingPolicy{Name: p.Name, Group: group, PolicyType: "TargetTrackingScaling", MetricType: p.Metric,
		TargetValue: p.TargetValue, DisableScaleIn: p.DisableScaleIn, EstimatedInstanceWarmup: -1, Enabled: true, Source: SourceFile}
	if p.EstimatedInstanceWarmup != nil {
		m.EstimatedInstanceWarmup = *p.EstimatedInstanceWarmup
	}
	return m
}

// applyAutoScaling declares the file's templates, groups and policies to
// the service layer and removes the file's groups the file no longer has.
func (f *File) applyAutoScaling(tx store.Tx, tgARNs map[string]string, now time.Time) error {
	for i, lt := range f.LaunchTemplates {
		var vs []autoscaling.TemplateVersion
		for _, v := range lt.Versions {
			vs = append(vs, autoscaling.TemplateVersion{Description: v.Description, Data: v.model()})
		}
		if _, err := autoscaling.DeclareTemplate(tx, lt.Name, vs, lt.DefaultVersion, now); err != nil {
			var changed *autoscaling.ChangedVersionError
			if errors.As(err, &changed) {
				return f.errFrom(err, "launch_templates", i, "versions", changed.Version-1)
			}
			return f.errFrom(err, "launch_templates", i)
		}
	}
	keep := map[string]bool{}
	for i := range f.AutoScalingGroups {
		g := &f.AutoScalingGroups[i]
		keep[g.Name] = true
		if err := autoscaling.DeclareGroup(tx, g.model(tgARNs), now); err != nil {
			return f.errFrom(err, "auto_scaling_groups", i)
		}
		if err := f.applyPolicies(tx, i, g, tgARNs); err != nil {
			return err
		}
	}
	groups, err := autoscaling.Groups(tx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.Source == SourceFile && !keep[g.Name] {
			if err := autoscaling.DeleteGroup(tx, g.Name, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *File) applyPolicies(tx store.Tx, i int, g *AutoScalingGroup, tgARNs map[string]string) error {
	keep := map[string]bool{}
	for j, p := range g.Policies {
		mp := p.model(g.Name)
		if mp.MetricType == "ALBRequestCountPerTarget" {
			label, err := labelFor(tx, tgARNs[p.TargetGroup])
			if err != nil {
				return f.errFrom(err, "auto_scaling_groups", i, "policies", j)
			}
			mp.ResourceLabel = label
		}
		if err := autoscaling.DeclarePolicy(tx, mp); err != nil {
			return f.errFrom(err, "auto_scaling_groups", i, "policies", j)
		}
		keep[mp.Name] = true
	}
	return autoscaling.DeleteUndeclaredPolicies(tx, g.Name, keep)
}

// labelFor builds the resource label of a target group from the listener
// that forwards to it.
func labelFor(tx store.Tx, tgARN string) (string, error) {
	ls, err := elb.Listeners(tx)
	if err != nil {
		return "", err
	}
	for _, l := range ls {
		for _, a := range l.DefaultActions {
			for _, arn := range elb.ActionTargetGroups(&a) {
				if arn == tgARN {
					return autoscaling.ResourceLabel(l.LoadBalancerARN, tgARN), nil
				}
			}
		}
	}
	return "", fmt.Errorf("ALBRequestCountPerTarget needs its target group to be served by a load balancer listener")
}
