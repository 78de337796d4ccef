package awsapi

import (
	"math"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alba-lb/alba/internal/model"
)

// The Query decoder: every operation's input is a Go struct whose fields
// carry a `q` tag, and decode fills it from the request's form, so that
// list numbering, required members, ranges and ARN syntax are checked the
// same way for every operation.
//
// Tag syntax: `q:"Name,opt,opt=value"` where Name is the member name and
// the options are
//
//	req      the member must be sent (and non-empty for strings and lists)
//	min=N    numbers: lowest value; strings and lists: shortest length
//	max=N    numbers: highest value; strings and lists: longest length
//	arn      strings (and string lists): each value must be a well-formed ARN
//
// Field types: string, *string, int, *int, bool, *bool, float64, *float64,
// nested structs (Name.Field) and *struct (nil when nothing under Name was
// sent), lists []string and []struct (Name.member.N, EC2: Name.N; a list is
// nil when not sent, non-nil when sent even empty), and map[string]string
// (Name.entry.N.key / Name.entry.N.value). An embedded struct without a tag
// contributes its fields at the same level (shared paging inputs).

// maxListIndex bounds list indexes so a hostile request cannot make us
// allocate: AWS's own lists are far shorter.
const maxListIndex = 1000

// maxKeyLen and maxKeyDepth bound the form index below (one entry per
// dotted prefix of every name; net/url already bounds how many names), so
// that a hostile body cannot make it large: AWS's longest names are under
// 100 characters and 8 segments.
const (
	maxKeyLen   = 256
	maxKeyDepth = 16
)

// form is a request's parameters with the index the decoder needs: which
// dotted prefixes were sent and how many members each list has. newForm
// checks list numbering once for every operation.
type form struct {
	v url.Values
	// ec2 selects EC2's flat lists (Name.N) and its error codes.
	ec2 bool
	// prefixes holds every dotted prefix of every key ("A", "A.member",
	// "A.member.1" for "A.member.1.B").
	prefixes map[string]bool
	// lists counts the members of each list, by the key before the index
	// ("A.member" for "A.member.1").
	lists map[string]int
}

// newForm indexes vals and rejects list members numbered out of range
// (0, above maxListIndex, leading zeros) or with gaps (1 and 3 without 2),
// as AWS does: dropping them would silently widen a filter.
func newForm(vals url.Values, ec2 bool) (*form, error) {
	f := &form{v: vals, ec2: ec2, prefixes: map[string]bool{}, lists: map[string]int{}}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable choice of which error to report
	seen := map[string]map[int]bool{}
	for _, k := range keys {
		if len(k) > maxKeyLen || strings.Count(k, ".") >= maxKeyDepth {
			return nil, validation("Parameter name '%s' is too long: parameter names are at most %d characters in %d parts", model.Quote(k), maxKeyLen, maxKeyDepth)
		}
		start := 0
		for i := 0; i <= len(k); i++ {
			if i < len(k) && k[i] != '.' {
				continue
			}
			seg := k[start:i]
			if start > 0 && isDigits(seg) {
				list := k[:start-1]
				n, err := strconv.Atoi(seg)
				if err != nil || n < 1 || n > maxListIndex || strconv.Itoa(n) != seg {
					return nil, validation("Parameter %s is out of range: list members are numbered from 1 to %d", model.Quote(k[:i]), maxListIndex)
				}
				if seen[list] == nil {
					seen[list] = map[int]bool{}
				}
				seen[list][n] = true
			}
			f.prefixes[k[:i]] = true
			start = i + 1
		}
	}
	lists := make([]string, 0, len(seen))
	for l := range seen {
		lists = append(lists, l)
	}
	sort.Strings(lists)
	for _, l := range lists {
		ns := seen[l]
		for n := 1; n <= len(ns); n++ {
			if !ns[n] {
				return nil, validation("Parameter %s.%d is missing: list members are numbered from 1 with none left out", model.Quote(l), n)
			}
		}
		f.lists[l] = len(ns)
	}
	return f, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// has reports whether key was sent (even empty).
func (f *form) has(key string) bool {
	_, ok := f.v[key]
	return ok
}

// hasAny reports whether key or anything under key. was sent.
func (f *form) hasAny(key string) bool { return f.prefixes[key] }

// tag is a parsed `q` struct tag.
type tag struct {
	name     string
	req, arn bool
	min, max *int
}

func parseTag(f reflect.StructField) tag {
	parts := strings.Split(f.Tag.Get("q"), ",")
	t := tag{name: parts[0]}
	if t.name == "" {
		t.name = f.Name
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "req":
			t.req = true
		case "arn":
			t.arn = true
		case "min", "max":
			n, err := strconv.Atoi(v)
			if err != nil {
				panic("awsapi: bad q tag on " + f.Name + ": " + p)
			}
			if k == "min" {
				t.min = &n
			} else {
				t.max = &n
			}
		default:
			panic("awsapi: unknown q tag option on " + f.Name + ": " + p)
		}
	}
	return t
}

// decode fills the struct dst points to from the request.
func (c *call) decode(dst any) error {
	return c.f.decodeStruct("", reflect.ValueOf(dst).Elem())
}

// field is one decoded field of an input struct: embedded structs without
// a tag contribute their fields at the same level.
type field struct {
	index    int
	embedded bool
	tag      tag
}

// fieldCache holds each input type's fields, so that tags are parsed once
// per type rather than once per request.
var fieldCache sync.Map // reflect.Type → []field

func fieldsOf(rt reflect.Type) []field {
	if fs, ok := fieldCache.Load(rt); ok {
		return fs.([]field)
	}
	var fs []field
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		switch {
		case sf.Anonymous && sf.Type.Kind() == reflect.Struct && sf.Tag.Get("q") == "":
			fs = append(fs, field{index: i, embedded: true})
		case sf.IsExported():
			fs = append(fs, field{index: i, tag: parseTag(sf)})
		}
	}
	fieldCache.Store(rt, fs)
	return fs
}

func (f *form) decodeStruct(prefix string, rv reflect.Value) error {
	for _, fd := range fieldsOf(rv.Type()) {
		var err error
		if fd.embedded {
			err = f.decodeStruct(prefix, rv.Field(fd.index))
		} else {
			err = f.decodeField(prefix+fd.tag.name, fd.tag, rv.Field(fd.index))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listBase is where a list's indexes follow its name.
func (f *form) listBase(key string) string {
	if f.ec2 {
		return key
	}
	return key + ".member"
}

// timeType is decoded as a scalar (an ISO 8601 timestamp), not a struct.
var timeType = reflect.TypeFor[time.Time]()

func (f *form) decodeField(key string, t tag, fv reflect.Value) error {
	kind := fv.Kind()
	if fv.Type() == timeType {
		kind = reflect.String // a scalar
	}
	switch kind {
	case reflect.Pointer:
		et := fv.Type().Elem()
		nested := et.Kind() == reflect.Struct && et != timeType
		if nested && !f.hasAny(key) || !nested && !f.has(key) {
			if t.req {
				return f.missing(key)
			}
			return nil
		}
		p := reflect.New(et)
		var err error
		if nested {
			err = f.decodeStruct(key+".", p.Elem())
		} else {
			err = f.scalar(key, f.v.Get(key), t, p.Elem())
		}
		if err != nil {
			return err
		}
		fv.Set(p)
		return nil
	case reflect.Struct:
		return f.decodeStruct(key+".", fv)
	case reflect.Slice:
		return f.decodeList(key, t, fv)
	case reflect.Map:
		return f.decodeMap(key, t, fv)
	default:
		sent := f.has(key)
		if t.req && (!sent || fv.Kind() == reflect.String && f.v.Get(key) == "") {
			return f.missing(key)
		}
		if !sent {
			return nil
		}
		return f.scalar(key, f.v.Get(key), t, fv)
	}
}

func (f *form) decodeList(key string, t tag, fv reflect.Value) error {
	base := f.listBase(key)
	n := f.lists[base]
	if n == 0 && !f.has(key) {
		if t.req {
			return f.missing(key)
		}
		return nil
	}
	if n == 0 && t.req {
		return f.missing(key)
	}
	if (t.min != nil && n < *t.min) || (t.max != nil && n > *t.max) {
		return f.lengthError(key, n, t)
	}
	s := reflect.MakeSlice(fv.Type(), n, n)
	for i := 0; i < n; i++ {
		item := base + "." + strconv.Itoa(i+1)
		ev := s.Index(i)
		if ev.Kind() == reflect.Struct {
			if err := f.decodeStruct(item+".", ev); err != nil {
				return err
			}
			continue
		}
		et := tag{name: t.name, arn: t.arn}
		if err := f.scalar(item, f.v.Get(item), et, ev); err != nil {
			return err
		}
	}
	fv.Set(s)
	return nil
}

func (f *form) decodeMap(key string, t tag, fv reflect.Value) error {
	base := key + ".entry"
	n := f.lists[base]
	if n == 0 {
		if t.req {
			return f.missing(key)
		}
		return nil
	}
	m := reflect.MakeMapWithSize(fv.Type(), n)
	for i := 1; i <= n; i++ {
		e := base + "." + strconv.Itoa(i)
		if !f.has(e + ".key") {
			return f.missing(e + ".key")
		}
		m.SetMapIndex(reflect.ValueOf(f.v.Get(e+".key")), reflect.ValueOf(f.v.Get(e+".value")))
	}
	fv.Set(m)
	return nil
}

// scalar parses one value into a string, int, bool, float64 or time.Time.
func (f *form) scalar(key, s string, t tag, v reflect.Value) error {
	if v.Type() == timeType {
		ts, ok := parseTimestamp(s)
		if !ok {
			return f.invalid(key, s, "it must be a timestamp in ISO 8601 (2026-12-02T10:00:00Z) or seconds since 1970")
		}
		v.Set(reflect.ValueOf(ts))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if t.arn && s != "" && !validARN(s) { // absence is req's business
			return validation("Value '%s' for parameter %s is not a valid ARN", model.Quote(s), model.Quote(key))
		}
		if n := len([]rune(s)); (t.min != nil && n < *t.min) || (t.max != nil && n > *t.max) {
			return f.lengthError(key, n, t)
		}
		v.SetString(s)
	case reflect.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return f.invalid(key, s, "it must be an integer")
		}
		if (t.min != nil && int(n) < *t.min) || (t.max != nil && int(n) > *t.max) {
			return f.rangeError(key, int(n), t)
		}
		v.SetInt(n)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return f.invalid(key, s, "it must be true or false")
		}
	case reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return f.invalid(key, s, "it must be a number")
		}
		v.SetFloat(x)
	default:
		panic("awsapi: cannot decode into " + v.Type().String())
	}
	return nil
}

// parseTimestamp reads the timestamps AWS clients send: ISO 8601 with or
// without fractions and zone (UTC when none), or Unix seconds.
func parseTimestamp(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) && math.Abs(x) < 1e11 {
		sec, frac := math.Modf(x)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
	}
	return time.Time{}, false
}

// validARN checks an ARN's syntax: arn:partition:service:region:account:
// resource, with partition, service and resource non-empty.
func validARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] != "" && parts[5] != ""
}

// checkARN rejects an ARN that is not of the kind (Delete operations, so
// that an ARN of another kind is not silently a no-op).
func checkARN(arn, kind, what string) error {
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":"+kind+"/") {
		return validation("'%s' is not a valid %s ARN", model.Quote(arn), what)
	}
	return nil
}

func (f *form) missing(key string) error {
	if f.ec2 {
		return apiErrorf("MissingParameter", "The request must contain the parameter %s", key)
	}
	return validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(key))
}

func (f *form) invalid(key, value, want string) error {
	return apiErrorf(f.code(), "Value '%s' for parameter %s is invalid: %s", model.Quote(value), key, want)
}

func (f *form) code() string {
	if f.ec2 {
		return "InvalidParameterValue"
	}
	return "ValidationError"
}

func (f *form) rangeError(key string, n int, t tag) error {
	lo, hi := orDefault(t.min, math.MinInt32), orDefault(t.max, math.MaxInt32)
	if f.ec2 {
		return apiErrorf("InvalidParameterValue", "Value (%d) for parameter %s is invalid: it must be between %d and %d", n, key, lo, hi)
	}
	return validation("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between %d and %d", n, lowerFirst(key), lo, hi)
}

func (f *form) lengthError(key string, n int, t tag) error {
	lo, hi := orDefault(t.min, 0), orDefault(t.max, math.MaxInt32)
	if f.ec2 {
		return apiErrorf("InvalidParameterValue", "Parameter %s has length %d: it must be between %d and %d", key, n, lo, hi)
	}
	return validation("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length between %d and %d", lowerFirst(key), lo, hi)
}
