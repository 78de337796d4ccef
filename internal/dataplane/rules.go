package dataplane

import (
	"bytes"
	"net/netip"
	"strconv"
)

// Conditions of a listener rule, compiled. Values of one condition are
// ORed; conditions are ANDed. Matching allocates nothing.
type Conditions struct {
	// Hosts match the Host header, case-insensitively, with * and ?.
	Hosts []string
	// Paths match the path (no query), case-sensitively, with * and ?.
	Paths []string
	// Methods match exactly.
	Methods []string
	// Headers match a named header's values, case-insensitively, with * and ?.
	Headers []HeaderCondition
	// Queries each need one of their pairs in the query string.
	Queries []QueryCondition
	// Sources match the client's address (the TCP peer).
	Sources []netip.Prefix
}

// HeaderCondition is an http-header condition.
type HeaderCondition struct {
	Name   string // lower case
	Values []string
}

// QueryCondition is a query-string condition: any of its pairs matches.
type QueryCondition struct {
	Pairs []QueryPair
}

// QueryPair matches key=value (Key empty: any key); * and ? are wildcards
// and \ escapes them.
type QueryPair struct {
	Key, Value string
}

// RedirectConfig is a compiled redirect action; empty fields keep the
// request's component, and #{protocol}, #{host}, #{port}, #{path} and
// #{query} insert it.
type RedirectConfig struct {
	Protocol, Host, Port, Path, Query string
	// StatusCode is 301 or 302.
	StatusCode int
}

// reqView is what rule conditions see of a request.
type reqView struct {
	method  []byte
	target  []byte
	host    []byte
	headers []header
	remote  netip.Addr
}

func (r *Rule) matchView(v *reqView) bool {
	c := &r.Conditions
	if len(c.Hosts) > 0 {
		host := hostWithoutPort(v.host)
		if !anyWild(c.Hosts, host, true) {
			return false
		}
	}
	if len(c.Paths) > 0 {
		path := v.target
		if i := bytes.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if !anyWild(c.Paths, path, false) {
			return false
		}
	}
	if len(c.Methods) > 0 {
		ok := false
		for _, m := range c.Methods {
			if string(v.method) == m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i := range c.Headers {
		hc := &c.Headers[i]
		ok := false
		for j := range v.headers {
			if asciiEqualFold(v.headers[j].name, hc.Name) && anyWild(hc.Values, v.headers[j].value, true) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i := range c.Queries {
		if !matchQuery(&c.Queries[i], v.target) {
			return false
		}
	}
	if len(c.Sources) > 0 {
		ok := false
		for _, p := range c.Sources {
			if p.Contains(v.remote) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func anyWild(patterns []string, s []byte, fold bool) bool {
	for _, p := range patterns {
		if wildMatch(p, s, fold, false) {
			return true
		}
	}
	return false
}

func matchQuery(q *QueryCondition, target []byte) bool {
	i := bytes.IndexByte(target, '?')
	if i < 0 {
		return false
	}
	query := target[i+1:]
	for len(query) > 0 {
		var part []byte
		if j := bytes.IndexByte(query, '&'); j >= 0 {
			part, query = query[:j], query[j+1:]
		} else {
			part, query = query, nil
		}
		k, v := part, []byte(nil)
		if j := bytes.IndexByte(part, '='); j >= 0 {
			k, v = part[:j], part[j+1:]
		}
		for _, p := range q.Pairs {
			if (p.Key == "" || wildMatch(p.Key, k, true, true)) && wildMatch(p.Value, v, true, true) {
				return true
			}
		}
	}
	return false
}

// wildMatch matches s against pattern with * (any run) and ? (one byte).
// With escapes, \* and \? match themselves.
func wildMatch(pattern string, s []byte, fold, escapes bool) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			c := pattern[p]
			lit := false
			if escapes && c == '\\' && p+1 < len(pattern) {
				c = pattern[p+1]
				lit = true
			}
			switch {
			case !lit && c == '*':
				starP, starI = p, i
				p++
				continue
			case !lit && c == '?', eqByte(c, s[i], fold):
				if lit {
					p += 2
				} else {
					p++
				}
				i++
				continue
			}
		}
		if starP >= 0 {
			starI++
			p, i = starP+1, starI
			continue
		}
		return false
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

// appendRedirect writes the Location of a redirect for the request.
func appendRedirect(dst []byte, rc *RedirectConfig, l *Listener, v *reqView) []byte {
	proto := "http"
	if l.Protocol == "HTTPS" {
		proto = "https"
	}
	host := hostWithoutPort(v.host)
	port := strconv.Itoa(l.Port)
	path := v.target
	query := []byte(nil)
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if len(path) > 0 && path[0] == '/' {
		path = path[1:] // #{path} is the path without its leading slash
	}
	expand := func(dst []byte, tmpl, def string) []byte {
		if tmpl == "" {
			tmpl = def
		}
		for len(tmpl) > 0 {
			i := bytes.IndexByte([]byte(tmpl), '#')
			if i < 0 || i+1 >= len(tmpl) || tmpl[i+1] != '{' {
				if i < 0 {
					return append(dst, tmpl...)
				}
				dst = append(dst, tmpl[:i+1]...)
				tmpl = tmpl[i+1:]
				continue
			}
			dst = append(dst, tmpl[:i]...)
			tmpl = tmpl[i:]
			switch {
			case len(tmpl) >= 11 && tmpl[:11] == "#{protocol}":
				dst, tmpl = append(dst, proto...), tmpl[11:]
			case len(tmpl) >= 7 && tmpl[:7] == "#{host}":
				dst, tmpl = append(dst, host...), tmpl[7:]
			case len(tmpl) >= 7 && tmpl[:7] == "#{port}":
				dst, tmpl = append(dst, port...), tmpl[7:]
			case len(tmpl) >= 7 && tmpl[:7] == "#{path}":
				dst, tmpl = append(dst, path...), tmpl[7:]
			case len(tmpl) >= 8 && tmpl[:8] == "#{query}":
				dst, tmpl = append(dst, query...), tmpl[8:]
			default:
				dst, tmpl = append(dst, '#'), tmpl[1:]
			}
		}
		return dst
	}
	start := len(dst)
	dst = expand(dst, rc.Protocol, "#{protocol}")
	// The protocol is written lower case in the URL (config uses HTTP/HTTPS).
	scheme := bytes.ToLower(dst[start:])
	copy(dst[start:], scheme)
	dst = append(dst, "://"...)
	dst = expand(dst, rc.Host, "#{host}")
	portStart := len(dst)
	dst = expand(dst, rc.Port, "#{port}")
	p := string(dst[portStart:])
	if (string(scheme) == "http" && p == "80") || (string(scheme) == "https" && p == "443") || p == "" {
		dst = dst[:portStart]
	} else {
		dst = append(dst[:portStart], ':')
		dst = append(dst, p...)
	}
	dst = expand(dst, rc.Path, "/#{path}")
	qStart := len(dst)
	dst = append(dst, '?')
	dst = expand(dst, rc.Query, "#{query}")
	if len(dst) == qStart+1 {
		dst = dst[:qStart]
	}
	return dst
}
