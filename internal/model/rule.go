package model

import (
	"net/netip"
	"strconv"
	"strings"
)

// KindRule is the store kind of listener rules (the default rule is the
// listener's DefaultActions and is not stored here).
const KindRule = "rules"

// Rule is a listener rule: when every condition holds, its actions run.
type Rule struct {
	ARN         string      `json:"arn"`
	ListenerARN string      `json:"listener_arn"`
	Priority    int         `json:"priority"` // 1-50000, lowest first
	Conditions  []Condition `json:"conditions"`
	Actions     []Action    `json:"actions"`
	Tags        []Tag       `json:"tags,omitempty"`
	Source      string      `json:"source,omitempty"`
}

// Condition is one rule condition. Field is host-header, path-pattern,
// http-header, http-request-method, query-string or source-ip; values of
// one condition are ORed, conditions are ANDed.
type Condition struct {
	Field string `json:"field"`
	// Values of host-header, path-pattern, http-header, http-request-method
	// and source-ip conditions.
	Values []string `json:"values,omitempty"`
	// HeaderName of an http-header condition.
	HeaderName string `json:"header_name,omitempty"`
	// QueryValues of a query-string condition; Key may be empty.
	QueryValues []QueryValue `json:"query_values,omitempty"`
}

// QueryValue is a key/value pattern of a query-string condition.
type QueryValue struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value"`
}

// Validate checks a rule with AWS's limits: priority 1-50000, at most one
// each of host-header, path-pattern, http-request-method and source-ip, at
// most 5 values across conditions, patterns at most 128 characters.
func (r *Rule) Validate() error {
	if r.Priority < 1 || r.Priority > 50000 {
		return validationf("rule priority %d must be 1-50000", r.Priority)
	}
	if len(r.Conditions) == 0 {
		return validationf("a rule needs at least one condition")
	}
	once := map[string]bool{}
	values, wildcards := 0, 0
	for _, c := range r.Conditions {
		switch c.Field {
		case "host-header", "path-pattern", "http-request-method", "source-ip":
			if once[c.Field] {
				return validationf("a rule can have only one %s condition", c.Field)
			}
			once[c.Field] = true
			if len(c.Values) == 0 {
				return validationf("a %s condition needs values", c.Field)
			}
		case "http-header":
			if c.HeaderName == "" || !validHeaderName(c.HeaderName) {
				return validationf("an http-header condition needs a valid header name")
			}
			if strings.EqualFold(c.HeaderName, "host") {
				return validationf("an http-header condition cannot match Host: use host-header")
			}
			if len(c.Values) == 0 {
				return validationf("an http-header condition needs values")
			}
		case "query-string":
			if len(c.QueryValues) == 0 {
				return validationf("a query-string condition needs key/value pairs")
			}
			values += len(c.QueryValues)
			for _, q := range c.QueryValues {
				if q.Value == "" {
					return validationf("a query-string condition value must not be empty")
				}
				wildcards += strings.Count(q.Key+q.Value, "*") + strings.Count(q.Key+q.Value, "?")
			}
			continue
		default:
			return validationf("condition field '%s' must be host-header, path-pattern, http-header, http-request-method, query-string or source-ip", c.Field)
		}
		values += len(c.Values)
		for _, v := range c.Values {
			if len(v) > 128 {
				return validationf("condition value '%s' is over 128 characters", v)
			}
			switch c.Field {
			case "source-ip":
				if _, err := netip.ParsePrefix(v); err != nil {
					return validationf("source-ip value '%s' is not a CIDR", v)
				}
			case "http-request-method":
				if !validHeaderName(v) || strings.ContainsAny(v, "*?") {
					return validationf("http-request-method value '%s' must be a method name without wildcards", v)
				}
			default:
				wildcards += strings.Count(v, "*") + strings.Count(v, "?")
			}
		}
	}
	if values > 5 {
		return validationf("a rule can have at most 5 condition values (it has %d)", values)
	}
	if wildcards > 5 {
		return validationf("a rule can have at most 5 wildcards (it has %d)", wildcards)
	}
	if len(r.Actions) == 0 {
		return validationf("a rule needs an action")
	}
	for i := range r.Actions {
		if err := r.Actions[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// PriorityString is how DescribeRules shows a priority.
func (r *Rule) PriorityString() string { return strconv.Itoa(r.Priority) }
