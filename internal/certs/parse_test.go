package certs

import (
	"crypto/elliptic"
	"encoding/pem"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseAccepts(t *testing.T) {
	rk := rsaKey(t)
	rsaCert := selfSigned(t, rk, "www.example.com", "www.example.com", "*.api.example.com")
	ek := ecKey(t, elliptic.P256())
	ecCert := selfSigned(t, ek, "ec.example.com", "ec.example.com")
	ek384 := ecKey(t, elliptic.P384())
	ec384Cert := selfSigned(t, ek384, "p384.example.com", "p384.example.com")

	// A CA, an intermediate and a leaf signed by the intermediate.
	caKey := ecKey(t, elliptic.P256())
	caPEM, ca := makeCert(t, caKey, certSpec{cn: "Test Root", isCA: true})
	imKey := ecKey(t, elliptic.P256())
	imPEM, im := makeCert(t, imKey, certSpec{cn: "Test Intermediate", isCA: true, parent: ca, parentKey: caKey})
	leafKey := rsaKey(t)
	leafPEM, _ := makeCert(t, leafKey, certSpec{cn: "chained.example.com", dns: []string{"chained.example.com"}, parent: im, parentKey: imKey})

	// No SANs at all: the CN is the name.
	cnOnly := selfSigned(t, rk, "Legacy.Example.com")

	tests := []struct {
		name      string
		body, key string
		chain     string
		wantAlg   string
		wantNames []string
		wantLen   int // certificates in the tls.Certificate
	}{
		{"RSA PKCS#1", rsaCert, pkcs1(rk), "", "RSA 2048", []string{"www.example.com", "*.api.example.com"}, 1},
		{"RSA PKCS#8", rsaCert, pkcs8(t, rk), "", "RSA 2048", []string{"www.example.com", "*.api.example.com"}, 1},
		{"ECDSA PKCS#8", ecCert, pkcs8(t, ek), "", "EC prime256v1", []string{"ec.example.com"}, 1},
		{"ECDSA SEC1", ecCert, sec1(t, ek), "", "EC prime256v1", []string{"ec.example.com"}, 1},
		{"ECDSA SEC1 with EC PARAMETERS block", ecCert, pemOf("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}) + sec1(t, ek), "", "EC prime256v1", []string{"ec.example.com"}, 1},
		{"ECDSA P-384", ec384Cert, sec1(t, ek384), "", "EC secp384r1", []string{"p384.example.com"}, 1},
		{"RSA leaf with a two-certificate chain", leafPEM, pkcs1(leafKey), imPEM + caPEM, "RSA 2048", []string{"chained.example.com"}, 3},
		{"RSA leaf with a one-certificate chain and blank lines", leafPEM, pkcs8(t, leafKey), "\n" + imPEM + "\n", "RSA 2048", []string{"chained.example.com"}, 2},
		{"whitespace-only chain", rsaCert, pkcs1(rk), " \n", "RSA 2048", []string{"www.example.com", "*.api.example.com"}, 1},
		{"CN only", cnOnly, pkcs1(rk), "", "RSA 2048", []string{"legacy.example.com"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.body, tc.key, tc.chain, testNow)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Certificate.Leaf == nil {
				t.Fatal("Leaf is not set")
			}
			if len(p.Certificate.Certificate) != tc.wantLen {
				t.Errorf("%d certificates, want %d", len(p.Certificate.Certificate), tc.wantLen)
			}
			if p.Certificate.PrivateKey == nil {
				t.Error("no private key")
			}
			if p.KeyAlgorithm != tc.wantAlg {
				t.Errorf("KeyAlgorithm %q, want %q", p.KeyAlgorithm, tc.wantAlg)
			}
			if !slices.Equal(p.Names, tc.wantNames) {
				t.Errorf("Names %q, want %q", p.Names, tc.wantNames)
			}
			if p.HashBits < 256 {
				t.Errorf("HashBits %d, want at least 256", p.HashBits)
			}
			if !p.NotAfter.Equal(p.Certificate.Leaf.NotAfter) {
				t.Errorf("NotAfter %v, leaf's %v", p.NotAfter, p.Certificate.Leaf.NotAfter)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	rk := rsaKey(t)
	rsaCert := selfSigned(t, rk, "a.example.com", "a.example.com")
	other := rsaKey(t)
	otherCert := selfSigned(t, other, "b.example.com", "b.example.com")
	ek := ecKey(t, elliptic.P256())
	ecCert := selfSigned(t, ek, "ec.example.com", "ec.example.com")
	expired, _ := makeCert(t, rk, certSpec{cn: "old.example.com", dns: []string{"old.example.com"},
		notBefore: testNow.AddDate(-2, 0, 0), notAfter: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)})
	ed := edKey(t)
	edCert := selfSigned(t, ed, "ed.example.com", "ed.example.com")
	p224 := ecKey(t, elliptic.P224())
	p224Cert := selfSigned(t, p224, "p224.example.com", "p224.example.com")
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte(pkcs1(rk))[40:400]}))
	damagedKey := pemOf("RSA PRIVATE KEY", []byte(pkcs1(rk))[50:600])

	tests := []struct {
		name             string
		body, key, chain string
		code, inMessage  string
	}{
		{"garbage body", "hello, world", pkcs1(rk), "", CodeMalformed, "not in PEM format"},
		{"empty body", "", pkcs1(rk), "", CodeMalformed, "certificate body"},
		{"damaged certificate", pemOf("CERTIFICATE", []byte("not DER at all")), pkcs1(rk), "", CodeMalformed, "not a valid X.509"},
		{"two certificates in the body", rsaCert + otherCert, pkcs1(rk), "", CodeMalformed, "holds 2 certificates"},
		{"private key as body", pkcs1(rk), pkcs1(rk), "", CodeMalformed, "holds a private key, not a certificate"},
		{"garbage key", rsaCert, "garbage", "", CodeMalformed, "private key is not in PEM"},
		{"empty key", rsaCert, "", "", CodeMalformed, "private key"},
		{"damaged key", rsaCert, damagedKey, "", CodeMalformed, "could not be parsed"},
		{"encrypted key", rsaCert, encrypted, "", CodeMalformed, "encrypted"},
		{"certificate PEM as key", rsaCert, rsaCert, "", CodeMalformed, "holds a certificate, not a private key"},
		{"two keys", rsaCert, pkcs1(rk) + pkcs1(other), "", CodeMalformed, "exactly one"},
		{"key of another certificate", rsaCert, pkcs1(other), "", CodeKeyPairMismatch, "does not match"},
		{"EC key of an RSA certificate", rsaCert, sec1(t, ek), "", CodeKeyPairMismatch, "does not match"},
		{"RSA key of an EC certificate", ecCert, pkcs8(t, rk), "", CodeKeyPairMismatch, "does not match"},
		{"expired certificate", expired, pkcs1(rk), "", CodeMalformed, "expired on 2025-06-30"},
		{"ED25519 certificate and key", edCert, pkcs8(t, ed), "", CodeMalformed, "ED25519"},
		{"ED25519 key of an RSA certificate", rsaCert, pkcs8(t, ed), "", CodeMalformed, "ED25519"},
		{"P-224 curve", p224Cert, pkcs8(t, p224), "", CodeMalformed, "curve"},
		{"garbage chain", rsaCert, pkcs1(rk), "garbage", CodeMalformed, "chain is not in PEM"},
		{"key in the chain", rsaCert, pkcs1(rk), otherCert + pkcs1(other), CodeMalformed, "Entry 2 of the certificate chain holds a private key"},
		{"damaged chain", rsaCert, pkcs1(rk), pemOf("CERTIFICATE", []byte{1, 2, 3}), CodeMalformed, "Entry 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.body, tc.key, tc.chain, testNow)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", p)
			}
			me := wantCode(t, err, tc.code)
			if !strings.Contains(me.Message, tc.inMessage) {
				t.Errorf("message %q does not contain %q", me.Message, tc.inMessage)
			}
			if leaksKey(me.Message, tc.key, tc.body, tc.chain, pkcs1(rk), pkcs1(other), pkcs8(t, ed)) {
				t.Errorf("message %q carries key material", me.Message)
			}
			if strings.ContainsAny(me.Message, "\n") {
				t.Errorf("message %q is not one sentence on one line", me.Message)
			}
		})
	}
}

func TestParseZeroNowSkipsExpiry(t *testing.T) {
	rk := rsaKey(t)
	expired, _ := makeCert(t, rk, certSpec{cn: "old", notBefore: testNow.AddDate(-2, 0, 0), notAfter: testNow.AddDate(-1, 0, 0)})
	if _, err := Parse(expired, pkcs1(rk), "", time.Time{}); err != nil {
		t.Fatalf("stored expired certificate not loaded: %v", err)
	}
}

func TestMatches(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	body, _ := makeCert(t, k, certSpec{cn: "x", dns: []string{"www.Example.com", "*.api.example.com"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	p, err := Parse(body, sec1(t, k), "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"www.example.com":      true,
		"WWW.EXAMPLE.COM.":     true,
		"v1.api.example.com":   true,
		"api.example.com":      false, // a wildcard does not cover its parent
		"a.v1.api.example.com": false, // nor two labels
		"example.com":          false,
		"127.0.0.1":            true,
		"127.0.0.2":            false,
		"":                     false,
		"x":                    false, // the CN is ignored when there are SANs
	} {
		if got := p.Matches(name); got != want {
			t.Errorf("Matches(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestBetter(t *testing.T) {
	day := 24 * time.Hour
	ec := &Parsed{KeyType: "EC", KeyBits: 256, HashBits: 256, NotAfter: testNow}
	rsa2048 := &Parsed{KeyType: "RSA", KeyBits: 2048, HashBits: 256, NotAfter: testNow.Add(day)}
	rsa4096 := &Parsed{KeyType: "RSA", KeyBits: 4096, HashBits: 256, NotAfter: testNow}
	rsaSHA384 := &Parsed{KeyType: "RSA", KeyBits: 2048, HashBits: 384, NotAfter: testNow}
	rsaLater := &Parsed{KeyType: "RSA", KeyBits: 2048, HashBits: 256, NotAfter: testNow.Add(2 * day)}
	tests := []struct {
		name   string
		better *Parsed
		worse  *Parsed
	}{
		{"ECDSA over RSA", ec, rsaSHA384},
		{"stronger hash", rsaSHA384, rsa4096},
		{"longer key", rsa4096, rsa2048},
		{"later expiry", rsaLater, rsa2048},
	}
	for _, tc := range tests {
		if !tc.better.Better(tc.worse) || tc.worse.Better(tc.better) {
			t.Errorf("%s: order is wrong", tc.name)
		}
	}
}
