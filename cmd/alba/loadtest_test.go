package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/loadtest"
)

// stubRun replaces runLoadtest for the test: it records the config it is
// given instead of sending any load, so that no case can reach the network.
func stubRun(t *testing.T) *[]loadtest.Config {
	t.Helper()
	var calls []loadtest.Config
	orig := runLoadtest
	runLoadtest = func(_ context.Context, cfg loadtest.Config) (*loadtest.Report, error) {
		calls = append(calls, cfg)
		return &loadtest.Report{Requests: 1, StatusCodes: map[int]int64{200: 1}}, nil
	}
	t.Cleanup(func() { runLoadtest = orig })
	return &calls
}

// execLoadtest runs `alba loadtest args…` and returns its output and error.
func execLoadtest(args ...string) (stdout, stderr string, err error) {
	cmd := loadtestCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestLoadtestRefusesBadTargetsAndFlags(t *testing.T) {
	const refused = "alba loadtest only sends load to this machine"
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"private IPv4", []string{"--target", "http://10.0.0.1:8080"}, refused},
		{"private 192.168", []string{"--target", "http://192.168.1.10"}, refused},
		{"public IPv4", []string{"--target", "https://93.184.215.14"}, refused},
		{"all interfaces", []string{"--target", "http://0.0.0.0:8080"}, refused},
		{"public name", []string{"--target", "http://example.com"}, refused},
		{"name ending in localhost", []string{"--target", "http://evil.localhost.example.com"}, refused},
		{"name starting with 127", []string{"--target", "http://127.0.0.1.nip.io"}, refused},
		{"short IPv4 form", []string{"--target", "http://127.1:8080"}, refused},
		{"IPv6 not loopback", []string{"--target", "http://[::2]:8080"}, refused},
		{"IPv6 with zone", []string{"--target", "http://[::1%25lo]:8080"}, refused},
		{"IPv6 public", []string{"--target", "http://[2001:db8::1]"}, refused},
		{"names the host", []string{"--target", "http://10.1.2.3:80"}, "10.1.2.3 is not one"},
		{"no scheme", []string{"--target", "127.0.0.1:8080"}, "must be a URL starting with http:// or https://"},
		{"bad scheme", []string{"--target", "ftp://127.0.0.1"}, "must start with http:// or https://"},
		{"no host", []string{"--target", "http://"}, "has no host"},
		{"unparseable", []string{"--target", "http://127.0.0.1:80%zz"}, "not a valid URL"},
		{"query in target", []string{"--target", "http://127.0.0.1:8080/?a=1"}, "must not have a query"},
		{"fragment in target", []string{"--target", "http://127.0.0.1:8080/#x"}, "must not have a query"},
		{"zero duration", []string{"-d", "0"}, "--duration must be positive"},
		{"negative duration", []string{"--duration", "-5s"}, "--duration must be positive"},
		{"bad duration", []string{"-d", "soon"}, `invalid argument "soon"`},
		{"zero concurrency", []string{"-c", "0"}, "--concurrency must be between 1 and"},
		{"huge concurrency", []string{"--concurrency", "1000000"}, "--concurrency must be between 1 and"},
		{"negative rate", []string{"--rate", "-1"}, "--rate must be a non-negative number"},
		{"NaN rate", []string{"--rate", "NaN"}, "--rate must be a non-negative number"},
		{"negative requests", []string{"-n", "-1"}, "--requests must not be negative"},
		{"negative timeout", []string{"--timeout", "-1s"}, "--timeout must not be negative"},
		{"path without slash", []string{"--paths", "/status,discover"}, `"discover" does not`},
		{"no paths", []string{"--paths", " , "}, "--paths must name at least one path"},
		{"bad header name", []string{"--count-header", "X Bad"}, `bad header name "X Bad"`},
		{"unknown flag", []string{"--bogus"}, "unknown flag: --bogus"},
		{"positional argument", []string{"http://127.0.0.1:8080"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := stubRun(t)
			_, _, err := execLoadtest(tt.args...)
			if err == nil {
				t.Fatalf("alba loadtest %s: no error, want one containing %q", strings.Join(tt.args, " "), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "invalid config") || strings.HasPrefix(err.Error(), "loadtest:") {
				t.Errorf("error %q leaks the package's wording; want a plain sentence", err)
			}
			if len(*calls) != 0 {
				t.Errorf("load was started with %+v despite the error", (*calls)[0])
			}
		})
	}
}

func TestLoadtestAcceptsLoopbackTargets(t *testing.T) {
	for _, target := range []string{
		"http://127.0.0.1:8080",
		"http://127.0.0.1",
		"http://127.255.3.4:9000/",
		"https://127.0.0.1:8443",
		"http://localhost:8080",
		"http://LocalHost:8080",
		"http://[::1]:8080",
		"http://[::1]",
		"http://127.0.0.1:8080/base",
	} {
		t.Run(target, func(t *testing.T) {
			if err := checkTarget(target); err != nil {
				t.Fatalf("checkTarget(%q) = %v, want nil", target, err)
			}
			calls := stubRun(t)
			if _, _, err := execLoadtest("--target", target, "-d", "1s"); err != nil {
				t.Fatalf("alba loadtest --target %s: %v", target, err)
			}
			if len(*calls) != 1 || (*calls)[0].Target != target {
				t.Fatalf("runs = %+v, want one with target %s", *calls, target)
			}
		})
	}
}

func TestLoadtestFlagsReachConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		calls := stubRun(t)
		stdout, _, err := execLoadtest()
		if err != nil {
			t.Fatal(err)
		}
		cfg := (*calls)[0]
		if cfg.Target != "http://127.0.0.1:8080" || cfg.Concurrency != 8 || cfg.Duration != 30*time.Second ||
			cfg.Rate != 0 || cfg.MaxRequests != 0 || cfg.Timeout != loadtest.DefaultTimeout ||
			cfg.InsecureSkipVerify || cfg.KeepCookies || cfg.Progress == nil {
			t.Errorf("default config %+v", cfg)
		}
		if !slices.Equal(cfg.Paths, loadtest.DefaultPaths()) {
			t.Errorf("paths %q, want the default mix %q", cfg.Paths, loadtest.DefaultPaths())
		}
		if !slices.Equal(cfg.CountHeaders, []string{"X-Instance-Id"}) {
			t.Errorf("count headers %q, want [X-Instance-Id]", cfg.CountHeaders)
		}
		if !strings.Contains(stdout, "Requests") {
			t.Errorf("report not printed to stdout:\n%s", stdout)
		}
	})
	t.Run("everything set", func(t *testing.T) {
		calls := stubRun(t)
		_, _, err := execLoadtest("--target", "https://localhost:8443", "--paths", " /a, /b?x=1 ,", "-c", "3",
			"--rate", "50", "-d", "2m", "-n", "1000", "--timeout", "3s", "--insecure", "--cookies",
			"--count-header", "X-One", "--count-header", "X-Two")
		if err != nil {
			t.Fatal(err)
		}
		cfg := (*calls)[0]
		want := loadtest.Config{
			Target: "https://localhost:8443", Paths: []string{"/a", "/b?x=1"}, Concurrency: 3, Rate: 50,
			Duration: 2 * time.Minute, MaxRequests: 1000, Timeout: 3 * time.Second,
			InsecureSkipVerify: true, KeepCookies: true, CountHeaders: []string{"X-One", "X-Two"},
		}
		cfg.Progress = nil
		if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", want) {
			t.Errorf("config\n%+v\nwant\n%+v", cfg, want)
		}
	})
	t.Run("no count header", func(t *testing.T) {
		calls := stubRun(t)
		if _, _, err := execLoadtest("--count-header", ""); err != nil {
			t.Fatal(err)
		}
		if h := (*calls)[0].CountHeaders; len(h) != 0 {
			t.Errorf("count headers %q, want none", h)
		}
	})
}

// TestLoadtestRunsAgainstLocalServer runs the real load generator against an
// in-process server on 127.0.0.1.
func TestLoadtestRunsAgainstLocalServer(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Instance-Id", "unit")
		if failing.Load() && r.URL.Path == "/status" {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "[]")
	}))
	defer srv.Close()

	stdout, stderr, err := execLoadtest("--target", srv.URL, "-d", "1500ms", "-c", "2", "--fail-on-error")
	if err != nil {
		t.Fatalf("healthy server: %v\nstderr:\n%s", err, stderr)
	}
	if !regexp.MustCompile(`(?m)^Failures +0 \(0\.00%\)$`).MatchString(stdout) {
		t.Errorf("report does not say zero failures:\n%s", stdout)
	}
	for _, want := range []string{"Requests", "X-Instance-Id", "unit", "200"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "requests") || !strings.Contains(stderr, "p99") {
		t.Errorf("no progress line on stderr:\n%s", stderr)
	}

	failing.Store(true)
	stdout, _, err = execLoadtest("--target", srv.URL, "-d", "2s", "-n", "90", "-c", "2", "--fail-on-error")
	if err == nil || !strings.Contains(err.Error(), "requests failed") {
		t.Fatalf("failing server with --fail-on-error: err = %v, want one saying requests failed\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "500") {
		t.Errorf("report lacks the 500s:\n%s", stdout)
	}
	// Without --fail-on-error the same run succeeds.
	if _, _, err := execLoadtest("--target", srv.URL, "-d", "2s", "-n", "90", "-c", "2"); err != nil {
		t.Errorf("failing server without --fail-on-error: %v", err)
	}
}
