package lbcontroller

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/tlspolicy"
)

// compileConditions turns a rule's conditions into the data plane's.
func compileConditions(cs []model.Condition) dataplane.Conditions {
	var out dataplane.Conditions
	for _, c := range cs {
		switch c.Field {
		case "host-header":
			out.Hosts = append(out.Hosts, c.Values...)
		case "path-pattern":
			out.Paths = append(out.Paths, c.Values...)
		case "http-request-method":
			out.Methods = append(out.Methods, c.Values...)
		case "http-header":
			out.Headers = append(out.Headers, dataplane.HeaderCondition{Name: strings.ToLower(c.HeaderName), Values: c.Values})
		case "query-string":
			var q dataplane.QueryCondition
			for _, kv := range c.QueryValues {
				q.Pairs = append(q.Pairs, dataplane.QueryPair{Key: kv.Key, Value: kv.Value})
			}
			out.Queries = append(out.Queries, q)
		case "source-ip":
			for _, v := range c.Values {
				if p, err := netip.ParsePrefix(v); err == nil {
					out.Sources = append(out.Sources, p.Masked())
				}
			}
		}
	}
	return out
}

// stickiness is a target group's stickiness in the data plane's terms.
func stickiness(s model.StickinessAttrs) dataplane.StickyConfig {
	switch {
	case !s.Enabled:
		return dataplane.StickyConfig{}
	case s.Type == "app_cookie":
		return dataplane.StickyConfig{Type: dataplane.StickyAppCookie, AppCookie: s.AppCookieName, Duration: s.Duration}
	}
	return dataplane.StickyConfig{Type: dataplane.StickyLBCookie, Duration: s.Duration}
}

// parsedCert caches a parsed certificate by its content.
type parsedCert struct {
	sum  [32]byte
	cert *tls.Certificate
}

// tlsConfig builds an HTTPS listener's TLS configuration: its default
// certificate and the rest by SNI, its security policy, and ALPN (h2 unless
// the load balancer turned HTTP/2 off).
func (c *Controller) tlsConfig(l *model.Listener, all []*model.Certificate, lb *model.LoadBalancer) (*tls.Config, error) {
	byARN := map[string]*model.Certificate{}
	for _, ct := range all {
		byARN[ct.ARN] = ct
	}
	var chain []*tls.Certificate
	for _, arn := range l.Certificates {
		mc, ok := byARN[arn]
		if !ok {
			return nil, fmt.Errorf("certificate %s not found", arn)
		}
		tc, err := c.parse(mc)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", mc.Name, err)
		}
		chain = append(chain, tc)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("an HTTPS listener needs a certificate")
	}
	set := dataplane.NewCertSet(chain[0], chain[1:])
	cfg := &tls.Config{GetCertificate: set.GetCertificate}
	policy := l.SslPolicy
	if policy == "" {
		policy = tlspolicy.Default
	}
	if err := tlspolicy.Apply(policy, cfg); err != nil {
		return nil, err
	}
	if lb == nil || lb.Attrs().HTTP2 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	} else {
		cfg.NextProtos = []string{"http/1.1"}
	}
	return cfg, nil
}

func (c *Controller) parse(mc *model.Certificate) (*tls.Certificate, error) {
	sum := sha256.Sum256([]byte(mc.Body + "\x00" + mc.PrivateKey + "\x00" + mc.Chain))
	c.mu.Lock()
	if p, ok := c.certCache[mc.ARN]; ok && p.sum == sum {
		c.mu.Unlock()
		return p.cert, nil
	}
	c.mu.Unlock()
	p, err := certs.Parse(mc.Body, mc.PrivateKey, mc.Chain, time.Time{}) // an expired certificate keeps being served, as on ALB
	if err != nil {
		return nil, err
	}
	tc := p.Certificate
	c.mu.Lock()
	c.certCache[mc.ARN] = parsedCert{sum, &tc}
	c.mu.Unlock()
	return &tc, nil
}
