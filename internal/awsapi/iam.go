package awsapi

import (
	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// iamService answers IAM's server certificate operations; certificates
// live in the store (package certs) and HTTPS listeners name them by ARN.
func iamService() *service {
	return &service{
		name: "iam", version: "2010-05-08", ns: "https://iam.amazonaws.com/doc/2010-05-08/",
		ops: map[string]op{
			"UploadServerCertificate": (*handler).uploadServerCertificate,
			"GetServerCertificate":    (*handler).getServerCertificate,
			"ListServerCertificates":  (*handler).listServerCertificates,
			"UpdateServerCertificate": (*handler).updateServerCertificate,
			"DeleteServerCertificate": (*handler).deleteServerCertificate,
		},
	}
}

func certMetadataXML(name string, c *model.Certificate) *node {
	return el(name,
		txt("Path", c.Path),
		txt("ServerCertificateName", c.Name),
		txt("ServerCertificateId", c.ID),
		txt("Arn", c.ARN),
		stamp("UploadDate", c.UploadDate),
		stamp("Expiration", c.Expiration),
	)
}

func (h *handler) uploadServerCertificate(c *call) (*node, error) {
	name, err := c.required("ServerCertificateName")
	if err != nil {
		return nil, err
	}
	body, err := c.required("CertificateBody")
	if err != nil {
		return nil, err
	}
	key, err := c.required("PrivateKey")
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(c.p.structs("Tags"))
	if err != nil {
		return nil, err
	}
	var cert model.Certificate
	err = h.update(func(tx store.Tx) error {
		ct, err := certs.Upload(tx, name, c.p.get("Path"), body, key, c.p.get("CertificateChain"), tags, c.now)
		if err != nil {
			return err
		}
		cert = certs.Redacted(ct)
		cert.Source = SourceAPI
		ct.Source = SourceAPI
		return store.PutJSON(tx, model.KindCertificate, ct.Name, ct)
	})
	if err != nil {
		return nil, err
	}
	res := frag(certMetadataXML("ServerCertificateMetadata", &cert))
	if len(cert.Tags) > 0 {
		res.add(tagsXML("Tags", cert.Tags))
	}
	return res, nil
}

func (h *handler) getServerCertificate(c *call) (*node, error) {
	name, err := c.required("ServerCertificateName")
	if err != nil {
		return nil, err
	}
	var cert model.Certificate
	err = h.view(func(tx store.Tx) error {
		ct, err := certs.Get(tx, name)
		if err != nil {
			return err
		}
		cert = certs.Redacted(ct)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sc := el("ServerCertificate", certMetadataXML("ServerCertificateMetadata", &cert), txt("CertificateBody", cert.Body),
		opt("CertificateChain", cert.Chain))
	if len(cert.Tags) > 0 {
		sc.add(tagsXML("Tags", cert.Tags))
	}
	return frag(sc), nil
}

func (h *handler) listServerCertificates(c *call) (*node, error) {
	size, err := c.intIn("MaxItems", 1, 1000)
	if err != nil {
		return nil, err
	}
	var all []model.Certificate
	err = h.view(func(tx store.Tx) error {
		cs, err := certs.List(tx, c.p.get("PathPrefix"))
		if err != nil {
			return err
		}
		for _, ct := range cs {
			all = append(all, certs.Redacted(ct))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := page(all, func(ct model.Certificate) string { return ct.Name }, c.p.get("Marker"), orDefault(size, 100),
		func() error { return validation("The marker is not valid") })
	if err != nil {
		return nil, err
	}
	var ms []*node
	for i := range pg {
		ms = append(ms, certMetadataXML("member", &pg[i]))
	}
	return frag(members("ServerCertificateMetadataList", ms), boolean("IsTruncated", next != ""), opt("Marker", next)), nil
}

// listenersUsing returns the listeners that serve a certificate.
func listenersUsing(tx store.Tx, arn string) ([]*model.Listener, error) {
	ls, err := elb.Listeners(tx)
	if err != nil {
		return nil, err
	}
	var out []*model.Listener
	for _, l := range ls {
		if containsStr(l.Certificates, arn) {
			out = append(out, l)
		}
	}
	return out, nil
}

func (h *handler) updateServerCertificate(c *call) (*node, error) {
	name, err := c.required("ServerCertificateName")
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error {
		old, err := certs.Get(tx, name)
		if err != nil {
			return err
		}
		ct, err := certs.Update(tx, name, c.p.get("NewServerCertificateName"), c.p.get("NewPath"))
		if err != nil {
			return err
		}
		if ct.ARN == old.ARN {
			return nil
		}
		// The ARN follows the name and path: listeners follow the ARN.
		ls, err := listenersUsing(tx, old.ARN)
		if err != nil {
			return err
		}
		for _, l := range ls {
			for i, a := range l.Certificates {
				if a == old.ARN {
					l.Certificates[i] = ct.ARN
				}
			}
			if err := store.PutJSON(tx, model.KindListener, l.ARN, l); err != nil {
				return err
			}
		}
		return nil
	})
}

func (h *handler) deleteServerCertificate(c *call) (*node, error) {
	name, err := c.required("ServerCertificateName")
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error {
		var inUseErr error
		err := certs.Delete(tx, name, func(arn string) bool {
			ls, err := listenersUsing(tx, arn)
			if err != nil {
				inUseErr = err
				return true
			}
			return len(ls) > 0
		})
		if inUseErr != nil {
			return inUseErr
		}
		return err
	})
}
