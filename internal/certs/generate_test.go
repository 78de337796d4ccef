package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGenerate(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name      string
		opts      GenerateOptions
		wantCN    string
		wantDNS   []string
		wantIPs   []string
		wantDays  int
		wantAlg   string
		wantPEM   string
		handshake []string // server names a trusting client verifies
	}{
		{
			name: "defaults", opts: GenerateOptions{Now: now},
			wantCN: "localhost", wantDNS: []string{"localhost"}, wantIPs: []string{"127.0.0.1", "::1"},
			wantDays: 365, wantAlg: "RSA 2048", wantPEM: "RSA PRIVATE KEY",
			handshake: []string{"localhost", "127.0.0.1", "::1"},
		},
		{
			name: "ECDSA with SANs",
			opts: GenerateOptions{CommonName: "app.example.test", DNSNames: []string{"www.example.test", "*.api.example.test"},
				IPAddresses: []net.IP{net.ParseIP("10.1.2.3")}, Days: 30, KeyType: KeyECDSAP256, Organization: "Alba Test", Now: now},
			wantCN: "app.example.test", wantDNS: []string{"app.example.test", "www.example.test", "*.api.example.test"}, wantIPs: []string{"10.1.2.3"},
			wantDays: 30, wantAlg: "EC prime256v1", wantPEM: "EC PRIVATE KEY",
			handshake: []string{"app.example.test", "www.example.test", "v2.api.example.test", "10.1.2.3"},
		},
		{
			name: "RSA, IP common name", opts: GenerateOptions{CommonName: "192.0.2.7", KeyType: KeyRSA2048, Days: 2, Now: now},
			wantCN: "192.0.2.7", wantIPs: []string{"192.0.2.7"}, wantDays: 2, wantAlg: "RSA 2048", wantPEM: "RSA PRIVATE KEY",
			handshake: []string{"192.0.2.7"},
		},
		{
			name: "localhost with an explicit SAN has no loopback defaults", opts: GenerateOptions{DNSNames: []string{"alba.test"}, KeyType: KeyECDSAP256, Now: now},
			wantCN: "localhost", wantDNS: []string{"localhost", "alba.test"}, wantDays: 365, wantAlg: "EC prime256v1", wantPEM: "EC PRIVATE KEY",
			handshake: []string{"localhost", "alba.test"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, keyPEM, err := Generate(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := pem.Decode(keyPEM); b == nil || b.Type != tc.wantPEM {
				t.Fatalf("key PEM is not %s", tc.wantPEM)
			}
			p, err := Parse(string(certPEM), string(keyPEM), "", now)
			if err != nil {
				t.Fatalf("Parse refused a generated certificate: %v", err)
			}
			leaf := p.Certificate.Leaf
			if leaf.Subject.CommonName != tc.wantCN {
				t.Errorf("CN %q, want %q", leaf.Subject.CommonName, tc.wantCN)
			}
			if tc.opts.Organization != "" && !slices.Equal(leaf.Subject.Organization, []string{tc.opts.Organization}) {
				t.Errorf("O %q", leaf.Subject.Organization)
			}
			if !slices.Equal(leaf.DNSNames, tc.wantDNS) {
				t.Errorf("DNS SANs %q, want %q", leaf.DNSNames, tc.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tc.wantIPs) {
				t.Errorf("IP SANs %q, want %q", ips, tc.wantIPs)
			}
			if want := now.AddDate(0, 0, tc.wantDays); leaf.NotAfter.Sub(want).Abs() > 2*time.Second {
				t.Errorf("NotAfter %v, want %v", leaf.NotAfter, want)
			}
			if leaf.NotBefore.After(now) {
				t.Errorf("NotBefore %v is after the generation time", leaf.NotBefore)
			}
			if p.KeyAlgorithm != tc.wantAlg {
				t.Errorf("key %q, want %q", p.KeyAlgorithm, tc.wantAlg)
			}
			if leaf.IsCA || !leaf.BasicConstraintsValid {
				t.Error("the certificate is a CA or lacks basic constraints")
			}
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("ExtKeyUsage %v", leaf.ExtKeyUsage)
			}
			wantUsage := x509.KeyUsageDigitalSignature
			if p.KeyType == "RSA" {
				wantUsage |= x509.KeyUsageKeyEncipherment
			}
			if leaf.KeyUsage != wantUsage {
				t.Errorf("KeyUsage %v, want %v", leaf.KeyUsage, wantUsage)
			}
			if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v is not a positive 128-bit number", leaf.SerialNumber)
			}
			if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			for _, name := range tc.handshake {
				if err := handshake(t, p.Certificate, leaf, name); err != nil {
					t.Errorf("TLS handshake for %q: %v", name, err)
				}
			}
			if err := handshake(t, p.Certificate, leaf, "not-covered.example"); err == nil {
				t.Error("a client accepted the certificate for a name it does not cover")
			}
		})
	}
}

// handshake runs a real crypto/tls handshake over loopback TCP (kernel
// buffers, so a client that aborts mid-flight cannot deadlock the server as
// over net.Pipe): a server with cert, a client that trusts root and asks
// for serverName. One byte goes each way so that TLS 1.3 finishes on both
// sides; the client's error is returned.
func handshake(t *testing.T, cert tls.Certificate, root *x509.Certificate, serverName string) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		srv := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		var b [1]byte
		if _, err = io.ReadFull(srv, b[:]); err == nil {
			_, err = srv.Write(b[:])
		}
		done <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	pool := x509.NewCertPool()
	pool.AddCert(root)
	cli := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: serverName})
	err = cli.Handshake()
	if err == nil {
		var b [1]byte
		if _, err = cli.Write([]byte{'x'}); err == nil {
			_, err = io.ReadFull(cli, b[:])
		}
	}
	conn.Close()
	srvErr := <-done
	if err == nil && srvErr != nil {
		return srvErr
	}
	return err
}

func TestGenerateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts GenerateOptions
		want string
	}{
		{"unknown key type", GenerateOptions{KeyType: "ed25519"}, "key type"},
		{"negative days", GenerateOptions{Days: -1}, "positive number of days"},
		{"bad DNS name", GenerateOptions{DNSNames: []string{"bad name"}}, "not a valid DNS name"},
		{"long CN", GenerateOptions{CommonName: strings.Repeat("a", 65)}, "64 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Generate(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestValidHostname(t *testing.T) {
	for s, want := range map[string]bool{
		"localhost": true, "a.b.example.com": true, "*.example.com": true, "xn--bcher-kva.example": true,
		"": false, "a b": false, "-a.com": false, "a-.com": false, "a..com": false, "*": false, "a.*.com": false,
		strings.Repeat("a", 64) + ".com": false,
	} {
		if got := ValidHostname(s); got != want {
			t.Errorf("ValidHostname(%q) = %v, want %v", s, got, want)
		}
	}
}
