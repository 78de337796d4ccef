package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An admin address other machines reach, with no credentials set, is
// refused at start with a sentence that says why and how to go on, before
// anything is written (internal/app's test covers credentials and the
// flag that let it start).
func TestUpRefusesAnExposedAdminWithoutCredentials(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	_, stderr, code := runAlba(t, 30*time.Second, "up", "--empty", "--data-dir", dataDir, "--admin", "0.0.0.0:0")
	if code == 0 || !strings.Contains(stderr, "reachable from other machines and no credentials are set") ||
		!strings.Contains(stderr, "--insecure-admin") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Error("the data directory was made before the refusal")
	}
}

// With credentials set, the real aws CLIs get AWS's codes for a wrong
// secret, an unknown access key and an unsigned request, and an answer
// when they sign with the right pair.
func TestAPIRefusesWhatTheCredentialsDidNotSign(t *testing.T) {
	needAWSCLI(t)
	t.Setenv("ALBA_ACCESS_KEY_ID", "AKIDALBA")
	t.Setenv("ALBA_SECRET_ACCESS_KEY", "right-secret")
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "up", "--empty", "--data-dir", filepath.Join(t.TempDir(), "data"), "--admin", admin)
	waitFor(t, 10*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
	for _, cli := range awsCLIs(t, "http://"+admin) {
		cases := []struct {
			name string
			env  []string
			args []string
			code string // "" for success
		}{
			{"the right pair", []string{"AWS_ACCESS_KEY_ID=AKIDALBA", "AWS_SECRET_ACCESS_KEY=right-secret"}, nil, ""},
			{"a wrong secret", []string{"AWS_ACCESS_KEY_ID=AKIDALBA", "AWS_SECRET_ACCESS_KEY=wrong"}, nil, "SignatureDoesNotMatch"},
			{"an unknown access key", []string{"AWS_ACCESS_KEY_ID=AKIDOTHER", "AWS_SECRET_ACCESS_KEY=right-secret"}, nil, "InvalidClientTokenId"},
			{"no signature", nil, []string{"--no-sign-request"}, "MissingAuthenticationToken"},
		}
		for _, tc := range cases {
			cli.env = tc.env
			_, stderr, code := cli.run(append(tc.args, "elbv2", "describe-load-balancers")...)
			switch {
			case tc.code == "" && code != 0:
				t.Errorf("%s, %s: exit %d\n%s", cli.bin, tc.name, code, stderr)
			case tc.code != "" && (code == 0 || !strings.Contains(stderr, tc.code)):
				t.Errorf("%s, %s: exit %d, want %s\n%s", cli.bin, tc.name, code, tc.code, stderr)
			}
		}
	}
}

// A private key uploaded through the API leaves by no door: not in any
// API answer, the metrics, the console's pages or Alba's output; and the
// data directory and its store are their owner's alone.
func TestPrivateKeyStaysSecret(t *testing.T) {
	needAWSCLI(t)
	dir := t.TempDir()
	if _, stderr, code := runAlbaIn(t, dir, "cert", "--name", "localhost"); code != 0 {
		t.Fatalf("alba cert: %s", stderr)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// A line from the middle of the key's base64: what any leak carries.
	lines := strings.Split(strings.TrimSpace(string(keyPEM)), "\n")
	secret := lines[len(lines)/2]
	dataDir := filepath.Join(dir, "data")
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := start(t, "up", "--empty", "--data-dir", dataDir, "--admin", admin, "--listen-host", "127.0.0.1")
	waitFor(t, 10*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
	aws := &awsCLI{t: t, endpoint: "http://" + admin}
	var seen []string
	keep := func(v any) { seen = append(seen, fmt.Sprint(v)) }
	certARN := str(aws.ok("iam", "upload-server-certificate", "--server-certificate-name", "web",
		"--certificate-body", "file://"+filepath.Join(dir, "certificate.crt"), "--private-key", "file://"+filepath.Join(dir, "private.pem")),
		"ServerCertificateMetadata", "Arn")
	tg := str(aws.ok("elbv2", "create-target-group", "--name", "web", "--protocol", "HTTP", "--port", "8080", "--target-type", "ip"),
		"TargetGroups", 0, "TargetGroupArn")
	lb := str(aws.ok("elbv2", "create-load-balancer", "--name", "web", "--subnets", "a", "b"), "LoadBalancers", 0, "LoadBalancerArn")
	listener := aws.ok("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTPS", "--port", fmt.Sprint(freePort(t)),
		"--certificates", "CertificateArn="+certARN, "--default-actions", "Type=forward,TargetGroupArn="+tg)
	keep(listener)
	listenerARN := str(listener, "Listeners", 0, "ListenerArn")
	keep(aws.ok("iam", "list-server-certificates"))
	keep(aws.ok("iam", "get-server-certificate", "--server-certificate-name", "web"))
	keep(aws.ok("elbv2", "describe-listeners", "--load-balancer-arn", lb))
	keep(aws.ok("elbv2", "describe-listener-certificates", "--listener-arn", listenerARN))
	for _, path := range []string{"/metrics", "/api/targets", "/api/groups", "/", "/certificates", "/load-balancers", "/load-balancers/web"} {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		keep(string(b))
	}
	keep(p.out.String())
	for i, s := range seen {
		for _, leak := range []string{secret, lines[1]} { // ("PRIVATE KEY" is a form's placeholder)
			if at := strings.Index(s, leak); at >= 0 {
				t.Errorf("the private key shows in answer %d: …%s…", i, s[max(0, at-200):min(len(s), at+100)])
			}
		}
	}
	if m := fileMode(t, dataDir); m != 0o700 {
		t.Errorf("data directory mode %v, want 0700", m)
	}
	if m := fileMode(t, filepath.Join(dataDir, "alba.db")); m != 0o600 {
		t.Errorf("store mode %v, want 0600", m)
	}
}
