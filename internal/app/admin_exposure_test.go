package app

import (
	"strings"
	"testing"
)

// An admin address other machines reach is refused when no credentials
// protect it, unless the risk is accepted; loopback ones always start.
func TestCheckAdminExposure(t *testing.T) {
	cases := []struct {
		addr      string
		key       string
		insecure  bool
		wantError bool
	}{
		{"127.0.0.1:9080", "", false, false},
		{"127.0.0.5:9080", "", false, false},
		{"[::1]:9080", "", false, false},
		{"localhost:9080", "", false, false},
		{"0.0.0.0:9080", "", false, true},
		{":9080", "", false, true},
		{"[::]:9080", "", false, true},
		{"10.0.0.2:9080", "", false, true},
		{"example.com:9080", "", false, true},
		{"0.0.0.0:9080", "AKID", false, false},
		{"0.0.0.0:9080", "", true, false},
	}
	for _, tc := range cases {
		err := checkAdminExposure(Options{AdminAddr: tc.addr, AccessKeyID: tc.key, InsecureAdmin: tc.insecure})
		if (err != nil) != tc.wantError {
			t.Errorf("%s (key %q, insecure %v): %v", tc.addr, tc.key, tc.insecure, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--insecure-admin") {
			t.Errorf("%s: the error does not say how to go on: %v", tc.addr, err)
		}
	}
}
