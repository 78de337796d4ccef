package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func apply(t *testing.T, st store.Store, text string) error {
	t.Helper()
	f, err := Parse("alba.yaml", []byte(text))
	if err != nil {
		return err
	}
	return st.Update(func(tx store.Tx) error { return f.Apply(tx, time.Now()) })
}

func wantCode(t *testing.T, err error, code string) *model.Error {
	t.Helper()
	var me *model.Error
	if !errors.As(err, &me) || me.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return me
}

// A rule in the file may not make a target group serve a second load
// balancer: the API refuses the same rule with TargetGroupAssociationLimit
// (before the service layer, the file wrote its rules straight into the
// store and this was accepted).
func TestFileRuleCannotShareATargetGroupAcrossLoadBalancers(t *testing.T) {
	st := openStore(t)
	err := apply(t, st, `target_groups:
  - {name: web, protocol: HTTP, port: 80, target_type: ip}
  - {name: api, protocol: HTTP, port: 80, target_type: ip}
load_balancers:
  - name: one
    listeners:
      - {protocol: HTTP, port: 80, default_action: {forward: web}}
  - name: two
    listeners:
      - protocol: HTTP
        port: 81
        default_action: {forward: api}
        rules:
          - {priority: 1, conditions: {path: ["/web"]}, action: {forward: web}}
`)
	wantCode(t, err, "TargetGroupAssociationLimit")
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 14 {
		t.Errorf("error %v, want it at line 14 (the rule)", err)
	}
	st.View(func(tx store.Tx) error {
		if lbs, _ := elb.LoadBalancers(tx); len(lbs) != 0 {
			t.Errorf("a refused file changed the store: %d load balancers", len(lbs))
		}
		return nil
	})
}

// A file rule at the priority of a rule made through the API is an error
// naming both; the API's rule keeps its ARN and its actions (before, the
// file silently took the rule over).
func TestFileRuleDoesNotTakeOverAnAPIRule(t *testing.T) {
	st := openStore(t)
	base := `target_groups:
  - {name: web, protocol: HTTP, port: 80, target_type: ip}
  - {name: api, protocol: HTTP, port: 80, target_type: ip}
load_balancers:
  - name: one
    listeners:
      - protocol: HTTP
        port: 80
        default_action: {forward: web}
`
	if err := apply(t, st, base); err != nil {
		t.Fatal(err)
	}
	var apiRule *model.Rule
	if err := st.Update(func(tx store.Tx) error {
		ls, err := elb.Listeners(tx)
		if err != nil {
			return err
		}
		api, err := elb.TargetGroupByName(tx, "api")
		if err != nil {
			return err
		}
		apiRule, err = elb.CreateRule(tx, &model.Rule{ListenerARN: ls[0].ARN, Priority: 5, Source: model.SourceAPI,
			Conditions: []model.Condition{{Field: "host-header", Values: []string{"api.example.com"}}},
			Actions:    []model.Action{{Type: "forward", TargetGroupARN: api.ARN}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err := apply(t, st, base+`        rules:
          - {priority: 5, conditions: {path: ["/file"]}, action: {forward: web}}
`)
	me := wantCode(t, err, "PriorityInUse")
	if !strings.Contains(me.Message, apiRule.ARN) || !strings.Contains(err.Error(), "alba.yaml:11") {
		t.Errorf("error %q should name the file's line and the API rule %s", err, apiRule.ARN)
	}
	st.View(func(tx store.Tx) error {
		r, err := elb.Rule(tx, apiRule.ARN)
		if err != nil || r.Source != model.SourceAPI || r.Conditions[0].Field != "host-header" {
			t.Errorf("the API rule changed: %+v, %v", r, err)
		}
		return nil
	})
	// The file may use a free priority beside it.
	if err := apply(t, st, base+`        rules:
          - {priority: 6, conditions: {path: ["/file"]}, action: {forward: web}}
`); err != nil {
		t.Fatal(err)
	}
	st.View(func(tx store.Tx) error {
		if rs, _ := elb.Rules(tx, ""); len(rs) != 2 {
			t.Errorf("rules = %d, want the API's and the file's", len(rs))
		}
		return nil
	})
}

// Every kind of resource the file declares refuses to take over the API's
// resource of the same name, and names it.
func TestFileDoesNotTakeOverAPIResources(t *testing.T) {
	tests := []struct {
		name   string
		create func(tx store.Tx) (string, error)
		file   string
		code   string
	}{
		{"target group", func(tx store.Tx) (string, error) {
			g, err := elb.CreateTargetGroup(tx, &model.TargetGroup{Name: "web", Port: 80, TargetType: "ip", Source: model.SourceAPI})
			return arnOf(g, err)
		}, "target_groups:\n  - {name: web, protocol: HTTP, port: 80, target_type: ip}\n", "DuplicateTargetGroupName"},
		{"load balancer", func(tx store.Tx) (string, error) {
			lb, err := elb.CreateLoadBalancer(tx, &model.LoadBalancer{Name: "lb", Source: model.SourceAPI}, time.Now())
			if err != nil {
				return "", err
			}
			return lb.ARN, nil
		}, "load_balancers:\n  - {name: lb}\n", "DuplicateLoadBalancerName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			var arn string
			if err := st.Update(func(tx store.Tx) (err error) { arn, err = tt.create(tx); return err }); err != nil {
				t.Fatal(err)
			}
			me := wantCode(t, apply(t, st, tt.file), tt.code)
			if !strings.Contains(me.Message, arn) {
				t.Errorf("message %q does not name %s", me.Message, arn)
			}
		})
	}
}

func arnOf(g *model.TargetGroup, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return g.ARN, nil
}

// A launch template version is immutable: a file that edits a version that
// exists is refused at that version's line with what to do, instead of the
// edit being silently ignored; adding a version works.
func TestFileCannotEditALaunchTemplateVersion(t *testing.T) {
	st := openStore(t)
	file := func(versions string) string {
		return "launch_templates:\n  - name: web-lt\n    versions:\n" + versions
	}
	v1 := "      - {image_id: ami-1, instance_type: t2.micro, user_data: \"exec alba catalog\", tags: {a: '1', b: '2'}}\n"
	if err := apply(t, st, file(v1)); err != nil {
		t.Fatal(err)
	}
	// The same file again (tags in another order) changes nothing.
	if err := apply(t, st, file("      - {image_id: ami-1, instance_type: t2.micro, user_data: \"exec alba catalog\", tags: {b: '2', a: '1'}}\n")); err != nil {
		t.Fatalf("reapplying the same version: %v", err)
	}
	edited := "      - {image_id: ami-1, instance_type: t2.micro, user_data: \"exec alba catalog --cpu-cost 5ms\", tags: {a: '1', b: '2'}}\n"
	err := apply(t, st, file(edited))
	wantCode(t, err, "InvalidParameterValue")
	if !strings.Contains(err.Error(), "alba.yaml:4:") || !strings.Contains(err.Error(), "version 1") || !strings.Contains(err.Error(), "new entry at the end") {
		t.Errorf("error %q should name line 4, version 1 and what to do", err)
	}
	if err := apply(t, st, file(v1+edited)+"    default_version: 2\n"); err != nil {
		t.Fatalf("adding the edit as version 2: %v", err)
	}
	st.View(func(tx store.Tx) error {
		lt, err := autoscaling.TemplateByRef(tx, "", "web-lt")
		if err != nil || lt.LatestVersion != 2 || lt.DefaultVersion != 2 {
			t.Errorf("template %+v, %v; want version 2 the default", lt, err)
		}
		return nil
	})
}
