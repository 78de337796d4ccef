package lbcontroller

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/alba-lb/alba/internal/model"
)

// Rule conditions come from the API and the file, already validated; what
// reaches compilation must still never panic, and comes out whole: every
// value in its place, header names lower-cased (the data plane compares
// lower-case names), source networks as their masked prefixes and nothing
// that is not one.
func FuzzCompileConditions(f *testing.F) {
	f.Add("host-header", "*.example.com\x00api.example.com", "")
	f.Add("path-pattern", "/api/*", "")
	f.Add("http-header", "yes\x00Y*", "X-Canary")
	f.Add("source-ip", "10.0.0.0/8\x00::1/128\x00bad\x0010.1.2.3/16", "")
	f.Add("query-string", "version\x002", "")
	f.Add("http-request-method", "GET\x00HEAD", "")
	f.Fuzz(func(t *testing.T, field, joined, header string) {
		values := strings.Split(joined, "\x00")
		c := model.Condition{Field: field, Values: values, HeaderName: header}
		if field == "query-string" && len(values) >= 2 {
			c.Values = nil
			c.QueryValues = []model.QueryValue{{Key: values[0], Value: values[1]}}
		}
		out := compileConditions([]model.Condition{c, c})
		switch field {
		case "host-header":
			if !slices.Equal(out.Hosts, append(slices.Clone(values), values...)) {
				t.Fatalf("hosts %q from %q", out.Hosts, values)
			}
		case "path-pattern":
			if !slices.Equal(out.Paths, append(slices.Clone(values), values...)) {
				t.Fatalf("paths %q from %q", out.Paths, values)
			}
		case "http-request-method":
			if !slices.Equal(out.Methods, append(slices.Clone(values), values...)) {
				t.Fatalf("methods %q from %q", out.Methods, values)
			}
		case "http-header":
			if len(out.Headers) != 2 || out.Headers[0].Name != strings.ToLower(header) || !slices.Equal(out.Headers[0].Values, values) {
				t.Fatalf("headers %+v from %q %q", out.Headers, header, values)
			}
		case "source-ip":
			want := 0
			for _, v := range values {
				if _, err := netip.ParsePrefix(v); err == nil {
					want++
				}
			}
			if len(out.Sources) != 2*want {
				t.Fatalf("%d sources from %q, want %d", len(out.Sources), values, 2*want)
			}
			for _, p := range out.Sources {
				if p != p.Masked() {
					t.Fatalf("source %v not masked", p)
				}
			}
		case "query-string":
			if len(values) >= 2 && (len(out.Queries) != 2 || out.Queries[0].Pairs[0].Key != values[0] || out.Queries[0].Pairs[0].Value != values[1]) {
				t.Fatalf("queries %+v from %q", out.Queries, values)
			}
		default:
			if len(out.Hosts)+len(out.Paths)+len(out.Methods)+len(out.Headers)+len(out.Queries)+len(out.Sources) != 0 {
				t.Fatalf("an unknown field %q compiled to %+v", field, out)
			}
		}
	})
}
