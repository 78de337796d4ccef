package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML library reports problems in Go's terms ("cannot unmarshal !!str
// `one` into int", "field prot not found in type config.TargetGroup"). A
// user wrote YAML: these messages name the key path, say what was wanted
// in YAML words, and suggest the nearest known key.

var (
	lineRe      = regexp.MustCompile(`^line (\d+): (.*)$`)
	unmarshalRe = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
	unknownRe   = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	// A list or mapping where a scalar goes comes without a value.
	collectionRe = regexp.MustCompile(`^cannot unmarshal !!(seq|map) into (.+)$`)
)

// yamlProblem rewrites one message of the YAML library at line, given the
// document.
func yamlProblem(root *yaml.Node, line int, msg string) string {
	if m := unmarshalRe.FindStringSubmatch(msg); m != nil {
		path, _ := pathAt(root, line, m[2])
		return fmt.Sprintf("%s: want %s, got %s", path, yamlKind(m[3]), strconv.Quote(m[2]))
	}
	if m := collectionRe.FindStringSubmatch(msg); m != nil {
		path, _ := pathAt(root, line, "")
		got := map[string]string{"seq": "a list", "map": "a mapping"}[m[1]]
		return fmt.Sprintf("%s: want %s, got %s", path, yamlKind(m[2]), got)
	}
	if m := unknownRe.FindStringSubmatch(msg); m != nil {
		path, keys := pathAt(root, line, m[1])
		known := knownKeys(keys[:max(len(keys)-1, 0)])
		s := fmt.Sprintf("%s: unknown key '%s'", path, m[1])
		if near := nearest(m[1], known); near != "" {
			s += fmt.Sprintf("; did you mean '%s'?", near)
		} else if len(known) > 0 {
			s += "; known keys here: " + strings.Join(known, ", ")
		}
		return s
	}
	return msg
}

// yamlKind names a Go type in YAML words.
func yamlKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "*int"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "*float"):
		return "a number"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case goType == "string" || goType == "*string":
		return "text"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	default:
		return "a mapping (key: value)"
	}
}

// pathAt finds the node at line whose value (or key) is text and returns
// its path as written (target_groups[0].health_check.interval_seconds)
// and as steps (keys as strings, indexes as ints).
func pathAt(root *yaml.Node, line int, text string) (string, []any) {
	var best []any
	var walk func(n *yaml.Node, steps []any)
	walk = func(n *yaml.Node, steps []any) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, steps)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				s := append(append([]any{}, steps...), k.Value)
				if k.Line == line && (k.Value == text || v.Value == text || text == "") {
					best = s
				}
				walk(v, s)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(append([]any{}, steps...), i))
			}
		}
	}
	if root != nil {
		walk(root, nil)
	}
	var b strings.Builder
	for _, s := range best {
		switch s := s.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	if b.Len() == 0 {
		return "(top level)", best
	}
	return b.String(), best
}

// knownKeys lists the keys the file's schema has at path (the mapping that
// holds the unknown key).
func knownKeys(path []any) []string {
	t := reflect.TypeOf(File{})
	for _, s := range path {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		key, ok := s.(string)
		if !ok {
			continue // an index: the element type, unwrapped above
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByTag(t, key)
		if !ok {
			return nil
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := yamlTag(t.Field(i)); tag != "" {
			out = append(out, tag)
		}
	}
	return out
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if yamlTag(t.Field(i)) == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func yamlTag(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	return tag
}

// nearest returns the known key closest to s, if it is close (a typo).
func nearest(s string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= max(2, len(s)/3) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
