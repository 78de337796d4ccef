package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

const valid = `load_balancers:
  - name: web
    attributes:
      idle_timeout.timeout_seconds: 30
    listeners:
      - protocol: HTTP
        port: 8080
        default_action:
          forward: web
target_groups:
  - name: web
    port: 8081
    target_type: ip
    health_check:
      path: /status
    targets:
      - id: 127.0.0.1
        port: 8081
      - id: 127.0.0.1
        port: 8082
`

func TestParseValid(t *testing.T) {
	f, err := Parse("alba.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.LoadBalancers) != 1 || len(f.TargetGroups[0].Targets) != 2 || f.LoadBalancers[0].Attributes["idle_timeout.timeout_seconds"] != "30" {
		t.Fatalf("parsed %+v", f)
	}
	for _, empty := range []string{"", "# nothing\n", "load_balancers: []\n"} {
		if _, err := Parse("empty.yaml", []byte(empty)); err == nil || !strings.Contains(err.Error(), "alba up --empty") {
			t.Errorf("file %q: error %v, want one pointing to alba up --empty", empty, err)
		}
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name     string
		replace  [2]string // applied to the valid file
		wantLine int
		wantMsg  string
	}{
		{"unknown key", [2]string{"    port: 8081\n", "    port: 8081\n    prot: 1\n"}, 13, "target_groups[0].prot: unknown key 'prot'; did you mean 'port'?"},
		{"unknown key far from any", [2]string{"    port: 8081\n", "    port: 8081\n    colour: blue\n"}, 13, "unknown key 'colour'; known keys here: name, protocol"},
		{"wrong type", [2]string{"port: 8080", "port: eighty"}, 7, `load_balancers[0].listeners[0].port: want a whole number, got "eighty"`},
		{"a list where a mapping goes", [2]string{"      path: /status", "      path: /status\n      matcher: [200]"}, 16, "target_groups[0].health_check.matcher: want text, got a list"},
		{"bad syntax", [2]string{"      - protocol: HTTP", "      - protocol: [HTTP"}, 0, ""},
		{"interval out of range", [2]string{"      path: /status", "      path: /status\n      interval_seconds: 1"}, 11, "interval 1 must be 5-300"},
		{"timeout not below interval", [2]string{"      path: /status", "      path: /status\n      interval_seconds: 5\n      timeout_seconds: 5"}, 11, "smaller than the interval"},
		{"bad matcher", [2]string{"      path: /status", "      path: /status\n      matcher: \"600\""}, 11, "matcher"},
		{"bad name", [2]string{"  - name: web\n    attributes", "  - name: -web\n    attributes"}, 2, "not valid"},
		{"undefined target group", [2]string{"forward: web", "forward: nope"}, 9, "'nope', which is not defined"},
		{"bad attribute", [2]string{"idle_timeout.timeout_seconds: 30", "idle_timeout.timeout_seconds: 0"}, 2, "invalid value '0'"},
		{"unknown attribute", [2]string{"idle_timeout.timeout_seconds: 30", "idle_timeout.seconds: 30"}, 2, "not recognized"},
		{"public ip target", [2]string{"id: 127.0.0.1\n        port: 8082", "id: 8.8.8.8\n        port: 8082"}, 19, "public"},
		{"duplicate target", [2]string{"port: 8082", "port: 8081"}, 19, "registered twice"},
		{"listener port", [2]string{"port: 8080", "port: 70000"}, 6, "1-65535"},
		{"two actions", [2]string{"          forward: web", "          forward: web\n          fixed_response: {status_code: 404}"}, 9, "exactly one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(valid, tc.replace[0], tc.replace[1], 1)
			if src == valid {
				t.Fatal("replacement did not apply")
			}
			_, err := Parse("alba.yaml", []byte(src))
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if tc.wantLine != 0 && fe.Line != tc.wantLine {
				t.Errorf("line %d, want %d (%v)", fe.Line, tc.wantLine, err)
			}
			if !strings.Contains(fe.Msg, tc.wantMsg) {
				t.Errorf("message %q does not contain %q", fe.Msg, tc.wantMsg)
			}
			if !strings.HasPrefix(err.Error(), "alba.yaml:") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestApplyKeepsIdentityAndDrainsRemovedTargets(t *testing.T) {
	st, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apply := func(src string) {
		t.Helper()
		f, err := Parse("alba.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Update(func(tx store.Tx) error { return f.Apply(tx, time.Now()) }); err != nil {
			t.Fatal(err)
		}
	}
	apply(valid)
	var arn1 string
	st.View(func(tx store.Tx) error {
		g, _ := elb.TargetGroupByName(tx, "web")
		arn1 = g.ARN
		return nil
	})
	// The API sets stickiness; a reapply of the file keeps it.
	st.Update(func(tx store.Tx) error {
		g, _ := elb.TargetGroupByName(tx, "web")
		g.Attributes = map[string]string{"stickiness.enabled": "true"}
		return elb.PutTargetGroup(tx, g)
	})
	apply(strings.Replace(valid, "      - id: 127.0.0.1\n        port: 8082\n", "", 1))
	st.View(func(tx store.Tx) error {
		g, _ := elb.TargetGroupByName(tx, "web")
		if g.ARN != arn1 {
			t.Errorf("ARN changed across applies: %s -> %s", arn1, g.ARN)
		}
		if g.Attributes["stickiness.enabled"] != "true" {
			t.Errorf("an attribute set through the API was lost: %v", g.Attributes)
		}
		ts, _ := elb.TargetsOf(tx, g.ARN)
		if len(ts) != 2 {
			t.Fatalf("targets %d, want 2 (one draining)", len(ts))
		}
		for _, tg := range ts {
			if (tg.Port == 8082) != (tg.DrainingSince != nil) {
				t.Errorf("target %d draining=%v", tg.Port, tg.DrainingSince != nil)
			}
		}
		return nil
	})
	// Removing the load balancer from the file deletes it and its listener.
	apply("target_groups:\n  - name: web\n    port: 8081\n    target_type: ip\n")
	st.View(func(tx store.Tx) error {
		lbs, _ := elb.LoadBalancers(tx)
		ls, _ := elb.Listeners(tx)
		if len(lbs) != 0 || len(ls) != 0 {
			t.Errorf("load balancers %d listeners %d after removal", len(lbs), len(ls))
		}
		return nil
	})
	_ = model.KindTarget
}

// The shipped example files are valid.
func TestExamplesParse(t *testing.T) {
	for _, path := range []string{"../../examples/tutorial-docker.yaml", "../../cmd/alba/default.yaml"} {
		if _, err := Load(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
