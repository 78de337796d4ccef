// Package certs holds Alba's server certificates: checking uploaded PEM
// material as IAM's UploadServerCertificate does, the IAM-style operations
// on the certificates in the store, and making a self-signed certificate in
// one step for the tutorial.
//
// Private keys are secrets: no error message, log line or API answer built
// here ever carries key material. API and describe paths use Redacted.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/model"
)

// IAM error codes returned by Parse and the store operations.
const (
	CodeMalformed       = "MalformedCertificate"
	CodeKeyPairMismatch = "KeyPairMismatch"
	CodeValidation      = "ValidationError"
	CodeAlreadyExists   = "EntityAlreadyExists"
	CodeNoSuchEntity    = "NoSuchEntity"
	CodeDeleteConflict  = "DeleteConflict"
	// CodeNotFound is what ELB answers for an unknown certificate ARN.
	CodeNotFound = "CertificateNotFound"
)

// Parsed is a checked certificate with its key, ready for a TLS listener,
// and the facts SNI selection ranks certificates by.
type Parsed struct {
	// Certificate is the leaf, the chain and the private key; Leaf is set.
	Certificate tls.Certificate
	// NotBefore and NotAfter bound the leaf's validity.
	NotBefore, NotAfter time.Time
	// Names are the leaf's DNS names in lower case (wildcards kept as
	// "*.example.com"), or its common name when it has no SANs at all:
	// that is the only case where clients still look at the CN.
	Names []string
	// IPs are the leaf's IP address SANs.
	IPs []net.IP
	// KeyType is "RSA" or "EC".
	KeyType string
	// KeyBits is the RSA modulus size or the curve size.
	KeyBits int
	// KeyAlgorithm names type and size as OpenSSL does: "RSA 2048",
	// "EC prime256v1", "EC secp384r1".
	KeyAlgorithm string
	// HashBits is the strength of the leaf's signature hash (SHA-256 is
	// 256, SHA-1 160, MD5 128); ALB prefers the stronger hash.
	HashBits int
	// SignatureAlgorithm is the leaf's, e.g. "SHA256-RSA".
	SignatureAlgorithm string
}

// Parse checks a certificate body (one PEM certificate), its private key
// (PEM: PKCS#1 RSA, PKCS#8 RSA or ECDSA, SEC1 EC) and an optional chain
// (concatenated PEM certificates), as IAM does on upload. Errors are
// *model.Error: MalformedCertificate for anything unreadable, unsupported
// (ED25519, DSA, odd curves or RSA sizes) or expired before now;
// KeyPairMismatch when the key is not the certificate's. A zero now skips
// the expiry check, for loading stored certificates: ALB keeps serving a
// certificate that expired after it was uploaded.
func Parse(body, key, chain string, now time.Time) (*Parsed, error) {
	leaf, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	p := &Parsed{NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, IPs: leaf.IPAddresses, SignatureAlgorithm: leaf.SignatureAlgorithm.String()}
	if !now.IsZero() && leaf.NotAfter.Before(now) {
		return nil, malformed("The certificate expired on %s; upload a certificate that is still valid", leaf.NotAfter.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	if p.KeyType, p.KeyBits, p.KeyAlgorithm, err = describeKey(leaf.PublicKey, "certificate"); err != nil {
		return nil, err
	}
	priv, err := parseKey(key)
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, malformed("The private key is of a type ALB does not support; use an RSA or ECDSA key")
	}
	if _, _, _, err := describeKey(signer.Public(), "private key"); err != nil {
		return nil, err
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := signer.Public().(equaler); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, model.Errorf(CodeKeyPairMismatch, "The private key does not match the certificate's public key")
	}
	raw := [][]byte{leaf.Raw}
	chainCerts, err := parseChain(chain)
	if err != nil {
		return nil, err
	}
	for _, c := range chainCerts {
		raw = append(raw, c.Raw)
	}
	p.Certificate = tls.Certificate{Certificate: raw, PrivateKey: priv, Leaf: leaf}
	for _, n := range leaf.DNSNames {
		p.Names = append(p.Names, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 && leaf.Subject.CommonName != "" {
		p.Names = []string{strings.ToLower(strings.TrimSuffix(leaf.Subject.CommonName, "."))}
	}
	p.HashBits = hashBits(leaf.SignatureAlgorithm)
	return p, nil
}

func malformed(format string, args ...any) *model.Error {
	return model.Errorf(CodeMalformed, format, args...)
}

// parseBody reads exactly one certificate: ACM and IAM refuse a body with
// several, which is usually a full chain pasted in the wrong field.
func parseBody(body string) (*x509.Certificate, error) {
	blocks, err := pemBlocks(body, "certificate body")
	if err != nil {
		return nil, err
	}
	if len(blocks) != 1 {
		return nil, malformed("The certificate body holds %d certificates; put only the server certificate in the body and the intermediate certificates in the chain", len(blocks))
	}
	b := blocks[0]
	if b.Type != "CERTIFICATE" {
		return nil, malformed("The certificate body holds %s, not a certificate; it must start with -----BEGIN CERTIFICATE-----", describeBlock(b.Type))
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, malformed("The certificate body is not a valid X.509 certificate")
	}
	return c, nil
}

func parseChain(chain string) ([]*x509.Certificate, error) {
	if strings.TrimSpace(chain) == "" {
		return nil, nil
	}
	blocks, err := pemBlocks(chain, "certificate chain")
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for i, b := range blocks {
		if b.Type != "CERTIFICATE" {
			return nil, malformed("Entry %d of the certificate chain holds %s, not a certificate", i+1, describeBlock(b.Type))
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, malformed("Entry %d of the certificate chain is not a valid X.509 certificate", i+1)
		}
		out = append(out, c)
	}
	return out, nil
}

// pemBlocks decodes every PEM block of s; text between blocks is ignored,
// as openssl does, but there must be at least one block.
func pemBlocks(s, what string) ([]*pem.Block, error) {
	rest := []byte(s)
	var out []*pem.Block
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, malformed("The %s is not in PEM format: it must hold a block starting with -----BEGIN", what)
	}
	return out, nil
}

// parseKey reads the one private key of a PEM text. Errors describe the
// block by kind in words, never by content.
func parseKey(key string) (any, error) {
	blocks, err := pemBlocks(key, "private key")
	if err != nil {
		return nil, err
	}
	var keys []*pem.Block
	for _, b := range blocks {
		// openssl ecparam -genkey writes the curve's parameters before the key.
		if b.Type != "EC PARAMETERS" {
			keys = append(keys, b)
		}
	}
	if len(keys) != 1 {
		return nil, malformed("The private key must hold exactly one PEM private key, not %d blocks", len(keys))
	}
	b := keys[0]
	if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
		return nil, malformed("The private key is encrypted; remove its passphrase (openssl pkey -in key.pem -out plain.pem) and upload it again")
	}
	var k any
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	default:
		return nil, malformed("The private key holds %s, not a private key", describeBlock(b.Type))
	}
	if err != nil {
		// The x509 error text is left out on purpose: it is about key bytes.
		return nil, malformed("The private key could not be parsed: it is damaged or of a type ALB does not support (use RSA or ECDSA)")
	}
	return k, nil
}

// describeBlock names a PEM block type in words, so that a message never
// echoes a key's armour line.
func describeBlock(t string) string {
	switch {
	case t == "CERTIFICATE":
		return "a certificate"
	case strings.Contains(t, "PRIVATE KEY"):
		return "a private key"
	case t == "PUBLIC KEY" || t == "RSA PUBLIC KEY":
		return "a public key"
	case t == "CERTIFICATE REQUEST" || t == "NEW CERTIFICATE REQUEST":
		return "a certificate signing request"
	}
	return "a PEM block of another kind"
}

// describeKey checks a public key is of a type and size ALB supports.
func describeKey(pub crypto.PublicKey, what string) (typ string, bits int, name string, err error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits = k.N.BitLen()
		if bits < 1024 || bits > 4096 {
			return "", 0, "", malformed("The %s has an RSA %d key; ALB supports RSA keys of 1024 to 4096 bits", what, bits)
		}
		return "RSA", bits, "RSA " + strconv.Itoa(bits), nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "EC", 256, "EC prime256v1", nil
		case elliptic.P384():
			return "EC", 384, "EC secp384r1", nil
		case elliptic.P521():
			return "EC", 521, "EC secp521r1", nil
		}
		return "", 0, "", malformed("The %s uses an elliptic curve ALB does not support; use P-256, P-384 or P-521", what)
	case ed25519.PublicKey:
		return "", 0, "", malformed("The %s has an ED25519 key, which ALB does not support; use RSA 2048 or ECDSA P-256", what)
	}
	return "", 0, "", malformed("The %s has a key of a type ALB does not support; use RSA or ECDSA", what)
}

func hashBits(a x509.SignatureAlgorithm) int {
	switch a {
	case x509.MD2WithRSA, x509.MD5WithRSA:
		return 128
	case x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return 160
	case x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.ECDSAWithSHA256, x509.DSAWithSHA256:
		return 256
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		return 384
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512, x509.PureEd25519:
		return 512
	}
	return 0
}

// Matches reports whether the certificate covers a TLS server name (SNI):
// exactly, or by a wildcard for one left-most label, as browsers match
// ("*.example.com" covers "www.example.com", not "example.com"). Case and
// a trailing dot are ignored; an IP literal is matched against the IP SANs.
func (p *Parsed) Matches(serverName string) bool {
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if name == "" {
		return false
	}
	if ip := net.ParseIP(name); ip != nil {
		for _, a := range p.IPs {
			if a.Equal(ip) {
				return true
			}
		}
		return false
	}
	for _, n := range p.Names {
		if n == name {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if i := strings.IndexByte(name, '.'); i > 0 && name[i+1:] == rest {
				return true
			}
		}
	}
	return false
}

// Better reports whether p should be served rather than o when both match
// the client's server name, in ALB's order: ECDSA over RSA, then the
// stronger signature hash, then the longer key, then the later expiry.
// Whether the client can use an ECDSA certificate at all is for the caller
// to check (tls.ClientHelloInfo.SupportsCertificate).
func (p *Parsed) Better(o *Parsed) bool {
	if (p.KeyType == "EC") != (o.KeyType == "EC") {
		return p.KeyType == "EC"
	}
	if p.HashBits != o.HashBits {
		return p.HashBits > o.HashBits
	}
	if p.KeyBits != o.KeyBits {
		return p.KeyBits > o.KeyBits
	}
	return p.NotAfter.After(o.NotAfter)
}
