package certs

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// openssl runs openssl in dir, or skips the test when it is not installed.
func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = nil // never prompt
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParseAcceptsTutorialOpenSSL runs the tutorial's four openssl steps
// and uploads the result as the tutorial does.
func TestParseAcceptsTutorialOpenSSL(t *testing.T) {
	dir := t.TempDir()
	openssl(t, dir, "genrsa", "-out", "private.pem", "2048")
	openssl(t, dir, "rsa", "-in", "private.pem", "-outform", "PEM", "-pubout", "-out", "public.pem")
	openssl(t, dir, "req", "-new", "-key", "private.pem", "-out", "certificate.csr", "-subj", "/CN=localhost")
	openssl(t, dir, "x509", "-req", "-days", "365", "-in", "certificate.csr", "-signkey", "private.pem", "-out", "certificate.crt")

	body, key := readFile(t, filepath.Join(dir, "certificate.crt")), readFile(t, filepath.Join(dir, "private.pem"))
	now := time.Now()
	p, err := Parse(body, key, "", now)
	if err != nil {
		t.Fatalf("Parse refused the tutorial's certificate: %v", err)
	}
	if p.KeyAlgorithm != "RSA 2048" || !slices.Equal(p.Names, []string{"localhost"}) || !p.Matches("localhost") {
		t.Errorf("parsed %s for %q", p.KeyAlgorithm, p.Names)
	}
	if d := p.NotAfter.Sub(now); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("validity ends in %v, want about 365 days", d)
	}

	// Common mistakes with the same files.
	_, err = Parse(body, readFile(t, filepath.Join(dir, "public.pem")), "", now)
	wantCode(t, err, CodeMalformed)
	_, err = Parse(readFile(t, filepath.Join(dir, "certificate.csr")), key, "", now)
	wantCode(t, err, CodeMalformed)
	s := openStore(t)
	if _, err := upload(s, "tutorial", "/", material{body, key}); err != nil {
		t.Fatalf("Upload refused the tutorial's certificate: %v", err)
	}
}

// TestParseAcceptsOpenSSLECKey reads openssl's EC key file, which starts
// with an EC PARAMETERS block.
func TestParseAcceptsOpenSSLECKey(t *testing.T) {
	dir := t.TempDir()
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.pem")
	openssl(t, dir, "req", "-x509", "-new", "-key", "ec.pem", "-days", "30", "-subj", "/CN=ec.localhost", "-addext", "subjectAltName=DNS:ec.localhost,IP:127.0.0.1", "-out", "ec.crt")
	p, err := Parse(readFile(t, filepath.Join(dir, "ec.crt")), readFile(t, filepath.Join(dir, "ec.pem")), "", time.Now())
	if err != nil {
		t.Fatalf("Parse refused openssl's EC certificate: %v", err)
	}
	if p.KeyAlgorithm != "EC prime256v1" || !p.Matches("ec.localhost") || !p.Matches("127.0.0.1") {
		t.Errorf("parsed %s for %q %v", p.KeyAlgorithm, p.Names, p.IPs)
	}
}
