package awsapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- EC2 launch templates: create, modify, describe, delete (their
// versions are in launchtemplateversions.go).

// createdBy is the principal EC2 reports as a template's creator.
func createdBy() string { return "arn:aws:iam::" + model.Account + ":root" }

func ec2Invalid(format string, args ...any) error {
	return apiErrorf("InvalidParameterValue", format, args...)
}

// dryRunIn is EC2's DryRun: true answers that the request would have
// worked, after its parameters were checked.
type dryRunIn struct {
	DryRun *bool `q:"DryRun"`
}

func (in dryRunIn) check() error {
	if in.DryRun != nil && *in.DryRun {
		return &apiError{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.", Status: 412}
	}
	return nil
}

type ec2TagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func ec2TagsXML(tags []model.Tag) itemList[ec2TagXML] {
	var out []ec2TagXML
	for _, t := range tags {
		out = append(out, ec2TagXML{t.Key, t.Value})
	}
	return items(out)
}

type templateXML struct {
	LaunchTemplateID     string               `xml:"launchTemplateId"`
	LaunchTemplateName   string               `xml:"launchTemplateName"`
	CreateTime           isoTime              `xml:"createTime"`
	CreatedBy            string               `xml:"createdBy"`
	DefaultVersionNumber int                  `xml:"defaultVersionNumber"`
	LatestVersionNumber  int                  `xml:"latestVersionNumber"`
	TagSet               *itemList[ec2TagXML] `xml:"tagSet"`
}

func templateOut(lt *model.LaunchTemplate) templateXML {
	x := templateXML{lt.ID, lt.Name, isoTime(lt.CreateTime), createdBy(), lt.DefaultVersion, lt.LatestVersion, nil}
	if len(lt.Tags) > 0 {
		tags := ec2TagsXML(lt.Tags)
		x.TagSet = &tags
	}
	return x
}

// templateResult is the answer of Create, Modify and DeleteLaunchTemplate.
type templateResult struct {
	LaunchTemplate templateXML `xml:"launchTemplate"`
}

type ec2TagIn struct {
	Key   string `q:"Key"`
	Value string `q:"Value"`
}

type tagSpecIn struct {
	ResourceType string     `q:"ResourceType"`
	Tag          []ec2TagIn `q:"Tag"`
}

// ec2Tags collects the tags of the specifications for one resource type.
func ec2Tags(specs []tagSpecIn, resourceType string) ([]model.Tag, error) {
	var out []model.Tag
	seen := map[string]bool{}
	for _, s := range specs {
		if s.ResourceType != resourceType {
			continue
		}
		for _, t := range s.Tag {
			if seen[t.Key] {
				return nil, ec2Invalid("Tag key '%s' is given more than once", model.Quote(t.Key))
			}
			seen[t.Key] = true
			out = append(out, model.Tag{Key: t.Key, Value: t.Value})
		}
	}
	return out, nil
}

type templateDataIn struct {
	ImageID          string      `q:"ImageId"`
	InstanceType     string      `q:"InstanceType"`
	UserData         string      `q:"UserData"`
	KeyName          string      `q:"KeyName"`
	SecurityGroupID  []string    `q:"SecurityGroupId"`
	SecurityGroup    []string    `q:"SecurityGroup"`
	TagSpecification []tagSpecIn `q:"TagSpecification"`
}

func (in templateDataIn) data() (model.LaunchTemplateData, error) {
	d := model.LaunchTemplateData{ImageID: in.ImageID, InstanceType: in.InstanceType, UserData: in.UserData, KeyName: in.KeyName,
		SecurityGroupIDs: append(in.SecurityGroupID, in.SecurityGroup...)}
	for _, s := range in.TagSpecification {
		switch s.ResourceType {
		case "instance", "volume", "network-interface", "spot-instances-request", "elastic-gpu":
		default:
			return d, ec2Invalid("'%s' is not a valid resource type for launch template data tag specifications", model.Quote(s.ResourceType))
		}
	}
	tags, err := ec2Tags(in.TagSpecification, "instance")
	d.InstanceTags = tags
	return d, err
}

// requestHash fingerprints a request without its idempotency token.
func requestHash(c *call) string {
	keys := make([]string, 0, len(c.f.v))
	for k := range c.f.v {
		if k != "ClientToken" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q;", k, c.f.v[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// clientTokenIn is EC2's idempotency token.
type clientTokenIn struct {
	ClientToken string `q:"ClientToken"`
}

// made looks up the token: ref is what the first request with it made,
// "" when the token is new or absent.
func (in clientTokenIn) made(tx store.Tx, c *call) (ref string, err error) {
	if in.ClientToken == "" {
		return "", nil
	}
	return autoscaling.ClientTokenRef(tx, c.action, in.ClientToken, requestHash(c))
}

// remember records what the request with its token made.
func (in clientTokenIn) remember(tx store.Tx, c *call, ref string) error {
	if in.ClientToken == "" {
		return nil
	}
	return autoscaling.SaveClientToken(tx, c.action, in.ClientToken, requestHash(c), ref)
}

// templateRefIn names a template by LaunchTemplateId or LaunchTemplateName
// (one of them).
type templateRefIn struct {
	LaunchTemplateID   string `q:"LaunchTemplateId"`
	LaunchTemplateName string `q:"LaunchTemplateName"`
}

func (in templateRefIn) named() bool { return in.LaunchTemplateID != "" || in.LaunchTemplateName != "" }

func (in templateRefIn) find(tx store.Tx) (*model.LaunchTemplate, error) {
	id, name := in.LaunchTemplateID, in.LaunchTemplateName
	switch {
	case id != "" && name != "":
		return nil, ec2Invalid("Specify either LaunchTemplateId or LaunchTemplateName, not both")
	case id == "" && name == "":
		return nil, apiErrorf("MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName")
	case !strings.HasPrefix(id, "lt-") && id != "":
		return nil, apiErrorf("InvalidLaunchTemplateId.Malformed", "The specified ID for the launch template (%s) is not valid: it must look like lt-0123456789abcdef0", model.Quote(id))
	}
	return autoscaling.TemplateByRef(tx, id, name)
}

type createLaunchTemplateIn struct {
	LaunchTemplateName string         `q:"LaunchTemplateName,req"`
	VersionDescription string         `q:"VersionDescription,max=255"`
	LaunchTemplateData templateDataIn `q:"LaunchTemplateData"`
	TagSpecification   []tagSpecIn    `q:"TagSpecification"`
	clientTokenIn
	dryRunIn
}

func (h *handler) createLaunchTemplate(c *call, in *createLaunchTemplateIn) (any, error) {
	data, err := in.LaunchTemplateData.data()
	if err != nil {
		return nil, err
	}
	for _, s := range in.TagSpecification {
		if s.ResourceType != "launch-template" {
			return nil, ec2Invalid("'%s' is not a valid taggable resource type for this operation: use launch-template", model.Quote(s.ResourceType))
		}
	}
	tags, err := ec2Tags(in.TagSpecification, "launch-template")
	if err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	lt, err := inUpdate(h, func(tx store.Tx) (*model.LaunchTemplate, error) {
		ref, err := in.made(tx, c)
		if err != nil {
			return nil, err
		}
		if ref != "" {
			if lt, err := autoscaling.TemplateByRef(tx, ref, ""); err == nil {
				return lt, nil
			}
		}
		lt, _, err := autoscaling.CreateTemplate(tx, in.LaunchTemplateName, in.VersionDescription, data, tags, c.now)
		if err != nil {
			return nil, err
		}
		lt.Source = SourceAPI
		if err := autoscaling.PutTemplate(tx, lt); err != nil {
			return nil, err
		}
		return lt, in.remember(tx, c, lt.ID)
	})
	if err != nil {
		return nil, err
	}
	return templateResult{templateOut(lt)}, nil
}

type modifyLaunchTemplateIn struct {
	templateRefIn
	SetDefaultVersion string `q:"SetDefaultVersion"`
	dryRunIn
}

func (h *handler) modifyLaunchTemplate(c *call, in *modifyLaunchTemplateIn) (any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	lt, err := inUpdate(h, func(tx store.Tx) (*model.LaunchTemplate, error) {
		lt, err := in.find(tx)
		if err != nil || in.SetDefaultVersion == "" {
			return lt, err
		}
		return lt, autoscaling.SetDefaultVersion(tx, lt, in.SetDefaultVersion)
	})
	if err != nil {
		return nil, err
	}
	return templateResult{templateOut(lt)}, nil
}

type ec2FilterIn struct {
	Name   string   `q:"Name"`
	Values []string `q:"Value"`
}

func templateMatches(lt *model.LaunchTemplate, fs []ec2FilterIn) bool {
	for _, f := range fs {
		ok := false
		switch {
		case f.Name == "launch-template-name":
			ok = matchAny(f.Values, lt.Name)
		case f.Name == "tag-key":
			for _, t := range lt.Tags {
				ok = ok || matchAny(f.Values, t.Key)
			}
		case strings.HasPrefix(f.Name, "tag:"):
			for _, t := range lt.Tags {
				ok = ok || (t.Key == f.Name[4:] && matchAny(f.Values, t.Value))
			}
		default:
			ok = true // other filters (create-time) narrow nothing here
		}
		if !ok {
			return false
		}
	}
	return true
}

type describeLaunchTemplatesIn struct {
	LaunchTemplateIDs   []string      `q:"LaunchTemplateId"`
	LaunchTemplateNames []string      `q:"LaunchTemplateName"`
	Filters             []ec2FilterIn `q:"Filter"`
	ec2Page
	dryRunIn
}

type templatesOut struct {
	LaunchTemplates itemList[templateXML] `xml:"launchTemplates"`
	NextToken       string                `xml:"nextToken,omitempty"`
}

func (h *handler) describeLaunchTemplates(c *call, in *describeLaunchTemplatesIn) (any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	all := func(tx store.Tx) ([]*model.LaunchTemplate, error) {
		if len(in.LaunchTemplateIDs) == 0 && len(in.LaunchTemplateNames) == 0 {
			return autoscaling.Templates(tx)
		}
		var refs [][2]string // id, name
		for _, id := range in.LaunchTemplateIDs {
			refs = append(refs, [2]string{id, ""})
		}
		for _, n := range in.LaunchTemplateNames {
			refs = append(refs, [2]string{"", n})
		}
		var sel []*model.LaunchTemplate
		for _, r := range refs {
			lt, err := autoscaling.TemplateByRef(tx, r[0], r[1])
			if err != nil {
				return nil, err
			}
			sel = append(sel, lt)
		}
		return sel, nil
	}
	lts, next, err := describe(h, in.paging(), all, func(lt *model.LaunchTemplate) bool { return templateMatches(lt, in.Filters) },
		func(lt *model.LaunchTemplate) string { return lt.Name },
		func(_ store.Tx, lt *model.LaunchTemplate) (templateXML, error) { return templateOut(lt), nil })
	if err != nil {
		return nil, err
	}
	return templatesOut{items(lts), next}, nil
}

type deleteLaunchTemplateIn struct {
	templateRefIn
	dryRunIn
}

func (h *handler) deleteLaunchTemplate(c *call, in *deleteLaunchTemplateIn) (any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	lt, err := inUpdate(h, func(tx store.Tx) (*model.LaunchTemplate, error) {
		lt, err := in.find(tx)
		if err != nil {
			return nil, err
		}
		return lt, autoscaling.DeleteTemplate(tx, lt)
	})
	if err != nil {
		return nil, err
	}
	return templateResult{templateOut(lt)}, nil
}
