package e2e

import (
	"fmt"
	"os"
	"os/exec"
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
	if _, err := exec.LookPath(awsBinary()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the aws CLI is not installed (apt-get install awscli)")
		}
		t.Skip("the aws CLI is not installed (apt-get install awscli)")
	}
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
