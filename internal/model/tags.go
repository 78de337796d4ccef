package model

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// ValidateTags checks AWS's rules for a resource's tags: keys of 1-128
// characters not starting with aws:, values up to 256 characters, no key
// twice, and at most MaxTags. tooMany and duplicate are the codes the
// resource's service answers for too many tags (TooManyTags for ELB,
// LimitExceeded for Auto Scaling and IAM, TagLimitExceeded for EC2) and for
// a key given twice (DuplicateTagKeys for ELB, ValidationError elsewhere);
// the others are ValidationError.
func ValidateTags(tags []Tag, tooMany, duplicate string) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if n := utf8.RuneCountInString(t.Key); n < 1 || n > 128 {
			return validationf("Tag key '%s' must be 1-128 characters", Quote(t.Key))
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return validationf("Tag keys starting with 'aws:' are reserved for AWS use")
		}
		if utf8.RuneCountInString(t.Value) > 256 {
			return validationf("The value of tag '%s' is over 256 characters", Quote(t.Key))
		}
		if seen[t.Key] {
			return Errorf(duplicate, "Tag key '%s' is given more than once", Quote(t.Key))
		}
		seen[t.Key] = true
	}
	if len(tags) > MaxTags {
		return Errorf(tooMany, "A resource can have at most %d tags", MaxTags)
	}
	return nil
}

// MergeTags sets add's keys on tags (replacing values) and removes the keys
// in remove.
func MergeTags(tags []Tag, add []Tag, remove []string) []Tag {
	out := []Tag{}
	for _, t := range tags {
		if !slices.Contains(remove, t.Key) && !slices.ContainsFunc(add, func(a Tag) bool { return a.Key == t.Key }) {
			out = append(out, t)
		}
	}
	for _, t := range add {
		if !slices.Contains(remove, t.Key) {
			out = append(out, t)
		}
	}
	return out
}

// Quote shortens a value a user sent for quoting in a message: a long bad
// value comes back as its first 160 characters (an ARN fits) and an ellipsis,
// not whole.
func Quote(s string) string {
	const max = 160
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}
