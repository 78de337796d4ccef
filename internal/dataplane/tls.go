package dataplane

import (
	"crypto/ecdsa"
	"crypto/tls"
	"strings"
)

// CertSet chooses an HTTPS listener's certificate by SNI: an exact name
// first, then a wildcard (*.example.com matches a.example.com, not
// example.com), else the default certificate. Among several for a name, an
// ECDSA certificate wins when the client supports it, as on ALB.
type CertSet struct {
	// Default is served without SNI or when nothing matches.
	Default *tls.Certificate
	exact   map[string][]*tls.Certificate
	wild    map[string][]*tls.Certificate
}

// NewCertSet indexes certificates by their DNS names (the leaf must be
// parsed); def is the listener's default certificate.
func NewCertSet(def *tls.Certificate, more []*tls.Certificate) *CertSet {
	s := &CertSet{Default: def, exact: map[string][]*tls.Certificate{}, wild: map[string][]*tls.Certificate{}}
	for _, c := range append([]*tls.Certificate{def}, more...) {
		if c == nil || c.Leaf == nil {
			continue
		}
		names := c.Leaf.DNSNames
		if len(names) == 0 && c.Leaf.Subject.CommonName != "" {
			names = []string{c.Leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				s.wild[rest] = append(s.wild[rest], c)
			} else {
				s.exact[n] = append(s.exact[n], c)
			}
		}
	}
	return s
}

// GetCertificate implements tls.Config.GetCertificate.
func (s *CertSet) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		if c := best(s.exact[name], hello); c != nil {
			return c, nil
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			if c := best(s.wild[name[i+1:]], hello); c != nil {
				return c, nil
			}
		}
	}
	return s.Default, nil
}

func best(cs []*tls.Certificate, hello *tls.ClientHelloInfo) *tls.Certificate {
	var fallback *tls.Certificate
	for _, c := range cs {
		if hello.SupportsCertificate(c) != nil {
			if fallback == nil {
				fallback = c
			}
			continue
		}
		if _, ok := c.PrivateKey.(*ecdsa.PrivateKey); ok {
			return c
		}
		if fallback == nil || hello.SupportsCertificate(fallback) != nil {
			fallback = c
		}
	}
	return fallback
}
