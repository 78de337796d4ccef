package autoscaling

import (
	"errors"
	"strconv"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// Templates returns every launch template.
func Templates(tx store.Tx) ([]*model.LaunchTemplate, error) {
	return store.ListJSON[model.LaunchTemplate](tx, model.KindLaunchTemplate)
}

// TemplateByRef finds a template by id or name (one of them).
func TemplateByRef(tx store.Tx, id, name string) (*model.LaunchTemplate, error) {
	if id != "" {
		lt, err := store.GetJSON[model.LaunchTemplate](tx, model.KindLaunchTemplate, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, model.Errorf("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", model.Quote(id))
		}
		return lt, err
	}
	all, err := Templates(tx)
	if err != nil {
		return nil, err
	}
	for _, lt := range all {
		if lt.Name == name {
			return lt, nil
		}
	}
	return nil, model.Errorf("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", model.Quote(name))
}

// CreateTemplate creates a template with its version 1 (default and
// latest).
func CreateTemplate(tx store.Tx, name, desc string, data model.LaunchTemplateData, tags []model.Tag, now time.Time) (*model.LaunchTemplate, *model.LaunchTemplateVersion, error) {
	if err := model.ValidateLaunchTemplateName(name); err != nil {
		return nil, nil, err
	}
	if _, err := TemplateByRef(tx, "", name); err == nil {
		return nil, nil, model.Errorf("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
	}
	if err := data.Validate(); err != nil {
		return nil, nil, err
	}
	if err := model.ValidateTags(tags, "TagLimitExceeded", "InvalidParameterValue"); err != nil {
		return nil, nil, err
	}
	lt := &model.LaunchTemplate{ID: model.NewLaunchTemplateID(), Name: name, DefaultVersion: 1, LatestVersion: 1, CreateTime: now, Tags: tags}
	v := &model.LaunchTemplateVersion{TemplateID: lt.ID, Number: 1, Description: desc, CreateTime: now, Data: data}
	if err := store.PutJSON(tx, model.KindLaunchTemplate, lt.ID, lt); err != nil {
		return nil, nil, err
	}
	return lt, v, store.PutJSON(tx, model.KindLaunchTemplateVersion, v.Key(), v)
}

// PutTemplate writes a template record (its versions are written apart).
func PutTemplate(tx store.Tx, lt *model.LaunchTemplate) error {
	return store.PutJSON(tx, model.KindLaunchTemplate, lt.ID, lt)
}

// CreateVersion adds latest+1. With a source version, unset fields of data
// are inherited from it. The default version does not change.
func CreateVersion(tx store.Tx, lt *model.LaunchTemplate, source string, desc string, data model.LaunchTemplateData, now time.Time) (*model.LaunchTemplateVersion, error) {
	if source != "" {
		src, err := ResolveVersion(tx, lt, source)
		if err != nil {
			return nil, err
		}
		data = inherit(src.Data, data)
	}
	if err := data.Validate(); err != nil {
		return nil, err
	}
	lt.LatestVersion++
	v := &model.LaunchTemplateVersion{TemplateID: lt.ID, Number: lt.LatestVersion, Description: desc, CreateTime: now, Data: data}
	if err := store.PutJSON(tx, model.KindLaunchTemplate, lt.ID, lt); err != nil {
		return nil, err
	}
	return v, store.PutJSON(tx, model.KindLaunchTemplateVersion, v.Key(), v)
}

func inherit(src, d model.LaunchTemplateData) model.LaunchTemplateData {
	if d.ImageID == "" {
		d.ImageID = src.ImageID
	}
	if d.InstanceType == "" {
		d.InstanceType = src.InstanceType
	}
	if d.UserData == "" {
		d.UserData = src.UserData
	}
	if d.Environment == nil {
		d.Environment = src.Environment
	}
	if d.SecurityGroupIDs == nil {
		d.SecurityGroupIDs = src.SecurityGroupIDs
	}
	if d.KeyName == "" {
		d.KeyName = src.KeyName
	}
	if d.InstanceTags == nil {
		d.InstanceTags = src.InstanceTags
	}
	return d
}

// SetDefaultVersion makes version the template's default.
func SetDefaultVersion(tx store.Tx, lt *model.LaunchTemplate, version string) error {
	v, err := ResolveVersion(tx, lt, version)
	if err != nil {
		return err
	}
	lt.DefaultVersion = v.Number
	return store.PutJSON(tx, model.KindLaunchTemplate, lt.ID, lt)
}

// ResolveVersion turns $Default, $Latest or a number into a version.
func ResolveVersion(tx store.Tx, lt *model.LaunchTemplate, version string) (*model.LaunchTemplateVersion, error) {
	n := 0
	switch version {
	case "", "$Default":
		n = lt.DefaultVersion
	case "$Latest":
		n = lt.LatestVersion
	default:
		var err error
		if n, err = strconv.Atoi(version); err != nil {
			return nil, model.Errorf("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s", model.Quote(version), lt.ID)
		}
	}
	v, err := store.GetJSON[model.LaunchTemplateVersion](tx, model.KindLaunchTemplateVersion, model.VersionKey(lt.ID, n))
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s", model.Quote(version), lt.ID)
	}
	return v, err
}

// Versions returns a template's versions, oldest first.
func Versions(tx store.Tx, lt *model.LaunchTemplate) ([]*model.LaunchTemplateVersion, error) {
	all, err := store.ListJSON[model.LaunchTemplateVersion](tx, model.KindLaunchTemplateVersion)
	var out []*model.LaunchTemplateVersion
	for _, v := range all {
		if v.TemplateID == lt.ID {
			out = append(out, v)
		}
	}
	return out, err
}

// DeleteTemplate deletes a template and all its versions.
func DeleteTemplate(tx store.Tx, lt *model.LaunchTemplate) error {
	vs, err := Versions(tx, lt)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := tx.Delete(model.KindLaunchTemplateVersion, v.Key()); err != nil {
			return err
		}
	}
	if err := forgetClientTokens(tx, lt.ID); err != nil {
		return err
	}
	return tx.Delete(model.KindLaunchTemplate, lt.ID)
}
