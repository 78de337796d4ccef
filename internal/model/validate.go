package model

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a client error with an AWS error code, so that the API can answer
// with AWS's code and the CLI and YAML loader with the message.
type Error struct {
	// Code is the AWS error code, e.g. ValidationError, TargetGroupNotFound.
	Code string
	// Message is a plain sentence.
	Message string
}

// Error is the message.
func (e *Error) Error() string { return e.Message }

// Takeover is the error for a resource the YAML file declares that meets
// one made through the API (same name, port or priority): the file does
// not take API resources over. what names the resource, ref the API's.
func Takeover(code, what, ref string) *Error {
	return Errorf(code, "%s already exists, created through the API (%s); the file does not take over API resources: rename it in the file, or delete it through the API", what, ref)
}

// HasCode reports whether err is, or wraps, an Error with code.
func HasCode(err error, code string) bool {
	var me *Error
	return errors.As(err, &me) && me.Code == code
}

// Errorf makes an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// validationf makes a ValidationError.
func validationf(format string, args ...any) *Error {
	return Errorf("ValidationError", format, args...)
}

var fixedStatusRe = regexp.MustCompile(`^[245][0-9][0-9]$`)

var nameRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$`)

// ValidateELBName checks a load balancer or target group name: at most 32
// alphanumerics and hyphens, not starting or ending with a hyphen.
func ValidateELBName(kind, name string) error {
	if !nameRe.MatchString(name) {
		return validationf("%s name '%s' is not valid: it must be 1-32 characters of letters, digits and hyphens, and must not begin or end with a hyphen", kind, name)
	}
	if kind == "load balancer" && strings.HasPrefix(name, "internal-") {
		return validationf("load balancer name '%s' must not begin with 'internal-'", name)
	}
	return nil
}

// Validate checks a load balancer after defaults are applied.
func (lb *LoadBalancer) Validate() error {
	if err := ValidateELBName("load balancer", lb.Name); err != nil {
		return err
	}
	switch lb.Scheme {
	case "internet-facing", "internal":
	default:
		return validationf("scheme '%s' must be internet-facing or internal", lb.Scheme)
	}
	switch lb.IPAddressType {
	case "ipv4", "dualstack", "dualstack-without-public-ipv4":
	default:
		return validationf("IP address type '%s' must be ipv4, dualstack or dualstack-without-public-ipv4", lb.IPAddressType)
	}
	if len(lb.Zones) < 2 {
		return validationf("At least two subnets in two different Availability Zones must be specified")
	}
	seen := map[string]bool{}
	for _, z := range lb.Zones {
		if z == "" {
			return validationf("A subnet id must not be empty")
		}
		if seen[z] {
			return validationf("Subnet '%s' is given more than once: specify one subnet per Availability Zone", Quote(z))
		}
		seen[z] = true
	}
	for _, r := range lb.SecurityGroups {
		if _, err := netip.ParsePrefix(r.CIDR); err != nil {
			return validationf("security group rule CIDR '%s' is not a valid IPv4 or IPv6 CIDR", r.CIDR)
		}
		if r.Port < 0 || r.Port > 65535 {
			return validationf("security group rule port %d must be 0-65535", r.Port)
		}
	}
	return ValidateLoadBalancerAttributes(lb.Attributes)
}

// Validate checks a listener's own fields (references are checked by the
// service that knows the other resources).
func (l *Listener) Validate() error {
	switch l.Protocol {
	case "HTTP", "HTTPS":
	default:
		return validationf("listener protocol '%s' must be HTTP or HTTPS", l.Protocol)
	}
	if l.Port < 1 || l.Port > 65535 {
		return validationf("listener port %d must be 1-65535", l.Port)
	}
	if l.BindAddress != "" {
		if _, err := netip.ParseAddr(l.BindAddress); err != nil {
			return validationf("listener bind address '%s' is not an IP address", l.BindAddress)
		}
	}
	if len(l.DefaultActions) == 0 {
		return validationf("listener %s:%d needs a default action", l.Protocol, l.Port)
	}
	for i := range l.DefaultActions {
		if err := l.DefaultActions[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks an action's shape.
func (a *Action) Validate() error {
	switch a.Type {
	case "forward":
		if a.TargetGroupARN == "" && (a.ForwardConfig == nil || len(a.ForwardConfig.TargetGroups) == 0) {
			return validationf("a forward action needs a target group")
		}
		if a.ForwardConfig != nil {
			if len(a.ForwardConfig.TargetGroups) > 5 {
				return validationf("a forward action can name at most 5 target groups")
			}
			for _, g := range a.ForwardConfig.TargetGroups {
				if g.Weight < 0 || g.Weight > 999 {
					return validationf("target group weight %d must be 0-999", g.Weight)
				}
			}
		}
	case "fixed-response":
		f := a.FixedResponse
		if f == nil {
			return validationf("a fixed-response action needs a fixed response config")
		}
		if !fixedStatusRe.MatchString(f.StatusCode) {
			return validationf("fixed response status code '%s' must be 2XX, 4XX or 5XX", f.StatusCode)
		}
		switch f.ContentType {
		case "", "text/plain", "text/css", "text/html", "application/javascript", "application/json":
		default:
			return validationf("fixed response content type '%s' must be text/plain, text/css, text/html, application/javascript or application/json", f.ContentType)
		}
		if utf8.RuneCountInString(f.MessageBody) > 1024 {
			return validationf("fixed response message body is over 1024 characters")
		}
	case "redirect":
		r := a.Redirect
		if r == nil {
			return validationf("a redirect action needs a redirect config")
		}
		if r.StatusCode != "HTTP_301" && r.StatusCode != "HTTP_302" {
			return validationf("redirect status code '%s' must be HTTP_301 or HTTP_302", r.StatusCode)
		}
	default:
		return validationf("action type '%s' must be forward, redirect or fixed-response", a.Type)
	}
	return nil
}

// Validate checks a target group after defaults are applied.
func (g *TargetGroup) Validate() error {
	if err := ValidateELBName("target group", g.Name); err != nil {
		return err
	}
	switch g.Protocol {
	case "HTTP", "HTTPS":
	default:
		return validationf("target group protocol '%s' must be HTTP or HTTPS", g.Protocol)
	}
	switch g.ProtocolVersion {
	case "HTTP1", "HTTP2":
		if g.HealthCheck.GrpcCode != "" {
			return validationf("a GrpcCode matcher is for protocol version GRPC; give an HttpCode matcher for %s", g.ProtocolVersion)
		}
	case "GRPC":
		if g.HealthCheck.Matcher != "" {
			return validationf("protocol version GRPC matches health checks by gRPC code: give a GrpcCode matcher, not an HttpCode one")
		}
	default:
		return validationf("target group protocol version '%s' must be HTTP1, HTTP2 or GRPC", g.ProtocolVersion)
	}
	if g.Port < 1 || g.Port > 65535 {
		return validationf("target group port %d must be 1-65535", g.Port)
	}
	switch g.TargetType {
	case "instance", "ip":
	default:
		return validationf("target type '%s' must be instance or ip", g.TargetType)
	}
	if err := g.HealthCheck.Validate(); err != nil {
		return err
	}
	return ValidateTargetGroupAttributes(g.Attributes)
}

// Validate checks health check settings against AWS's ranges.
func (h *HealthCheck) Validate() error {
	switch h.Protocol {
	case "HTTP", "HTTPS":
	default:
		return validationf("health check protocol '%s' must be HTTP or HTTPS", h.Protocol)
	}
	if h.Port != "traffic-port" {
		if p, err := strconv.Atoi(h.Port); err != nil || p < 1 || p > 65535 {
			return validationf("health check port '%s' must be traffic-port or 1-65535", h.Port)
		}
	}
	if h.Path == "" || h.Path[0] != '/' || len(h.Path) > 1024 {
		return validationf("health check path '%s' must start with / and be at most 1024 characters", h.Path)
	}
	if h.IntervalSeconds < 5 || h.IntervalSeconds > 300 {
		return validationf("health check interval %d must be 5-300 seconds", h.IntervalSeconds)
	}
	if h.TimeoutSeconds < 2 || h.TimeoutSeconds > 120 {
		return validationf("health check timeout %d must be 2-120 seconds", h.TimeoutSeconds)
	}
	if h.TimeoutSeconds >= h.IntervalSeconds {
		return validationf("health check timeout (%d s) must be smaller than the interval (%d s)", h.TimeoutSeconds, h.IntervalSeconds)
	}
	if h.HealthyThreshold < 2 || h.HealthyThreshold > 10 {
		return validationf("healthy threshold %d must be 2-10", h.HealthyThreshold)
	}
	if h.UnhealthyThreshold < 2 || h.UnhealthyThreshold > 10 {
		return validationf("unhealthy threshold %d must be 2-10", h.UnhealthyThreshold)
	}
	if h.GrpcCode != "" {
		_, err := ParseGrpcMatcher(h.GrpcCode)
		return err
	}
	if _, err := ParseMatcher(h.Matcher); err != nil {
		return err
	}
	return nil
}

// Matcher is a parsed list of HTTP code ranges.
type Matcher [][2]int

// Match reports whether code is in the matcher.
func (m Matcher) Match(code int) bool {
	for _, r := range m {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// ParseMatcher parses "200", "200,202" or "200-299" (codes 200-499).
func ParseMatcher(s string) (Matcher, error) {
	return parseCodes(s, 200, 499, validationf("health check matcher '%s' must be codes 200-499 as a list (200,202) or a range (200-299)", s))
}

// ParseGrpcMatcher parses a GrpcCode matcher: "12", "0,12" or "0-99"
// (gRPC status codes 0-99).
func ParseGrpcMatcher(s string) (Matcher, error) {
	return parseCodes(s, 0, 99, validationf("health check GrpcCode matcher '%s' must be gRPC codes 0-99 as a list (0,12) or a range (0-99)", s))
}

func parseCodes(s string, min, max int, bad error) (Matcher, error) {
	var m Matcher
	if strings.TrimSpace(s) == "" {
		return nil, bad
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, bad
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, bad
			}
		}
		if a < min || b > max || a > b {
			return nil, bad
		}
		m = append(m, [2]int{a, b})
	}
	return m, nil
}

// Validate checks a target registration against its group.
func (t *Target) Validate(g *TargetGroup) error {
	if t.ID == "" {
		return validationf("a target needs an id")
	}
	if t.Port < 0 || t.Port > 65535 {
		return validationf("target port %d must be 1-65535", t.Port)
	}
	if g.TargetType == "ip" {
		ip, err := netip.ParseAddr(t.ID)
		if err != nil {
			return Errorf("InvalidTarget", "target id '%s' is not an IP address, as targets of type ip must be", t.ID)
		}
		if !ip.IsPrivate() && !ip.IsLoopback() && !isShared(ip) {
			return Errorf("InvalidTarget", "target IP %s is public: ip targets must be private (RFC 1918/6598) or loopback addresses", t.ID)
		}
	} else if t.Address != "" {
		if _, err := netip.ParseAddr(t.Address); err != nil {
			return Errorf("InvalidTarget", "target address '%s' is not an IP address", t.Address)
		}
	}
	return nil
}

// isShared reports whether ip is in RFC 6598 shared address space.
func isShared(ip netip.Addr) bool {
	return netip.MustParsePrefix("100.64.0.0/10").Contains(ip)
}
