package awsapi

import (
	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- IAM server certificates: upload, get, list, update, delete.
// Certificates live in the store (package certs) and HTTPS listeners name
// them by ARN.

type certMetadataXML struct {
	Path                  string
	ServerCertificateName string
	ServerCertificateID   string `xml:"ServerCertificateId"`
	Arn                   string
	UploadDate            isoTime
	Expiration            isoTime
}

func certMetadata(c *model.Certificate) certMetadataXML {
	return certMetadataXML{c.Path, c.Name, c.ID, c.ARN, isoTime(c.UploadDate), isoTime(c.Expiration)}
}

// optTags is a tag list written only when there are tags, as IAM does.
func optTags(tags []model.Tag) *memberList[tagXML] {
	if len(tags) == 0 {
		return nil
	}
	t := tagsXML(tags)
	return &t
}

type uploadServerCertificateIn struct {
	ServerCertificateName string  `q:"ServerCertificateName,req"`
	CertificateBody       string  `q:"CertificateBody,req"`
	PrivateKey            string  `q:"PrivateKey,req"`
	CertificateChain      string  `q:"CertificateChain"`
	Path                  string  `q:"Path"`
	Tags                  []tagIn `q:"Tags"`
}

type uploadServerCertificateOut struct {
	ServerCertificateMetadata certMetadataXML
	Tags                      *memberList[tagXML]
}

func (h *handler) uploadServerCertificate(c *call, in *uploadServerCertificateIn) (any, error) {
	cert, err := inUpdate(h, func(tx store.Tx) (model.Certificate, error) {
		ct, err := certs.Upload(tx, in.ServerCertificateName, in.Path, in.CertificateBody, in.PrivateKey, in.CertificateChain,
			modelTags(in.Tags), model.SourceAPI, c.now)
		if err != nil {
			return model.Certificate{}, err
		}
		return certs.Redacted(ct), nil
	})
	if err != nil {
		return nil, err
	}
	return uploadServerCertificateOut{certMetadata(&cert), optTags(cert.Tags)}, nil
}

type certificateNameIn struct {
	ServerCertificateName string `q:"ServerCertificateName,req"`
}

type serverCertificateXML struct {
	ServerCertificateMetadata certMetadataXML
	CertificateBody           string
	CertificateChain          string `xml:",omitempty"`
	Tags                      *memberList[tagXML]
}

type getServerCertificateOut struct {
	ServerCertificate serverCertificateXML
}

func (h *handler) getServerCertificate(c *call, in *certificateNameIn) (any, error) {
	cert, err := inView(h, func(tx store.Tx) (model.Certificate, error) {
		ct, err := certs.Get(tx, in.ServerCertificateName)
		if err != nil {
			return model.Certificate{}, err
		}
		return certs.Redacted(ct), nil
	})
	if err != nil {
		return nil, err
	}
	return getServerCertificateOut{serverCertificateXML{certMetadata(&cert), cert.Body, cert.Chain, optTags(cert.Tags)}}, nil
}

type listServerCertificatesIn struct {
	PathPrefix string `q:"PathPrefix"`
	iamPage
}

type listServerCertificatesOut struct {
	ServerCertificateMetadataList memberList[certMetadataXML]
	IsTruncated                   bool
	Marker                        string `xml:",omitempty"`
}

func (h *handler) listServerCertificates(c *call, in *listServerCertificatesIn) (any, error) {
	all, err := inView(h, func(tx store.Tx) ([]model.Certificate, error) {
		cs, err := certs.List(tx, in.PathPrefix)
		var out []model.Certificate
		for _, ct := range cs {
			out = append(out, certs.Redacted(ct))
		}
		return out, err
	})
	if err != nil {
		return nil, err
	}
	ms, next, err := mapPage(all, func(ct model.Certificate) string { return ct.Name }, in.paging(),
		func(ct model.Certificate) (certMetadataXML, error) { return certMetadata(&ct), nil })
	if err != nil {
		return nil, err
	}
	return listServerCertificatesOut{members(ms), next != "", next}, nil
}

type updateServerCertificateIn struct {
	certificateNameIn
	NewServerCertificateName string `q:"NewServerCertificateName"`
	NewPath                  string `q:"NewPath"`
}

func (h *handler) updateServerCertificate(c *call, in *updateServerCertificateIn) (any, error) {
	_, err := inUpdate(h, func(tx store.Tx) (*model.Certificate, error) {
		return elb.UpdateServerCertificate(tx, in.ServerCertificateName, in.NewServerCertificateName, in.NewPath)
	})
	return nil, err
}

func (h *handler) deleteServerCertificate(c *call, in *certificateNameIn) (any, error) {
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteServerCertificate(tx, in.ServerCertificateName) })
}
