package awsapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

func ec2Service() *service {
	return &service{
		name: "ec2", version: "2016-11-15", ns: "http://ec2.amazonaws.com/doc/2016-11-15/", ec2: true,
		ops: map[string]op{
			"CreateLaunchTemplate":           legacy((*handler).createLaunchTemplate),
			"CreateLaunchTemplateVersion":    legacy((*handler).createLaunchTemplateVersion),
			"ModifyLaunchTemplate":           legacy((*handler).modifyLaunchTemplate),
			"DescribeLaunchTemplates":        legacy((*handler).describeLaunchTemplates),
			"DescribeLaunchTemplateVersions": legacy((*handler).describeLaunchTemplateVersions),
			"DeleteLaunchTemplate":           legacy((*handler).deleteLaunchTemplate),
			"DeleteLaunchTemplateVersions":   legacy((*handler).deleteLaunchTemplateVersions),
		},
	}
}

// createdBy is the principal EC2 reports as a template's creator.
func createdBy() string { return "arn:aws:iam::" + model.Account + ":root" }

func ec2Invalid(format string, args ...any) error {
	return apiErrorf("InvalidParameterValue", format, args...)
}

// dryRun answers DryRun=true as EC2 does: the request would have worked.
func (c *call) dryRun() error {
	d, err := c.p.boolp("DryRun")
	if err != nil {
		return err
	}
	if d != nil && *d {
		return &apiError{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.", Status: 412}
	}
	return nil
}

func ec2TagsXML(tags []model.Tag) *node {
	var is []*node
	for _, t := range tags {
		is = append(is, el("item", txt("key", t.Key), txt("value", t.Value)))
	}
	return nodeItems("tagSet", is)
}

func templateXML(name string, lt *model.LaunchTemplate) *node {
	var tags *node
	if len(lt.Tags) > 0 {
		tags = ec2TagsXML(lt.Tags)
	}
	return el(name,
		txt("launchTemplateId", lt.ID),
		txt("launchTemplateName", lt.Name),
		stamp("createTime", lt.CreateTime),
		txt("createdBy", createdBy()),
		num("defaultVersionNumber", lt.DefaultVersion),
		num("latestVersionNumber", lt.LatestVersion),
		tags,
	)
}

func versionXML(name string, lt *model.LaunchTemplate, v *model.LaunchTemplateVersion) *node {
	d := v.Data
	data := el("launchTemplateData", opt("imageId", d.ImageID), opt("instanceType", d.InstanceType), opt("keyName", d.KeyName),
		opt("userData", d.UserData))
	if len(d.SecurityGroupIDs) > 0 {
		data.add(strItems("securityGroupIdSet", d.SecurityGroupIDs))
	}
	if len(d.InstanceTags) > 0 {
		data.add(nodeItems("tagSpecificationSet", []*node{el("item", txt("resourceType", "instance"), ec2TagsXML(d.InstanceTags))}))
	}
	return el(name,
		txt("launchTemplateId", lt.ID),
		txt("launchTemplateName", lt.Name),
		num("versionNumber", v.Number),
		opt("versionDescription", v.Description),
		stamp("createTime", v.CreateTime),
		txt("createdBy", createdBy()),
		boolean("defaultVersion", v.Number == lt.DefaultVersion),
		data,
	)
}

// ec2Tags reads TagSpecification.N.Tag.M.{Key,Value} for one resource type.
func ec2Tags(specs []params, resourceType string) ([]model.Tag, error) {
	var out []model.Tag
	seen := map[string]bool{}
	for _, s := range specs {
		rt := s.get("ResourceType")
		if rt != resourceType {
			continue
		}
		for _, t := range s.flatStructs("Tag") {
			tag := model.Tag{Key: t.get("Key"), Value: t.get("Value")}
			if seen[tag.Key] {
				return nil, ec2Invalid("Tag key '%s' is given more than once", tag.Key)
			}
			seen[tag.Key] = true
			out = append(out, tag)
		}
	}
	return out, nil
}

// templateData reads LaunchTemplateData.*.
func (c *call) templateData() (model.LaunchTemplateData, error) {
	p := c.p.sub("LaunchTemplateData")
	d := model.LaunchTemplateData{ImageID: p.get("ImageId"), InstanceType: p.get("InstanceType"), UserData: p.get("UserData"), KeyName: p.get("KeyName")}
	d.SecurityGroupIDs = append(p.flatStrs("SecurityGroupId"), p.flatStrs("SecurityGroup")...)
	specs := p.flatStructs("TagSpecification")
	for _, s := range specs {
		switch rt := s.get("ResourceType"); rt {
		case "instance", "volume", "network-interface", "spot-instances-request", "elastic-gpu":
		default:
			return d, ec2Invalid("'%s' is not a valid resource type for launch template data tag specifications", rt)
		}
	}
	tags, err := ec2Tags(specs, "instance")
	if err != nil {
		return d, err
	}
	d.InstanceTags = tags
	return d, nil
}

// requestHash fingerprints a request without its idempotency token.
func requestHash(c *call) string {
	keys := make([]string, 0, len(c.p.v))
	for k := range c.p.v {
		if k != "ClientToken" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q;", k, c.p.v[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idempotent looks up the request's ClientToken: ref is what the first
// request with it made, "" when the token is new or absent.
func idempotent(tx store.Tx, c *call) (ref string, err error) {
	token := c.p.get("ClientToken")
	if token == "" {
		return "", nil
	}
	return autoscaling.ClientTokenRef(tx, c.action, token, requestHash(c))
}

// rememberToken records what the request with its ClientToken made.
func rememberToken(tx store.Tx, c *call, ref string) error {
	token := c.p.get("ClientToken")
	if token == "" {
		return nil
	}
	return autoscaling.SaveClientToken(tx, c.action, token, requestHash(c), ref)
}

// templateRef finds the template a request names by LaunchTemplateId or
// LaunchTemplateName (one of them).
func templateRef(tx store.Tx, p params) (*model.LaunchTemplate, error) {
	id, name := p.get("LaunchTemplateId"), p.get("LaunchTemplateName")
	switch {
	case id != "" && name != "":
		return nil, ec2Invalid("Specify either LaunchTemplateId or LaunchTemplateName, not both")
	case id == "" && name == "":
		return nil, apiErrorf("MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName")
	case id != "" && !strings.HasPrefix(id, "lt-"):
		return nil, apiErrorf("InvalidLaunchTemplateId.Malformed", "The specified ID for the launch template (%s) is not valid: it must look like lt-0123456789abcdef0", id)
	}
	return autoscaling.TemplateByRef(tx, id, name)
}

func (h *handler) createLaunchTemplate(c *call) (*node, error) {
	name := c.p.get("LaunchTemplateName")
	if name == "" {
		return nil, missing(c.svc, "LaunchTemplateName")
	}
	desc := c.p.get("VersionDescription")
	if len(desc) > 255 {
		return nil, ec2Invalid("VersionDescription must be at most 255 characters")
	}
	data, err := c.templateData()
	if err != nil {
		return nil, err
	}
	specs := c.p.flatStructs("TagSpecification")
	for _, s := range specs {
		if rt := s.get("ResourceType"); rt != "launch-template" {
			return nil, ec2Invalid("'%s' is not a valid taggable resource type for this operation: use launch-template", rt)
		}
	}
	tags, err := ec2Tags(specs, "launch-template")
	if err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	var lt *model.LaunchTemplate
	err = h.update(func(tx store.Tx) error {
		ref, err := idempotent(tx, c)
		if err != nil {
			return err
		}
		if ref != "" {
			if lt, err = autoscaling.TemplateByRef(tx, ref, ""); err == nil {
				return nil
			}
		}
		if lt, _, err = autoscaling.CreateTemplate(tx, name, desc, data, tags, c.now); err != nil {
			return err
		}
		lt.Source = SourceAPI
		if err := autoscaling.PutTemplate(tx, lt); err != nil {
			return err
		}
		return rememberToken(tx, c, lt.ID)
	})
	if err != nil {
		return nil, err
	}
	return frag(templateXML("launchTemplate", lt)), nil
}

func (h *handler) createLaunchTemplateVersion(c *call) (*node, error) {
	desc := c.p.get("VersionDescription")
	if len(desc) > 255 {
		return nil, ec2Invalid("VersionDescription must be at most 255 characters")
	}
	data, err := c.templateData()
	if err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	var lt *model.LaunchTemplate
	var v *model.LaunchTemplateVersion
	err = h.update(func(tx store.Tx) error {
		if lt, err = templateRef(tx, c.p); err != nil {
			return err
		}
		ref, err := idempotent(tx, c)
		if err != nil {
			return err
		}
		if ref != "" {
			if v, err = autoscaling.ResolveVersion(tx, lt, ref[strings.LastIndexByte(ref, '|')+1:]); err == nil {
				return nil
			}
		}
		if v, err = autoscaling.CreateVersion(tx, lt, c.p.get("SourceVersion"), desc, data, c.now); err != nil {
			return err
		}
		return rememberToken(tx, c, lt.ID+"|"+strconv.Itoa(v.Number))
	})
	if err != nil {
		return nil, err
	}
	return frag(versionXML("launchTemplateVersion", lt, v)), nil
}

func (h *handler) modifyLaunchTemplate(c *call) (*node, error) {
	def := c.p.get("SetDefaultVersion")
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	var lt *model.LaunchTemplate
	err := h.update(func(tx store.Tx) error {
		var err error
		if lt, err = templateRef(tx, c.p); err != nil {
			return err
		}
		if def == "" {
			return nil
		}
		return autoscaling.SetDefaultVersion(tx, lt, def)
	})
	if err != nil {
		return nil, err
	}
	return frag(templateXML("launchTemplate", lt)), nil
}

// maxResults reads EC2's MaxResults (lo-hi, default hi).
func (c *call) maxResults(lo, hi int) (int, error) {
	n, err := c.intIn("MaxResults", lo, hi)
	return orDefault(n, hi), err
}

func badEC2Token() error { return ec2Invalid("The pagination token is not valid") }

// ec2Filters reads Filter.N.{Name,Value.M}.
func (c *call) ec2Filters() []tagFilter {
	var out []tagFilter
	for _, f := range c.p.flatStructs("Filter") {
		out = append(out, tagFilter{name: f.get("Name"), values: f.flatStrs("Value")})
	}
	return out
}

func templateMatches(lt *model.LaunchTemplate, fs []tagFilter) bool {
	for _, f := range fs {
		ok := false
		switch {
		case f.name == "launch-template-name":
			ok = matchAny(f.values, lt.Name)
		case f.name == "tag-key":
			for _, t := range lt.Tags {
				ok = ok || matchAny(f.values, t.Key)
			}
		case strings.HasPrefix(f.name, "tag:"):
			for _, t := range lt.Tags {
				ok = ok || (t.Key == f.name[4:] && matchAny(f.values, t.Value))
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

func (h *handler) describeLaunchTemplates(c *call) (*node, error) {
	size, err := c.maxResults(1, 200)
	if err != nil {
		return nil, err
	}
	ids, names := c.p.flatStrs("LaunchTemplateId"), c.p.flatStrs("LaunchTemplateName")
	filters := c.ec2Filters()
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	var out []*node
	next := ""
	err = h.view(func(tx store.Tx) error {
		var sel []*model.LaunchTemplate
		if len(ids) > 0 || len(names) > 0 {
			for _, id := range ids {
				lt, err := autoscaling.TemplateByRef(tx, id, "")
				if err != nil {
					return err
				}
				sel = append(sel, lt)
			}
			for _, n := range names {
				lt, err := autoscaling.TemplateByRef(tx, "", n)
				if err != nil {
					return err
				}
				sel = append(sel, lt)
			}
		} else {
			all, err := autoscaling.Templates(tx)
			if err != nil {
				return err
			}
			sel = all
		}
		var kept []*model.LaunchTemplate
		for _, lt := range sel {
			if templateMatches(lt, filters) {
				kept = append(kept, lt)
			}
		}
		pg, nx, err := page(kept, func(lt *model.LaunchTemplate) string { return lt.Name }, c.p.get("NextToken"), size, badEC2Token)
		if err != nil {
			return err
		}
		next = nx
		for _, lt := range pg {
			out = append(out, templateXML("item", lt))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeItems("launchTemplates", out), opt("nextToken", next)), nil
}

func (h *handler) describeLaunchTemplateVersions(c *call) (*node, error) {
	size, err := c.maxResults(1, 200)
	if err != nil {
		return nil, err
	}
	minV, err := c.p.intp("MinVersion")
	if err != nil {
		return nil, err
	}
	maxV, err := c.p.intp("MaxVersion")
	if err != nil {
		return nil, err
	}
	wanted := c.p.flatStrs("LaunchTemplateVersion")
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	type row struct {
		key string
		n   *node
	}
	var rows []row
	err = h.view(func(tx store.Tx) error {
		var lts []*model.LaunchTemplate
		if c.p.get("LaunchTemplateId") == "" && c.p.get("LaunchTemplateName") == "" {
			for _, w := range wanted {
				if w != "$Latest" && w != "$Default" {
					return apiErrorf("MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName when versions other than $Latest and $Default are named")
				}
			}
			if len(wanted) == 0 {
				return apiErrorf("MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName")
			}
			all, err := autoscaling.Templates(tx)
			if err != nil {
				return err
			}
			lts = all
		} else {
			lt, err := templateRef(tx, c.p)
			if err != nil {
				return err
			}
			lts = []*model.LaunchTemplate{lt}
		}
		for _, lt := range lts {
			add := func(v *model.LaunchTemplateVersion) {
				rows = append(rows, row{fmt.Sprintf("%s|%08d", lt.Name, v.Number), versionXML("item", lt, v)})
			}
			if len(wanted) > 0 {
				seen := map[int]bool{}
				for _, w := range wanted {
					v, err := autoscaling.ResolveVersion(tx, lt, w)
					if err != nil {
						return err
					}
					if !seen[v.Number] {
						seen[v.Number] = true
						add(v)
					}
				}
				continue
			}
			vs, err := autoscaling.Versions(tx, lt)
			if err != nil {
				return err
			}
			for _, v := range vs {
				if (minV == nil || v.Number >= *minV) && (maxV == nil || v.Number <= *maxV) {
					add(v)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := page(rows, func(r row) string { return r.key }, c.p.get("NextToken"), size, badEC2Token)
	if err != nil {
		return nil, err
	}
	var out []*node
	for _, r := range pg {
		out = append(out, r.n)
	}
	return frag(nodeItems("launchTemplateVersionSet", out), opt("nextToken", next)), nil
}

func (h *handler) deleteLaunchTemplate(c *call) (*node, error) {
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	var lt *model.LaunchTemplate
	err := h.update(func(tx store.Tx) error {
		var err error
		if lt, err = templateRef(tx, c.p); err != nil {
			return err
		}
		return autoscaling.DeleteTemplate(tx, lt)
	})
	if err != nil {
		return nil, err
	}
	return frag(templateXML("launchTemplate", lt)), nil
}

func (h *handler) deleteLaunchTemplateVersions(c *call) (*node, error) {
	versions := c.p.flatStrs("LaunchTemplateVersion")
	if len(versions) == 0 {
		return nil, apiErrorf("MissingParameter", "The request must contain the parameter LaunchTemplateVersion")
	}
	if len(versions) > 200 {
		return nil, ec2Invalid("At most 200 versions can be deleted at once")
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	var ok, failed []*node
	err := h.update(func(tx store.Tx) error {
		lt, err := templateRef(tx, c.p)
		if err != nil {
			return err
		}
		for _, vs := range versions {
			n, perr := strconv.Atoi(vs)
			if perr == nil && n > 0 {
				err = autoscaling.DeleteVersion(tx, lt, n)
			} else {
				err = model.Errorf("launchTemplateVersionDoesNotExist", "'%s' is not a version number", vs)
			}
			var me *model.Error
			if errors.As(err, &me) {
				failed = append(failed, el("item", txt("launchTemplateId", lt.ID), txt("launchTemplateName", lt.Name),
					opt("versionNumber", numString(n)), el("responseError", txt("code", me.Code), txt("message", me.Message))))
				continue
			}
			if err != nil {
				return err
			}
			ok = append(ok, el("item", txt("launchTemplateId", lt.ID), txt("launchTemplateName", lt.Name), num("versionNumber", n)))
		}
		// $Latest follows the highest remaining version.
		remaining, err := autoscaling.Versions(tx, lt)
		if err != nil {
			return err
		}
		latest := lt.DefaultVersion
		for _, v := range remaining {
			latest = max(latest, v.Number)
		}
		if latest != lt.LatestVersion {
			lt.LatestVersion = latest
			return autoscaling.PutTemplate(tx, lt)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := frag()
	if len(ok) > 0 {
		res.add(nodeItems("successfullyDeletedLaunchTemplateVersionSet", ok))
	}
	if len(failed) > 0 {
		res.add(nodeItems("unsuccessfullyDeletedLaunchTemplateVersionSet", failed))
	}
	return res, nil
}

func numString(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}
