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
			"UploadServerCertificate": legacy((*handler).uploadServerCertificate),
			"GetServerCertificate":    legacy((*handler).getServerCertificate),
			"ListServerCertificates":  legacy((*handler).listServerCertificates),
			"UpdateServerCertificate": legacy((*handler).updateServerCertificate),
			"DeleteServerCertificate": legacy((*handler).deleteServerCertificate),
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
	tags := parseTags(c.p.structs("Tags"))
	var cert model.Certificate
	err = h.update(func(tx store.Tx) error {
		ct, err := certs.Upload(tx, name, c.p.get("Path"), body, key, c.p.get("CertificateChain"), tags, model.SourceAPI, c.now)
		if err != nil {
			return err
		}
		cert = certs.Redacted(ct)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := frag(certMetadataXML("ServerCertificateMetadata", &cert))
	if len(cert.Tags) > 0 {
		res.add(tagsNode("Tags", cert.Tags))
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
		sc.add(tagsNode("Tags", cert.Tags))
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
	return frag(nodeMembers("ServerCertificateMetadataList", ms), boolean("IsTruncated", next != ""), opt("Marker", next)), nil
}

func (h *handler) updateServerCertificate(c *call) (*node, error) {
	name, err := c.required("ServerCertificateName")
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error {
		_, err := elb.UpdateServerCertificate(tx, name, c.p.get("NewServerCertificateName"), c.p.get("NewPath"))
		return err
	})
}

func (h *handler) deleteServerCertificate(c *call) (*node, error) {
	name, err := c.required("ServerCertificateName")
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteServerCertificate(tx, name) })
}
