package awsapi

import (
	"slices"
	"strings"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- scaling policies: put, describe, delete (target tracking only).

type alarmXML struct{ AlarmName, AlarmARN string }

func alarmsXML(p *model.ScalingPolicy) memberList[alarmXML] {
	var out []alarmXML
	for _, arn := range []string{p.AlarmHigh, p.AlarmLow} {
		if arn == "" {
			continue
		}
		name := arn
		if i := strings.Index(arn, ":alarm:"); i >= 0 {
			name = arn[i+len(":alarm:"):]
		}
		out = append(out, alarmXML{name, arn})
	}
	return members(out)
}

type predefinedMetricXML struct {
	PredefinedMetricType string
	ResourceLabel        string `xml:",omitempty"`
}

type targetTrackingXML struct {
	PredefinedMetricSpecification predefinedMetricXML
	TargetValue                   double
	DisableScaleIn                bool
}

type policyXML struct {
	AutoScalingGroupName        string
	PolicyName                  string
	PolicyARN                   string
	PolicyType                  string
	StepAdjustments             memberList[string]
	Alarms                      memberList[alarmXML]
	TargetTrackingConfiguration targetTrackingXML
	Enabled                     bool
	EstimatedInstanceWarmup     *int
}

func policyOut(p *model.ScalingPolicy) policyXML {
	x := policyXML{AutoScalingGroupName: p.Group, PolicyName: p.Name, PolicyARN: p.ARN, PolicyType: p.PolicyType, Alarms: alarmsXML(p),
		TargetTrackingConfiguration: targetTrackingXML{predefinedMetricXML{p.MetricType, p.ResourceLabel}, double(p.TargetValue), p.DisableScaleIn},
		Enabled:                     p.Enabled}
	if p.EstimatedInstanceWarmup >= 0 {
		x.EstimatedInstanceWarmup = &p.EstimatedInstanceWarmup
	}
	return x
}

type putScalingPolicyIn struct {
	groupNameIn
	PolicyName                  string `q:"PolicyName,req"`
	PolicyType                  string `q:"PolicyType"`
	TargetTrackingConfiguration struct {
		CustomizedMetricSpecification *struct{} `q:"CustomizedMetricSpecification"`
		TargetValue                   *float64  `q:"TargetValue"`
		DisableScaleIn                *bool     `q:"DisableScaleIn"`
		PredefinedMetricSpecification struct {
			PredefinedMetricType string `q:"PredefinedMetricType"`
			ResourceLabel        string `q:"ResourceLabel"`
		} `q:"PredefinedMetricSpecification"`
	} `q:"TargetTrackingConfiguration"`
	EstimatedInstanceWarmup *int  `q:"EstimatedInstanceWarmup"`
	Enabled                 *bool `q:"Enabled"`
}

type putScalingPolicyOut struct {
	PolicyARN string
	Alarms    memberList[alarmXML]
}

func (h *handler) putScalingPolicy(c *call, in *putScalingPolicyIn) (any, error) {
	typ := in.PolicyType
	if typ == "" {
		typ = "SimpleScaling"
	}
	if typ != "TargetTrackingScaling" {
		return nil, validation("Policy type %s is not supported: Alba supports only target tracking scaling policies (PolicyType TargetTrackingScaling)", model.Quote(typ))
	}
	tt := in.TargetTrackingConfiguration
	if tt.CustomizedMetricSpecification != nil {
		return nil, validation("Customized metric specifications are not supported: use a PredefinedMetricSpecification")
	}
	if tt.TargetValue == nil {
		return nil, validation("TargetTrackingConfiguration.TargetValue is required for a target tracking policy")
	}
	pm := tt.PredefinedMetricSpecification
	if pm.PredefinedMetricType == "" {
		return nil, validation("TargetTrackingConfiguration.PredefinedMetricSpecification.PredefinedMetricType is required")
	}
	p := &model.ScalingPolicy{Name: in.PolicyName, Group: in.AutoScalingGroupName, PolicyType: typ, MetricType: pm.PredefinedMetricType,
		ResourceLabel: pm.ResourceLabel, TargetValue: *tt.TargetValue, DisableScaleIn: tt.DisableScaleIn != nil && *tt.DisableScaleIn,
		EstimatedInstanceWarmup: max(orDefault(in.EstimatedInstanceWarmup, -1), -1), Enabled: in.Enabled == nil || *in.Enabled, Source: SourceAPI}
	if err := h.update(func(tx store.Tx) error { return autoscaling.PutPolicy(tx, p) }); err != nil {
		return nil, err
	}
	return putScalingPolicyOut{p.ARN, alarmsXML(p)}, nil
}

type describePoliciesIn struct {
	AutoScalingGroupName string   `q:"AutoScalingGroupName"`
	PolicyNames          []string `q:"PolicyNames"`
	PolicyTypes          []string `q:"PolicyTypes"`
	MaxRecords           *int     `q:"MaxRecords,min=1,max=100"`
	tokenPage
}

type policiesOut struct {
	ScalingPolicies memberList[policyXML]
	NextToken       string `xml:",omitempty"`
}

func (h *handler) describePolicies(c *call, in *describePoliciesIn) (any, error) {
	pg := in.paging(in.MaxRecords, 50)
	ps, next, err := describe(h, pg, autoscaling.Policies, func(p *model.ScalingPolicy) bool {
		return (in.AutoScalingGroupName == "" || p.Group == in.AutoScalingGroupName) &&
			(len(in.PolicyNames) == 0 || slices.Contains(in.PolicyNames, p.Name) || slices.Contains(in.PolicyNames, p.ARN)) &&
			(len(in.PolicyTypes) == 0 || slices.Contains(in.PolicyTypes, p.PolicyType))
	}, func(p *model.ScalingPolicy) string { return p.Key() },
		func(_ store.Tx, p *model.ScalingPolicy) (policyXML, error) { return policyOut(p), nil })
	if err != nil {
		return nil, err
	}
	return policiesOut{members(ps), next}, nil
}

type deletePolicyIn struct {
	PolicyName           string `q:"PolicyName,req"`
	AutoScalingGroupName string `q:"AutoScalingGroupName"`
}

func (h *handler) deletePolicy(c *call, in *deletePolicyIn) (any, error) {
	name, group := in.PolicyName, in.AutoScalingGroupName
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
			return validation("Scaling policy %s not found", model.Quote(name))
		}
		if group == "" {
			return c.f.missing("AutoScalingGroupName")
		}
		return autoscaling.DeletePolicy(tx, group, name)
	})
}
