package dataplane

import (
	"net/netip"
	"testing"
)

func TestSecurityGroup(t *testing.T) {
	lb := &LoadBalancer{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("fd00::/8")}}
	cases := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:5000", true},
		{"127.0.0.2:5000", false},
		{"[fd00::1]:5000", true},
		{"[::1]:5000", false},
		{"[::ffff:127.0.0.1]:5000", true}, // IPv4-mapped
	}
	for _, tc := range cases {
		if got := allowedIP(lb, netip.MustParseAddrPort(tc.addr).Addr()); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.addr, got, tc.want)
		}
	}
	if !allowedIP(&LoadBalancer{}, netip.MustParseAddr("8.8.8.8")) {
		t.Error("no rules must allow everyone")
	}
}
