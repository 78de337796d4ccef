package autoscaling

import (
	"slices"
	"strings"

	"github.com/alba-lb/alba/internal/model"
)

// GroupNameTag is the tag EC2 Auto Scaling puts on every instance it
// launches, naming its group.
const GroupNameTag = "aws:autoscaling:groupName"

// InstanceTags are the tags an instance of g launched from data gets, as
// EC2 Auto Scaling tags it: the template's instance tags, the group's tags
// marked PropagateAtLaunch over them (the group's value wins a shared
// key), and aws:autoscaling:groupName. Sorted by key.
func InstanceTags(g *model.AutoScalingGroup, data model.LaunchTemplateData) []model.Tag {
	byKey := map[string]string{}
	for _, t := range data.InstanceTags {
		byKey[t.Key] = t.Value
	}
	for _, t := range g.Tags {
		if t.PropagateAtLaunch {
			byKey[t.Key] = t.Value
		}
	}
	byKey[GroupNameTag] = g.Name
	out := make([]model.Tag, 0, len(byKey))
	for k, v := range byKey {
		out = append(out, model.Tag{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b model.Tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}
