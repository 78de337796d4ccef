// Package autoscaling is the service layer of Amazon EC2 Auto Scaling's
// concepts: launch templates and their versions, auto scaling groups,
// their instances, target tracking policies and scaling activities. It
// holds their rules and is the only writer of their records; the YAML
// file, the AWS API and the auto scaling controller (package
// asgcontroller) call it inside store transactions.
package autoscaling

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// Groups returns every auto scaling group, by name.
func Groups(tx store.Tx) ([]*model.AutoScalingGroup, error) {
	return store.ListJSON[model.AutoScalingGroup](tx, model.KindAutoScalingGroup)
}

// Group returns the named group, or AWS's ValidationError for an unknown
// name.
func Group(tx store.Tx, name string) (*model.AutoScalingGroup, error) {
	g, err := store.GetJSON[model.AutoScalingGroup](tx, model.KindAutoScalingGroup, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf("ValidationError", "AutoScalingGroup name not found - AutoScalingGroup %s not found", model.Quote(name))
	}
	return g, err
}

// PutGroup validates and writes a group: its launch template and target
// groups must exist.
func PutGroup(tx store.Tx, g *model.AutoScalingGroup) error {
	g.ApplyDefaults()
	if err := g.Validate(); err != nil {
		return err
	}
	lt, err := TemplateByRef(tx, g.LaunchTemplate.ID, g.LaunchTemplate.Name)
	if err != nil {
		return model.Errorf("ValidationError", "%s", err.Error())
	}
	if _, err := ResolveVersion(tx, lt, g.LaunchTemplate.Version); err != nil {
		return model.Errorf("ValidationError", "%s", err.Error())
	}
	if err := checkTargetGroups(tx, g.TargetGroupARNs); err != nil {
		return err
	}
	if err := model.ValidateTags(g.Tags, "LimitExceeded", "ValidationError"); err != nil {
		return err
	}
	if g.ARN == "" {
		g.ARN = model.NewAutoScalingGroupARN(g.Name)
	}
	return store.PutJSON(tx, model.KindAutoScalingGroup, g.Name, g)
}

// checkTargetGroups holds the rule of a group's target groups: they exist,
// and they hold instances, since a group registers its instances.
func checkTargetGroups(tx store.Tx, arns []string) error {
	for _, arn := range arns {
		tg, err := elb.TargetGroup(tx, arn)
		if err != nil {
			return model.Errorf("ValidationError", "Target group %s not found", model.Quote(arn))
		}
		if tg.TargetType != "instance" {
			return model.Errorf("ValidationError", "Target group %s has target type %s; an Auto Scaling group registers instances, so its target groups must have target type instance", tg.Name, tg.TargetType)
		}
	}
	return nil
}

// CreateGroup creates a group; a taken name is AlreadyExists.
func CreateGroup(tx store.Tx, g *model.AutoScalingGroup, now time.Time) error {
	if _, err := store.GetJSON[model.AutoScalingGroup](tx, model.KindAutoScalingGroup, g.Name); err == nil {
		return model.Errorf("AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name %s already exists", g.Name)
	}
	g.CreatedTime = now
	g.DesiredCause = fmt.Sprintf("At %s a user request created an AutoScalingGroup changing the desired capacity from 0 to %d.", Stamp(now), g.Desired)
	return PutGroup(tx, g)
}

// SetDesiredCapacity changes a group's desired capacity, within its
// bounds, and records why.
func SetDesiredCapacity(tx store.Tx, name string, desired int, cause string) error {
	g, err := Group(tx, name)
	if err != nil {
		return err
	}
	if g.Status != "" {
		return model.Errorf("ValidationError", "AutoScalingGroup %s is pending delete.", model.Quote(name))
	}
	if desired < g.MinSize || desired > g.MaxSize {
		return model.Errorf("ValidationError", "New SetDesiredCapacity value %d is below min value %d or above max value %d for the AutoScalingGroup.", desired, g.MinSize, g.MaxSize)
	}
	if desired == g.Desired {
		return nil
	}
	g.Desired = desired
	g.DesiredCause = cause
	return store.PutJSON(tx, model.KindAutoScalingGroup, g.Name, g)
}

// UserCause is the cause text of a user's change of desired capacity.
func UserCause(now time.Time, from, to int) string {
	return fmt.Sprintf("At %s a user request explicitly set group desired capacity changing the desired capacity from %d to %d.", Stamp(now), from, to)
}

// Stamp formats a time as AWS's activity causes do.
func Stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// constraintsCause is the cause of a desired capacity that changed because
// a user changed a group's min, max or desired.
func constraintsCause(now time.Time, g *model.AutoScalingGroup, from int) string {
	return fmt.Sprintf("At %s a user request update of AutoScalingGroup constraints to min: %d, max: %d, desired: %d changing the desired capacity from %d to %d.",
		Stamp(now), g.MinSize, g.MaxSize, g.Desired, from, g.Desired)
}

// Instances returns every instance record.
func Instances(tx store.Tx) ([]*model.Instance, error) {
	return store.ListJSON[model.Instance](tx, model.KindInstance)
}

// InstancesOf returns a group's instances, oldest first.
func InstancesOf(tx store.Tx, group string) ([]*model.Instance, error) {
	all, err := Instances(tx)
	if err != nil {
		return nil, err
	}
	var out []*model.Instance
	for _, i := range all {
		if i.Group == group {
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].LaunchTime.Before(out[b].LaunchTime) })
	return out, nil
}

// Instance returns one instance record.
func Instance(tx store.Tx, id string) (*model.Instance, error) {
	i, err := store.GetJSON[model.Instance](tx, model.KindInstance, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf("ValidationError", "Instance Id not found - No managed instance found for instance ID: %s", model.Quote(id))
	}
	return i, err
}

// PutInstance writes an instance record.
func PutInstance(tx store.Tx, i *model.Instance) error {
	return store.PutJSON(tx, model.KindInstance, i.ID, i)
}

// Policies returns every scaling policy.
func Policies(tx store.Tx) ([]*model.ScalingPolicy, error) {
	return store.ListJSON[model.ScalingPolicy](tx, model.KindScalingPolicy)
}

// PoliciesOf returns a group's policies.
func PoliciesOf(tx store.Tx, group string) ([]*model.ScalingPolicy, error) {
	all, err := Policies(tx)
	var out []*model.ScalingPolicy
	for _, p := range all {
		if p.Group == group {
			out = append(out, p)
		}
	}
	return out, err
}

// PutPolicy creates or replaces a policy of an existing group.
func PutPolicy(tx store.Tx, p *model.ScalingPolicy) error {
	if _, err := Group(tx, p.Group); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if p.MetricType == "ALBRequestCountPerTarget" {
		if _, err := TargetGroupForLabel(tx, p.ResourceLabel); err != nil {
			return err
		}
	}
	// The ARNs are the existing policy's, or new: never left over from a
	// transaction that was retried.
	p.ARN, p.AlarmHigh, p.AlarmLow = "", "", ""
	old, err := store.GetJSON[model.ScalingPolicy](tx, model.KindScalingPolicy, p.Key())
	if err == nil {
		p.ARN, p.AlarmHigh, p.AlarmLow = old.ARN, old.AlarmHigh, old.AlarmLow
	} else if ps, err := PoliciesOf(tx, p.Group); err != nil {
		return err
	} else if len(ps) >= MaxPoliciesPerGroup {
		return model.Errorf("LimitExceeded", "An Auto Scaling group can have at most %d scaling policies", MaxPoliciesPerGroup)
	}
	if p.ARN == "" {
		p.ARN = model.NewScalingPolicyARN(p.Group, p.Name)
		p.AlarmHigh = model.NewAlarmARN(p.Group, "High")
		p.AlarmLow = model.NewAlarmARN(p.Group, "Low")
	}
	return store.PutJSON(tx, model.KindScalingPolicy, p.Key(), p)
}

// MaxPoliciesPerGroup is Amazon EC2 Auto Scaling's quota of scaling
// policies per group.
const MaxPoliciesPerGroup = 50

// TargetGroupForLabel resolves an ALBRequestCountPerTarget resource label,
// app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>, to its target group.
func TargetGroupForLabel(tx store.Tx, label string) (*model.TargetGroup, error) {
	var lbName, lbID, tgName, tgID string
	n, _ := fmt.Sscanf(splitSlash(label), "app %s %s targetgroup %s %s", &lbName, &lbID, &tgName, &tgID)
	if n != 4 {
		return nil, model.Errorf("ValidationError", "resource label '%s' must be app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>", model.Quote(label))
	}
	g, err := elb.TargetGroupByName(tx, tgName)
	if err != nil {
		return nil, err
	}
	if g == nil || !strings.HasSuffix(g.ARN, "/"+tgID) {
		return nil, model.Errorf("ValidationError", "resource label '%s' names no target group", model.Quote(label))
	}
	return g, nil
}

func splitSlash(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == '/' {
			b[i] = ' '
		}
	}
	return string(b)
}

// ResourceLabel makes the ALBRequestCountPerTarget label of a target group
// served by a load balancer.
func ResourceLabel(lbARN, tgARN string) string {
	return fmt.Sprintf("app/%s/%s/targetgroup/%s/%s", model.ResourceName(lbARN), lastSegment(lbARN), model.ResourceName(tgARN), lastSegment(tgARN))
}

func lastSegment(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return arn
}

// Activities of a group, newest first.
func Activities(tx store.Tx, group string) ([]*model.Activity, error) {
	all, err := store.ListJSON[model.Activity](tx, model.KindActivity)
	if err != nil {
		return nil, err
	}
	var out []*model.Activity
	for _, a := range all {
		if group == "" || a.Group == group {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartTime.After(out[j].StartTime) })
	return out, nil
}

// PutActivity writes an activity.
func PutActivity(tx store.Tx, a *model.Activity) error {
	return store.PutJSON(tx, model.KindActivity, a.Key(), a)
}

// maxActivities bounds the history kept per group.
const maxActivities = 500

// pruneActivities keeps the newest maxActivities of a group.
func pruneActivities(tx store.Tx, group string) error {
	as, err := Activities(tx, group)
	if err != nil || len(as) <= maxActivities {
		return err
	}
	for _, a := range as[maxActivities:] {
		if err := tx.Delete(model.KindActivity, a.Key()); err != nil {
			return err
		}
	}
	return nil
}

// NewActivity starts an activity record.
func NewActivity(g *model.AutoScalingGroup, zone, desc, cause string, now time.Time) *model.Activity {
	return &model.Activity{
		ID: model.NewUUID(), Group: g.Name, Description: desc, Cause: cause, StartTime: now,
		StatusCode: model.ActivityInProgress, Progress: 0,
		Details: fmt.Sprintf(`{"Subnet ID":"%s","Availability Zone":"%s"}`, zone, zone),
	}
}

// RemoveStoppedWithAlba forgets an instance that Alba stopped because Alba
// itself stopped: its registrations go, and its group's history gets a
// Terminating activity saying why, so that the next start's launch follows
// a termination rather than a gap.
func RemoveStoppedWithAlba(tx store.Tx, inst *model.Instance, now time.Time) error {
	g, err := Group(tx, inst.Group)
	if err != nil {
		// The group is gone: no history to add to, and its target groups
		// are unknown, so look at every registration.
		return removeInstanceTargets(tx, inst, nil)
	}
	if err := removeInstanceTargets(tx, inst, g.TargetGroupARNs); err != nil {
		return err
	}
	act := NewActivity(g, inst.Zone, "Terminating EC2 instance: "+inst.ID,
		fmt.Sprintf("At %s instance %s was stopped because Alba stopped (alba up ended); the next start launches instances for the desired capacity of %d.", Stamp(now), inst.ID, g.Desired), now)
	act.StatusCode, act.Progress, act.EndTime = model.ActivitySuccessful, 100, &now
	return RecordActivity(tx, act)
}

// removeInstanceTargets deletes an instance's record and its registrations
// in groups (every group's when groups is nil).
func removeInstanceTargets(tx store.Tx, inst *model.Instance, groups []string) error {
	var ts []*model.Target
	if groups == nil {
		all, err := elb.Targets(tx)
		if err != nil {
			return err
		}
		ts = all
	}
	for _, arn := range groups {
		of, err := elb.TargetsOf(tx, arn)
		if err != nil {
			return err
		}
		ts = append(ts, of...)
	}
	for _, t := range ts {
		if t.ID == inst.ID {
			if err := elb.RemoveTarget(tx, t); err != nil {
				return err
			}
		}
	}
	return DeleteInstance(tx, inst.ID)
}

// DeleteGroup deletes a group with no instances; with force it starts
// terminating them and the controller deletes the group when they are gone.
func DeleteGroup(tx store.Tx, name string, force bool) error {
	g, err := Group(tx, name)
	if err != nil {
		return err
	}
	insts, err := InstancesOf(tx, name)
	if err != nil {
		return err
	}
	if len(insts) > 0 && !force {
		busy := true
		for _, i := range insts {
			if i.LifecycleState != model.LifecycleTerminating {
				busy = false
			}
		}
		if busy {
			return model.Errorf("ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.")
		}
		return model.Errorf("ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")
	}
	if len(insts) == 0 {
		return RemoveDeletedGroup(tx, g.Name)
	}
	g.Status = "Delete in progress"
	g.MinSize, g.Desired = 0, 0
	return store.PutJSON(tx, model.KindAutoScalingGroup, g.Name, g)
}

// DeleteInstance forgets an instance record: one that never started, or
// whose process has been stopped.
func DeleteInstance(tx store.Tx, id string) error {
	return tx.Delete(model.KindInstance, id)
}

// RecordActivity writes an activity and keeps the group's history within
// its bound.
func RecordActivity(tx store.Tx, a *model.Activity) error {
	if err := PutActivity(tx, a); err != nil {
		return err
	}
	return pruneActivities(tx, a.Group)
}

// ClearDesiredCause forgets why the desired capacity last changed, once
// the group has reached it, so that later activities do not quote it; a
// group whose desired capacity changed since is left alone.
func ClearDesiredCause(tx store.Tx, name string, desired int) error {
	g, err := Group(tx, name)
	if err != nil || g.Desired != desired || g.DesiredCause == "" {
		return err
	}
	g.DesiredCause = ""
	return store.PutJSON(tx, model.KindAutoScalingGroup, g.Name, g)
}

// RemoveDeletedGroup deletes a group whose deletion is complete (its
// instances are gone): its record, policies and activities.
func RemoveDeletedGroup(tx store.Tx, name string) error {
	ps, err := PoliciesOf(tx, name)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := tx.Delete(model.KindScalingPolicy, p.Key()); err != nil {
			return err
		}
	}
	as, err := Activities(tx, name)
	if err != nil {
		return err
	}
	for _, a := range as {
		if err := tx.Delete(model.KindActivity, a.Key()); err != nil {
			return err
		}
	}
	return tx.Delete(model.KindAutoScalingGroup, name)
}

// Warmup is how long a new instance's metrics are left out: the policy's
// estimated warmup, else the group's default instance warmup, else its
// default cooldown.
func Warmup(g *model.AutoScalingGroup, p *model.ScalingPolicy) time.Duration {
	if p != nil && p.EstimatedInstanceWarmup >= 0 {
		return time.Duration(p.EstimatedInstanceWarmup) * time.Second
	}
	if g.DefaultInstanceWarmup >= 0 {
		return time.Duration(g.DefaultInstanceWarmup) * time.Second
	}
	return time.Duration(g.DefaultCooldown) * time.Second
}
