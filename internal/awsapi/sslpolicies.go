package awsapi

import "github.com/alba-lb/alba/internal/tlspolicy"

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
