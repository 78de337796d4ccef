package autoscaling

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// The YAML file declares launch templates, groups and policies: applying
// it again updates what it declared before and leaves what the API made
// alone. A declaration that would take over an API resource of the same
// name is an error naming both.

// TemplateVersion is one version of a declared launch template.
type TemplateVersion struct {
	Description string
	Data        model.LaunchTemplateData
}

// DeclareTemplate creates or updates the file's launch template name with
// versions 1..len(versions). Versions are immutable, as on AWS: the file
// may add versions at the end; defaultVersion 0 keeps the current default.
func DeclareTemplate(tx store.Tx, name string, versions []TemplateVersion, defaultVersion int, now time.Time) (*model.LaunchTemplate, error) {
	if len(versions) == 0 {
		return nil, model.Errorf("InvalidParameterValue", "launch template '%s' needs a version", name)
	}
	cur, err := TemplateByRef(tx, "", name)
	if err != nil {
		first := versions[0]
		if cur, _, err = CreateTemplate(tx, name, first.Description, first.Data, nil, now); err != nil {
			return nil, err
		}
		cur.Source = model.SourceFile
	} else if cur.Source != model.SourceFile {
		return nil, model.Takeover("InvalidLaunchTemplateName.AlreadyExistsException", fmt.Sprintf("Launch template '%s'", name), cur.ID)
	}
	for n := 1; n <= min(cur.LatestVersion, len(versions)); n++ {
		v, err := ResolveVersion(tx, cur, strconv.Itoa(n))
		if err != nil {
			continue // deleted through the API: nothing to compare
		}
		if !sameTemplateData(v.Data, versions[n-1].Data) {
			return nil, &ChangedVersionError{Template: name, Version: n, Created: v.CreateTime}
		}
	}
	for n := cur.LatestVersion; n < len(versions); n++ {
		v := versions[n]
		if _, err := CreateVersion(tx, cur, "", v.Description, v.Data, now); err != nil {
			return nil, err
		}
	}
	if defaultVersion > 0 {
		cur.DefaultVersion = defaultVersion
	}
	return cur, PutTemplate(tx, cur)
}

// DeclareGroup creates or updates the file's auto scaling group g.Name. Its
// desired capacity is the file's when the group is created or the file
// changes it; otherwise the scaling policies own it (within the file's min
// and max).
func DeclareGroup(tx store.Tx, g *model.AutoScalingGroup, now time.Time) error {
	g.Source = model.SourceFile
	fileDesired := g.Desired
	g.FileDesired = &fileDesired
	old, err := Group(tx, g.Name)
	if err != nil {
		return CreateGroup(tx, g, now)
	}
	if old.Source != model.SourceFile {
		return model.Takeover("AlreadyExists", fmt.Sprintf("AutoScalingGroup '%s'", g.Name), old.ARN)
	}
	g.ARN, g.CreatedTime, g.Tags, g.Status = old.ARN, old.CreatedTime, old.Tags, old.Status
	if old.FileDesired != nil && *old.FileDesired == fileDesired {
		g.Desired = min(max(old.Desired, g.MinSize), g.MaxSize)
	}
	g.DesiredCause = old.DesiredCause
	if g.Desired != old.Desired {
		g.DesiredCause = constraintsCause(now, g, old.Desired)
	}
	return PutGroup(tx, g)
}

// DeclarePolicy creates or updates the file's policy p of its group; a
// policy of that name made through the API is not taken over.
func DeclarePolicy(tx store.Tx, p *model.ScalingPolicy) error {
	p.Source = model.SourceFile
	if old, err := Policy(tx, p.Group, p.Name); err == nil && old.Source != model.SourceFile {
		return model.Takeover("ValidationError", fmt.Sprintf("Scaling policy '%s' of AutoScalingGroup '%s'", p.Name, p.Group), old.ARN)
	}
	return PutPolicy(tx, p)
}

// DeleteUndeclaredPolicies deletes the file's policies of a group whose
// names are not in keep.
func DeleteUndeclaredPolicies(tx store.Tx, group string, keep map[string]bool) error {
	cur, err := PoliciesOf(tx, group)
	if err != nil {
		return err
	}
	for _, p := range cur {
		if p.Source == model.SourceFile && !keep[p.Name] {
			if err := DeletePolicy(tx, group, p.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// ChangedVersionError says that the file changed a launch template version
// that exists: versions are immutable, as on AWS, so the change would be
// ignored; the file must add a version instead.
type ChangedVersionError struct {
	// Template is the template's name.
	Template string
	// Version is the number of the version the file changed (1 = the first
	// entry of versions).
	Version int
	// Created is when the stored version was made.
	Created time.Time
}

// Error says what changed and what to do.
func (e *ChangedVersionError) Error() string {
	return fmt.Sprintf("launch template '%s' version %d differs from the stored version %d (created %s): versions cannot change, as on AWS; "+
		"leave version %d as it was and add the changed data as a new entry at the end of versions (it becomes version %d), with default_version set to it, "+
		"or start from an empty data directory (--data-dir)", e.Template, e.Version, e.Version, e.Created.UTC().Format(time.RFC3339), e.Version, e.Version+1)
}

// Unwrap gives the API's code for the same mistake.
func (e *ChangedVersionError) Unwrap() error {
	return model.Errorf("InvalidParameterValue", "%s", e.Error())
}

// sameTemplateData compares two versions' data, treating empty and absent
// lists and maps alike and tags in any order.
func sameTemplateData(a, b model.LaunchTemplateData) bool {
	if a.ImageID != b.ImageID || a.InstanceType != b.InstanceType || a.UserData != b.UserData || a.KeyName != b.KeyName ||
		!maps.Equal(a.Environment, b.Environment) || !slices.Equal(a.SecurityGroupIDs, b.SecurityGroupIDs) || len(a.InstanceTags) != len(b.InstanceTags) {
		return false
	}
	tags := map[string]string{}
	for _, t := range a.InstanceTags {
		tags[t.Key] = t.Value
	}
	for _, t := range b.InstanceTags {
		if v, ok := tags[t.Key]; !ok || v != t.Value {
			return false
		}
	}
	return true
}
