package awsapi

import (
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// params reads a query-protocol request: flat keys joined with dots, lists
// as Name.member.N (query) or Name.N (EC2). A params value may be scoped
// to a structure inside the request (prefix "Targets.member.1.").
type params struct {
	v      url.Values
	prefix string
	// ec2 selects EC2's error code for malformed values.
	ec2 bool
}

// get returns the value of key, "" when absent.
func (p params) get(key string) string { return p.v.Get(p.prefix + key) }

// has reports whether key was sent (even empty).
func (p params) has(key string) bool {
	_, ok := p.v[p.prefix+key]
	return ok
}

// hasAny reports whether key or any key under key. was sent.
func (p params) hasAny(key string) bool {
	if p.has(key) {
		return true
	}
	pre := p.prefix + key + "."
	for k := range p.v {
		if strings.HasPrefix(k, pre) {
			return true
		}
	}
	return false
}

// sub scopes to a nested structure.
func (p params) sub(key string) params {
	return params{v: p.v, prefix: p.prefix + key + ".", ec2: p.ec2}
}

func (p params) invalid(key, value, want string) error {
	code := "ValidationError"
	if p.ec2 {
		code = "InvalidParameterValue"
	}
	return apiErrorf(code, "Value '%s' for parameter %s is invalid: %s", value, p.prefix+key, want)
}

// intp returns an optional integer.
func (p params) intp(key string) (*int, error) {
	if !p.has(key) {
		return nil, nil
	}
	s := p.get(key)
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return nil, p.invalid(key, s, "it must be an integer")
	}
	i := int(n)
	return &i, nil
}

// boolp returns an optional boolean.
func (p params) boolp(key string) (*bool, error) {
	if !p.has(key) {
		return nil, nil
	}
	switch s := p.get(key); strings.ToLower(s) {
	case "true":
		b := true
		return &b, nil
	case "false":
		b := false
		return &b, nil
	default:
		return nil, p.invalid(key, s, "it must be true or false")
	}
}

// floatp returns an optional double.
func (p params) floatp(key string) (*float64, error) {
	if !p.has(key) {
		return nil, nil
	}
	s := p.get(key)
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, p.invalid(key, s, "it must be a number")
	}
	return &f, nil
}

// indexes returns the sorted list indexes N present under base (keys
// base.N or base.N.…).
func (p params) indexes(base string) []int {
	pre := p.prefix + base + "."
	seen := map[int]bool{}
	for k := range p.v {
		rest, ok := strings.CutPrefix(k, pre)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || n > maxListIndex {
			continue
		}
		seen[n] = true
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// strs returns a query-protocol string list (Name.member.N).
func (p params) strs(key string) []string { return p.flatStrs(key + ".member") }

// flatStrs returns an EC2 string list (Name.N).
func (p params) flatStrs(key string) []string {
	var out []string
	for _, n := range p.indexes(key) {
		k := key + "." + strconv.Itoa(n)
		if p.has(k) {
			out = append(out, p.get(k))
		}
	}
	return out
}

// structs returns a query-protocol list of structures (Name.member.N.…).
func (p params) structs(key string) []params { return p.flatStructs(key + ".member") }

// flatStructs returns an EC2 list of structures (Name.N.…).
func (p params) flatStructs(key string) []params {
	var out []params
	for _, n := range p.indexes(key) {
		out = append(out, p.sub(key+"."+strconv.Itoa(n)))
	}
	return out
}
