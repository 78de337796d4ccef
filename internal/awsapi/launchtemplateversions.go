package awsapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- EC2 launch template versions: create, describe, delete.

type tagSpecXML struct {
	ResourceType string              `xml:"resourceType"`
	TagSet       itemList[ec2TagXML] `xml:"tagSet"`
}

type templateDataXML struct {
	ImageID             string                `xml:"imageId,omitempty"`
	InstanceType        string                `xml:"instanceType,omitempty"`
	KeyName             string                `xml:"keyName,omitempty"`
	UserData            string                `xml:"userData,omitempty"`
	SecurityGroupIDSet  *itemList[string]     `xml:"securityGroupIdSet"`
	TagSpecificationSet *itemList[tagSpecXML] `xml:"tagSpecificationSet"`
}

type versionXML struct {
	LaunchTemplateID   string          `xml:"launchTemplateId"`
	LaunchTemplateName string          `xml:"launchTemplateName"`
	VersionNumber      int             `xml:"versionNumber"`
	VersionDescription string          `xml:"versionDescription,omitempty"`
	CreateTime         isoTime         `xml:"createTime"`
	CreatedBy          string          `xml:"createdBy"`
	DefaultVersion     bool            `xml:"defaultVersion"`
	LaunchTemplateData templateDataXML `xml:"launchTemplateData"`
}

func versionOut(lt *model.LaunchTemplate, v *model.LaunchTemplateVersion) versionXML {
	d := v.Data
	data := templateDataXML{ImageID: d.ImageID, InstanceType: d.InstanceType, KeyName: d.KeyName, UserData: d.UserData}
	if len(d.SecurityGroupIDs) > 0 {
		sgs := items(d.SecurityGroupIDs)
		data.SecurityGroupIDSet = &sgs
	}
	if len(d.InstanceTags) > 0 {
		specs := items([]tagSpecXML{{"instance", ec2TagsXML(d.InstanceTags)}})
		data.TagSpecificationSet = &specs
	}
	return versionXML{lt.ID, lt.Name, v.Number, v.Description, isoTime(v.CreateTime), createdBy(), v.Number == lt.DefaultVersion, data}
}

type createLaunchTemplateVersionIn struct {
	templateRefIn
	SourceVersion      string         `q:"SourceVersion"`
	VersionDescription string         `q:"VersionDescription,max=255"`
	LaunchTemplateData templateDataIn `q:"LaunchTemplateData"`
	clientTokenIn
	dryRunIn
}

type versionResult struct {
	LaunchTemplateVersion versionXML `xml:"launchTemplateVersion"`
}

func (h *handler) createLaunchTemplateVersion(c *call, in *createLaunchTemplateVersionIn) (any, error) {
	data, err := in.LaunchTemplateData.data()
	if err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	return inUpdate(h, func(tx store.Tx) (any, error) {
		lt, err := in.find(tx)
		if err != nil {
			return nil, err
		}
		ref, err := in.made(tx, c)
		if err != nil {
			return nil, err
		}
		if ref != "" {
			if v, err := autoscaling.ResolveVersion(tx, lt, ref[strings.LastIndexByte(ref, '|')+1:]); err == nil {
				return versionResult{versionOut(lt, v)}, nil
			}
		}
		v, err := autoscaling.CreateVersion(tx, lt, in.SourceVersion, in.VersionDescription, data, c.now)
		if err != nil {
			return nil, err
		}
		return versionResult{versionOut(lt, v)}, in.remember(tx, c, lt.ID+"|"+strconv.Itoa(v.Number))
	})
}

type describeLaunchTemplateVersionsIn struct {
	templateRefIn
	Versions   []string `q:"LaunchTemplateVersion"`
	MinVersion *int     `q:"MinVersion"`
	MaxVersion *int     `q:"MaxVersion"`
	ec2Page
	dryRunIn
}

type versionsOut struct {
	LaunchTemplateVersionSet itemList[versionXML] `xml:"launchTemplateVersionSet"`
	NextToken                string               `xml:"nextToken,omitempty"`
}

// templates is the templates DescribeLaunchTemplateVersions looks in:
// the one named, or every one when only $Latest and $Default are asked.
func (in *describeLaunchTemplateVersionsIn) templates(tx store.Tx) ([]*model.LaunchTemplate, error) {
	if in.named() {
		lt, err := in.find(tx)
		return []*model.LaunchTemplate{lt}, err
	}
	for _, w := range in.Versions {
		if w != "$Latest" && w != "$Default" {
			return nil, apiErrorf("MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName when versions other than $Latest and $Default are named")
		}
	}
	if len(in.Versions) == 0 {
		return nil, apiErrorf("MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName")
	}
	return autoscaling.Templates(tx)
}

func (h *handler) describeLaunchTemplateVersions(c *call, in *describeLaunchTemplateVersionsIn) (any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	rows, err := inView(h, func(tx store.Tx) ([]keyed[versionXML], error) {
		lts, err := in.templates(tx)
		if err != nil {
			return nil, err
		}
		var rows []keyed[versionXML]
		for _, lt := range lts {
			add := func(v *model.LaunchTemplateVersion) {
				rows = append(rows, keyed[versionXML]{fmt.Sprintf("%s|%08d", lt.Name, v.Number), versionOut(lt, v)})
			}
			if len(in.Versions) > 0 {
				seen := map[int]bool{}
				for _, w := range in.Versions {
					v, err := autoscaling.ResolveVersion(tx, lt, w)
					if err != nil {
						return nil, err
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
				return nil, err
			}
			for _, v := range vs {
				if (in.MinVersion == nil || v.Number >= *in.MinVersion) && (in.MaxVersion == nil || v.Number <= *in.MaxVersion) {
					add(v)
				}
			}
		}
		return rows, nil
	})
	if err != nil {
		return nil, err
	}
	vs, next, err := pageKeyed(rows, in.paging())
	if err != nil {
		return nil, err
	}
	return versionsOut{items(vs), next}, nil
}

type deleteLaunchTemplateVersionsIn struct {
	templateRefIn
	Versions []string `q:"LaunchTemplateVersion,req,max=200"`
	dryRunIn
}

type deletedVersionXML struct {
	LaunchTemplateID   string `xml:"launchTemplateId"`
	LaunchTemplateName string `xml:"launchTemplateName"`
	VersionNumber      int    `xml:"versionNumber"`
}

type responseErrorXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type undeletedVersionXML struct {
	LaunchTemplateID   string           `xml:"launchTemplateId"`
	LaunchTemplateName string           `xml:"launchTemplateName"`
	VersionNumber      int              `xml:"versionNumber,omitempty"`
	ResponseError      responseErrorXML `xml:"responseError"`
}

type deleteVersionsOut struct {
	Deleted   *itemList[deletedVersionXML]   `xml:"successfullyDeletedLaunchTemplateVersionSet"`
	Undeleted *itemList[undeletedVersionXML] `xml:"unsuccessfullyDeletedLaunchTemplateVersionSet"`
}

func (h *handler) deleteLaunchTemplateVersions(c *call, in *deleteLaunchTemplateVersionsIn) (any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	var ok []deletedVersionXML
	var failed []undeletedVersionXML
	err := h.update(func(tx store.Tx) error {
		ok, failed = nil, nil // a retried update starts over
		lt, err := in.find(tx)
		if err != nil {
			return err
		}
		for _, vs := range in.Versions {
			n, perr := strconv.Atoi(vs)
			if perr == nil && n > 0 {
				err = autoscaling.DeleteVersion(tx, lt, n)
			} else {
				n, err = 0, model.Errorf("launchTemplateVersionDoesNotExist", "'%s' is not a version number", model.Quote(vs))
			}
			var me *model.Error
			if errors.As(err, &me) {
				failed = append(failed, undeletedVersionXML{lt.ID, lt.Name, n, responseErrorXML{me.Code, me.Message}})
				continue
			}
			if err != nil {
				return err
			}
			ok = append(ok, deletedVersionXML{lt.ID, lt.Name, n})
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
	var out deleteVersionsOut
	if len(ok) > 0 {
		out.Deleted = &itemList[deletedVersionXML]{ok}
	}
	if len(failed) > 0 {
		out.Undeleted = &itemList[undeletedVersionXML]{failed}
	}
	return out, nil
}
