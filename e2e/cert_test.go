package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runAlbaIn runs the alba binary in dir to completion and returns its
// stdout, stderr and exit code.
func runAlbaIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, albaBin, args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("alba %s did not finish\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errOut.String())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// runOpenSSL runs openssl in dir and returns its output; it skips the test
// when openssl is not installed.
func runOpenSSL(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestCertCommandReplacesOpenSSLSteps runs `alba cert` with its defaults
// where the tutorial runs its openssl steps, and checks the result with
// openssl itself.
func TestCertCommandReplacesOpenSSLSteps(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runAlbaIn(t, dir, "cert")
	if code != 0 {
		t.Fatalf("alba cert exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	key, crt := filepath.Join(dir, "private.pem"), filepath.Join(dir, "certificate.crt")
	if m := fileMode(t, key); m != 0o600 {
		t.Errorf("private.pem mode %v, want 0600", m)
	}
	if m := fileMode(t, crt); m != 0o644 {
		t.Errorf("certificate.crt mode %v, want 0644", m)
	}
	if want := "aws iam upload-server-certificate --server-certificate-name localhost --certificate-body file://certificate.crt --private-key file://private.pem --endpoint-url http://127.0.0.1:9080"; !strings.Contains(stdout, want) {
		t.Errorf("the next step is not printed:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, "PRIVATE KEY") {
		t.Errorf("the key was printed:\n%s%s", stdout, stderr)
	}

	text := runOpenSSL(t, dir, "x509", "-in", "certificate.crt", "-noout", "-text")
	for _, want := range []string{"Subject: CN = localhost", "DNS:localhost", "IP Address:127.0.0.1", "TLS Web Server Authentication", "CA:FALSE", "Public-Key: (2048 bit)"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text does not show %q:\n%s", want, text)
		}
	}
	if out := runOpenSSL(t, dir, "rsa", "-in", "private.pem", "-check", "-noout"); !strings.Contains(out, "RSA key ok") {
		t.Errorf("openssl rsa -check: %s", out)
	}
	certPub := runOpenSSL(t, dir, "x509", "-in", "certificate.crt", "-noout", "-pubkey")
	keyPub := runOpenSSL(t, dir, "pkey", "-in", "private.pem", "-pubout")
	if certPub != keyPub {
		t.Error("the key is not the certificate's")
	}

	// Again without --force: a plain refusal, files untouched.
	before, _ := os.ReadFile(key)
	stdout, stderr, code = runAlbaIn(t, dir, "cert")
	if code != 1 || !strings.HasPrefix(stderr, "alba: private.pem and certificate.crt already exist; pass --force") {
		t.Errorf("second run: exit %d, stderr %q", code, stderr)
	}
	if after, _ := os.ReadFile(key); !bytes.Equal(before, after) {
		t.Error("a refused run changed the key")
	}
	if _, _, code = runAlbaIn(t, dir, "cert", "--force"); code != 0 {
		t.Errorf("--force run exited %d", code)
	}
	if after, _ := os.ReadFile(key); bytes.Equal(before, after) || fileMode(t, key) != 0o600 {
		t.Error("--force did not write a new 0600 key")
	}
}

func TestCertCommandECDSAWithSANs(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runAlbaIn(t, dir, "cert", "--key-type", "ecdsa-p256", "--name", "app.alba.test",
		"--san", "www.alba.test", "--san", "127.0.0.1", "--days", "30", "--out-cert", "app.crt", "--out-key", "app.key")
	if code != 0 {
		t.Fatalf("alba cert exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if fileMode(t, filepath.Join(dir, "app.key")) != 0o600 || fileMode(t, filepath.Join(dir, "app.crt")) != 0o644 {
		t.Error("wrong file modes")
	}
	if !strings.Contains(stdout, "--certificate-body file://app.crt --private-key file://app.key") {
		t.Errorf("the next step does not name the files:\n%s", stdout)
	}
	text := runOpenSSL(t, dir, "x509", "-in", "app.crt", "-noout", "-text")
	for _, want := range []string{"DNS:app.alba.test", "DNS:www.alba.test", "IP Address:127.0.0.1", "ASN1 OID: prime256v1", "ecdsa-with-SHA256"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text does not show %q:\n%s", want, text)
		}
	}
	runOpenSSL(t, dir, "pkey", "-in", "app.key", "-check", "-noout")
	if runOpenSSL(t, dir, "x509", "-in", "app.crt", "-noout", "-pubkey") != runOpenSSL(t, dir, "pkey", "-in", "app.key", "-pubout") {
		t.Error("the key is not the certificate's")
	}
	end := runOpenSSL(t, dir, "x509", "-in", "app.crt", "-noout", "-checkend", "2505600") // 29 days
	if !strings.Contains(end, "will not expire") {
		t.Errorf("certificate expires within 29 days: %s", end)
	}
}

func TestCertCommandBadFlag(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runAlbaIn(t, dir, "cert", "--key-type", "ed25519")
	if code != 1 || stderr != "alba: --key-type must be rsa2048 or ecdsa-p256, not \"ed25519\"\n" {
		t.Errorf("exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files written on a bad flag: %v", left)
	}
}
