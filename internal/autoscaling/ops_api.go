package autoscaling

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// Operations the AWS API needs beyond the ones the YAML file uses: partial
// updates of a group, user-requested terminations and health, target group
// attachment, tags, and deletion of policies and template versions. Each
// works inside the caller's transaction; the controller notices the
// results and acts (launches, drains, stops).

// GroupChange holds what UpdateAutoScalingGroup may change; nil fields are
// left as they are.
type GroupChange struct {
	LaunchTemplate                   *model.LaunchTemplateSpec
	MinSize, MaxSize, Desired        *int
	DefaultCooldown                  *int
	Zones                            []string
	HealthCheckType                  *string
	HealthCheckGracePeriod           *int
	TerminationPolicies              []string
	NewInstancesProtectedFromScaleIn *bool
	// DefaultInstanceWarmup: -1 clears it.
	DefaultInstanceWarmup *int
}

// UpdateGroup applies a change as UpdateAutoScalingGroup does: a new
// MinSize above the desired capacity raises it, a new MaxSize below it
// lowers it, and an explicit desired capacity must lie between the bounds.
func UpdateGroup(tx store.Tx, name string, ch GroupChange, now time.Time) (*model.AutoScalingGroup, error) {
	g, err := Group(tx, name)
	if err != nil {
		return nil, err
	}
	if g.Status != "" {
		return nil, model.Errorf("ValidationError", "AutoScalingGroup %s is pending delete.", name)
	}
	oldDesired := g.Desired
	if ch.MinSize != nil {
		g.MinSize = *ch.MinSize
	}
	if ch.MaxSize != nil {
		g.MaxSize = *ch.MaxSize
	}
	if g.MinSize > g.MaxSize {
		return nil, model.Errorf("ValidationError", "Max bound, %d, must be greater than or equal to min bound, %d", g.MaxSize, g.MinSize)
	}
	if ch.Desired != nil {
		d := *ch.Desired
		if d < g.MinSize {
			return nil, model.Errorf("ValidationError", "Desired capacity:%d must be between the specified min size:%d and max size:%d", d, g.MinSize, g.MaxSize)
		}
		if d > g.MaxSize {
			return nil, model.Errorf("ValidationError", "Desired capacity:%d must be between the specified min size:%d and max size:%d", d, g.MinSize, g.MaxSize)
		}
		g.Desired = d
	} else {
		g.Desired = min(max(g.Desired, g.MinSize), g.MaxSize)
	}
	if ch.LaunchTemplate != nil {
		g.LaunchTemplate = *ch.LaunchTemplate
	}
	if ch.DefaultCooldown != nil {
		g.DefaultCooldown = *ch.DefaultCooldown
	}
	if ch.Zones != nil {
		g.Zones = ch.Zones
	}
	if ch.HealthCheckType != nil {
		g.HealthCheckType = *ch.HealthCheckType
	}
	if ch.HealthCheckGracePeriod != nil {
		g.HealthCheckGracePeriod = *ch.HealthCheckGracePeriod
	}
	if ch.TerminationPolicies != nil {
		g.TerminationPolicies = ch.TerminationPolicies
	}
	if ch.NewInstancesProtectedFromScaleIn != nil {
		g.NewInstancesProtectedFromScaleIn = *ch.NewInstancesProtectedFromScaleIn
	}
	if ch.DefaultInstanceWarmup != nil {
		g.DefaultInstanceWarmup = max(*ch.DefaultInstanceWarmup, -1)
	}
	if g.Desired != oldDesired {
		g.DesiredCause = constraintsCause(now, g, oldDesired)
	}
	return g, PutGroup(tx, g)
}

// TerminateInstance starts terminating an instance at a user's request, as
// the controller's own terminations do: its targets are deregistered (they
// drain), it is marked Terminating with an activity, and the controller
// stops and removes it once drained. With decrement the desired capacity
// drops by one; otherwise the controller launches a replacement.
func TerminateInstance(tx store.Tx, id string, decrement bool, now time.Time) (*model.Activity, error) {
	inst, err := Instance(tx, id)
	if err != nil {
		return nil, err
	}
	g, err := Group(tx, inst.Group)
	if err != nil {
		return nil, err
	}
	switch inst.LifecycleState {
	case model.LifecycleTerminating, model.LifecycleTerminated:
		if a, err := activityByID(tx, g.Name, inst.TerminateActivity); err == nil && a != nil {
			return a, nil
		}
		return nil, model.Errorf("ValidationError", "Instance %s is already terminating", id)
	case model.LifecyclePending:
		if inst.Runtime.PID == 0 && inst.Runtime.ContainerID == "" {
			return nil, model.Errorf("ScalingActivityInProgress", "Instance %s is still launching; try again when it is InService", id)
		}
	}
	cause := fmt.Sprintf("At %s instance %s taken out of service in response to a user request.", Stamp(now), id)
	if decrement {
		if g.Desired-1 < g.MinSize {
			return nil, model.Errorf("ValidationError", "Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.MinSize)
		}
		cause = fmt.Sprintf("At %s instance %s taken out of service in response to a user request, shrinking the capacity from %d to %d.", Stamp(now), id, g.Desired, g.Desired-1)
		g.Desired--
		g.DesiredCause = ""
		if err := store.PutJSON(tx, model.KindAutoScalingGroup, g.Name, g); err != nil {
			return nil, err
		}
	}
	act := NewActivity(g, inst.Zone, "Terminating EC2 instance: "+id, cause, now)
	if len(g.TargetGroupARNs) > 0 {
		act.StatusCode = model.ActivityWaitingForELBDraining
	}
	for _, arn := range g.TargetGroupARNs {
		if err := elb.DeregisterTargets(tx, arn, []elb.TargetRef{{ID: inst.ID, Port: inst.Port}}, now); err != nil && !model.HasCode(err, "TargetGroupNotFound") {
			return nil, err
		}
	}
	inst.LifecycleState = model.LifecycleTerminating
	t := now
	inst.TerminatingSince = &t
	inst.TerminateActivity = act.ID
	if err := PutInstance(tx, inst); err != nil {
		return nil, err
	}
	return act, RecordActivity(tx, act)
}

func activityByID(tx store.Tx, group, id string) (*model.Activity, error) {
	as, err := Activities(tx, group)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, nil
}

// SetInstanceHealth sets an instance's health status (Healthy or
// Unhealthy); the controller replaces in-service instances that are
// Unhealthy. With respectGrace, marking an instance Unhealthy within its
// group's health check grace period is ignored, as on AWS.
func SetInstanceHealth(tx store.Tx, id, status string, respectGrace bool, now time.Time) error {
	if status != "Healthy" && status != "Unhealthy" {
		return model.Errorf("ValidationError", "Valid instance health states are: [Healthy, Unhealthy].")
	}
	inst, err := Instance(tx, id)
	if err != nil {
		return err
	}
	g, err := Group(tx, inst.Group)
	if err != nil {
		return err
	}
	if status == "Unhealthy" && respectGrace {
		grace := time.Duration(g.HealthCheckGracePeriod) * time.Second
		if inst.InServiceTime == nil || now.Sub(*inst.InServiceTime) < grace {
			return nil
		}
	}
	if inst.LifecycleState == model.LifecycleTerminating || inst.HealthStatus == status {
		return nil
	}
	inst.HealthStatus = status
	return PutInstance(tx, inst)
}

// AttachTargetGroups adds target groups to a group and registers its
// running instances with them.
func AttachTargetGroups(tx store.Tx, name string, arns []string, now time.Time) error {
	g, err := Group(tx, name)
	if err != nil {
		return err
	}
	if err := checkTargetGroups(tx, arns); err != nil {
		return err
	}
	for _, arn := range arns {
		if !slices.Contains(g.TargetGroupARNs, arn) {
			g.TargetGroupARNs = append(g.TargetGroupARNs, arn)
		}
	}
	insts, err := InstancesOf(tx, name)
	if err != nil {
		return err
	}
	for _, inst := range insts {
		if inst.PrivateIP == "" || (inst.LifecycleState != model.LifecycleInService && inst.LifecycleState != model.LifecyclePending) {
			continue
		}
		for _, arn := range arns {
			t := model.Target{ID: inst.ID, Port: inst.Port, Address: inst.PrivateIP, AvailabilityZone: inst.Zone, Source: "autoscaling"}
			if err := elb.RegisterTargets(tx, arn, []model.Target{t}, now); err != nil {
				return err
			}
		}
	}
	return PutGroup(tx, g)
}

// DetachTargetGroups removes target groups from a group and deregisters
// its instances from them (they drain).
func DetachTargetGroups(tx store.Tx, name string, arns []string, now time.Time) error {
	g, err := Group(tx, name)
	if err != nil {
		return err
	}
	var keep []string
	for _, arn := range g.TargetGroupARNs {
		if !slices.Contains(arns, arn) {
			keep = append(keep, arn)
		}
	}
	insts, err := InstancesOf(tx, name)
	if err != nil {
		return err
	}
	for _, arn := range arns {
		if !slices.Contains(g.TargetGroupARNs, arn) {
			continue
		}
		for _, inst := range insts {
			if err := elb.DeregisterTargets(tx, arn, []elb.TargetRef{{ID: inst.ID, Port: inst.Port}}, now); err != nil && !model.HasCode(err, "TargetGroupNotFound") {
				return err
			}
		}
	}
	g.TargetGroupARNs = keep
	return PutGroup(tx, g)
}

// GroupTag is a tag on the named group.
type GroupTag struct {
	Group string
	Tag   model.Tag
}

// CreateOrUpdateTags sets tags on groups, replacing the values (and
// PropagateAtLaunch) of keys they already have.
func CreateOrUpdateTags(tx store.Tx, tags []GroupTag) error {
	return changeGroupTags(tx, tags, false)
}

// DeleteTags removes tags (by key) from groups.
func DeleteTags(tx store.Tx, tags []GroupTag) error {
	return changeGroupTags(tx, tags, true)
}

func changeGroupTags(tx store.Tx, tags []GroupTag, remove bool) error {
	for _, t := range tags {
		if err := model.ValidateTags([]model.Tag{t.Tag}, "LimitExceeded", "ValidationError"); err != nil {
			return err
		}
		g, err := Group(tx, t.Group)
		if err != nil {
			return err
		}
		if remove {
			g.Tags = model.MergeTags(g.Tags, nil, []string{t.Tag.Key})
		} else {
			g.Tags = model.MergeTags(g.Tags, []model.Tag{t.Tag}, nil)
		}
		if len(g.Tags) > model.MaxTags {
			return model.Errorf("LimitExceeded", "An Auto Scaling group can have at most %d tags", model.MaxTags)
		}
		if err := store.PutJSON(tx, model.KindAutoScalingGroup, g.Name, g); err != nil {
			return err
		}
	}
	return nil
}

// Policy returns a group's policy by name, or ValidationError.
func Policy(tx store.Tx, group, name string) (*model.ScalingPolicy, error) {
	p, err := store.GetJSON[model.ScalingPolicy](tx, model.KindScalingPolicy, group+"|"+name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf("ValidationError", "Scaling policy %s not found for AutoScalingGroup %s", name, group)
	}
	return p, err
}

// DeletePolicy deletes a group's policy.
func DeletePolicy(tx store.Tx, group, name string) error {
	if _, err := Group(tx, group); err != nil {
		return err
	}
	p, err := Policy(tx, group, name)
	if err != nil {
		return err
	}
	return tx.Delete(model.KindScalingPolicy, p.Key())
}

// DeleteVersion deletes one version of a template; the default version
// cannot be deleted. Errors carry EC2's per-version codes
// (unexpectedError for the default version, launchTemplateVersionDoesNotExist).
func DeleteVersion(tx store.Tx, lt *model.LaunchTemplate, n int) error {
	if n == lt.DefaultVersion {
		return model.Errorf("unexpectedError", "The default version of a launch template cannot be deleted: make another version the default first")
	}
	key := model.VersionKey(lt.ID, n)
	if _, err := tx.Get(model.KindLaunchTemplateVersion, key); errors.Is(err, store.ErrNotFound) {
		return model.Errorf("launchTemplateVersionDoesNotExist", "Could not find launch template version %d", n)
	} else if err != nil {
		return err
	}
	return tx.Delete(model.KindLaunchTemplateVersion, key)
}

// SetInstanceProtection sets the scale-in protection of instances of a
// group.
func SetInstanceProtection(tx store.Tx, group string, ids []string, protected bool) error {
	if _, err := Group(tx, group); err != nil {
		return err
	}
	for _, id := range ids {
		inst, err := Instance(tx, id)
		if err != nil {
			return err
		}
		if inst.Group != group {
			return model.Errorf("ValidationError", "The instance %s is not part of Auto Scaling group %s.", id, group)
		}
		inst.ProtectedFromScaleIn = protected
		if err := PutInstance(tx, inst); err != nil {
			return err
		}
	}
	return nil
}
