package awsapi

import (
	"strings"

	"github.com/alba-lb/alba/internal/model"
)

// SourceAPI marks resources made through the API, so that a reload of the
// YAML file leaves them alone.
const SourceAPI = model.SourceAPI

// required returns a parameter that must be present and non-empty.
func (c *call) required(key string) (string, error) {
	v := c.p.get(key)
	if v == "" {
		return "", missing(c.svc, key)
	}
	return v, nil
}

// intIn returns an optional integer parameter, checked against a range.
func (c *call) intIn(key string, lo, hi int) (*int, error) {
	n, err := c.p.intp(key)
	if err != nil || n == nil {
		return n, err
	}
	if *n < lo || *n > hi {
		if c.svc.ec2 {
			return nil, apiErrorf("InvalidParameterValue", "Value (%d) for parameter %s is invalid: it must be between %d and %d", *n, key, lo, hi)
		}
		return nil, validation("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between %d and %d", *n, lowerFirst(key), lo, hi)
	}
	return n, nil
}

// orDefault dereferences an optional integer.
func orDefault(n *int, def int) int {
	if n == nil {
		return def
	}
	return *n
}

// parseTags reads a tag list (Key, Value); the service layer checks AWS's
// rules for tags.
func parseTags(ps []params) []model.Tag {
	var tags []model.Tag
	for _, p := range ps {
		tags = append(tags, model.Tag{Key: p.get("Key"), Value: p.get("Value")})
	}
	return tags
}

// tagsXML renders query-protocol tags.
func tagsNode(name string, tags []model.Tag) *node {
	var ms []*node
	for _, t := range tags {
		ms = append(ms, el("member", txt("Key", t.Key), txt("Value", t.Value)))
	}
	return nodeMembers(name, ms)
}

// lastSegment returns what follows the last '/' (the id in an ARN).
func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }
