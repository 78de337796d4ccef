package autoscaling

import (
	"slices"
	"testing"

	"github.com/alba-lb/alba/internal/model"
)

func TestInstanceTags(t *testing.T) {
	for _, tc := range []struct {
		name     string
		template []model.Tag
		group    []model.Tag
		want     []model.Tag
	}{
		{name: "none", want: []model.Tag{{Key: GroupNameTag, Value: "web"}}},
		{name: "template and propagated group tags",
			template: []model.Tag{{Key: "Name", Value: "movie-catalog"}},
			group:    []model.Tag{{Key: "team", Value: "films", PropagateAtLaunch: true}, {Key: "cost", Value: "1", PropagateAtLaunch: false}},
			want:     []model.Tag{{Key: "Name", Value: "movie-catalog"}, {Key: GroupNameTag, Value: "web"}, {Key: "team", Value: "films"}}},
		{name: "the group's value wins a shared key",
			template: []model.Tag{{Key: "Name", Value: "from-template"}},
			group:    []model.Tag{{Key: "Name", Value: "from-group", PropagateAtLaunch: true}},
			want:     []model.Tag{{Key: "Name", Value: "from-group"}, {Key: GroupNameTag, Value: "web"}}},
		{name: "the group name tag is always the group's",
			template: []model.Tag{{Key: GroupNameTag, Value: "spoof"}},
			want:     []model.Tag{{Key: GroupNameTag, Value: "web"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &model.AutoScalingGroup{Name: "web", Tags: tc.group}
			got := InstanceTags(g, model.LaunchTemplateData{InstanceTags: tc.template})
			if !slices.Equal(got, tc.want) {
				t.Errorf("InstanceTags = %+v, want %+v", got, tc.want)
			}
		})
	}
}
