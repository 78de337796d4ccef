package model

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Store kinds of the auto scaling resources.
const (
	KindLaunchTemplate        = "launchtemplates"
	KindLaunchTemplateVersion = "launchtemplateversions"
	KindAutoScalingGroup      = "autoscalinggroups"
	KindInstance              = "instances"
	KindScalingPolicy         = "scalingpolicies"
	KindActivity              = "activities"
)

// LaunchTemplate is a named, versioned description of what an instance runs.
type LaunchTemplate struct {
	// ID is lt- and 17 hex digits.
	ID   string `json:"id"`
	Name string `json:"name"`
	// DefaultVersion is what $Default means; LatestVersion what $Latest means.
	DefaultVersion int       `json:"default_version"`
	LatestVersion  int       `json:"latest_version"`
	CreateTime     time.Time `json:"create_time"`
	Tags           []Tag     `json:"tags,omitempty"`
	Source         string    `json:"source,omitempty"`
}

// LaunchTemplateVersion is one immutable version of a template.
type LaunchTemplateVersion struct {
	TemplateID  string             `json:"template_id"`
	Number      int                `json:"number"`
	Description string             `json:"description,omitempty"`
	CreateTime  time.Time          `json:"create_time"`
	Data        LaunchTemplateData `json:"data"`
}

// Key is the version's store key.
func (v *LaunchTemplateVersion) Key() string { return VersionKey(v.TemplateID, v.Number) }

// VersionKey builds a version's store key; numbers sort numerically.
func VersionKey(templateID string, n int) string { return fmt.Sprintf("%s|%08d", templateID, n) }

// LaunchTemplateData is what an instance is launched with.
type LaunchTemplateData struct {
	// ImageID names a Docker image for the Docker provider; the process
	// provider records it and runs the user data.
	ImageID string `json:"image_id,omitempty"`
	// InstanceType sets the instance's vCPUs and memory (t2.micro, …).
	InstanceType string `json:"instance_type,omitempty"`
	// UserData is the boot script, base64-encoded as on AWS.
	UserData string `json:"user_data,omitempty"`
	// Environment is extra environment for the instance (an Alba
	// extension: EC2 has no such field).
	Environment map[string]string `json:"environment,omitempty"`
	// SecurityGroupIDs and KeyName are accepted and recorded.
	SecurityGroupIDs []string `json:"security_group_ids,omitempty"`
	KeyName          string   `json:"key_name,omitempty"`
	// InstanceTags tag launched instances.
	InstanceTags []Tag `json:"instance_tags,omitempty"`
}

// DecodedUserData returns the boot script text.
func (d *LaunchTemplateData) DecodedUserData() (string, error) {
	if d.UserData == "" {
		return "", nil
	}
	b, err := base64.StdEncoding.DecodeString(d.UserData)
	if err != nil {
		return "", Errorf("InvalidUserData.Malformed", "user data is not valid base64")
	}
	return string(b), nil
}

var templateNameRe = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)

// ValidateLaunchTemplateName checks AWS's rule: 3-128 of [a-zA-Z0-9().-/_].
func ValidateLaunchTemplateName(name string) error {
	if !templateNameRe.MatchString(name) {
		return Errorf("InvalidLaunchTemplateName.MalformedException", "launch template name '%s' must be 3-128 characters of letters, digits and ( ) . - / _", name)
	}
	return nil
}

// Validate checks template data.
func (d *LaunchTemplateData) Validate() error {
	if d.InstanceType != "" {
		if _, ok := InstanceTypes[d.InstanceType]; !ok {
			return Errorf("InvalidParameterValue", "instance type '%s' is not supported; use one of %s", d.InstanceType, strings.Join(InstanceTypeNames(), ", "))
		}
	}
	ud, err := d.DecodedUserData()
	if err != nil {
		return err
	}
	if len(ud) > 16<<10 {
		return Errorf("InvalidParameterValue", "user data is over 16 KB")
	}
	return nil
}

// LaunchTemplateSpec is how a group names its template.
type LaunchTemplateSpec struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// Version is a number, $Latest or $Default (the default).
	Version string `json:"version,omitempty"`
}

// AutoScalingGroup keeps a number of instances running.
type AutoScalingGroup struct {
	ARN            string             `json:"arn"`
	Name           string             `json:"name"`
	LaunchTemplate LaunchTemplateSpec `json:"launch_template"`
	MinSize        int                `json:"min_size"`
	MaxSize        int                `json:"max_size"`
	Desired        int                `json:"desired_capacity"`
	// Zones the group launches into, balanced.
	Zones []string `json:"zones"`
	// TargetGroupARNs register every instance.
	TargetGroupARNs []string `json:"target_group_arns,omitempty"`
	// HealthCheckType is EC2 or ELB.
	HealthCheckType string `json:"health_check_type"`
	// HealthCheckGracePeriod is in seconds from InService.
	HealthCheckGracePeriod int `json:"health_check_grace_period"`
	// DefaultCooldown in seconds (simple scaling only).
	DefaultCooldown int `json:"default_cooldown"`
	// DefaultInstanceWarmup in seconds; -1 when unset.
	DefaultInstanceWarmup int      `json:"default_instance_warmup"`
	TerminationPolicies   []string `json:"termination_policies"`
	// NewInstancesProtectedFromScaleIn protects launched instances.
	NewInstancesProtectedFromScaleIn bool      `json:"new_instances_protected_from_scale_in,omitempty"`
	CreatedTime                      time.Time `json:"created_time"`
	Tags                             []Tag     `json:"tags,omitempty"`
	// Status is "" or "Delete in progress".
	Status string `json:"status,omitempty"`
	// DesiredCause says why the desired capacity last changed ("At … a
	// user request …"); launch and terminate activities quote it.
	DesiredCause string `json:"desired_cause,omitempty"`
	// FileDesired is the desired capacity the YAML file last said, so that
	// a reload changes the capacity only when the file does.
	FileDesired *int   `json:"file_desired,omitempty"`
	Source      string `json:"source,omitempty"`
}

// ApplyDefaults fills AWS's defaults (API/CLI values: grace period 0,
// cooldown 300, EC2 health checks, Default termination policy).
func (g *AutoScalingGroup) ApplyDefaults() {
	if g.HealthCheckType == "" {
		g.HealthCheckType = "EC2"
	}
	if g.DefaultCooldown == 0 {
		g.DefaultCooldown = 300
	}
	if len(g.TerminationPolicies) == 0 {
		g.TerminationPolicies = []string{"Default"}
	}
	if g.LaunchTemplate.Version == "" {
		g.LaunchTemplate.Version = "$Default"
	}
}

// Validate checks a group's own fields.
func (g *AutoScalingGroup) Validate() error {
	if g.Name == "" || len(g.Name) > 255 || strings.Contains(g.Name, ":") {
		return validationf("auto scaling group name '%s' must be 1-255 characters without ':'", g.Name)
	}
	if g.MinSize < 0 || g.MaxSize < 0 {
		return validationf("min size and max size must not be negative")
	}
	if g.MinSize > g.MaxSize {
		return validationf("min size (%d) must not be greater than max size (%d)", g.MinSize, g.MaxSize)
	}
	if g.Desired < g.MinSize || g.Desired > g.MaxSize {
		return validationf("desired capacity %d must be between the min size %d and the max size %d", g.Desired, g.MinSize, g.MaxSize)
	}
	if g.LaunchTemplate.ID == "" && g.LaunchTemplate.Name == "" {
		return validationf("a launch template (id or name) is required")
	}
	if v := g.LaunchTemplate.Version; v != "$Default" && v != "$Latest" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return validationf("launch template version '%s' must be a number, $Latest or $Default", v)
		}
	}
	if len(g.Zones) == 0 {
		return validationf("at least one zone (subnet) is required")
	}
	switch g.HealthCheckType {
	case "EC2", "ELB":
	default:
		return validationf("health check type '%s' must be EC2 or ELB", g.HealthCheckType)
	}
	if g.HealthCheckGracePeriod < 0 {
		return validationf("health check grace period must not be negative")
	}
	for _, p := range g.TerminationPolicies {
		switch p {
		case "Default", "OldestInstance", "NewestInstance", "OldestLaunchTemplate", "ClosestToNextInstanceHour", "AllocationStrategy", "OldestLaunchConfiguration":
		default:
			return validationf("termination policy '%s' is not supported", p)
		}
	}
	return nil
}

// Lifecycle states of an instance.
const (
	LifecyclePending     = "Pending"
	LifecycleInService   = "InService"
	LifecycleTerminating = "Terminating"
	LifecycleTerminated  = "Terminated"
)

// Instance is an instance of an auto scaling group: a process or a
// container that runs the launch template's user data or image.
type Instance struct {
	// ID is i- and 17 hex digits.
	ID    string `json:"id"`
	Group string `json:"group"`
	Zone  string `json:"zone"`
	// LaunchTemplate with the version resolved to a number.
	LaunchTemplate LaunchTemplateSpec `json:"launch_template"`
	InstanceType   string             `json:"instance_type"`
	// LifecycleState is Pending, InService, Terminating or Terminated.
	LifecycleState string `json:"lifecycle_state"`
	// HealthStatus is Healthy or Unhealthy.
	HealthStatus         string `json:"health_status"`
	ProtectedFromScaleIn bool   `json:"protected_from_scale_in,omitempty"`
	// PrivateIP and Port are where the instance serves; targets register
	// with them.
	PrivateIP string `json:"private_ip"`
	Port      int    `json:"port"`
	// LaunchTime, InServiceTime and TerminatingSince mark the lifecycle.
	LaunchTime       time.Time  `json:"launch_time"`
	InServiceTime    *time.Time `json:"in_service_time,omitempty"`
	TerminatingSince *time.Time `json:"terminating_since,omitempty"`
	// TerminateActivity is the activity that tracks the termination.
	TerminateActivity string `json:"terminate_activity,omitempty"`
	// Runtime is what the provider needs to find the instance again
	// (after a restart of Alba).
	Runtime InstanceRuntime `json:"runtime"`
}

// InstanceRuntime is the provider's record of a running instance.
type InstanceRuntime struct {
	Provider string `json:"provider"`
	// PID and StartTicks identify a process (start time in clock ticks
	// since boot guards against PID reuse).
	PID        int    `json:"pid,omitempty"`
	StartTicks uint64 `json:"start_ticks,omitempty"`
	// ContainerID for the Docker provider.
	ContainerID string `json:"container_id,omitempty"`
	// DockerHost is the endpoint of the engine the container runs on
	// (empty in records from before zones had engines: the default one).
	DockerHost string `json:"docker_host,omitempty"`
	WorkDir    string `json:"work_dir,omitempty"`
	LogPath    string `json:"log_path,omitempty"`
	CgroupPath string `json:"cgroup_path,omitempty"`
}

// ScalingPolicy is a target-tracking policy of a group.
type ScalingPolicy struct {
	ARN        string `json:"arn"`
	Name       string `json:"name"`
	Group      string `json:"group"`
	PolicyType string `json:"policy_type"` // TargetTrackingScaling
	// MetricType is ASGAverageCPUUtilization or ALBRequestCountPerTarget.
	MetricType string `json:"metric_type"`
	// ResourceLabel names the target group for ALBRequestCountPerTarget.
	ResourceLabel  string  `json:"resource_label,omitempty"`
	TargetValue    float64 `json:"target_value"`
	DisableScaleIn bool    `json:"disable_scale_in,omitempty"`
	// EstimatedInstanceWarmup in seconds; -1 when unset.
	EstimatedInstanceWarmup int  `json:"estimated_instance_warmup"`
	Enabled                 bool `json:"enabled"`
	// AlarmHigh and AlarmLow name the alarms AWS would create, for the
	// activity causes and PutScalingPolicy's answer.
	AlarmHigh string `json:"alarm_high"`
	AlarmLow  string `json:"alarm_low"`
	Source    string `json:"source,omitempty"`
}

// Key is the policy's store key.
func (p *ScalingPolicy) Key() string { return p.Group + "|" + p.Name }

// Validate checks a target tracking policy.
func (p *ScalingPolicy) Validate() error {
	if p.Name == "" || len(p.Name) > 255 || strings.Contains(p.Name, ":") {
		return validationf("policy name '%s' must be 1-255 characters without ':'", p.Name)
	}
	if p.PolicyType != "TargetTrackingScaling" {
		return validationf("policy type '%s' is not supported: use TargetTrackingScaling", p.PolicyType)
	}
	switch p.MetricType {
	case "ASGAverageCPUUtilization":
	case "ALBRequestCountPerTarget":
		if p.ResourceLabel == "" {
			return validationf("ALBRequestCountPerTarget needs a resource label: app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>")
		}
	default:
		return validationf("predefined metric type '%s' must be ASGAverageCPUUtilization or ALBRequestCountPerTarget", p.MetricType)
	}
	if p.TargetValue <= 0 {
		return validationf("target value %v must be greater than 0", p.TargetValue)
	}
	if p.MetricType == "ASGAverageCPUUtilization" && p.TargetValue > 100 {
		return validationf("a CPU utilization target value %v must be at most 100", p.TargetValue)
	}
	return nil
}

// Activity statuses.
const (
	ActivityInProgress               = "InProgress"
	ActivityPreInService             = "PreInService"
	ActivityWaitingForELBDraining    = "WaitingForELBConnectionDraining"
	ActivitySuccessful               = "Successful"
	ActivityFailed                   = "Failed"
	ActivityCancelled                = "Cancelled"
	ActivityWaitingForInstanceWarmup = "WaitingForInstanceWarmup"
	ActivityMidLifecycleAction       = "MidLifecycleAction"
)

// Activity is a record of a scaling activity, as DescribeScalingActivities
// shows it.
type Activity struct {
	ID            string     `json:"id"`
	Group         string     `json:"group"`
	Description   string     `json:"description"`
	Cause         string     `json:"cause"`
	StartTime     time.Time  `json:"start_time"`
	EndTime       *time.Time `json:"end_time,omitempty"`
	StatusCode    string     `json:"status_code"`
	StatusMessage string     `json:"status_message,omitempty"`
	Progress      int        `json:"progress"`
	Details       string     `json:"details"`
}

// Key sorts activities by time within a group (newest last).
func (a *Activity) Key() string {
	return a.Group + "|" + a.StartTime.UTC().Format("20060102T150405.000000000") + "|" + a.ID
}
