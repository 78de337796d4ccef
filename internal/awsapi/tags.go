package awsapi

import (
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- tags: elbv2's AddTags, RemoveTags, DescribeTags (autoscaling's are
// in asgtags.go, EC2's in launchtemplates.go).

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
