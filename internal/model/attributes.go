package model

import (
	"strconv"
	"time"
)

// AWS keeps attributes as string keys and values, and so do the API, the
// file and the store. Code that acts on them reads these typed views,
// parsed in one place, instead of looking keys up.

// TargetGroupAttrs are a target group's attributes, defaults filled in.
type TargetGroupAttrs struct {
	// DeregistrationDelay is how long a deregistered target drains.
	DeregistrationDelay time.Duration
	// SlowStart ramps a new target's share up over this time (0: off).
	SlowStart time.Duration
	// Algorithm is round_robin, least_outstanding_requests or
	// weighted_random.
	Algorithm string
	// AnomalyMitigation is on with weighted_random only.
	AnomalyMitigation bool
	// Stickiness pins a client to a target.
	Stickiness StickinessAttrs
}

// StickinessAttrs are the stickiness.* attributes.
type StickinessAttrs struct {
	// Enabled turns stickiness on.
	Enabled bool
	// Type is lb_cookie (AWSALB) or app_cookie (AWSALBAPP).
	Type string
	// Duration of the cookie of the type in force.
	Duration time.Duration
	// AppCookieName is the application's cookie (app_cookie only).
	AppCookieName string
}

// Attrs returns the group's attributes as a typed view.
func (g *TargetGroup) Attrs() TargetGroupAttrs {
	a := TargetGroupAttributes(g.Attributes)
	s := StickinessAttrs{Enabled: a["stickiness.enabled"] == "true", Type: a["stickiness.type"],
		Duration: seconds(a, "stickiness.lb_cookie.duration_seconds")}
	if s.Type == "app_cookie" {
		s.Duration, s.AppCookieName = seconds(a, "stickiness.app_cookie.duration_seconds"), a["stickiness.app_cookie.cookie_name"]
	}
	return TargetGroupAttrs{
		DeregistrationDelay: seconds(a, "deregistration_delay.timeout_seconds"),
		SlowStart:           seconds(a, "slow_start.duration_seconds"),
		Algorithm:           a["load_balancing.algorithm.type"],
		AnomalyMitigation:   a["load_balancing.algorithm.anomaly_mitigation"] == "on",
		Stickiness:          s,
	}
}

// LoadBalancerAttrs are a load balancer's attributes, defaults filled in.
type LoadBalancerAttrs struct {
	// IdleTimeout closes connections idle this long.
	IdleTimeout time.Duration
	// ClientKeepAlive is the longest a client connection is kept.
	ClientKeepAlive time.Duration
	// DeletionProtection refuses DeleteLoadBalancer.
	DeletionProtection bool
	// DropInvalidHeaderFields removes headers whose names are not tokens.
	DropInvalidHeaderFields bool
	// PreserveHostHeader sends the client's Host to targets unchanged.
	PreserveHostHeader bool
	// XFFMode is append, preserve or remove (X-Forwarded-For).
	XFFMode string
	// HTTP2 offers h2 to HTTPS clients.
	HTTP2 bool
	// DesyncMitigationMode is monitor, defensive or strictest.
	DesyncMitigationMode string
}

// Attrs returns the load balancer's attributes as a typed view.
func (lb *LoadBalancer) Attrs() LoadBalancerAttrs {
	a := LoadBalancerAttributes(lb.Attributes)
	return LoadBalancerAttrs{
		IdleTimeout:             seconds(a, "idle_timeout.timeout_seconds"),
		ClientKeepAlive:         seconds(a, "client_keep_alive.seconds"),
		DeletionProtection:      a["deletion_protection.enabled"] == "true",
		DropInvalidHeaderFields: a["routing.http.drop_invalid_header_fields.enabled"] == "true",
		PreserveHostHeader:      a["routing.http.preserve_host_header.enabled"] == "true",
		XFFMode:                 a["routing.http.xff_header_processing.mode"],
		HTTP2:                   a["routing.http2.enabled"] == "true",
		DesyncMitigationMode:    a["routing.http.desync_mitigation_mode"],
	}
}

// seconds reads a validated integer attribute as a duration in seconds.
func seconds(attrs map[string]string, key string) time.Duration {
	n, _ := strconv.Atoi(attrs[key])
	return time.Duration(n) * time.Second
}
