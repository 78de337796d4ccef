package elb

import (
	"strings"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// AddTags sets tags on load balancers, target groups, listeners or rules
// (by ARN), replacing the values of keys they already have.
func AddTags(tx store.Tx, arns []string, tags []model.Tag) error {
	if err := model.ValidateTags(tags, "TooManyTags", "DuplicateTagKeys"); err != nil {
		return err
	}
	return changeTags(tx, arns, tags, nil)
}

// RemoveTags removes the keys from the resources' tags.
func RemoveTags(tx store.Tx, arns []string, keys []string) error {
	return changeTags(tx, arns, nil, keys)
}

func changeTags(tx store.Tx, arns []string, add []model.Tag, remove []string) error {
	for _, arn := range arns {
		cur, err := ResourceTags(tx, arn)
		if err != nil {
			return err
		}
		if err := setResourceTags(tx, arn, model.MergeTags(cur, add, remove)); err != nil {
			return err
		}
	}
	return nil
}

// setResourceTags replaces the tags of a load balancer, target group,
// listener or rule.
func setResourceTags(tx store.Tx, arn string, tags []model.Tag) error {
	if len(tags) > model.MaxTags {
		return model.Errorf("TooManyTags", "A resource can have at most %d tags", model.MaxTags)
	}
	switch {
	case strings.Contains(arn, ":loadbalancer/"):
		lb, err := LoadBalancer(tx, arn)
		if err != nil {
			return err
		}
		lb.Tags = tags
		return store.PutJSON(tx, model.KindLoadBalancer, arn, lb)
	case strings.Contains(arn, ":targetgroup/"):
		g, err := TargetGroup(tx, arn)
		if err != nil {
			return err
		}
		g.Tags = tags
		return store.PutJSON(tx, model.KindTargetGroup, arn, g)
	case strings.Contains(arn, ":listener/"):
		l, err := Listener(tx, arn)
		if err != nil {
			return err
		}
		l.Tags = tags
		return store.PutJSON(tx, model.KindListener, arn, l)
	case strings.Contains(arn, ":listener-rule/"):
		r, err := Rule(tx, arn)
		if err != nil {
			return err
		}
		r.Tags = tags
		return store.PutJSON(tx, model.KindRule, arn, r)
	}
	_, err := ResourceTags(tx, arn)
	return err
}
