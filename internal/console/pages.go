package console

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// parsePages parses each page template with the layout and the shared
// partials.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"stamp": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"stampp": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"join": strings.Join,
		"pct":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " %" },
		"field": func(p page, name string) string {
			if p.Form == nil {
				return ""
			}
			return p.Form[name]
		},
		"errorFor": func(p page, name string) string {
			if p.Error == nil || p.Field != name {
				return ""
			}
			return p.Error.Code + ": " + p.Error.Message
		},
		"lower": strings.ToLower,
		"userData": func(d model.LaunchTemplateData) string {
			s, err := d.DecodedUserData()
			if err != nil {
				return d.UserData
			}
			return s
		},
	}
	shared := []string{"web/templates/layout.html", "web/templates/partials.html"}
	names, _ := fs.Glob(web, "web/templates/*.html")
	out := map[string]*template.Template{}
	for _, n := range names {
		if slices.Contains(shared, n) {
			continue
		}
		t := template.Must(template.New("").Funcs(funcs).ParseFS(web, append(shared, n)...))
		out[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return out
}

// notFound renders the page's 404 with AWS's error.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request, err error) {
	var me *model.Error
	if !errors.As(err, &me) {
		me = formError("NotFound", err.Error())
	}
	c.render(w, r, http.StatusNotFound, "notfound", page{Title: "Not found", Error: me})
}

func formError(code, msg string) *model.Error { return &model.Error{Code: code, Message: msg} }

// with is base (a page's title, nav and data) carrying p's form state:
// the error, its field and what was posted.
func (p page) with(base page) page {
	base.Error, base.Field, base.Form, base.Notice = p.Error, p.Field, p.Form, p.Notice
	return base
}

// ---- overview

type overviewData struct {
	LoadBalancers []*model.LoadBalancer
	Groups        []*model.AutoScalingGroup
	Selected      Selection
	Activities    []*model.Activity
	Listeners     []listenerRow
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	var d overviewData
	sel, err := c.selection(r)
	if err != nil {
		c.notFound(w, r, err)
		return
	}
	d.Selected = sel
	if !c.view(w, func(tx store.Tx) error {
		var err error
		if d.LoadBalancers, err = elb.LoadBalancers(tx); err != nil {
			return err
		}
		if d.Groups, err = autoscaling.Groups(tx); err != nil {
			return err
		}
		as, err := autoscaling.Activities(tx, sel.Group)
		if err != nil {
			return err
		}
		d.Activities = as[:min(len(as), 8)]
		for _, lb := range d.LoadBalancers {
			if lb.Name == sel.LoadBalancer {
				d.Listeners, err = listenerRows(tx, lb)
			}
		}
		return err
	}) {
		return
	}
	c.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Data: d})
}

// ---- load balancers

type lbRow struct {
	*model.LoadBalancer
	DNSName   string
	Listeners []listenerRow
	Attrs     []kv
}

type listenerRow struct {
	*model.Listener
	Action string
	Certs  []string
	Rules  []ruleRow
}

type ruleRow struct {
	Priority   string
	Conditions string
	Action     string
}

type kv struct{ Key, Value string }

func sortedKV(m map[string]string) []kv {
	var out []kv
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// describeAction is an action as the AWS console writes it.
func describeAction(tx store.Tx, as []model.Action) string {
	var parts []string
	name := func(arn string) string {
		if g, err := elb.TargetGroup(tx, arn); err == nil && g != nil {
			return g.Name
		}
		return arn
	}
	for _, a := range as {
		switch a.Type {
		case "forward":
			if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
				var ws []string
				for _, wg := range a.ForwardConfig.TargetGroups {
					ws = append(ws, name(wg.TargetGroupARN)+" ("+strconv.Itoa(wg.Weight)+")")
				}
				s := "forward to " + strings.Join(ws, ", ")
				if st := a.ForwardConfig.Stickiness; st != nil && st.Enabled {
					s += ", group stickiness " + strconv.Itoa(st.DurationSeconds) + " s"
				}
				parts = append(parts, s)
			} else {
				parts = append(parts, "forward to "+name(a.TargetGroupARN))
			}
		case "redirect":
			rd := a.Redirect
			parts = append(parts, "redirect "+rd.StatusCode+" to "+strings.Join(nonEmpty(rd.Protocol, rd.Host, rd.Port, rd.Path, rd.Query), " "))
		case "fixed-response":
			parts = append(parts, "fixed response "+a.FixedResponse.StatusCode)
		default:
			parts = append(parts, a.Type)
		}
	}
	return strings.Join(parts, "; ")
}

// condString is a rule condition as the AWS console lists it.
func condString(cd model.Condition) string {
	vals := cd.Values
	for _, q := range cd.QueryValues {
		if q.Key != "" {
			vals = append(vals, q.Key+"="+q.Value)
		} else {
			vals = append(vals, q.Value)
		}
	}
	name := cd.Field
	if cd.HeaderName != "" {
		name += " " + cd.HeaderName
	}
	return name + " is " + strings.Join(vals, " or ")
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func listenerRows(tx store.Tx, lb *model.LoadBalancer) ([]listenerRow, error) {
	ls, err := elb.Listeners(tx)
	if err != nil {
		return nil, err
	}
	var out []listenerRow
	for _, l := range ls {
		if l.LoadBalancerARN != lb.ARN {
			continue
		}
		row := listenerRow{Listener: l, Action: describeAction(tx, l.DefaultActions)}
		for _, arn := range l.Certificates {
			if ct, err := certs.ByARN(tx, arn); err == nil && ct != nil {
				row.Certs = append(row.Certs, ct.Name)
			} else {
				row.Certs = append(row.Certs, arn)
			}
		}
		rules, err := elb.Rules(tx, l.ARN)
		if err != nil {
			return nil, err
		}
		for _, ru := range rules {
			var conds []string
			for _, cd := range ru.Conditions {
				conds = append(conds, condString(cd))
			}
			row.Rules = append(row.Rules, ruleRow{Priority: strconv.Itoa(ru.Priority), Conditions: strings.Join(conds, " and "), Action: describeAction(tx, ru.Actions)})
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b listenerRow) int { return a.Port - b.Port })
	return out, nil
}

func (c *Console) loadBalancersPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	var rows []lbRow
	if !c.view(w, func(tx store.Tx) error {
		lbs, err := elb.LoadBalancers(tx)
		if err != nil {
			return err
		}
		for _, lb := range lbs {
			ls, err := listenerRows(tx, lb)
			if err != nil {
				return err
			}
			rows = append(rows, lbRow{LoadBalancer: lb, Listeners: ls})
		}
		return nil
	}) {
		return
	}
	var tgs []*model.TargetGroup
	c.opts.Store.View(func(tx store.Tx) error { tgs, _ = elb.TargetGroups(tx); return nil })
	c.render(w, r, status, "loadbalancers", p.with(page{Title: "Load balancers", Nav: "lb", Data: map[string]any{"Rows": rows, "TargetGroups": tgs}}))
}

func (c *Console) loadBalancerPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	name := r.PathValue("name")
	var row lbRow
	var tgs []*model.TargetGroup
	var certList []*model.Certificate
	var err error
	c.opts.Store.View(func(tx store.Tx) error {
		var lb *model.LoadBalancer
		lb, err = elb.LoadBalancerByName(tx, name)
		if err == nil && lb == nil {
			err = model.Errorf("LoadBalancerNotFound", "There is no load balancer named '%s'", model.Quote(name))
		}
		if err != nil {
			return nil
		}
		row = lbRow{LoadBalancer: lb, Attrs: sortedKV(model.LoadBalancerAttributes(lb.Attributes))}
		row.Listeners, err = listenerRows(tx, lb)
		tgs, _ = elb.TargetGroups(tx)
		certList, _ = certs.List(tx, "")
		return nil
	})
	if err != nil {
		c.notFound(w, r, err)
		return
	}
	c.render(w, r, status, "loadbalancer", p.with(page{Title: "Load balancer " + name, Nav: "lb",
		Data: map[string]any{"LB": row, "TargetGroups": tgs, "Certificates": certList}}))
}

// ---- target groups

type targetRow struct {
	*model.Target
	Health model.TargetHealth
	Known  bool
}

type tgRow struct {
	*model.TargetGroup
	LoadBalancers []string
	Targets       []targetRow
	Attrs         []kv
	Effective     map[string]string
	Healthy       int
}

func (c *Console) tgRow(tx store.Tx, g *model.TargetGroup) (tgRow, error) {
	// Every attribute with its effective value, as
	// describe-target-group-attributes lists them.
	eff := model.TargetGroupAttributes(g.Attributes)
	row := tgRow{TargetGroup: g, Attrs: sortedKV(eff), Effective: eff}
	arns, err := elb.TargetGroupLoadBalancers(tx, g.ARN)
	if err != nil {
		return row, err
	}
	for _, arn := range arns {
		if lb, err := elb.LoadBalancer(tx, arn); err == nil {
			row.LoadBalancers = append(row.LoadBalancers, lb.Name)
		}
	}
	ts, err := elb.TargetsOf(tx, g.ARN)
	if err != nil {
		return row, err
	}
	for _, t := range ts {
		tr := targetRow{Target: t}
		port := t.Port
		if port == 0 {
			port = g.Port
		}
		if c.opts.TargetHealth != nil {
			tr.Health, tr.Known = c.opts.TargetHealth(g.ARN, t.ID, port)
		}
		if !tr.Known {
			tr.Health = model.TargetHealth{State: model.TargetInitial, Reason: model.ReasonRegistrationInProgress}
		}
		if tr.Health.State == model.TargetHealthy {
			row.Healthy++
		}
		row.Targets = append(row.Targets, tr)
	}
	return row, nil
}

func (c *Console) targetGroupsPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	var rows []tgRow
	if !c.view(w, func(tx store.Tx) error {
		gs, err := elb.TargetGroups(tx)
		if err != nil {
			return err
		}
		for _, g := range gs {
			row, err := c.tgRow(tx, g)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return nil
	}) {
		return
	}
	c.render(w, r, status, "targetgroups", p.with(page{Title: "Target groups", Nav: "tg", Data: rows}))
}

func (c *Console) targetGroupPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	name := r.PathValue("name")
	var row tgRow
	var err error
	c.opts.Store.View(func(tx store.Tx) error {
		var g *model.TargetGroup
		g, err = elb.TargetGroupByName(tx, name)
		if err == nil && g == nil {
			err = model.Errorf("TargetGroupNotFound", "There is no target group named '%s'", model.Quote(name))
		}
		if err == nil {
			row, err = c.tgRow(tx, g)
		}
		return nil
	})
	if err != nil {
		c.notFound(w, r, err)
		return
	}
	c.render(w, r, status, "targetgroup", p.with(page{Title: "Target group " + name, Nav: "tg", Data: row}))
}

// ---- auto scaling groups

type instanceRow struct {
	*model.Instance
	CPU    string
	Target string // the target's health state in the group's target groups
}

type groupRow struct {
	*model.AutoScalingGroup
	Template     string
	TargetGroups []string
	Instances    []instanceRow
	Policies     []*model.ScalingPolicy
	Activities   []*model.Activity
	InService    int
}

func (c *Console) groupRow(tx store.Tx, g *model.AutoScalingGroup, activities int) (groupRow, error) {
	row := groupRow{AutoScalingGroup: g, Template: g.LaunchTemplate.Name}
	if g.LaunchTemplate.Version != "" {
		row.Template += " (" + g.LaunchTemplate.Version + ")"
	}
	for _, arn := range g.TargetGroupARNs {
		if tg, err := elb.TargetGroup(tx, arn); err == nil {
			row.TargetGroups = append(row.TargetGroups, tg.Name)
		}
	}
	insts, err := autoscaling.InstancesOf(tx, g.Name)
	if err != nil {
		return row, err
	}
	now := c.opts.Clock.Now()
	for _, i := range insts {
		ir := instanceRow{Instance: i}
		dps, _ := c.opts.History.Query(metrics.Query{Metric: autoscaling.InstanceCPUMetric(i.ID), Start: now.Add(-time.Minute), End: now.Add(time.Second), Period: time.Second})
		if len(dps) > 0 {
			ir.CPU = strconv.FormatFloat(dps[len(dps)-1].Average(), 'f', 1, 64) + " %"
		}
		if c.opts.TargetHealth != nil {
			for _, arn := range g.TargetGroupARNs {
				if h, ok := c.opts.TargetHealth(arn, i.ID, i.Port); ok {
					ir.Target = h.State
				}
			}
		}
		if i.LifecycleState == model.LifecycleInService {
			row.InService++
		}
		row.Instances = append(row.Instances, ir)
	}
	if row.Policies, err = autoscaling.PoliciesOf(tx, g.Name); err != nil {
		return row, err
	}
	as, err := autoscaling.Activities(tx, g.Name)
	if err != nil {
		return row, err
	}
	row.Activities = as[:min(len(as), activities)]
	return row, nil
}

func (c *Console) groupsPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	var rows []groupRow
	var lts []*model.LaunchTemplate
	var tgs []*model.TargetGroup
	if !c.view(w, func(tx store.Tx) error {
		gs, err := autoscaling.Groups(tx)
		if err != nil {
			return err
		}
		for _, g := range gs {
			row, err := c.groupRow(tx, g, 0)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		lts, _ = autoscaling.Templates(tx)
		tgs, _ = elb.TargetGroups(tx)
		return nil
	}) {
		return
	}
	c.render(w, r, status, "groups", p.with(page{Title: "Auto Scaling groups", Nav: "asg",
		Data: map[string]any{"Rows": rows, "Templates": lts, "TargetGroups": tgs}}))
}

func (c *Console) groupPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	name := r.PathValue("name")
	var row groupRow
	var err error
	c.opts.Store.View(func(tx store.Tx) error {
		var g *model.AutoScalingGroup
		g, err = autoscaling.Group(tx, name)
		if err == nil {
			row, err = c.groupRow(tx, g, 50)
		}
		return nil
	})
	if err != nil {
		c.notFound(w, r, err)
		return
	}
	c.render(w, r, status, "group", p.with(page{Title: "Auto Scaling group " + name, Nav: "asg", Data: row}))
}

// ---- launch templates

type templateRow struct {
	*model.LaunchTemplate
	Versions []*model.LaunchTemplateVersion
}

func (c *Console) templatesPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	var rows []templateRow
	if !c.view(w, func(tx store.Tx) error {
		lts, err := autoscaling.Templates(tx)
		for _, lt := range lts {
			rows = append(rows, templateRow{LaunchTemplate: lt})
		}
		return err
	}) {
		return
	}
	c.render(w, r, status, "templates", p.with(page{Title: "Launch templates", Nav: "lt", Data: rows}))
}

func (c *Console) template(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var row templateRow
	var err error
	c.opts.Store.View(func(tx store.Tx) error {
		var lt *model.LaunchTemplate
		lt, err = autoscaling.TemplateByRef(tx, "", name)
		if err != nil {
			return nil
		}
		row.LaunchTemplate = lt
		row.Versions, err = autoscaling.Versions(tx, lt)
		slices.Reverse(row.Versions)
		return nil
	})
	if err != nil {
		c.notFound(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "template", page{Title: "Launch template " + name, Nav: "lt", Data: row})
}

// ---- certificates

type certRow struct {
	model.Certificate
	Subject  string
	Names    string
	Listener []string
}

func (c *Console) certificatesPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	var rows []certRow
	if !c.view(w, func(tx store.Tx) error {
		cs, err := certs.List(tx, "")
		if err != nil {
			return err
		}
		for _, ct := range cs {
			// Never the private key: the row holds the redacted copy.
			row := certRow{Certificate: certs.Redacted(ct)}
			if b, _ := pem.Decode([]byte(ct.Body)); b != nil {
				if leaf, err := x509.ParseCertificate(b.Bytes); err == nil {
					row.Subject, row.Names = leaf.Subject.CommonName, strings.Join(leaf.DNSNames, ", ")
				}
			}
			ls, _ := elb.ListenersUsingCertificate(tx, ct.ARN)
			for _, l := range ls {
				if lb, err := elb.LoadBalancer(tx, l.LoadBalancerARN); err == nil {
					row.Listener = append(row.Listener, lb.Name+":"+strconv.Itoa(l.Port))
				}
			}
			rows = append(rows, row)
		}
		return nil
	}) {
		return
	}
	c.render(w, r, status, "certificates", p.with(page{Title: "Certificates", Nav: "cert", Data: rows}))
}
