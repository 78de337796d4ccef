package elb

import (
	"slices"

	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
	"github.com/alba-lb/alba/internal/tlspolicy"
)

// MaxSNICertificates is ALB's quota of certificates per load balancer
// beside its listeners' default certificates (chosen by SNI).
const MaxSNICertificates = 25

// checkListenerTLS holds the rules of a listener's TLS settings: an HTTPS
// listener has a default certificate (the first) and a known security
// policy, every certificate it names exists, and an HTTP listener has
// neither certificates nor a policy.
func checkListenerTLS(tx store.Tx, l *model.Listener) error {
	if l.Protocol != "HTTPS" {
		if len(l.Certificates) > 0 || l.SslPolicy != "" {
			return model.Errorf("ValidationError", "Certificates and an SSL policy can only be set on HTTPS listeners")
		}
		return nil
	}
	if _, ok := tlspolicy.Policies[l.SslPolicy]; !ok {
		return model.Errorf("SSLPolicyNotFound", "SSL policy '%s' not found", model.Quote(l.SslPolicy))
	}
	if len(l.Certificates) == 0 {
		return model.Errorf("ValidationError", "A certificate must be specified for HTTPS listeners")
	}
	if err := checkSNIQuota(tx, l); err != nil {
		return err
	}
	for _, arn := range l.Certificates {
		if _, err := certs.ByARN(tx, arn); err != nil {
			return err
		}
	}
	return nil
}

// ListenersUsingCertificate returns the listeners that serve the
// certificate with arn.
func ListenersUsingCertificate(tx store.Tx, arn string) ([]*model.Listener, error) {
	ls, err := Listeners(tx)
	if err != nil {
		return nil, err
	}
	var out []*model.Listener
	for _, l := range ls {
		if slices.Contains(l.Certificates, arn) {
			out = append(out, l)
		}
	}
	return out, nil
}

// UpdateServerCertificate renames or moves a certificate (IAM's
// UpdateServerCertificate); its ARN changes with its name and path, and the
// listeners serving it follow.
func UpdateServerCertificate(tx store.Tx, name, newName, newPath string) (*model.Certificate, error) {
	old, err := certs.Get(tx, name)
	if err != nil {
		return nil, err
	}
	users, err := ListenersUsingCertificate(tx, old.ARN)
	if err != nil {
		return nil, err
	}
	c, err := certs.Update(tx, name, newName, newPath)
	if err != nil {
		return nil, err
	}
	if c.ARN == old.ARN {
		return c, nil
	}
	for _, l := range users {
		for i, a := range l.Certificates {
			if a == old.ARN {
				l.Certificates[i] = c.ARN
			}
		}
		if err := store.PutJSON(tx, model.KindListener, l.ARN, l); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// DeleteServerCertificate deletes a certificate that no listener serves;
// one in use is DeleteConflict.
func DeleteServerCertificate(tx store.Tx, name string) error {
	var listErr error
	err := certs.Delete(tx, name, func(arn string) bool {
		users, err := ListenersUsingCertificate(tx, arn)
		listErr = err
		return err != nil || len(users) > 0
	})
	if listErr != nil {
		return listErr
	}
	return err
}

// checkSNIQuota counts the certificates of l's load balancer beside its
// listeners' defaults, with l as it is to be.
func checkSNIQuota(tx store.Tx, l *model.Listener) error {
	n := len(l.Certificates) - 1
	if n <= 0 {
		return nil
	}
	ls, err := Listeners(tx)
	if err != nil {
		return err
	}
	for _, o := range ls {
		if o.LoadBalancerARN == l.LoadBalancerARN && o.ARN != l.ARN && len(o.Certificates) > 1 {
			n += len(o.Certificates) - 1
		}
	}
	if n > MaxSNICertificates {
		return model.Errorf("TooManyCertificates", "A load balancer can have at most %d certificates besides its listeners' default certificates", MaxSNICertificates)
	}
	return nil
}
