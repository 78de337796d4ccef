package autoscaling

import (
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
)

// The series auto scaling writes and decides on, named once for the
// controller that writes them and the fronts that read them.

// InstanceCPUMetric is the series of an instance's CPU utilization, as
// CloudWatch names it.
func InstanceCPUMetric(id string) metrics.Metric {
	return metrics.New(metrics.NamespaceEC2, "CPUUtilization", metrics.DimInstanceID, id)
}

// PolicySeries is the series a target tracking policy decides on: for
// ASGAverageCPUUtilization the group's CPUUtilization (averaged over its
// instances past their warmup), which is what AWS's alarms watch; for
// ALBRequestCountPerTarget the requests per minute per ready instance,
// under Alba's own namespace since AWS's RequestCountPerTarget is per
// healthy target and per period.
func PolicySeries(p *model.ScalingPolicy) metrics.Metric {
	if p.MetricType == "ASGAverageCPUUtilization" {
		return metrics.New(metrics.NamespaceEC2, "CPUUtilization", metrics.DimAutoScalingGroup, p.Group)
	}
	return metrics.New(NamespaceTracking, p.MetricType, metrics.DimAutoScalingGroup, p.Group, "PolicyName", p.Name)
}

// NamespaceTracking holds the policy metrics that have no CloudWatch name.
const NamespaceTracking = "Alba/TargetTracking"
