// Package metrics keeps Alba's metrics history: in-memory time series named
// as CloudWatch names them (namespace, metric name, dimensions), at 1 s
// resolution for the last hour and 1 min for the last day. Three readers
// share it: target tracking, the CloudWatch API and the console. A Sampler
// fills it once a second from what the data plane and the controllers count.
package metrics

import (
	"slices"
	"strings"
)

// The namespaces Alba publishes, as CloudWatch names them.
const (
	NamespaceELB         = "AWS/ApplicationELB"
	NamespaceEC2         = "AWS/EC2"
	NamespaceAutoScaling = "AWS/AutoScaling"
)

// The dimension names Alba's metrics carry, as CloudWatch names them.
// Target is Alba's own: a target of a target group ("id:port"), which
// CloudWatch has no dimension for but the console charts.
const (
	DimLoadBalancer     = "LoadBalancer"
	DimTargetGroup      = "TargetGroup"
	DimAvailabilityZone = "AvailabilityZone"
	DimInstanceID       = "InstanceId"
	DimAutoScalingGroup = "AutoScalingGroupName"
	DimTarget           = "Target"
)

// Dimension is a name/value pair that is part of a metric's identity.
type Dimension struct {
	// Name of the dimension, e.g. LoadBalancer.
	Name string
	// Value of the dimension, e.g. app/my-lb/50dc6c495c0c9188.
	Value string
}

// Metric identifies one time series: the same namespace, name and
// dimensions (in any order) are the same series, as in CloudWatch.
type Metric struct {
	// Namespace is the metric's namespace, e.g. AWS/ApplicationELB.
	Namespace string
	// Name is the metric name, e.g. RequestCount.
	Name string
	// Dimensions qualify the metric; New sorts them by name.
	Dimensions []Dimension
}

// New returns the metric with its dimensions given as name, value pairs
// ("LoadBalancer", "app/x/1", "TargetGroup", "targetgroup/y/2").
func New(namespace, name string, pairs ...string) Metric {
	m := Metric{Namespace: namespace, Name: name}
	for i := 0; i+1 < len(pairs); i += 2 {
		m.Dimensions = append(m.Dimensions, Dimension{pairs[i], pairs[i+1]})
	}
	m.sortDims()
	return m
}

func (m *Metric) sortDims() {
	slices.SortFunc(m.Dimensions, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
}

// Dimension returns the value of the named dimension, "" when absent.
func (m Metric) Dimension(name string) string {
	for _, d := range m.Dimensions {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

// key is the metric's identity as a map key: dimensions in name order.
func (m Metric) key() string {
	ds := m.Dimensions
	if !slices.IsSortedFunc(ds, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) }) {
		ds = slices.Clone(ds)
		slices.SortFunc(ds, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
	}
	var b strings.Builder
	b.WriteString(m.Namespace)
	b.WriteByte(0)
	b.WriteString(m.Name)
	for _, d := range ds {
		b.WriteByte(0)
		b.WriteString(d.Name)
		b.WriteByte('=')
		b.WriteString(d.Value)
	}
	return b.String()
}

// LoadBalancerDimension is the LoadBalancer dimension's value for a load
// balancer or listener ARN: app/NAME/ID, as CloudWatch writes it.
func LoadBalancerDimension(arn string) string {
	for _, sep := range []string{":loadbalancer/", ":listener/"} {
		if i := strings.Index(arn, sep); i >= 0 {
			parts := strings.SplitN(arn[i+len(sep):], "/", 4)
			if len(parts) >= 3 {
				return strings.Join(parts[:3], "/")
			}
		}
	}
	return arn
}

// TargetGroupDimension is the TargetGroup dimension's value for a target
// group ARN: targetgroup/NAME/ID.
func TargetGroupDimension(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
