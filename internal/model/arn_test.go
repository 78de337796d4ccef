package model

import (
	"regexp"
	"strings"
	"testing"
)

// Formats from aws.md §B "ARN and ID formats".
var (
	lbARNRe       = regexp.MustCompile(`^arn:aws:elasticloadbalancing:([a-z0-9-]+):(\d{12}):loadbalancer/app/([A-Za-z0-9-]+)/([0-9a-f]{16})$`)
	tgARNRe       = regexp.MustCompile(`^arn:aws:elasticloadbalancing:([a-z0-9-]+):(\d{12}):targetgroup/([A-Za-z0-9-]+)/([0-9a-f]{16})$`)
	listenerARNRe = regexp.MustCompile(`^arn:aws:elasticloadbalancing:([a-z0-9-]+):(\d{12}):listener/app/([A-Za-z0-9-]+)/([0-9a-f]{16})/([0-9a-f]{16})$`)
	ruleARNRe     = regexp.MustCompile(`^arn:aws:elasticloadbalancing:([a-z0-9-]+):(\d{12}):listener-rule/app/([A-Za-z0-9-]+)/([0-9a-f]{16})/([0-9a-f]{16})/([0-9a-f]{16})$`)
)

func TestARNFormats(t *testing.T) {
	for _, name := range []string{"a", "my-lb", strings.Repeat("x", 32)} {
		t.Run(name, func(t *testing.T) {
			lb := NewLoadBalancerARN(name)
			m := lbARNRe.FindStringSubmatch(lb)
			if m == nil {
				t.Fatalf("load balancer ARN %q does not match %s", lb, lbARNRe)
			}
			if m[1] != Region || m[2] != Account || m[3] != name {
				t.Errorf("load balancer ARN %q: region/account/name = %s/%s/%s", lb, m[1], m[2], m[3])
			}
			lbID := m[4]

			tg := NewTargetGroupARN(name)
			m = tgARNRe.FindStringSubmatch(tg)
			if m == nil {
				t.Fatalf("target group ARN %q does not match %s", tg, tgARNRe)
			}
			if m[1] != Region || m[2] != Account || m[3] != name {
				t.Errorf("target group ARN %q: region/account/name = %s/%s/%s", tg, m[1], m[2], m[3])
			}

			l := NewListenerARN(lb)
			m = listenerARNRe.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("listener ARN %q does not match %s", l, listenerARNRe)
			}
			if m[3] != name || m[4] != lbID {
				t.Errorf("listener ARN %q is not under load balancer %q", l, lb)
			}
			listenerID := m[5]

			r := NewRuleARN(l)
			m = ruleARNRe.FindStringSubmatch(r)
			if m == nil {
				t.Fatalf("rule ARN %q does not match %s", r, ruleARNRe)
			}
			if m[3] != name || m[4] != lbID || m[5] != listenerID {
				t.Errorf("rule ARN %q is not under listener %q", r, l)
			}
		})
	}
}

func TestARNsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	lb := NewLoadBalancerARN("lb")
	for i := 0; i < 200; i++ {
		for _, a := range []string{NewLoadBalancerARN("lb"), NewTargetGroupARN("lb"), NewListenerARN(lb)} {
			if seen[a] {
				t.Fatalf("ARN %q generated twice", a)
			}
			seen[a] = true
		}
	}
}

func TestResourceName(t *testing.T) {
	tests := []struct{ arn, want string }{
		{NewLoadBalancerARN("my-lb"), "my-lb"},
		{NewTargetGroupARN("my-tg"), "my-tg"},
		{"arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/web/50dc6c495c0c9188", "web"},
		{"arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067", "my-targets"},
		{"not-an-arn", "not-an-arn"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ResourceName(tt.arn); got != tt.want {
			t.Errorf("ResourceName(%q) = %q, want %q", tt.arn, got, tt.want)
		}
	}
}

func TestLoadBalancerDNSName(t *testing.T) {
	dnsRe := regexp.MustCompile(`^(internal-)?([A-Za-z0-9-]+)-(\d{1,9})\.` + regexp.QuoteMeta(Region) + `\.elb\.alba\.local$`)
	tests := []struct {
		name, scheme, arn, want string
	}{
		{"web", "internet-facing", "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0000000100000000",
			"web-1." + Region + ".elb.alba.local"},
		{"web", "internal", "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0000000100000000",
			"internal-web-1." + Region + ".elb.alba.local"},
		// 0xffffffff = 4294967295, kept to 9 digits.
		{"big", "internet-facing", "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/big/ffffffff00000000",
			"big-294967295." + Region + ".elb.alba.local"},
	}
	for _, tt := range tests {
		lb := &LoadBalancer{Name: tt.name, Scheme: tt.scheme, ARN: tt.arn}
		if got := LoadBalancerDNSName(lb); got != tt.want {
			t.Errorf("LoadBalancerDNSName(%s, %s) = %q, want %q", tt.name, tt.scheme, got, tt.want)
		}
	}
	for _, scheme := range []string{"internet-facing", "internal"} {
		lb := &LoadBalancer{Name: "my-lb", Scheme: scheme, ARN: NewLoadBalancerARN("my-lb")}
		got := LoadBalancerDNSName(lb)
		m := dnsRe.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("DNS name %q does not match %s", got, dnsRe)
		}
		if (m[1] == "internal-") != (scheme == "internal") || m[2] != "my-lb" {
			t.Errorf("DNS name %q for scheme %s", got, scheme)
		}
		if again := LoadBalancerDNSName(lb); again != got {
			t.Errorf("DNS name not stable: %q then %q", got, again)
		}
	}
}
