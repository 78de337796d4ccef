package awsapi

import (
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/tlspolicy"
)

// SSLPolicies are the security policies DescribeSSLPolicies lists, sorted
// by name: the data plane's own table (package tlspolicy), so that what the
// API describes is what HTTPS listeners negotiate.
var SSLPolicies = func() []tlspolicy.Policy {
	var out []tlspolicy.Policy
	for _, name := range tlspolicy.Names() {
		out = append(out, tlspolicy.Policies[name])
	}
	return out
}()

// SSLPolicyByName returns the named policy.
func SSLPolicyByName(name string) (*tlspolicy.Policy, bool) {
	for i := range SSLPolicies {
		if SSLPolicies[i].Name == name {
			return &SSLPolicies[i], true
		}
	}
	return nil, false
}

type cipherXML struct {
	Name     string
	Priority int
}

type sslPolicyXML struct {
	SslProtocols               memberList[string]
	Ciphers                    memberList[cipherXML]
	Name                       string
	SupportedLoadBalancerTypes memberList[string]
}

type sslPoliciesOut struct {
	SslPolicies memberList[sslPolicyXML]
	NextMarker  string `xml:",omitempty"`
}

type describeSSLPoliciesIn struct {
	LoadBalancerType string   `q:"LoadBalancerType"`
	Names            []string `q:"Names"`
	markerPage
}

func (h *handler) describeSSLPolicies(c *call, in *describeSSLPoliciesIn) (any, error) {
	if t := in.LoadBalancerType; t != "" && t != "application" && t != "network" {
		return nil, validation("Load balancer type '%s' has no SSL policies here: use application", model.Quote(t))
	}
	var sel []tlspolicy.Policy
	if len(in.Names) == 0 {
		sel = append(sel, SSLPolicies...)
	}
	for _, n := range in.Names {
		p, ok := SSLPolicyByName(n)
		if !ok {
			return nil, apiErrorf("SSLPolicyNotFound", "SSL policy '%s' not found", model.Quote(n))
		}
		sel = append(sel, *p)
	}
	ps, next, err := mapPage(sel, func(p tlspolicy.Policy) string { return p.Name }, in.paging(), func(p tlspolicy.Policy) (sslPolicyXML, error) {
		var ciphers []cipherXML
		for i, ci := range p.Ciphers {
			ciphers = append(ciphers, cipherXML{ci, i + 1})
		}
		return sslPolicyXML{members(p.Protocols), members(ciphers), p.Name, members([]string{"application", "network"})}, nil
	})
	if err != nil {
		return nil, err
	}
	return sslPoliciesOut{members(ps), next}, nil
}
