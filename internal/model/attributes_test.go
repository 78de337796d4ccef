package model

import (
	"testing"
	"time"
)

func TestAttrsAreParsedWithDefaults(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		want  TargetGroupAttrs
	}{
		{"defaults", nil, TargetGroupAttrs{DeregistrationDelay: 300 * time.Second, Algorithm: "round_robin",
			Stickiness: StickinessAttrs{Type: "lb_cookie", Duration: 86400 * time.Second}}},
		{"lb cookie", map[string]string{"stickiness.enabled": "true", "stickiness.lb_cookie.duration_seconds": "60", "deregistration_delay.timeout_seconds": "5"},
			TargetGroupAttrs{DeregistrationDelay: 5 * time.Second, Algorithm: "round_robin",
				Stickiness: StickinessAttrs{Enabled: true, Type: "lb_cookie", Duration: time.Minute}}},
		{"app cookie", map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "SID",
			"stickiness.app_cookie.duration_seconds": "30", "stickiness.lb_cookie.duration_seconds": "60"},
			TargetGroupAttrs{DeregistrationDelay: 300 * time.Second, Algorithm: "round_robin",
				Stickiness: StickinessAttrs{Enabled: true, Type: "app_cookie", Duration: 30 * time.Second, AppCookieName: "SID"}}},
		{"slow start and algorithm", map[string]string{"slow_start.duration_seconds": "30", "load_balancing.algorithm.type": "weighted_random",
			"load_balancing.algorithm.anomaly_mitigation": "on"},
			TargetGroupAttrs{DeregistrationDelay: 300 * time.Second, SlowStart: 30 * time.Second, Algorithm: "weighted_random", AnomalyMitigation: true,
				Stickiness: StickinessAttrs{Type: "lb_cookie", Duration: 86400 * time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &TargetGroup{Attributes: tt.attrs}
			if got := g.Attrs(); got != tt.want {
				t.Errorf("Attrs() = %+v, want %+v", got, tt.want)
			}
		})
	}
	lb := &LoadBalancer{Attributes: map[string]string{"idle_timeout.timeout_seconds": "5", "deletion_protection.enabled": "true",
		"routing.http.xff_header_processing.mode": "remove", "routing.http2.enabled": "false"}}
	want := LoadBalancerAttrs{IdleTimeout: 5 * time.Second, ClientKeepAlive: time.Hour, DeletionProtection: true, XFFMode: "remove",
		DesyncMitigationMode: "defensive"}
	if got := lb.Attrs(); got != want {
		t.Errorf("load balancer Attrs() = %+v, want %+v", got, want)
	}
}
