package model

import "testing"

func TestTargetGroupApplyDefaults(t *testing.T) {
	g := TargetGroup{Name: "web", Port: 80}
	g.ApplyDefaults()
	if g.Protocol != "HTTP" || g.ProtocolVersion != "HTTP1" || g.TargetType != "instance" {
		t.Errorf("protocol/version/type = %s/%s/%s, want HTTP/HTTP1/instance", g.Protocol, g.ProtocolVersion, g.TargetType)
	}
	want := HealthCheck{
		Enabled: true, Protocol: "HTTP", Port: "traffic-port", Path: "/",
		IntervalSeconds: 30, TimeoutSeconds: 5, HealthyThreshold: 5, UnhealthyThreshold: 2,
		Matcher: "200",
	}
	if g.HealthCheck != want {
		t.Errorf("health check defaults = %+v, want %+v", g.HealthCheck, want)
	}
	if err := g.Validate(); err != nil {
		t.Errorf("a defaulted group does not validate: %v", err)
	}
}

func TestTargetGroupApplyDefaultsKeepsSetFields(t *testing.T) {
	g := TargetGroup{
		Name: "web", Port: 443, Protocol: "HTTPS", TargetType: "ip",
		HealthCheck: HealthCheck{
			Port: "8080", Path: "/health", IntervalSeconds: 10, TimeoutSeconds: 3,
			HealthyThreshold: 3, UnhealthyThreshold: 4, Matcher: "200-299",
		},
	}
	g.ApplyDefaults()
	if g.Protocol != "HTTPS" || g.TargetType != "ip" || g.ProtocolVersion != "HTTP1" {
		t.Errorf("protocol/type/version = %s/%s/%s", g.Protocol, g.TargetType, g.ProtocolVersion)
	}
	want := HealthCheck{
		Enabled: true, Protocol: "HTTPS", Port: "8080", Path: "/health",
		IntervalSeconds: 10, TimeoutSeconds: 3, HealthyThreshold: 3, UnhealthyThreshold: 4,
		Matcher: "200-299",
	}
	if g.HealthCheck != want {
		t.Errorf("health check = %+v, want %+v", g.HealthCheck, want)
	}

	// An explicit health check protocol wins over the group's.
	g = TargetGroup{Name: "web", Port: 443, Protocol: "HTTPS", HealthCheck: HealthCheck{Protocol: "HTTP"}}
	g.ApplyDefaults()
	if g.HealthCheck.Protocol != "HTTP" {
		t.Errorf("health check protocol = %s, want HTTP", g.HealthCheck.Protocol)
	}
	// Health checks cannot be disabled for instance and ip targets.
	g = TargetGroup{Name: "web", Port: 80, HealthCheck: HealthCheck{Enabled: false}}
	g.ApplyDefaults()
	if !g.HealthCheck.Enabled {
		t.Error("health check left disabled")
	}
}

func TestLoadBalancerApplyDefaults(t *testing.T) {
	lb := LoadBalancer{Name: "web"}
	lb.ApplyDefaults()
	if lb.Scheme != "internet-facing" || lb.IPAddressType != "ipv4" {
		t.Errorf("scheme/ip type = %s/%s, want internet-facing/ipv4", lb.Scheme, lb.IPAddressType)
	}
	lb = LoadBalancer{Name: "web", Scheme: "internal", IPAddressType: "dualstack"}
	lb.ApplyDefaults()
	if lb.Scheme != "internal" || lb.IPAddressType != "dualstack" {
		t.Errorf("scheme/ip type = %s/%s, want internal/dualstack", lb.Scheme, lb.IPAddressType)
	}
}

func TestListenerApplyDefaults(t *testing.T) {
	l := Listener{Protocol: "HTTPS", Port: 443, DefaultActions: []Action{
		{Type: "fixed-response"}, {Type: "forward", Order: 7}, {Type: "forward"},
	}}
	l.ApplyDefaults()
	if l.SslPolicy != "ELBSecurityPolicy-2016-08" {
		t.Errorf("ssl policy = %q, want ELBSecurityPolicy-2016-08", l.SslPolicy)
	}
	for i, want := range []int{1, 7, 3} {
		if got := l.DefaultActions[i].Order; got != want {
			t.Errorf("action %d order = %d, want %d", i, got, want)
		}
	}
	l = Listener{Protocol: "HTTPS", SslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06"}
	l.ApplyDefaults()
	if l.SslPolicy != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Errorf("ssl policy replaced: %q", l.SslPolicy)
	}
	l = Listener{Protocol: "HTTP"}
	l.ApplyDefaults()
	if l.SslPolicy != "" {
		t.Errorf("HTTP listener got ssl policy %q", l.SslPolicy)
	}
}

func TestTargetKeyAndPorts(t *testing.T) {
	g := &TargetGroup{ARN: "arn:g", Port: 80}
	tests := []struct {
		t        Target
		key      string
		port     int
		dialHost string
	}{
		{Target{TargetGroupARN: "arn:g", ID: "10.0.0.1"}, "arn:g|10.0.0.1|0", 80, "10.0.0.1"},
		{Target{TargetGroupARN: "arn:g", ID: "10.0.0.1", Port: 8080}, "arn:g|10.0.0.1|8080", 8080, "10.0.0.1"},
		{Target{TargetGroupARN: "arn:g", ID: "i-1", Address: "10.0.0.9"}, "arn:g|i-1|0", 80, "10.0.0.9"},
	}
	for _, tt := range tests {
		if got := tt.t.Key(); got != tt.key {
			t.Errorf("Key() = %q, want %q", got, tt.key)
		}
		if got := TargetKey(tt.t.TargetGroupARN, tt.t.ID, tt.t.Port); got != tt.key {
			t.Errorf("TargetKey = %q, want %q", got, tt.key)
		}
		if got := tt.t.EffectivePort(g); got != tt.port {
			t.Errorf("EffectivePort = %d, want %d", got, tt.port)
		}
		if got := tt.t.DialHost(); got != tt.dialHost {
			t.Errorf("DialHost = %q, want %q", got, tt.dialHost)
		}
	}
}
