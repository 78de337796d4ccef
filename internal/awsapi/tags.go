package awsapi

import (
	"strconv"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- tags: elbv2's AddTags, RemoveTags, DescribeTags, then
// autoscaling's (EC2's tag specifications are in launchtemplates.go).

type tagXML struct{ Key, Value string }

func tagsXML(tags []model.Tag) memberList[tagXML] {
	var out []tagXML
	for _, t := range tags {
		out = append(out, tagXML{t.Key, t.Value})
	}
	return members(out)
}

type addTagsIn struct {
	ResourceArns []string `q:"ResourceArns,req,arn,max=20"`
	Tags         []tagIn  `q:"Tags,req"`
}

func (h *handler) addTags(c *call, in *addTagsIn) (any, error) {
	return nil, h.update(func(tx store.Tx) error { return elb.AddTags(tx, in.ResourceArns, modelTags(in.Tags)) })
}

type removeTagsIn struct {
	ResourceArns []string `q:"ResourceArns,req,arn"`
	TagKeys      []string `q:"TagKeys,req"`
}

func (h *handler) removeTags(c *call, in *removeTagsIn) (any, error) {
	return nil, h.update(func(tx store.Tx) error { return elb.RemoveTags(tx, in.ResourceArns, in.TagKeys) })
}

type describeTagsIn struct {
	ResourceArns []string `q:"ResourceArns,req,arn,max=20"`
}

type tagDescriptionXML struct {
	ResourceArn string
	Tags        memberList[tagXML]
}

type tagDescriptionsOut struct {
	TagDescriptions memberList[tagDescriptionXML]
}

func (h *handler) describeTags(c *call, in *describeTagsIn) (any, error) {
	var out []tagDescriptionXML
	err := h.view(func(tx store.Tx) error {
		for _, arn := range in.ResourceArns {
			tags, err := elb.ResourceTags(tx, arn)
			if err != nil {
				return err
			}
			out = append(out, tagDescriptionXML{arn, tagsXML(tags)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tagDescriptionsOut{members(out)}, nil
}

// ---- autoscaling's CreateOrUpdateTags, DeleteTags, DescribeTags.

type asgTagIn struct {
	Key               string `q:"Key"`
	Value             string `q:"Value"`
	PropagateAtLaunch *bool  `q:"PropagateAtLaunch"`
	ResourceID        string `q:"ResourceId"`
	ResourceType      string `q:"ResourceType"`
}

type asgTagXML struct {
	ResourceID        string `xml:"ResourceId"`
	ResourceType      string
	Key               string
	Value             string
	PropagateAtLaunch bool
}

func asgTagOut(g *model.AutoScalingGroup, t model.Tag) asgTagXML {
	return asgTagXML{g.Name, "auto-scaling-group", t.Key, t.Value, t.PropagateAtLaunch}
}

// groupTags converts tags, each for its ResourceId, or for group when it
// is set (CreateAutoScalingGroup's tags name their group implicitly).
func groupTags(in []asgTagIn, group string) ([]autoscaling.GroupTag, error) {
	var out []autoscaling.GroupTag
	seen := map[string]bool{}
	for _, p := range in {
		g := p.ResourceID
		if group != "" {
			if g != "" && g != group {
				return nil, validation("Tag resource id '%s' is not the group '%s'", model.Quote(g), group)
			}
			g = group
		}
		if g == "" {
			return nil, validation("A tag needs a ResourceId (the Auto Scaling group name)")
		}
		if rt := p.ResourceType; rt != "" && rt != "auto-scaling-group" {
			return nil, validation("Tag resource type '%s' must be auto-scaling-group", model.Quote(rt))
		}
		if seen[g+"\x00"+p.Key] {
			return nil, validation("Tag key '%s' is given more than once for %s", model.Quote(p.Key), model.Quote(g))
		}
		seen[g+"\x00"+p.Key] = true
		t := model.Tag{Key: p.Key, Value: p.Value, PropagateAtLaunch: p.PropagateAtLaunch != nil && *p.PropagateAtLaunch}
		out = append(out, autoscaling.GroupTag{Group: g, Tag: t})
	}
	return out, nil
}

type asgTagsIn struct {
	Tags []asgTagIn `q:"Tags,req"`
}

// changeGroupTags makes CreateOrUpdateTags and DeleteTags.
func changeGroupTags(fn func(tx store.Tx, tags []autoscaling.GroupTag) error) op {
	return handle(func(h *handler, c *call, in *asgTagsIn) (any, error) {
		tags, err := groupTags(in.Tags, "")
		if err != nil {
			return nil, err
		}
		return nil, h.update(func(tx store.Tx) error { return fn(tx, tags) })
	})
}

type describeASGTagsIn struct {
	Filters    []filterIn `q:"Filters"`
	MaxRecords *int       `q:"MaxRecords,min=1,max=100"`
	tokenPage
}

type asgTagsOut struct {
	Tags      memberList[asgTagXML]
	NextToken string `xml:",omitempty"`
}

func (h *handler) describeASGTags(c *call, in *describeASGTagsIn) (any, error) {
	pg := in.paging(in.MaxRecords, 50)
	for _, f := range in.Filters {
		switch f.Name {
		case "auto-scaling-group", "key", "value", "propagate-at-launch":
		default:
			return nil, validation("Filter name '%s' must be auto-scaling-group, key, value or propagate-at-launch", model.Quote(f.Name))
		}
	}
	gs, err := inView(h, autoscaling.Groups)
	if err != nil {
		return nil, err
	}
	var rows []keyed[asgTagXML]
	for _, g := range gs {
		for _, t := range g.Tags {
			if x := asgTagOut(g, t); tagMatches(x, in.Filters) {
				rows = append(rows, keyed[asgTagXML]{g.Name + "\x00" + t.Key, x})
			}
		}
	}
	tags, next, err := pageKeyed(rows, pg)
	if err != nil {
		return nil, err
	}
	return asgTagsOut{members(tags), next}, nil
}

func tagMatches(t asgTagXML, filters []filterIn) bool {
	for _, f := range filters {
		v := map[string]string{"auto-scaling-group": t.ResourceID, "key": t.Key, "value": t.Value,
			"propagate-at-launch": strconv.FormatBool(t.PropagateAtLaunch)}[f.Name]
		if !matchAny(f.Values, v) {
			return false
		}
	}
	return true
}
