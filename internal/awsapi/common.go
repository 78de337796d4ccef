package awsapi

import (
	"strings"
	"unicode/utf8"

	"github.com/alba-lb/alba/internal/model"
)

// SourceAPI marks resources made through the API, so that a reload of the
// YAML file leaves them alone.
const SourceAPI = "api"

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

// parseTags reads a tag list (Key, Value) and checks AWS's rules: keys of
// 1-128 characters not starting with aws:, values up to 256 characters,
// no key twice, at most 50.
func parseTags(ps []params) ([]model.Tag, error) {
	var tags []model.Tag
	seen := map[string]bool{}
	for _, p := range ps {
		t := model.Tag{Key: p.get("Key"), Value: p.get("Value")}
		if err := checkTag(t); err != nil {
			return nil, err
		}
		if seen[t.Key] {
			return nil, apiErrorf("DuplicateTagKeys", "Tag key '%s' is given more than once", t.Key)
		}
		seen[t.Key] = true
		tags = append(tags, t)
	}
	if len(tags) > 50 {
		return nil, apiErrorf("TooManyTags", "A resource can have at most 50 tags")
	}
	return tags, nil
}

func checkTag(t model.Tag) error {
	if n := utf8.RuneCountInString(t.Key); n < 1 || n > 128 {
		return validation("Tag key '%s' must be 1-128 characters", t.Key)
	}
	if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
		return validation("Tag keys starting with 'aws:' are reserved for AWS use")
	}
	if utf8.RuneCountInString(t.Value) > 256 {
		return validation("The value of tag '%s' is over 256 characters", t.Key)
	}
	return nil
}

// tagsXML renders query-protocol tags.
func tagsXML(name string, tags []model.Tag) *node {
	var ms []*node
	for _, t := range tags {
		ms = append(ms, el("member", txt("Key", t.Key), txt("Value", t.Value)))
	}
	return members(name, ms)
}

// lastSegment returns what follows the last '/' (the id in an ARN).
func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }
