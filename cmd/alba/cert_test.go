package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/certs"
)

// execCert runs `alba cert args…` and returns its output and error.
func execCert(args ...string) (string, error) {
	cmd := certCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestCertRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	key, crt := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.crt")
	out := []string{"--out-key", key, "--out-cert", crt}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown key type", []string{"--key-type", "ed25519"}, `--key-type must be rsa2048 or ecdsa-p256, not "ed25519"`},
		{"zero days", []string{"--days", "0"}, "--days must be between 1 and 36500, not 0"},
		{"too many days", []string{"--days", "40000"}, "--days must be between 1 and 36500"},
		{"empty name", []string{"--name", ""}, "--name must not be empty"},
		{"name with a space", []string{"--name", "my server"}, `--name "my server" is neither a DNS name nor an IP address`},
		{"long name", []string{"--name", strings.Repeat("a", 60) + ".example.com"}, "longer than 64 characters"},
		{"bad SAN", []string{"--san", "ok.example.com", "--san", "bad_name!"}, `--san "bad_name!" is neither a DNS name nor an IP address`},
		{"same file twice", []string{"--out-cert", key}, "both name"},
		{"empty output", []string{"--out-cert", ""}, "must name files"},
		{"missing directory", []string{"--out-key", filepath.Join(dir, "nope", "k.pem")}, "cannot write the private key to"},
		{"argument", []string{"extra"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, err := execCert(append(slices.Clone(out), tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
			if strings.Contains(stdout, "PRIVATE KEY") {
				t.Error("output shows a key")
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 0 {
				t.Errorf("a refused run left files: %v", left)
			}
		})
	}
}

func TestCertDefaultsInCurrentDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	stdout, err := execCert()
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, "private.pem"); m != 0o600 {
		t.Errorf("private.pem mode %v, want 0600", m)
	}
	if m := mode(t, "certificate.crt"); m != 0o644 {
		t.Errorf("certificate.crt mode %v, want 0644", m)
	}
	crt, _ := os.ReadFile("certificate.crt")
	key, _ := os.ReadFile("private.pem")
	p, err := certs.Parse(string(crt), string(key), "", time.Now())
	if err != nil {
		t.Fatalf("the written pair does not pass Parse: %v", err)
	}
	if p.KeyAlgorithm != "RSA 2048" || !p.Matches("localhost") || !p.Matches("127.0.0.1") || !p.Matches("::1") {
		t.Errorf("pair is %s for %q %v", p.KeyAlgorithm, p.Names, p.IPs)
	}
	if d := time.Until(p.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("valid for %v, want 365 days", d)
	}
	for _, want := range []string{
		"private.pem", "certificate.crt", "CN=localhost", "DNS:localhost, IP:127.0.0.1, IP:::1", "RSA 2048", p.NotAfter.UTC().Format("2006-01-02"),
		"aws iam upload-server-certificate --server-certificate-name localhost --certificate-body file://certificate.crt --private-key file://private.pem --endpoint-url http://127.0.0.1:9080",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not mention %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "PRIVATE KEY") || strings.Contains(stdout, strings.Split(string(key), "\n")[1][:20]) {
		t.Errorf("output shows the key:\n%s", stdout)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 2 {
		t.Errorf("files left in the directory: %v (temporary files not cleaned up?)", left)
	}

	// A second run without --force refuses and changes nothing.
	_, err = execCert()
	if err == nil || !strings.Contains(err.Error(), "private.pem and certificate.crt already exist; pass --force") {
		t.Fatalf("second run: %v", err)
	}
	if again, _ := os.ReadFile("private.pem"); !bytes.Equal(again, key) {
		t.Error("a refused run changed the key")
	}
}

func TestCertForceAndModes(t *testing.T) {
	dir := t.TempDir()
	key, crt := filepath.Join(dir, "web.key"), filepath.Join(dir, "web.crt")
	// An old world-readable key must come out 0600 after --force.
	if err := os.WriteFile(key, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := execCert("--out-key", key, "--out-cert", crt)
	if err == nil || !strings.Contains(err.Error(), key+" already exists; pass --force to overwrite it") {
		t.Fatalf("existing key: %v", err)
	}
	if _, err := os.Stat(crt); err == nil {
		t.Fatal("the certificate was written although the key file existed")
	}
	stdout, err := execCert("--out-key", key, "--out-cert", crt, "--force", "--key-type", "ecdsa-p256",
		"--name", "*.app.test", "--san", "app.test,10.0.0.7", "--san", "::1", "--days", "10")
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, key); m != 0o600 {
		t.Errorf("key mode %v, want 0600", m)
	}
	if m := mode(t, crt); m != 0o644 {
		t.Errorf("certificate mode %v, want 0644", m)
	}
	b, _ := os.ReadFile(crt)
	k, _ := os.ReadFile(key)
	p, err := certs.Parse(string(b), string(k), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.KeyAlgorithm != "EC prime256v1" || !slices.Equal(p.Names, []string{"*.app.test", "app.test"}) || len(p.IPs) != 2 || !p.Matches("www.app.test") {
		t.Errorf("pair is %s for %q %v", p.KeyAlgorithm, p.Names, p.IPs)
	}
	if d := time.Until(p.NotAfter); d < 9*24*time.Hour || d > 10*24*time.Hour+time.Minute {
		t.Errorf("valid for %v, want 10 days", d)
	}
	for _, want := range []string{"EC prime256v1", "--server-certificate-name wildcard.app.test", "file://" + crt, "file://" + key, "DNS:*.app.test, DNS:app.test, IP:10.0.0.7, IP:::1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not mention %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "PRIVATE KEY") {
		t.Error("output shows the key")
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"file://certificate.crt": "file://certificate.crt",
		"file:///tmp/a b.crt":    "'file:///tmp/a b.crt'",
		"it's":                   `'it'\''s'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
