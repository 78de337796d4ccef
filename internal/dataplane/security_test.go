package dataplane

import (
	"net"
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
		addr, _ := net.ResolveTCPAddr("tcp", tc.addr)
		if got := allowed(lb, addr); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.addr, got, tc.want)
		}
	}
	if !allowed(&LoadBalancer{}, &net.TCPAddr{IP: net.ParseIP("8.8.8.8")}) {
		t.Error("no rules must allow everyone")
	}
}
