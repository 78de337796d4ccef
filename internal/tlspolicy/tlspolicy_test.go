package tlspolicy

import (
	"crypto/tls"
	"testing"
)

func TestPolicies(t *testing.T) {
	cases := []struct {
		name     string
		min, max uint16
	}{
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", tls.VersionTLS12, tls.VersionTLS13},
		{"ELBSecurityPolicy-TLS13-1-3-2021-06", tls.VersionTLS13, tls.VersionTLS13},
		{"ELBSecurityPolicy-2016-08", tls.VersionTLS10, tls.VersionTLS12},
		{"ELBSecurityPolicy-TLS-1-2-2017-01", tls.VersionTLS12, tls.VersionTLS12},
	}
	for _, tc := range cases {
		var cfg tls.Config
		if err := Apply(tc.name, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.MinVersion != tc.min || cfg.MaxVersion != tc.max {
			t.Errorf("%s: versions %x-%x, want %x-%x", tc.name, cfg.MinVersion, cfg.MaxVersion, tc.min, tc.max)
		}
		if tc.max < tls.VersionTLS13 && len(cfg.CipherSuites) == 0 {
			t.Errorf("%s: no cipher suites", tc.name)
		}
	}
	if err := Apply("ELBSecurityPolicy-Nope", &tls.Config{}); err == nil {
		t.Error("an unknown policy was applied")
	}
	// Every named TLS 1.2 suite exists in crypto/tls.
	for name, p := range Policies {
		if p.Name != name || len(p.Protocols) == 0 || len(p.Ciphers) == 0 {
			t.Errorf("policy %s: %+v", name, p)
		}
		for _, c := range p.Ciphers {
			if _, ok := goSuites[c]; !ok && !isTLS13(c) {
				t.Errorf("%s: cipher %s has no crypto/tls suite", name, c)
			}
		}
	}
}

func isTLS13(c string) bool {
	for _, s := range tls13 {
		if s == c {
			return true
		}
	}
	return false
}
