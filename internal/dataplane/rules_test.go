package dataplane

import (
	"net/netip"
	"testing"
)

func TestWildMatch(t *testing.T) {
	cases := []struct {
		pattern, s    string
		fold, escapes bool
		want          bool
	}{
		{"*.example.com", "www.example.com", true, false, true},
		{"*.example.com", "example.com", true, false, false}, // AWS: *.x does not match x
		{"*.EXAMPLE.com", "a.b.example.COM", true, false, true},
		{"/img/*", "/img/a/b.png", false, false, true},
		{"/img/*", "/IMG/a.png", false, false, false}, // paths are case-sensitive
		{"/a?c", "/abc", false, false, true},
		{"/a?c", "/ac", false, false, false},
		{"*", "", false, false, true},
		{"a*b*c", "aXXbYYc", false, false, true},
		{"a*b*c", "aXXbYY", false, false, false},
		{`v\*`, "v*", true, true, true},
		{`v\*`, "vx", true, true, false},
		{`v\?`, "v?", true, true, true},
	}
	for _, tc := range cases {
		if got := wildMatch(tc.pattern, []byte(tc.s), tc.fold, tc.escapes); got != tc.want {
			t.Errorf("wildMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestRuleConditions(t *testing.T) {
	view := func(method, target, host string, remote string, hs ...string) *reqView {
		v := &reqView{method: []byte(method), target: []byte(target), host: []byte(host), remote: netip.MustParseAddr(remote)}
		for i := 0; i+1 < len(hs); i += 2 {
			v.headers = append(v.headers, header{[]byte(hs[i]), []byte(hs[i+1])})
		}
		return v
	}
	cases := []struct {
		name string
		c    Conditions
		v    *reqView
		want bool
	}{
		{"no conditions", Conditions{}, view("GET", "/", "x", "127.0.0.1"), true},
		{"host with port", Conditions{Hosts: []string{"api.example.com"}}, view("GET", "/", "API.example.com:8080", "127.0.0.1"), true},
		{"host mismatch", Conditions{Hosts: []string{"api.example.com"}}, view("GET", "/", "www.example.com", "127.0.0.1"), false},
		{"hosts are ORed", Conditions{Hosts: []string{"a.com", "b.com"}}, view("GET", "/", "b.com", "127.0.0.1"), true},
		{"path ignores query", Conditions{Paths: []string{"/api/*"}}, view("GET", "/api/x?y=/z", "h", "127.0.0.1"), true},
		{"path anchored", Conditions{Paths: []string{"/api"}}, view("GET", "/api/x", "h", "127.0.0.1"), false},
		{"method exact", Conditions{Methods: []string{"POST"}}, view("post", "/", "h", "127.0.0.1"), false},
		{"header", Conditions{Headers: []HeaderCondition{{"user-agent", []string{"*mobile*"}}}}, view("GET", "/", "h", "127.0.0.1", "User-Agent", "Some MOBILE browser"), true},
		{"header absent", Conditions{Headers: []HeaderCondition{{"x-env", []string{"*"}}}}, view("GET", "/", "h", "127.0.0.1"), false},
		{"query key and value", Conditions{Queries: []QueryCondition{{[]QueryPair{{"version", "v1"}}}}}, view("GET", "/?a=1&VERSION=V1", "h", "127.0.0.1"), true},
		{"query value any key", Conditions{Queries: []QueryCondition{{[]QueryPair{{"", "beta*"}}}}}, view("GET", "/?x=betatest", "h", "127.0.0.1"), true},
		{"query missing", Conditions{Queries: []QueryCondition{{[]QueryPair{{"v", "1"}}}}}, view("GET", "/", "h", "127.0.0.1"), false},
		{"source ip", Conditions{Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}, view("GET", "/", "h", "127.0.0.1"), false},
		{"source ip v6", Conditions{Sources: []netip.Prefix{netip.MustParsePrefix("::1/128")}}, view("GET", "/", "h", "::1"), true},
		{"conditions are ANDed", Conditions{Hosts: []string{"a.com"}, Paths: []string{"/x"}}, view("GET", "/y", "a.com", "127.0.0.1"), false},
	}
	for _, tc := range cases {
		r := &Rule{Conditions: tc.c}
		if got := r.matchView(tc.v); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRedirectLocation(t *testing.T) {
	httpL := &Listener{Protocol: "HTTP", Port: 8080}
	v := &reqView{target: []byte("/a/b?x=1"), host: []byte("example.com:8080")}
	cases := []struct {
		name string
		rc   RedirectConfig
		want string
	}{
		{"to https keeps the rest", RedirectConfig{Protocol: "HTTPS", Port: "443"}, "https://example.com/a/b?x=1"},
		{"same everything but host", RedirectConfig{Host: "new.example.com"}, "http://new.example.com:8080/a/b?x=1"},
		{"path template", RedirectConfig{Path: "/v2/#{path}", Query: "from=#{host}&#{query}"}, "http://example.com:8080/v2/a/b?from=example.com&x=1"},
		{"drop query", RedirectConfig{Query: ""}, "http://example.com:8080/a/b?x=1"},
		{"port 80 omitted", RedirectConfig{Port: "80"}, "http://example.com/a/b?x=1"},
	}
	for _, tc := range cases {
		got := string(appendRedirect(nil, &tc.rc, httpL, v))
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
