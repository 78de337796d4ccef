package model

import (
	"strconv"
	"strings"
)

// Defaults are AWS's, from the ALB user guide and API reference, filled in
// one place so that every front agrees.

// ApplyDefaults fills unset load balancer fields.
func (lb *LoadBalancer) ApplyDefaults() {
	if lb.Scheme == "" {
		lb.Scheme = "internet-facing"
	}
	if lb.IPAddressType == "" {
		lb.IPAddressType = "ipv4"
	}
	if len(lb.Zones) == 0 {
		// An ALB is in at least two zones; one that names none (the YAML
		// file may omit them) is in Alba's two default zones.
		lb.Zones = []string{"zone-a", "zone-b"}
	}
}

// ApplyDefaults fills unset target group fields, including the health
// check's (interval 30 s, timeout 5 s, thresholds 5 and 2, matcher 200).
func (g *TargetGroup) ApplyDefaults() {
	if g.Protocol == "" {
		g.Protocol = "HTTP"
	}
	if g.ProtocolVersion == "" {
		g.ProtocolVersion = "HTTP1"
	}
	if g.TargetType == "" {
		g.TargetType = "instance"
	}
	h := &g.HealthCheck
	h.Enabled = true // cannot be disabled for instance and ip targets
	if h.Protocol == "" {
		h.Protocol = g.Protocol
	}
	if h.Port == "" {
		h.Port = "traffic-port"
	}
	grpc := g.ProtocolVersion == "GRPC"
	if h.Path == "" {
		h.Path = "/"
		if grpc {
			h.Path = "/AWS.ALB/healthcheck"
		}
	}
	if h.IntervalSeconds == 0 {
		h.IntervalSeconds = 30
	}
	if h.TimeoutSeconds == 0 {
		h.TimeoutSeconds = 5
	}
	if h.HealthyThreshold == 0 {
		h.HealthyThreshold = 5
	}
	if h.UnhealthyThreshold == 0 {
		h.UnhealthyThreshold = 2
	}
	switch {
	case grpc && h.GrpcCode == "" && h.Matcher == "":
		h.GrpcCode = "12" // UNIMPLEMENTED: the target speaks gRPC
	case !grpc && h.Matcher == "" && h.GrpcCode == "":
		h.Matcher = "200"
	}
}

// ApplyDefaults fills unset listener fields.
func (l *Listener) ApplyDefaults() {
	for i := range l.DefaultActions {
		a := &l.DefaultActions[i]
		if a.Order == 0 {
			a.Order = i + 1
		}
	}
	if l.Protocol == "HTTPS" && l.SslPolicy == "" {
		l.SslPolicy = "ELBSecurityPolicy-2016-08"
	}
}

// Attribute specs: a default and a check of the value.
type attrSpec struct {
	def   string
	check func(string) bool
}

func intIn(lo, hi int) func(string) bool {
	return func(s string) bool {
		n, err := strconv.Atoi(s)
		return err == nil && n >= lo && n <= hi
	}
}

func oneOf(vals ...string) func(string) bool {
	return func(s string) bool {
		for _, v := range vals {
			if s == v {
				return true
			}
		}
		return false
	}
}

var isBool = oneOf("true", "false")

var targetGroupAttrs = map[string]attrSpec{
	"deregistration_delay.timeout_seconds":                                           {"300", intIn(0, 3600)},
	"stickiness.enabled":                                                             {"false", isBool},
	"stickiness.type":                                                                {"lb_cookie", oneOf("lb_cookie", "app_cookie")},
	"stickiness.lb_cookie.duration_seconds":                                          {"86400", intIn(1, 604800)},
	"stickiness.app_cookie.cookie_name":                                              {"", validAppCookieName},
	"stickiness.app_cookie.duration_seconds":                                         {"86400", intIn(1, 604800)},
	"slow_start.duration_seconds":                                                    {"0", func(s string) bool { return s == "0" || intIn(30, 900)(s) }},
	"load_balancing.algorithm.type":                                                  {"round_robin", oneOf("round_robin", "least_outstanding_requests", "weighted_random")},
	"load_balancing.algorithm.anomaly_mitigation":                                    {"off", oneOf("on", "off")},
	"load_balancing.cross_zone.enabled":                                              {"use_load_balancer_configuration", oneOf("true", "false", "use_load_balancer_configuration")},
	"target_group_health.dns_failover.minimum_healthy_targets.count":                 {"1", func(s string) bool { return s == "off" || intIn(1, 1000)(s) }},
	"target_group_health.dns_failover.minimum_healthy_targets.percentage":            {"off", func(s string) bool { return s == "off" || intIn(1, 100)(s) }},
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count":      {"1", intIn(1, 1000)},
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": {"off", func(s string) bool { return s == "off" || intIn(1, 100)(s) }},
}

func validAppCookieName(s string) bool {
	for _, p := range []string{"AWSALB", "AWSALBAPP", "AWSALBTG"} {
		if strings.HasPrefix(s, p) {
			return false
		}
	}
	return true
}

var loadBalancerAttrs = map[string]attrSpec{
	"idle_timeout.timeout_seconds":                             {"60", intIn(1, 4000)},
	"client_keep_alive.seconds":                                {"3600", intIn(60, 604800)},
	"deletion_protection.enabled":                              {"false", isBool},
	"routing.http.drop_invalid_header_fields.enabled":          {"false", isBool},
	"routing.http.desync_mitigation_mode":                      {"defensive", oneOf("monitor", "defensive", "strictest")},
	"routing.http.preserve_host_header.enabled":                {"false", isBool},
	"routing.http.xff_header_processing.mode":                  {"append", oneOf("append", "preserve", "remove")},
	"routing.http.xff_client_port.enabled":                     {"false", isBool},
	"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": {"false", isBool},
	"routing.http2.enabled":                                    {"true", isBool},
	"waf.fail_open.enabled":                                    {"false", isBool},
	"access_logs.s3.enabled":                                   {"false", isBool},
	"access_logs.s3.bucket":                                    {"", func(string) bool { return true }},
	"access_logs.s3.prefix":                                    {"", func(string) bool { return true }},
	"load_balancing.cross_zone.enabled":                        {"true", oneOf("true")},
	"zonal_shift.config.enabled":                               {"false", isBool},
}

func validateAttrs(kind string, specs map[string]attrSpec, attrs map[string]string) error {
	for k, v := range attrs {
		spec, ok := specs[k]
		if !ok {
			return validationf("%s attribute key '%s' is not recognized", kind, k)
		}
		if !spec.check(v) {
			return validationf("%s attribute '%s' has an invalid value '%s'", kind, k, v)
		}
	}
	return nil
}

// ValidateTargetGroupAttributes checks keys and values against AWS's ranges,
// and the combinations AWS forbids.
func ValidateTargetGroupAttributes(attrs map[string]string) error {
	if err := validateAttrs("target group", targetGroupAttrs, attrs); err != nil {
		return err
	}
	full := TargetGroupAttributes(attrs)
	if full["slow_start.duration_seconds"] != "0" && full["load_balancing.algorithm.type"] == "least_outstanding_requests" {
		return validationf("slow start cannot be combined with the least_outstanding_requests algorithm")
	}
	if full["load_balancing.algorithm.anomaly_mitigation"] == "on" && full["load_balancing.algorithm.type"] != "weighted_random" {
		return validationf("anomaly mitigation needs the weighted_random algorithm")
	}
	if full["stickiness.enabled"] == "true" && full["stickiness.type"] == "app_cookie" && full["stickiness.app_cookie.cookie_name"] == "" {
		return validationf("app_cookie stickiness needs stickiness.app_cookie.cookie_name")
	}
	return nil
}

// ValidateLoadBalancerAttributes checks keys and values against AWS's ranges.
func ValidateLoadBalancerAttributes(attrs map[string]string) error {
	return validateAttrs("load balancer", loadBalancerAttrs, attrs)
}

func withDefaults(specs map[string]attrSpec, attrs map[string]string) map[string]string {
	m := make(map[string]string, len(specs))
	for k, s := range specs {
		m[k] = s.def
	}
	for k, v := range attrs {
		m[k] = v
	}
	return m
}

// TargetGroupAttributes returns every target group attribute, defaults
// filled in, as Describe does.
func TargetGroupAttributes(attrs map[string]string) map[string]string {
	return withDefaults(targetGroupAttrs, attrs)
}

// LoadBalancerAttributes returns every load balancer attribute with defaults.
func LoadBalancerAttributes(attrs map[string]string) map[string]string {
	return withDefaults(loadBalancerAttrs, attrs)
}
