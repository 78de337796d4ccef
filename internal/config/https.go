package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// Certificate is a server certificate read from PEM files (paths relative
// to the YAML file).
type Certificate struct {
	Name            string `yaml:"name"`
	CertificateFile string `yaml:"certificate_file"`
	PrivateKeyFile  string `yaml:"private_key_file"`
	ChainFile       string `yaml:"chain_file"`

	body, key, chain string
}

// Rule is a listener rule in the file.
type Rule struct {
	Priority   int            `yaml:"priority"`
	Conditions RuleConditions `yaml:"conditions"`
	Action     Action         `yaml:"action"`
}

// RuleConditions are a rule's conditions; each list's values are ORed and
// the conditions ANDed.
type RuleConditions struct {
	Host     []string          `yaml:"host"`
	Path     []string          `yaml:"path"`
	Method   []string          `yaml:"method"`
	SourceIP []string          `yaml:"source_ip"`
	Headers  []HeaderCondition `yaml:"headers"`
	Query    []QueryCondition  `yaml:"query"`
}

// HeaderCondition matches a header's values.
type HeaderCondition struct {
	Name   string   `yaml:"name"`
	Values []string `yaml:"values"`
}

// QueryCondition matches a query parameter (key optional).
type QueryCondition struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// Redirect is a redirect action; empty fields keep the request's part.
type Redirect struct {
	Protocol   string `yaml:"protocol"`
	Host       string `yaml:"host"`
	Port       string `yaml:"port"`
	Path       string `yaml:"path"`
	Query      string `yaml:"query"`
	StatusCode int    `yaml:"status_code"` // 301 (default) or 302
}

func (c *Certificate) load(dir string) error {
	read := func(name string) (string, error) {
		if name == "" {
			return "", nil
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		b, err := os.ReadFile(name)
		return string(b), err
	}
	var err error
	if c.CertificateFile == "" || c.PrivateKeyFile == "" {
		return errors.New("a certificate needs certificate_file and private_key_file")
	}
	if c.body, err = read(c.CertificateFile); err != nil {
		return fmt.Errorf("cannot read certificate_file: %w", err)
	}
	if c.key, err = read(c.PrivateKeyFile); err != nil {
		return fmt.Errorf("cannot read private_key_file: %w", err)
	}
	if c.chain, err = read(c.ChainFile); err != nil {
		return fmt.Errorf("cannot read chain_file: %w", err)
	}
	_, err = certs.Parse(c.body, c.key, c.chain, time.Now())
	return err
}

// checkHTTPS checks certificates, HTTPS listener settings and rules.
func (f *File) checkHTTPS(tgNames map[string]bool) error {
	dir := filepath.Dir(f.path)
	names := map[string]bool{}
	for i := range f.Certificates {
		c := &f.Certificates[i]
		if err := certs.ValidateName(c.Name); err != nil {
			return f.errFrom(err, "certificates", i, "name")
		}
		if names[c.Name] {
			return f.dupAt("EntityAlreadyExists", fmt.Sprintf("certificate name '%s' is used twice", c.Name), "certificates", i, "name")
		}
		names[c.Name] = true
		if err := c.load(dir); err != nil {
			return f.errFrom(err, "certificates", i)
		}
	}
	for i, lb := range f.LoadBalancers {
		for j, l := range lb.Listeners {
			at := []any{"load_balancers", i, "listeners", j}
			for _, c := range l.Certificates {
				if !names[c] {
					return f.errAt(fmt.Sprintf("certificate '%s' is not defined in certificates", c), append(at, "certificates")...)
				}
			}
			prios := map[int]bool{}
			for k, r := range l.Rules {
				rat := append(append([]any{}, at...), "rules", k)
				if prios[r.Priority] {
					return f.dupAt("PriorityInUse", fmt.Sprintf("priority %d is used by another rule of this listener", r.Priority), append(rat, "priority")...)
				}
				prios[r.Priority] = true
				groups, err := r.Action.groups()
				if err != nil {
					return f.errFrom(err, append(rat, "action")...)
				}
				for _, g := range groups {
					if !tgNames[g] {
						return f.errAt(fmt.Sprintf("rule forwards to target group '%s', which is not defined in target_groups", g), append(rat, "action")...)
					}
				}
				mr := r.model(nil)
				if err := mr.Validate(); err != nil {
					return f.errFrom(err, rat...)
				}
			}
		}
	}
	return nil
}

func (r *Rule) model(arns map[string]string) *model.Rule {
	m := &model.Rule{Priority: r.Priority, Actions: []model.Action{r.Action.model(arns)}, Source: SourceFile}
	c := r.Conditions
	if len(c.Host) > 0 {
		m.Conditions = append(m.Conditions, model.Condition{Field: "host-header", Values: c.Host})
	}
	if len(c.Path) > 0 {
		m.Conditions = append(m.Conditions, model.Condition{Field: "path-pattern", Values: c.Path})
	}
	if len(c.Method) > 0 {
		m.Conditions = append(m.Conditions, model.Condition{Field: "http-request-method", Values: c.Method})
	}
	if len(c.SourceIP) > 0 {
		m.Conditions = append(m.Conditions, model.Condition{Field: "source-ip", Values: c.SourceIP})
	}
	for _, h := range c.Headers {
		m.Conditions = append(m.Conditions, model.Condition{Field: "http-header", HeaderName: h.Name, Values: h.Values})
	}
	if len(c.Query) > 0 {
		q := model.Condition{Field: "query-string"}
		for _, kv := range c.Query {
			q.QueryValues = append(q.QueryValues, model.QueryValue{Key: kv.Key, Value: kv.Value})
		}
		m.Conditions = append(m.Conditions, q)
	}
	return m
}

// model converts an action; arns maps target group names to ARNs (nil
// keeps the names, for shape checks).
func (a *Action) model(arns map[string]string) model.Action {
	ref := func(name string) string {
		if arns == nil {
			return name
		}
		return arns[name]
	}
	switch {
	case a.Forward != "":
		return model.Action{Type: "forward", TargetGroupARN: ref(a.Forward)}
	case len(a.ForwardWeighted) > 0:
		fc := &model.ForwardConfig{}
		for _, w := range a.ForwardWeighted {
			fc.TargetGroups = append(fc.TargetGroups, model.WeightedTargetGroup{TargetGroupARN: ref(w.TargetGroup), Weight: w.Weight})
		}
		if a.StickinessSeconds > 0 {
			fc.Stickiness = &model.TargetGroupStickiness{Enabled: true, DurationSeconds: a.StickinessSeconds}
		}
		return model.Action{Type: "forward", ForwardConfig: fc}
	case a.FixedResponse != nil:
		fr := a.FixedResponse
		return model.Action{Type: "fixed-response", FixedResponse: &model.FixedResponseConfig{
			StatusCode: strconv.Itoa(fr.StatusCode), ContentType: fr.ContentType, MessageBody: fr.Body}}
	case a.Redirect != nil:
		rd := a.Redirect
		code := "HTTP_301"
		if rd.StatusCode == 302 {
			code = "HTTP_302"
		}
		return model.Action{Type: "redirect", Redirect: &model.RedirectConfig{Protocol: rd.Protocol, Host: rd.Host, Port: rd.Port, Path: rd.Path, Query: rd.Query, StatusCode: code}}
	}
	return model.Action{}
}

// applyCertificates uploads the file's certificates, replaces changed ones
// (new handshakes use the new one) and returns their ARNs by name.
func (f *File) applyCertificates(tx store.Tx, now time.Time) (map[string]string, error) {
	arns := map[string]string{}
	for i := range f.Certificates {
		c := &f.Certificates[i]
		cur, err := certs.Get(tx, c.Name)
		switch {
		case err != nil:
			cur, err = certs.Upload(tx, c.Name, "/", c.body, c.key, c.chain, nil, SourceFile, now)
		case cur.Source != SourceFile:
			err = model.Takeover("EntityAlreadyExists", fmt.Sprintf("Server certificate '%s'", c.Name), cur.ARN)
		case cur.Body != c.body || cur.PrivateKey != c.key || cur.Chain != c.chain:
			cur, err = certs.Replace(tx, c.Name, c.body, c.key, c.chain, now)
		}
		if err != nil {
			return nil, f.errFrom(err, "certificates", i)
		}
		arns[c.Name] = cur.ARN
	}
	return arns, nil
}

// applyRules makes a listener's file rules match the file.
func (f *File) applyRules(tx store.Tx, l *model.Listener, rules []Rule, arns map[string]string, at []any) error {
	keep := map[string]bool{}
	for k, r := range rules {
		mr := r.model(arns)
		mr.ListenerARN = l.ARN
		mr, err := elb.DeclareRule(tx, mr)
		if err != nil {
			return f.errFrom(err, append(at, "rules", k)...)
		}
		keep[mr.ARN] = true
	}
	cur, err := elb.Rules(tx, l.ARN)
	if err != nil {
		return err
	}
	for _, r := range cur {
		if r.Source == SourceFile && !keep[r.ARN] {
			if err := elb.DeleteRule(tx, r.ARN); err != nil {
				return err
			}
		}
	}
	return nil
}
