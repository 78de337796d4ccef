package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Key types Generate makes.
const (
	KeyRSA2048   = "rsa2048"
	KeyECDSAP256 = "ecdsa-p256"
)

// GenerateOptions describe a self-signed server certificate.
type GenerateOptions struct {
	// CommonName is the subject CN (default "localhost"). When it is a host
	// name or an IP address it is also among the SANs, since clients
	// ignore the CN of a certificate that has SANs.
	CommonName string
	// DNSNames and IPAddresses are further SANs. When both are empty the
	// SANs are the CN, plus 127.0.0.1 and ::1 when the CN is localhost.
	DNSNames    []string
	IPAddresses []net.IP
	// Days of validity (default 365, as in the tutorial's openssl step).
	Days int
	// KeyType is KeyRSA2048 (default, as the tutorial's openssl genrsa) or
	// KeyECDSAP256.
	KeyType string
	// Organization is the subject O, if any.
	Organization string
	// Now is the start of validity (default: the current time).
	Now time.Time
}

// hostRe is a DNS name, optionally with a wildcard left-most label.
var hostRe = regexp.MustCompile(`^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// ValidHostname reports whether s can be a DNS SAN: labels of letters,
// digits and inner hyphens, an optional "*." in front, at most 253
// characters.
func ValidHostname(s string) bool {
	return len(s) <= 253 && hostRe.MatchString(s)
}

// Generate makes a private key and a self-signed certificate for it, in
// one step (the tutorial's genrsa, req and x509 -signkey): a random 128-bit
// serial, key usage digital signature (plus key encipherment for RSA),
// extended key usage server auth, not a CA. The key is PEM in the
// traditional forms IAM and openssl accept everywhere: PKCS#1 for RSA,
// SEC1 for EC. Errors are plain sentences about the options.
func Generate(opts GenerateOptions) (certPEM, keyPEM []byte, err error) {
	cn := opts.CommonName
	if cn == "" {
		cn = "localhost"
	}
	if len(cn) > 64 {
		return nil, nil, fmt.Errorf("the common name %q is longer than 64 characters, the X.509 limit", cn)
	}
	days := opts.Days
	if days == 0 {
		days = 365
	}
	if days < 0 {
		return nil, nil, fmt.Errorf("the validity must be a positive number of days, not %d", days)
	}
	dns := slices.Clone(opts.DNSNames)
	ips := slices.Clone(opts.IPAddresses)
	for _, n := range dns {
		if !ValidHostname(n) {
			return nil, nil, fmt.Errorf("%q is not a valid DNS name for the certificate", n)
		}
	}
	defaults := len(dns) == 0 && len(ips) == 0
	if ip := net.ParseIP(cn); ip != nil {
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append([]net.IP{ip}, ips...)
		}
	} else if ValidHostname(cn) && !slices.ContainsFunc(dns, func(n string) bool { return strings.EqualFold(n, cn) }) {
		dns = append([]string{cn}, dns...)
	}
	if defaults && strings.EqualFold(cn, "localhost") {
		ips = append(ips, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
	}

	var priv crypto.Signer
	var keyBlock *pem.Block
	usage := x509.KeyUsageDigitalSignature
	switch opts.KeyType {
	case "", KeyRSA2048:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		priv, keyBlock = k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
		// RSA key exchange (TLS 1.0-1.2 static RSA suites) encrypts with the key.
		usage |= x509.KeyUsageKeyEncipherment
	case KeyECDSAP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, nil, err
		}
		priv, keyBlock = k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		return nil, nil, fmt.Errorf("the key type %q is not one Alba makes: use %s or %s", opts.KeyType, KeyRSA2048, KeyECDSAP256)
	}

	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	if serial.Sign() == 0 { // serial numbers must be positive
		serial.SetInt64(1)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	subject := pkix.Name{CommonName: cn}
	if opts.Organization != "" {
		subject.Organization = []string{opts.Organization}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-time.Minute), // tolerate a client clock slightly behind
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot make the certificate: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(keyBlock), nil
}
