package model

import (
	"errors"
	"strings"
	"testing"
)

// wantCode checks that err is a *Error with code, or nil when code is "".
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *model.Error", err, err)
	}
	if me.Code != code {
		t.Fatalf("error code = %q, want %q (message %q)", me.Code, code, me.Message)
	}
	if me.Error() != me.Message || me.Message == "" {
		t.Fatalf("Error() = %q, Message = %q: want the same non-empty text", me.Error(), me.Message)
	}
}

const vErr = "ValidationError"

func TestValidateELBName(t *testing.T) {
	const lb, tg = "load balancer", "target group"
	tests := []struct {
		kind, name, code string
	}{
		{lb, "a", ""},
		{lb, "my-lb", ""},
		{lb, "My-LB-01", ""},
		{lb, strings.Repeat("a", 32), ""},
		{lb, strings.Repeat("a", 33), vErr},
		{tg, strings.Repeat("b", 32), ""},
		{tg, strings.Repeat("b", 33), vErr},
		{lb, "", vErr},
		{lb, "-lb", vErr},
		{lb, "lb-", vErr},
		{lb, "-", vErr},
		{tg, "-tg", vErr},
		{tg, "tg-", vErr},
		{lb, "my_lb", vErr},
		{tg, "my_tg", vErr},
		{lb, "my.lb", vErr},
		{lb, "my lb", vErr},
		{lb, "lb/1", vErr},
		{lb, "é", vErr},
		{lb, "a--b", ""},
		{lb, "internal-lb", vErr},
		{lb, "internal-", vErr},
		{lb, "internal", ""},
		{lb, "internallb", ""},
		{lb, "my-internal-lb", ""},
		// The internal- rule is for load balancers only.
		{tg, "internal-tg", ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			wantCode(t, ValidateELBName(tt.kind, tt.name), tt.code)
		})
	}
}

func validHealthCheck() HealthCheck {
	return HealthCheck{
		Enabled: true, Protocol: "HTTP", Port: "traffic-port", Path: "/",
		IntervalSeconds: 30, TimeoutSeconds: 5, HealthyThreshold: 5, UnhealthyThreshold: 2,
		Matcher: "200",
	}
}

func TestHealthCheckValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(h *HealthCheck)
		code string
	}{
		{"defaults", func(h *HealthCheck) {}, ""},
		{"https", func(h *HealthCheck) { h.Protocol = "HTTPS" }, ""},
		{"tcp protocol", func(h *HealthCheck) { h.Protocol = "TCP" }, vErr},
		{"lowercase protocol", func(h *HealthCheck) { h.Protocol = "http" }, vErr},
		{"empty protocol", func(h *HealthCheck) { h.Protocol = "" }, vErr},
		{"interval 5", func(h *HealthCheck) { h.IntervalSeconds, h.TimeoutSeconds = 5, 2 }, ""},
		{"interval 4", func(h *HealthCheck) { h.IntervalSeconds, h.TimeoutSeconds = 4, 2 }, vErr},
		{"interval 300", func(h *HealthCheck) { h.IntervalSeconds = 300 }, ""},
		{"interval 301", func(h *HealthCheck) { h.IntervalSeconds = 301 }, vErr},
		{"interval 0", func(h *HealthCheck) { h.IntervalSeconds = 0 }, vErr},
		{"timeout 2", func(h *HealthCheck) { h.TimeoutSeconds = 2 }, ""},
		{"timeout 1", func(h *HealthCheck) { h.TimeoutSeconds = 1 }, vErr},
		{"timeout 120", func(h *HealthCheck) { h.IntervalSeconds, h.TimeoutSeconds = 300, 120 }, ""},
		{"timeout 121", func(h *HealthCheck) { h.IntervalSeconds, h.TimeoutSeconds = 300, 121 }, vErr},
		{"timeout equals interval", func(h *HealthCheck) { h.IntervalSeconds, h.TimeoutSeconds = 10, 10 }, vErr},
		{"timeout above interval", func(h *HealthCheck) { h.IntervalSeconds, h.TimeoutSeconds = 10, 11 }, vErr},
		{"timeout just below interval", func(h *HealthCheck) { h.IntervalSeconds, h.TimeoutSeconds = 10, 9 }, ""},
		{"healthy 2", func(h *HealthCheck) { h.HealthyThreshold = 2 }, ""},
		{"healthy 10", func(h *HealthCheck) { h.HealthyThreshold = 10 }, ""},
		{"healthy 1", func(h *HealthCheck) { h.HealthyThreshold = 1 }, vErr},
		{"healthy 11", func(h *HealthCheck) { h.HealthyThreshold = 11 }, vErr},
		{"unhealthy 2", func(h *HealthCheck) { h.UnhealthyThreshold = 2 }, ""},
		{"unhealthy 10", func(h *HealthCheck) { h.UnhealthyThreshold = 10 }, ""},
		{"unhealthy 1", func(h *HealthCheck) { h.UnhealthyThreshold = 1 }, vErr},
		{"unhealthy 11", func(h *HealthCheck) { h.UnhealthyThreshold = 11 }, vErr},
		{"path /health", func(h *HealthCheck) { h.Path = "/health?x=1" }, ""},
		{"path without slash", func(h *HealthCheck) { h.Path = "health" }, vErr},
		{"empty path", func(h *HealthCheck) { h.Path = "" }, vErr},
		{"path 1024", func(h *HealthCheck) { h.Path = "/" + strings.Repeat("a", 1023) }, ""},
		{"path 1025", func(h *HealthCheck) { h.Path = "/" + strings.Repeat("a", 1024) }, vErr},
		{"port 1", func(h *HealthCheck) { h.Port = "1" }, ""},
		{"port 8080", func(h *HealthCheck) { h.Port = "8080" }, ""},
		{"port 65535", func(h *HealthCheck) { h.Port = "65535" }, ""},
		{"port 0", func(h *HealthCheck) { h.Port = "0" }, vErr},
		{"port 65536", func(h *HealthCheck) { h.Port = "65536" }, vErr},
		{"port -1", func(h *HealthCheck) { h.Port = "-1" }, vErr},
		{"port word", func(h *HealthCheck) { h.Port = "http" }, vErr},
		{"port empty", func(h *HealthCheck) { h.Port = "" }, vErr},
		{"matcher range", func(h *HealthCheck) { h.Matcher = "200-399" }, ""},
		{"matcher 500", func(h *HealthCheck) { h.Matcher = "500" }, vErr},
		{"matcher empty", func(h *HealthCheck) { h.Matcher = "" }, vErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := validHealthCheck()
			tt.mod(&h)
			wantCode(t, h.Validate(), tt.code)
		})
	}
}

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		in   string
		want Matcher // nil with ok=false means an error
		ok   bool
	}{
		{"200", Matcher{{200, 200}}, true},
		{"200,202", Matcher{{200, 200}, {202, 202}}, true},
		{"200-299", Matcher{{200, 299}}, true},
		{"200-299,404", Matcher{{200, 299}, {404, 404}}, true},
		{" 200 , 202 ", Matcher{{200, 200}, {202, 202}}, true},
		{"499", Matcher{{499, 499}}, true},
		{"200-499", Matcher{{200, 499}}, true},
		{"302", Matcher{{302, 302}}, true},
		{"250-250", Matcher{{250, 250}}, true},
		{"199", nil, false},
		{"500", nil, false},
		{"200-500", nil, false},
		{"199-299", nil, false},
		{"abc", nil, false},
		{"300-200", nil, false},
		{"", nil, false},
		{" ", nil, false},
		{"200,", nil, false},
		{",200", nil, false},
		{"200-", nil, false},
		{"-200", nil, false},
		{"200-abc", nil, false},
		{"200-299-399", nil, false},
		{"2xx", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseMatcher(tt.in)
			if !tt.ok {
				wantCode(t, err, vErr)
				if m != nil {
					t.Fatalf("got matcher %v with the error", m)
				}
				return
			}
			wantCode(t, err, "")
			if len(m) != len(tt.want) {
				t.Fatalf("ParseMatcher(%q) = %v, want %v", tt.in, m, tt.want)
			}
			for i := range m {
				if m[i] != tt.want[i] {
					t.Fatalf("ParseMatcher(%q) = %v, want %v", tt.in, m, tt.want)
				}
			}
		})
	}
}

func TestMatcherMatch(t *testing.T) {
	tests := []struct {
		matcher string
		code    int
		want    bool
	}{
		{"200", 200, true},
		{"200", 201, false},
		{"200", 199, false},
		{"200,202", 202, true},
		{"200,202", 201, false},
		{"200-299", 200, true},
		{"200-299", 250, true},
		{"200-299", 299, true},
		{"200-299", 300, false},
		{"200-299", 199, false},
		{"200-299,404", 404, true},
		{"200-299,404", 403, false},
		{"200-299,404", 500, false},
	}
	for _, tt := range tests {
		m, err := ParseMatcher(tt.matcher)
		if err != nil {
			t.Fatalf("ParseMatcher(%q): %v", tt.matcher, err)
		}
		if got := m.Match(tt.code); got != tt.want {
			t.Errorf("Matcher(%q).Match(%d) = %v, want %v", tt.matcher, tt.code, got, tt.want)
		}
	}
	var empty Matcher
	if empty.Match(200) {
		t.Error("an empty matcher matched 200")
	}
}

func TestValidateTargetGroupAttributes(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		code  string
	}{
		{"nil", nil, ""},
		{"empty", map[string]string{}, ""},
		{"unknown key", map[string]string{"no.such.key": "1"}, vErr},
		{"lb attribute on a target group", map[string]string{"idle_timeout.timeout_seconds": "60"}, vErr},

		{"dereg 0", map[string]string{"deregistration_delay.timeout_seconds": "0"}, ""},
		{"dereg 3600", map[string]string{"deregistration_delay.timeout_seconds": "3600"}, ""},
		{"dereg 3601", map[string]string{"deregistration_delay.timeout_seconds": "3601"}, vErr},
		{"dereg -1", map[string]string{"deregistration_delay.timeout_seconds": "-1"}, vErr},
		{"dereg abc", map[string]string{"deregistration_delay.timeout_seconds": "abc"}, vErr},
		{"dereg empty", map[string]string{"deregistration_delay.timeout_seconds": ""}, vErr},

		{"stickiness true", map[string]string{"stickiness.enabled": "true"}, ""},
		{"stickiness false", map[string]string{"stickiness.enabled": "false"}, ""},
		{"stickiness yes", map[string]string{"stickiness.enabled": "yes"}, vErr},
		{"stickiness True", map[string]string{"stickiness.enabled": "True"}, vErr},

		{"type lb_cookie", map[string]string{"stickiness.type": "lb_cookie"}, ""},
		{"type app_cookie with name", map[string]string{"stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "SESSION"}, ""},
		{"type source_ip", map[string]string{"stickiness.type": "source_ip"}, vErr},

		{"lb cookie 1", map[string]string{"stickiness.lb_cookie.duration_seconds": "1"}, ""},
		{"lb cookie 604800", map[string]string{"stickiness.lb_cookie.duration_seconds": "604800"}, ""},
		{"lb cookie 0", map[string]string{"stickiness.lb_cookie.duration_seconds": "0"}, vErr},
		{"lb cookie 604801", map[string]string{"stickiness.lb_cookie.duration_seconds": "604801"}, vErr},

		{"app cookie 1", map[string]string{"stickiness.app_cookie.duration_seconds": "1"}, ""},
		{"app cookie 604800", map[string]string{"stickiness.app_cookie.duration_seconds": "604800"}, ""},
		{"app cookie 0", map[string]string{"stickiness.app_cookie.duration_seconds": "0"}, vErr},
		{"app cookie 604801", map[string]string{"stickiness.app_cookie.duration_seconds": "604801"}, vErr},

		{"cookie name ok", map[string]string{"stickiness.app_cookie.cookie_name": "JSESSIONID"}, ""},
		{"cookie name AWSALB", map[string]string{"stickiness.app_cookie.cookie_name": "AWSALB"}, vErr},
		{"cookie name AWSALBAPP", map[string]string{"stickiness.app_cookie.cookie_name": "AWSALBAPP-0"}, vErr},
		{"cookie name AWSALBTG", map[string]string{"stickiness.app_cookie.cookie_name": "AWSALBTG"}, vErr},
		{"cookie name AWSALBx", map[string]string{"stickiness.app_cookie.cookie_name": "AWSALBsession"}, vErr},
		{"cookie name AWSELB", map[string]string{"stickiness.app_cookie.cookie_name": "AWSELB"}, ""},

		{"slow start 0", map[string]string{"slow_start.duration_seconds": "0"}, ""},
		{"slow start 30", map[string]string{"slow_start.duration_seconds": "30"}, ""},
		{"slow start 900", map[string]string{"slow_start.duration_seconds": "900"}, ""},
		{"slow start 29", map[string]string{"slow_start.duration_seconds": "29"}, vErr},
		{"slow start 1", map[string]string{"slow_start.duration_seconds": "1"}, vErr},
		{"slow start 901", map[string]string{"slow_start.duration_seconds": "901"}, vErr},

		{"algo round_robin", map[string]string{"load_balancing.algorithm.type": "round_robin"}, ""},
		{"algo lor", map[string]string{"load_balancing.algorithm.type": "least_outstanding_requests"}, ""},
		{"algo weighted_random", map[string]string{"load_balancing.algorithm.type": "weighted_random"}, ""},
		{"algo random", map[string]string{"load_balancing.algorithm.type": "random"}, vErr},
		{"anomaly on", map[string]string{"load_balancing.algorithm.type": "weighted_random", "load_balancing.algorithm.anomaly_mitigation": "on"}, ""},
		{"anomaly off", map[string]string{"load_balancing.algorithm.anomaly_mitigation": "off"}, ""},
		{"anomaly true", map[string]string{"load_balancing.algorithm.anomaly_mitigation": "true"}, vErr},

		{"cross zone true", map[string]string{"load_balancing.cross_zone.enabled": "true"}, ""},
		{"cross zone false", map[string]string{"load_balancing.cross_zone.enabled": "false"}, ""},
		{"cross zone lb config", map[string]string{"load_balancing.cross_zone.enabled": "use_load_balancer_configuration"}, ""},
		{"cross zone maybe", map[string]string{"load_balancing.cross_zone.enabled": "maybe"}, vErr},

		{"dns count 1", map[string]string{"target_group_health.dns_failover.minimum_healthy_targets.count": "1"}, ""},
		{"dns count off", map[string]string{"target_group_health.dns_failover.minimum_healthy_targets.count": "off"}, ""},
		{"dns count 0", map[string]string{"target_group_health.dns_failover.minimum_healthy_targets.count": "0"}, vErr},
		{"dns pct 100", map[string]string{"target_group_health.dns_failover.minimum_healthy_targets.percentage": "100"}, ""},
		{"dns pct 101", map[string]string{"target_group_health.dns_failover.minimum_healthy_targets.percentage": "101"}, vErr},
		{"dns pct off", map[string]string{"target_group_health.dns_failover.minimum_healthy_targets.percentage": "off"}, ""},
		{"routing count 1", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1"}, ""},
		{"routing count 0", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "0"}, vErr},
		{"routing pct 1", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "1"}, ""},
		{"routing pct 0", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "0"}, vErr},
		{"routing pct off", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off"}, ""},

		// Combinations AWS forbids.
		{"slow start with lor", map[string]string{"slow_start.duration_seconds": "30", "load_balancing.algorithm.type": "least_outstanding_requests"}, vErr},
		{"no slow start with lor", map[string]string{"slow_start.duration_seconds": "0", "load_balancing.algorithm.type": "least_outstanding_requests"}, ""},
		{"slow start with round robin", map[string]string{"slow_start.duration_seconds": "30"}, ""},
		{"app_cookie without name", map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie"}, vErr},
		{"app_cookie with empty name", map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": ""}, vErr},
		{"app_cookie with name", map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "SESSION"}, ""},
		{"app_cookie with reserved name", map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "AWSALBAPP"}, vErr},
		{"lb_cookie enabled without name", map[string]string{"stickiness.enabled": "true", "stickiness.type": "lb_cookie"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, ValidateTargetGroupAttributes(tt.attrs), tt.code)
		})
	}
}

// aws.md A1: anomaly_mitigation is "on/off; only with weighted_random".
func TestValidateTargetGroupAttributesAnomalyMitigationNeedsWeightedRandom(t *testing.T) {
	for _, algo := range []string{"round_robin", "least_outstanding_requests"} {
		err := ValidateTargetGroupAttributes(map[string]string{
			"load_balancing.algorithm.type":               algo,
			"load_balancing.algorithm.anomaly_mitigation": "on",
		})
		wantCode(t, err, vErr)
	}
	wantCode(t, ValidateTargetGroupAttributes(map[string]string{"load_balancing.algorithm.anomaly_mitigation": "on"}), vErr)
}

func TestValidateLoadBalancerAttributes(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		code  string
	}{
		{"nil", nil, ""},
		{"unknown key", map[string]string{"idle_timeout.seconds": "60"}, vErr},
		{"tg attribute on a load balancer", map[string]string{"stickiness.enabled": "true"}, vErr},
		{"idle 1", map[string]string{"idle_timeout.timeout_seconds": "1"}, ""},
		{"idle 60", map[string]string{"idle_timeout.timeout_seconds": "60"}, ""},
		{"idle 4000", map[string]string{"idle_timeout.timeout_seconds": "4000"}, ""},
		{"idle 0", map[string]string{"idle_timeout.timeout_seconds": "0"}, vErr},
		{"idle 4001", map[string]string{"idle_timeout.timeout_seconds": "4001"}, vErr},
		{"idle 1.5", map[string]string{"idle_timeout.timeout_seconds": "1.5"}, vErr},
		{"idle empty", map[string]string{"idle_timeout.timeout_seconds": ""}, vErr},
		{"xff append", map[string]string{"routing.http.xff_header_processing.mode": "append"}, ""},
		{"xff preserve", map[string]string{"routing.http.xff_header_processing.mode": "preserve"}, ""},
		{"xff remove", map[string]string{"routing.http.xff_header_processing.mode": "remove"}, ""},
		{"xff replace", map[string]string{"routing.http.xff_header_processing.mode": "replace"}, vErr},
		{"xff Append", map[string]string{"routing.http.xff_header_processing.mode": "Append"}, vErr},
		{"keep alive 60", map[string]string{"client_keep_alive.seconds": "60"}, ""},
		{"keep alive 604800", map[string]string{"client_keep_alive.seconds": "604800"}, ""},
		{"keep alive 59", map[string]string{"client_keep_alive.seconds": "59"}, vErr},
		{"keep alive 604801", map[string]string{"client_keep_alive.seconds": "604801"}, vErr},
		{"deletion protection true", map[string]string{"deletion_protection.enabled": "true"}, ""},
		{"deletion protection 1", map[string]string{"deletion_protection.enabled": "1"}, vErr},
		{"desync strictest", map[string]string{"routing.http.desync_mitigation_mode": "strictest"}, ""},
		{"desync off", map[string]string{"routing.http.desync_mitigation_mode": "off"}, vErr},
		{"http2 false", map[string]string{"routing.http2.enabled": "false"}, ""},
		{"bucket anything", map[string]string{"access_logs.s3.bucket": "my-bucket"}, ""},
		{"cross zone true", map[string]string{"load_balancing.cross_zone.enabled": "true"}, ""},
		{"cross zone false (fixed for ALB)", map[string]string{"load_balancing.cross_zone.enabled": "false"}, vErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, ValidateLoadBalancerAttributes(tt.attrs), tt.code)
		})
	}
}

func TestTargetGroupAttributesDefaults(t *testing.T) {
	want := map[string]string{
		"deregistration_delay.timeout_seconds":                                           "300",
		"stickiness.enabled":                                                             "false",
		"stickiness.type":                                                                "lb_cookie",
		"stickiness.lb_cookie.duration_seconds":                                          "86400",
		"stickiness.app_cookie.cookie_name":                                              "",
		"stickiness.app_cookie.duration_seconds":                                         "86400",
		"slow_start.duration_seconds":                                                    "0",
		"load_balancing.algorithm.type":                                                  "round_robin",
		"load_balancing.algorithm.anomaly_mitigation":                                    "off",
		"load_balancing.cross_zone.enabled":                                              "use_load_balancer_configuration",
		"target_group_health.dns_failover.minimum_healthy_targets.count":                 "1",
		"target_group_health.dns_failover.minimum_healthy_targets.percentage":            "off",
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count":      "1",
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
	}
	check := func(t *testing.T, got, want map[string]string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("got %d attributes, want %d: %v", len(got), len(want), got)
		}
		for k, v := range want {
			g, ok := got[k]
			if !ok {
				t.Errorf("attribute %s missing", k)
			} else if g != v {
				t.Errorf("attribute %s = %q, want %q", k, g, v)
			}
		}
	}
	t.Run("nil", func(t *testing.T) { check(t, TargetGroupAttributes(nil), want) })
	t.Run("overrides", func(t *testing.T) {
		in := map[string]string{"deregistration_delay.timeout_seconds": "10", "stickiness.enabled": "true"}
		w := map[string]string{}
		for k, v := range want {
			w[k] = v
		}
		w["deregistration_delay.timeout_seconds"] = "10"
		w["stickiness.enabled"] = "true"
		got := TargetGroupAttributes(in)
		check(t, got, w)
		// The input is not modified, and the result is a fresh map.
		if len(in) != 2 {
			t.Errorf("input map changed: %v", in)
		}
		got["stickiness.type"] = "app_cookie"
		if _, ok := in["stickiness.type"]; ok {
			t.Error("the result aliases the input map")
		}
		if TargetGroupAttributes(nil)["stickiness.type"] != "lb_cookie" {
			t.Error("changing a result changed the defaults")
		}
	})
	// Every default value is itself valid.
	if err := ValidateTargetGroupAttributes(TargetGroupAttributes(nil)); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestLoadBalancerAttributesDefaults(t *testing.T) {
	got := LoadBalancerAttributes(map[string]string{"idle_timeout.timeout_seconds": "120"})
	want := map[string]string{
		"idle_timeout.timeout_seconds":            "120",
		"client_keep_alive.seconds":               "3600",
		"deletion_protection.enabled":             "false",
		"routing.http.xff_header_processing.mode": "append",
		"routing.http.desync_mitigation_mode":     "defensive",
		"routing.http2.enabled":                   "true",
		"load_balancing.cross_zone.enabled":       "true",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, got[k], v)
		}
	}
	if err := ValidateLoadBalancerAttributes(LoadBalancerAttributes(nil)); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestTargetValidate(t *testing.T) {
	ipGroup := &TargetGroup{Name: "g", Port: 80, TargetType: "ip"}
	instGroup := &TargetGroup{Name: "g", Port: 80, TargetType: "instance"}
	const inv = "InvalidTarget"
	tests := []struct {
		name string
		g    *TargetGroup
		t    Target
		code string
	}{
		{"10/8", ipGroup, Target{ID: "10.0.0.1"}, ""},
		{"10/8 top", ipGroup, Target{ID: "10.255.255.255"}, ""},
		{"172.16/12 low", ipGroup, Target{ID: "172.16.0.1"}, ""},
		{"172.16/12 high", ipGroup, Target{ID: "172.31.255.254"}, ""},
		{"172.32 is public", ipGroup, Target{ID: "172.32.0.1"}, inv},
		{"172.15 is public", ipGroup, Target{ID: "172.15.255.255"}, inv},
		{"192.168/16", ipGroup, Target{ID: "192.168.1.10"}, ""},
		{"192.169 is public", ipGroup, Target{ID: "192.169.0.1"}, inv},
		{"100.64/10 low", ipGroup, Target{ID: "100.64.0.1"}, ""},
		{"100.64/10 high", ipGroup, Target{ID: "100.127.255.254"}, ""},
		{"100.128 is public", ipGroup, Target{ID: "100.128.0.1"}, inv},
		{"100.63 is public", ipGroup, Target{ID: "100.63.255.255"}, inv},
		{"loopback", ipGroup, Target{ID: "127.0.0.1"}, ""},
		{"loopback other", ipGroup, Target{ID: "127.1.2.3"}, ""},
		{"ipv6 loopback", ipGroup, Target{ID: "::1"}, ""},
		{"ipv6 ula", ipGroup, Target{ID: "fd00::1"}, ""},
		{"ipv6 public", ipGroup, Target{ID: "2001:4860:4860::8888"}, inv},
		{"mapped public", ipGroup, Target{ID: "::ffff:8.8.8.8"}, inv},
		{"8.8.8.8", ipGroup, Target{ID: "8.8.8.8"}, inv},
		{"1.1.1.1", ipGroup, Target{ID: "1.1.1.1"}, inv},
		{"hostname", ipGroup, Target{ID: "example.com"}, inv},
		{"instance id in ip group", ipGroup, Target{ID: "i-0123456789abcdef0"}, inv},
		{"cidr", ipGroup, Target{ID: "10.0.0.0/8"}, inv},
		{"ip with port", ipGroup, Target{ID: "10.0.0.1:80"}, inv},
		{"port override", ipGroup, Target{ID: "10.0.0.1", Port: 8080}, ""},
		{"port 65535", ipGroup, Target{ID: "10.0.0.1", Port: 65535}, ""},
		{"port 65536", ipGroup, Target{ID: "10.0.0.1", Port: 65536}, vErr},
		{"port -1", ipGroup, Target{ID: "10.0.0.1", Port: -1}, vErr},
		{"empty id", ipGroup, Target{ID: ""}, vErr},
		{"instance", instGroup, Target{ID: "i-0123456789abcdef0"}, ""},
		{"instance with address", instGroup, Target{ID: "web-1", Address: "10.0.0.5"}, ""},
		{"instance with public address", instGroup, Target{ID: "web-1", Address: "8.8.8.8"}, ""},
		{"instance with bad address", instGroup, Target{ID: "web-1", Address: "not-an-ip"}, inv},
		{"instance empty id", instGroup, Target{ID: ""}, vErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := tt.t
			wantCode(t, tg.Validate(tt.g), tt.code)
		})
	}
}

func TestActionValidate(t *testing.T) {
	fixed := func(code, ctype, body string) Action {
		return Action{Type: "fixed-response", FixedResponse: &FixedResponseConfig{StatusCode: code, ContentType: ctype, MessageBody: body}}
	}
	redirect := func(code string) Action {
		return Action{Type: "redirect", Redirect: &RedirectConfig{Protocol: "HTTPS", Port: "443", StatusCode: code}}
	}
	weighted := func(n, weight int) Action {
		var gs []WeightedTargetGroup
		for i := 0; i < n; i++ {
			gs = append(gs, WeightedTargetGroup{TargetGroupARN: "arn:tg" + string(rune('a'+i)), Weight: weight})
		}
		return Action{Type: "forward", ForwardConfig: &ForwardConfig{TargetGroups: gs}}
	}
	tests := []struct {
		name string
		a    Action
		code string
	}{
		{"forward single", Action{Type: "forward", TargetGroupARN: "arn:tg"}, ""},
		{"forward without group", Action{Type: "forward"}, vErr},
		{"forward with empty config", Action{Type: "forward", ForwardConfig: &ForwardConfig{}}, vErr},
		{"forward weighted 1", weighted(1, 1), ""},
		{"forward weighted 5", weighted(5, 10), ""},
		{"forward weighted 6", weighted(6, 10), vErr},
		{"weight 0", weighted(2, 0), ""},
		{"weight 999", weighted(2, 999), ""},
		{"weight 1000", weighted(2, 1000), vErr},
		{"weight -1", weighted(2, -1), vErr},

		{"fixed 200", fixed("200", "text/plain", "ok"), ""},
		{"fixed 204 no type", fixed("204", "", ""), ""},
		{"fixed 404", fixed("404", "text/html", "<h1>no</h1>"), ""},
		{"fixed 418", fixed("418", "application/json", "{}"), ""},
		{"fixed 503", fixed("503", "text/css", ""), ""},
		{"fixed 599", fixed("599", "application/javascript", ""), ""},
		{"fixed 299", fixed("299", "", ""), ""},
		{"fixed 301", fixed("301", "", ""), vErr},
		{"fixed 302", fixed("302", "", ""), vErr},
		{"fixed 399", fixed("399", "", ""), vErr},
		{"fixed 199", fixed("199", "", ""), vErr},
		{"fixed 100", fixed("100", "", ""), vErr},
		{"fixed 600", fixed("600", "", ""), vErr},
		{"fixed abc", fixed("abc", "", ""), vErr},
		{"fixed 2XX literal", fixed("2XX", "", ""), vErr},
		{"fixed empty code", fixed("", "", ""), vErr},
		{"fixed text/xml", fixed("200", "text/xml", ""), vErr},
		{"fixed content type with charset", fixed("200", "text/plain; charset=utf-8", ""), vErr},
		{"fixed body 1024", fixed("200", "text/plain", strings.Repeat("x", 1024)), ""},
		{"fixed body 1025", fixed("200", "text/plain", strings.Repeat("x", 1025)), vErr},
		{"fixed without config", Action{Type: "fixed-response"}, vErr},

		{"redirect 301", redirect("HTTP_301"), ""},
		{"redirect 302", redirect("HTTP_302"), ""},
		{"redirect 303", redirect("HTTP_303"), vErr},
		{"redirect 307", redirect("HTTP_307"), vErr},
		{"redirect bare 301", redirect("301"), vErr},
		{"redirect empty code", redirect(""), vErr},
		{"redirect without config", Action{Type: "redirect"}, vErr},

		{"unknown type", Action{Type: "authenticate-oidc"}, vErr},
		{"empty type", Action{}, vErr},
		{"capitalised type", Action{Type: "Forward", TargetGroupARN: "arn:tg"}, vErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			wantCode(t, a.Validate(), tt.code)
		})
	}
}

// AWS's FixedResponseConfig.StatusCode pattern is ^(2|4|5)\d\d$; Validate
// parses it with strconv.Atoi, which also takes signs and leading zeros.
func TestActionValidateFixedResponseCodeIsThreeDigits(t *testing.T) {
	for _, code := range []string{"+200", "0200", "+404", "00500"} {
		a := Action{Type: "fixed-response", FixedResponse: &FixedResponseConfig{StatusCode: code}}
		if err := a.Validate(); err == nil {
			t.Errorf("status code %q accepted", code)
		}
	}
}

// AWS limits MessageBody to 1024 characters; Validate counts bytes.
func TestActionValidateFixedResponseBodyCountsCharacters(t *testing.T) {
	a := Action{Type: "fixed-response", FixedResponse: &FixedResponseConfig{StatusCode: "200", MessageBody: strings.Repeat("é", 1024)}}
	wantCode(t, a.Validate(), "")
}

func TestListenerValidate(t *testing.T) {
	fwd := []Action{{Type: "forward", TargetGroupARN: "arn:tg"}}
	tests := []struct {
		name string
		l    Listener
		code string
	}{
		{"http", Listener{Protocol: "HTTP", Port: 80, DefaultActions: fwd}, ""},
		{"https", Listener{Protocol: "HTTPS", Port: 443, DefaultActions: fwd}, ""},
		{"tcp", Listener{Protocol: "TCP", Port: 80, DefaultActions: fwd}, vErr},
		{"port 0", Listener{Protocol: "HTTP", Port: 0, DefaultActions: fwd}, vErr},
		{"port 65535", Listener{Protocol: "HTTP", Port: 65535, DefaultActions: fwd}, ""},
		{"port 65536", Listener{Protocol: "HTTP", Port: 65536, DefaultActions: fwd}, vErr},
		{"bind address", Listener{Protocol: "HTTP", Port: 80, BindAddress: "127.0.0.1", DefaultActions: fwd}, ""},
		{"bad bind address", Listener{Protocol: "HTTP", Port: 80, BindAddress: "localhost", DefaultActions: fwd}, vErr},
		{"no actions", Listener{Protocol: "HTTP", Port: 80}, vErr},
		{"bad action", Listener{Protocol: "HTTP", Port: 80, DefaultActions: []Action{{Type: "forward"}}}, vErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.l
			wantCode(t, l.Validate(), tt.code)
		})
	}
}

func TestLoadBalancerValidate(t *testing.T) {
	tests := []struct {
		name string
		lb   LoadBalancer
		code string
	}{
		{"defaults", LoadBalancer{Name: "web"}, ""},
		{"internal scheme", LoadBalancer{Name: "web", Scheme: "internal"}, ""},
		{"bad scheme", LoadBalancer{Name: "web", Scheme: "public"}, vErr},
		{"dualstack", LoadBalancer{Name: "web", IPAddressType: "dualstack"}, ""},
		{"ipv6", LoadBalancer{Name: "web", IPAddressType: "ipv6"}, vErr},
		{"bad name", LoadBalancer{Name: "internal-web"}, vErr},
		{"security group", LoadBalancer{Name: "web", SecurityGroups: []SecurityRule{{CIDR: "10.0.0.0/8", Port: 80}}}, ""},
		{"bad cidr", LoadBalancer{Name: "web", SecurityGroups: []SecurityRule{{CIDR: "10.0.0.0"}}}, vErr},
		{"bad sg port", LoadBalancer{Name: "web", SecurityGroups: []SecurityRule{{CIDR: "10.0.0.0/8", Port: 70000}}}, vErr},
		{"bad attribute", LoadBalancer{Name: "web", Attributes: map[string]string{"idle_timeout.timeout_seconds": "0"}}, vErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lb := tt.lb
			lb.ApplyDefaults()
			wantCode(t, lb.Validate(), tt.code)
		})
	}
}

// A GRPC group's health check defaults are ALB's: the path
// /AWS.ALB/healthcheck and gRPC code 12 (UNIMPLEMENTED: the target speaks
// gRPC) instead of HTTP 200.
func TestGRPCHealthCheckDefaults(t *testing.T) {
	g := TargetGroup{Name: "web", Port: 80, ProtocolVersion: "GRPC"}
	g.ApplyDefaults()
	if h := g.HealthCheck; h.Path != "/AWS.ALB/healthcheck" || h.GrpcCode != "12" || h.Matcher != "" {
		t.Fatalf("health check %+v", h)
	}
	h1 := TargetGroup{Name: "web", Port: 80}
	h1.ApplyDefaults()
	if h := h1.HealthCheck; h.Path != "/" || h.Matcher != "200" || h.GrpcCode != "" {
		t.Fatalf("HTTP1 health check %+v", h)
	}
}

func TestTargetGroupValidate(t *testing.T) {
	tests := []struct {
		name string
		g    TargetGroup
		code string
	}{
		{"defaults", TargetGroup{Name: "web", Port: 80}, ""},
		{"ip", TargetGroup{Name: "web", Port: 80, TargetType: "ip"}, ""},
		{"lambda", TargetGroup{Name: "web", Port: 80, TargetType: "lambda"}, vErr},
		{"port 0", TargetGroup{Name: "web", Port: 0}, vErr},
		{"port 65536", TargetGroup{Name: "web", Port: 65536}, vErr},
		{"tcp", TargetGroup{Name: "web", Port: 80, Protocol: "TCP"}, vErr},
		{"http2", TargetGroup{Name: "web", Port: 80, ProtocolVersion: "HTTP2"}, ""},
		{"grpc", TargetGroup{Name: "web", Port: 80, ProtocolVersion: "GRPC"}, ""},
		{"grpc codes", TargetGroup{Name: "web", Port: 80, ProtocolVersion: "GRPC", HealthCheck: HealthCheck{GrpcCode: "0-99"}}, ""},
		{"grpc code 100", TargetGroup{Name: "web", Port: 80, ProtocolVersion: "GRPC", HealthCheck: HealthCheck{GrpcCode: "100"}}, vErr},
		{"grpc with an http matcher", TargetGroup{Name: "web", Port: 80, ProtocolVersion: "GRPC", HealthCheck: HealthCheck{Matcher: "200"}}, vErr},
		{"http1 with a grpc matcher", TargetGroup{Name: "web", Port: 80, HealthCheck: HealthCheck{GrpcCode: "12"}}, vErr},
		{"http3", TargetGroup{Name: "web", Port: 80, ProtocolVersion: "HTTP3"}, vErr},
		{"bad name", TargetGroup{Name: "web_1", Port: 80}, vErr},
		{"bad health check", TargetGroup{Name: "web", Port: 80, HealthCheck: HealthCheck{IntervalSeconds: 5, TimeoutSeconds: 5}}, vErr},
		{"bad attribute", TargetGroup{Name: "web", Port: 80, Attributes: map[string]string{"x": "y"}}, vErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g
			g.ApplyDefaults()
			wantCode(t, g.Validate(), tt.code)
		})
	}
}
