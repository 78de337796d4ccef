package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/model"
)

// testNow is the clock of the tests that do not use the real one.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs1(k *rsa.PrivateKey) string { return pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)) }

func pkcs8(t *testing.T, k crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func sec1(t *testing.T, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("EC PRIVATE KEY", der)
}

// certSpec describes a test certificate; a nil parent makes it self-signed.
type certSpec struct {
	cn        string
	dns       []string
	ips       []net.IP
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
	parent    *x509.Certificate
	parentKey crypto.Signer
}

// makeCert signs a certificate for key and returns its PEM and parsed form.
func makeCert(t *testing.T, key crypto.Signer, s certSpec) (string, *x509.Certificate) {
	t.Helper()
	if s.notBefore.IsZero() {
		s.notBefore = testNow.Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = testNow.AddDate(1, 0, 0)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: s.cn},
		NotBefore:             s.notBefore,
		NotAfter:              s.notAfter,
		DNSNames:              s.dns,
		IPAddresses:           s.ips,
		BasicConstraintsValid: true,
		IsCA:                  s.isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	parent, parentKey := tmpl, key
	if s.parent != nil {
		parent, parentKey = s.parent, s.parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("CERTIFICATE", der), c
}

// selfSigned is makeCert for a plain self-signed server certificate.
func selfSigned(t *testing.T, key crypto.Signer, cn string, dns ...string) string {
	t.Helper()
	p, _ := makeCert(t, key, certSpec{cn: cn, dns: dns})
	return p
}

// wantCode checks err is a *model.Error with code.
func wantCode(t *testing.T, err error, code string) *model.Error {
	t.Helper()
	var me *model.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T), want a *model.Error with code %s", err, err, code)
	}
	if me.Code != code {
		t.Fatalf("code %s (%q), want %s", me.Code, me.Message, code)
	}
	return me
}

// leaksKey reports whether msg carries an armour line or any 16 characters
// of the base64 body of one of the key PEM texts.
func leaksKey(msg string, keys ...string) bool {
	if strings.Contains(msg, "PRIVATE KEY") {
		return true
	}
	for _, k := range keys {
		for _, line := range strings.Split(k, "\n") {
			if strings.HasPrefix(line, "-----") || strings.Contains(line, ":") {
				continue
			}
			for i := 0; i+16 <= len(line); i++ {
				if strings.Contains(msg, line[i:i+16]) {
					return true
				}
			}
		}
	}
	return false
}
