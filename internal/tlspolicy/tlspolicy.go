// Package tlspolicy holds ALB's security policies by their AWS names: the
// TLS versions and cipher suites each allows, in AWS's (OpenSSL) naming for
// DescribeSSLPolicies, and as a crypto/tls configuration for listeners.
package tlspolicy

import (
	"crypto/tls"
	"fmt"
	"sort"
)

// Policy is one security policy.
type Policy struct {
	// Name is AWS's name, e.g. ELBSecurityPolicy-TLS13-1-2-2021-06.
	Name string
	// Protocols are the TLS versions, as AWS lists them (TLSv1.2, …).
	Protocols []string
	// Ciphers are the TLS 1.2-and-earlier suites in priority order, in
	// OpenSSL naming; TLS 1.3 suites are listed first when TLS 1.3 is on.
	// AWS suites crypto/tls does not implement (AES256 CBC with SHA-384 or
	// SHA-256) are left out: a policy lists what Alba negotiates.
	Ciphers []string
}

// Default is the policy of an HTTPS listener created without one through
// the API (AWS's API default).
const Default = "ELBSecurityPolicy-2016-08"

// Recommended is the console's default, AWS's recommendation.
const Recommended = "ELBSecurityPolicy-TLS13-1-2-2021-06"

var tls13 = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

var ecdheGCM = []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"}

var ecdheCBC256 = []string{"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256"}

var ecdheCBC = []string{"ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA"}

var rsaKx = []string{"AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA", "AES256-GCM-SHA384", "AES256-SHA"}

// rsaKx256 are the RSA key exchange suites without SHA-1 (TLS-1-2-2017-01).
var rsaKx256 = []string{"AES128-GCM-SHA256", "AES128-SHA256", "AES256-GCM-SHA384"}

func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Policies by name.
var Policies = map[string]Policy{
	"ELBSecurityPolicy-TLS13-1-2-2021-06":      {Protocols: []string{"TLSv1.2", "TLSv1.3"}, Ciphers: join(tls13, ecdheGCM, ecdheCBC256)},
	"ELBSecurityPolicy-TLS13-1-2-Res-2021-06":  {Protocols: []string{"TLSv1.2", "TLSv1.3"}, Ciphers: join(tls13, ecdheGCM)},
	"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06": {Protocols: []string{"TLSv1.2", "TLSv1.3"}, Ciphers: join(tls13, ecdheGCM, ecdheCBC256, rsaKx)},
	"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06": {Protocols: []string{"TLSv1.2", "TLSv1.3"}, Ciphers: join(tls13, ecdheGCM, ecdheCBC256, ecdheCBC, rsaKx)},
	"ELBSecurityPolicy-TLS13-1-3-2021-06":      {Protocols: []string{"TLSv1.3"}, Ciphers: tls13},
	"ELBSecurityPolicy-TLS13-1-1-2021-06":      {Protocols: []string{"TLSv1.1", "TLSv1.2", "TLSv1.3"}, Ciphers: join(tls13, ecdheGCM, ecdheCBC256, ecdheCBC, rsaKx)},
	"ELBSecurityPolicy-TLS13-1-0-2021-06":      {Protocols: []string{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}, Ciphers: join(tls13, ecdheGCM, ecdheCBC256, ecdheCBC, rsaKx)},
	"ELBSecurityPolicy-2016-08":                {Protocols: []string{"TLSv1", "TLSv1.1", "TLSv1.2"}, Ciphers: join(ecdheGCM, ecdheCBC256, ecdheCBC, rsaKx)},
	"ELBSecurityPolicy-2015-05":                {Protocols: []string{"TLSv1", "TLSv1.1", "TLSv1.2"}, Ciphers: join(ecdheGCM, ecdheCBC256, ecdheCBC, rsaKx)},
	"ELBSecurityPolicy-TLS-1-2-2017-01":        {Protocols: []string{"TLSv1.2"}, Ciphers: join(ecdheGCM, ecdheCBC256, ecdheCBC, rsaKx)},
	"ELBSecurityPolicy-TLS-1-2-Ext-2018-06":    {Protocols: []string{"TLSv1.2"}, Ciphers: join(ecdheGCM, ecdheCBC256, ecdheCBC, rsaKx)},
	"ELBSecurityPolicy-TLS-1-1-2017-01":        {Protocols: []string{"TLSv1.1", "TLSv1.2"}, Ciphers: join(ecdheGCM, ecdheCBC256, ecdheCBC, rsaKx)},
	"ELBSecurityPolicy-FS-1-2-Res-2020-10":     {Protocols: []string{"TLSv1.2"}, Ciphers: ecdheGCM},
	"ELBSecurityPolicy-FS-1-2-2019-08":         {Protocols: []string{"TLSv1.2"}, Ciphers: join(ecdheGCM, ecdheCBC256, ecdheCBC)},
}

func init() {
	for name, p := range Policies {
		p.Name = name
		Policies[name] = p
	}
}

// Names lists the policies, sorted.
func Names() []string {
	var out []string
	for n := range Policies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var goSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

var versions = map[string]uint16{"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}

// Apply sets cfg's versions and TLS 1.2-and-earlier cipher suites from the
// named policy. TLS 1.3 suites are not configurable in crypto/tls; every
// policy that allows TLS 1.3 allows all three of Go's.
func Apply(name string, cfg *tls.Config) error {
	p, ok := Policies[name]
	if !ok {
		return fmt.Errorf("security policy '%s' is not known", name)
	}
	cfg.MinVersion, cfg.MaxVersion = 0, 0
	for _, proto := range p.Protocols {
		v := versions[proto]
		if cfg.MinVersion == 0 || v < cfg.MinVersion {
			cfg.MinVersion = v
		}
		if v > cfg.MaxVersion {
			cfg.MaxVersion = v
		}
	}
	cfg.CipherSuites = nil
	for _, c := range p.Ciphers {
		if id, ok := goSuites[c]; ok {
			cfg.CipherSuites = append(cfg.CipherSuites, id)
		}
	}
	return nil
}
