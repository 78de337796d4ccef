package console

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// The tutorial's steps as forms. Each reads its fields, builds what the
// AWS API's operation would, and calls the same service-layer function in
// one transaction: the console adds no rule of its own beyond reading a
// number. An error is shown beside the field it is about, with AWS's code
// and message, and the form keeps what was typed (never a private key).

// MaxFormBytes bounds a posted form; certificates and keys are a few KB.
const MaxFormBytes = 1 << 20

// fieldError is an error about one form field.
type fieldError struct {
	field string
	err   *model.Error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Message }

// onField attaches err to a field, keeping its AWS code.
func onField(field string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return err
	}
	var me *model.Error
	if !errors.As(err, &me) {
		me = formError("InternalFailure", err.Error())
		if errors.Is(err, store.ErrUnavailable) {
			me.Code = "ServiceUnavailable"
		}
	}
	return &fieldError{field: field, err: me}
}

// values is a posted form.
type values struct {
	r    *http.Request
	form url.Values
}

func (v values) str(name string) string { return strings.TrimSpace(v.form.Get(name)) }

// text is a field that may come as a file upload (name_file) instead.
func (v values) text(name string) (string, error) {
	if v.r.MultipartForm != nil {
		if fhs := v.r.MultipartForm.File[name+"_file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				return "", onField(name, formError("ValidationError", "The uploaded file could not be read: "+err.Error()))
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, MaxFormBytes))
			return string(b), onField(name, err)
		}
	}
	return v.form.Get(name), nil
}

func (v values) checked(name string) bool { return v.form.Get(name) == "true" }

// integer reads a whole number between lo and hi; empty gives def.
func (v values) integer(name, label string, def, lo, hi int) (int, error) {
	s := v.str(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, onField(name, formError("ValidationError", fmt.Sprintf("%s must be a whole number from %d to %d, not '%s'", label, lo, hi, model.Quote(s))))
	}
	return n, nil
}

// port reads the required "port" field: missing is the error without
// one, as AWS words it for the resource.
func (v values) port(label, missing string) (int, error) {
	port, err := v.integer("port", label, 0, 1, 65535)
	if err == nil && port == 0 {
		err = onField("port", formError("ValidationError", missing))
	}
	return port, err
}

const listenerPortMissing = "A port must be specified for an application load balancer listener"

func (v values) required(name, label string) (string, error) {
	s := v.str(name)
	if s == "" {
		return "", onField(name, formError("ValidationError", label+" is required"))
	}
	return s, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// formHandler is one form: it changes the store and says where to go and
// what to tell the user.
type formHandler func(v values, now time.Time) (next, notice string, err error)

// form wraps a formHandler: CSRF, parsing, and on error the page again
// (show) with the error beside its field.
func (c *Console) form(show func(w http.ResponseWriter, r *http.Request, status int, p page), fn formHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			if err := r.ParseMultipartForm(MaxFormBytes); err != nil {
				http.Error(w, "the form could not be read: "+err.Error(), http.StatusBadRequest)
				return
			}
		} else if err := r.ParseForm(); err != nil {
			http.Error(w, "the form could not be read: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !c.checkCSRF(w, r) {
			return
		}
		next, notice, err := fn(values{r: r, form: r.PostForm}, c.opts.Clock.Now())
		if err == nil {
			http.Redirect(w, r, next+"?notice="+url.QueryEscape(notice), http.StatusSeeOther)
			return
		}
		fe, ok := err.(*fieldError)
		if !ok {
			fe = onField("form", err).(*fieldError)
		}
		kept := map[string]string{}
		for k := range r.PostForm {
			if k != "private_key" && k != csrfField && k != "secret_access_key" {
				kept[k] = r.PostForm.Get(k)
			}
		}
		status := http.StatusBadRequest
		if fe.err.Code == "ServiceUnavailable" {
			status = http.StatusServiceUnavailable
		}
		show(w, r, status, page{Error: fe.err, Field: fe.field, Form: kept})
	}
}

func (c *Console) formRoutes() {
	c.mux.HandleFunc("POST /console/target-groups", c.form(c.targetGroupsPage, c.createTargetGroup))
	c.mux.HandleFunc("POST /console/target-groups/{name}/stickiness", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		c.form(c.targetGroupPage, func(v values, now time.Time) (string, string, error) { return c.setStickiness(name, v) })(w, r)
	})
	c.mux.HandleFunc("POST /console/load-balancers", c.form(c.loadBalancersPage, c.createLoadBalancer))
	c.mux.HandleFunc("POST /console/load-balancers/{name}/listeners", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		c.form(c.loadBalancerPage, func(v values, now time.Time) (string, string, error) { return c.addListener(name, v, now) })(w, r)
	})
	c.mux.HandleFunc("POST /console/certificates", c.form(c.certificatesPage, c.uploadCertificate))
	c.mux.HandleFunc("POST /console/launch-templates", c.form(c.templatesPage, c.createTemplate))
	c.mux.HandleFunc("POST /console/auto-scaling-groups", c.form(c.groupsPage, c.createGroup))
	c.mux.HandleFunc("POST /console/auto-scaling-groups/{name}/capacity", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		c.form(c.groupPage, func(v values, now time.Time) (string, string, error) { return c.setCapacity(name, v, now) })(w, r)
	})
	c.mux.HandleFunc("POST /console/auto-scaling-groups/{name}/policies", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		c.form(c.groupPage, func(v values, now time.Time) (string, string, error) { return c.addPolicy(name, v) })(w, r)
	})
}

// update runs fn in a transaction of the store.
func (c *Console) update(fn func(tx store.Tx) error) error { return c.opts.Store.Update(fn) }

// fieldByCode picks the field an AWS error is about, else "form": the
// field its code names, else the one whose "~keyword" comes first in its
// message (the longer keyword when two start at the same place), so that
// "desired capacity 3 must be between the min size 1 and the max size 2"
// is about the desired capacity whatever the map's order.
func fieldByCode(err error, fields map[string]string) error {
	var me *model.Error
	if errors.As(err, &me) {
		if f, ok := fields[me.Code]; ok {
			return onField(f, err)
		}
		msg := strings.ToLower(me.Message)
		best, at := "", -1
		for key := range fields {
			if !strings.HasPrefix(key, "~") {
				continue
			}
			i := strings.Index(msg, key[1:])
			if i < 0 {
				continue
			}
			if at < 0 || i < at || i == at && (len(key) > len(best) || len(key) == len(best) && key < best) {
				best, at = key, i
			}
		}
		if at >= 0 {
			return onField(fields[best], err)
		}
	}
	return onField("form", err)
}

func (c *Console) createTargetGroup(v values, now time.Time) (string, string, error) {
	name, err := v.required("name", "A name")
	if err != nil {
		return "", "", err
	}
	port, err := v.port("The port", "A port must be specified")
	if err != nil {
		return "", "", err
	}
	g := &model.TargetGroup{Name: name, Protocol: v.str("protocol"), ProtocolVersion: v.str("protocol_version"), Port: port,
		TargetType: v.str("target_type"), Source: model.SourceAPI}
	hc := &g.HealthCheck
	hc.Path, hc.Matcher = v.str("health_check_path"), v.str("matcher")
	if g.ProtocolVersion == "GRPC" {
		// The field holds gRPC codes then; the form's HTTP default means
		// ALB's gRPC default (12), as an empty field does.
		hc.GrpcCode, hc.Matcher = hc.Matcher, ""
		if hc.GrpcCode == "200" {
			hc.GrpcCode = ""
		}
		if hc.Path == "/" {
			hc.Path = "" // ALB's gRPC default, /AWS.ALB/healthcheck
		}
	}
	for _, f := range []struct {
		name, label string
		dst         *int
		lo, hi      int
	}{
		{"interval", "The health check interval", &hc.IntervalSeconds, 5, 300},
		{"timeout", "The health check timeout", &hc.TimeoutSeconds, 2, 120},
		{"healthy_threshold", "The healthy threshold", &hc.HealthyThreshold, 2, 10},
		{"unhealthy_threshold", "The unhealthy threshold", &hc.UnhealthyThreshold, 2, 10},
	} {
		if *f.dst, err = v.integer(f.name, f.label, 0, f.lo, f.hi); err != nil {
			return "", "", err
		}
	}
	err = c.update(func(tx store.Tx) error { _, err := elb.CreateTargetGroup(tx, g); return err })
	if err != nil {
		return "", "", fieldByCode(err, map[string]string{"DuplicateTargetGroupName": "name", "~name": "name", "~path": "health_check_path",
			"~timeout": "timeout", "~interval": "interval", "~matcher": "matcher", "~success code": "matcher", "~port": "port",
			"~protocol version": "protocol_version", "~grpc": "matcher", "~protocol": "form"})
	}
	return "/target-groups/" + name, "Created target group " + name + ".", nil
}

func (c *Console) setStickiness(name string, v values) (string, string, error) {
	attrs := map[string]string{"stickiness.enabled": strconv.FormatBool(v.checked("enabled"))}
	typ := v.str("type")
	if typ == "" {
		typ = "lb_cookie"
	}
	attrs["stickiness.type"] = typ
	if d := v.str("duration"); d != "" {
		attrs["stickiness."+typ+".duration_seconds"] = d
	}
	if typ == "app_cookie" {
		attrs["stickiness.app_cookie.cookie_name"] = v.str("cookie_name")
	}
	err := c.update(func(tx store.Tx) error {
		g, err := elb.TargetGroupByName(tx, name)
		if err != nil {
			return err
		}
		if g == nil {
			return model.Errorf("TargetGroupNotFound", "There is no target group named '%s'", model.Quote(name))
		}
		_, err = elb.ModifyTargetGroupAttributes(tx, g.ARN, attrs)
		return err
	})
	if err != nil {
		return "", "", fieldByCode(err, map[string]string{"~duration_seconds": "duration", "~cookie_name": "cookie_name"})
	}
	state := "off"
	if v.checked("enabled") {
		state = "on"
	}
	return "/target-groups/" + name, "Stickiness is " + state + " for " + name + ".", nil
}

// forward is a forward action to the named target group.
func forward(tx store.Tx, name string) ([]model.Action, error) {
	if name == "" {
		return nil, onField("target_group", formError("ValidationError", "Choose the target group the listener forwards to (create one first)"))
	}
	g, err := elb.TargetGroupByName(tx, name)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, onField("target_group", model.Errorf("TargetGroupNotFound", "There is no target group named '%s'", model.Quote(name)))
	}
	return []model.Action{{Type: "forward", TargetGroupARN: g.ARN}}, nil
}

var listenerFields = map[string]string{"DuplicateListener": "port", "~port": "port", "TargetGroupAssociationLimit": "target_group",
	"~target group": "target_group", "CertificateNotFound": "certificate", "~certificate": "certificate", "SSLPolicyNotFound": "ssl_policy",
	"~policy": "ssl_policy"}

func (c *Console) createLoadBalancer(v values, now time.Time) (string, string, error) {
	name, err := v.required("name", "A name")
	if err != nil {
		return "", "", err
	}
	port, err := v.port("The listener's port", listenerPortMissing)
	if err != nil {
		return "", "", err
	}
	lb := &model.LoadBalancer{Name: name, Zones: splitList(v.str("zones")), Source: model.SourceAPI}
	err = c.update(func(tx store.Tx) error {
		actions, err := forward(tx, v.str("target_group"))
		if err != nil {
			return err
		}
		created, err := elb.CreateLoadBalancer(tx, lb, now)
		if err != nil {
			return fieldByCode(err, map[string]string{"DuplicateLoadBalancerName": "name", "~name": "name", "~zone": "zones", "~subnet": "zones"})
		}
		_, err = elb.CreateListener(tx, &model.Listener{LoadBalancerARN: created.ARN, Protocol: "HTTP", Port: port, DefaultActions: actions, Source: model.SourceAPI})
		if err != nil {
			return fieldByCode(err, listenerFields)
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return "/load-balancers/" + name, fmt.Sprintf("Created load balancer %s with an HTTP listener on port %d.", name, port), nil
}

func (c *Console) addListener(lbName string, v values, now time.Time) (string, string, error) {
	port, err := v.port("The port", listenerPortMissing)
	if err != nil {
		return "", "", err
	}
	proto := v.str("protocol")
	body, err := v.text("certificate_body")
	if err != nil {
		return "", "", err
	}
	key, err := v.text("private_key")
	if err != nil {
		return "", "", err
	}
	err = c.update(func(tx store.Tx) error {
		lb, err := elb.LoadBalancerByName(tx, lbName)
		if err != nil {
			return err
		}
		if lb == nil {
			return model.Errorf("LoadBalancerNotFound", "There is no load balancer named '%s'", model.Quote(lbName))
		}
		actions, err := forward(tx, v.str("target_group"))
		if err != nil {
			return err
		}
		l := &model.Listener{LoadBalancerARN: lb.ARN, Protocol: proto, Port: port, DefaultActions: actions, SslPolicy: v.str("ssl_policy"), Source: model.SourceAPI}
		if proto == "HTTPS" {
			ct, err := c.listenerCertificate(tx, v, body, key, now)
			if err != nil {
				return err
			}
			l.Certificates = []string{ct.ARN}
		}
		_, err = elb.CreateListener(tx, l)
		return fieldByCode(err, listenerFields)
	})
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return "", "", err
		}
		return "", "", fieldByCode(err, listenerFields)
	}
	return "/load-balancers/" + lbName, fmt.Sprintf("Added an %s listener on port %d.", proto, port), nil
}

// listenerCertificate is the certificate chosen, or the one uploaded with
// the listener (as the AWS console imports it on the way).
func (c *Console) listenerCertificate(tx store.Tx, v values, body, key string, now time.Time) (*model.Certificate, error) {
	if name := v.str("certificate"); name != "" {
		ct, err := certs.Get(tx, name)
		return ct, onField("certificate", err)
	}
	name := v.str("certificate_name")
	if name == "" {
		return nil, onField("certificate", formError("ValidationError", "An HTTPS listener needs a default certificate: choose an uploaded one, or give a name, a body and a private key to upload one"))
	}
	ct, err := certs.Upload(tx, name, "", body, key, "", nil, model.SourceAPI, now)
	return ct, fieldByCode(err, certFields)
}

// certFields place certificate errors by their message, not by their code:
// MalformedCertificate is IAM's code for a bad body, key or chain alike.
var certFields = map[string]string{"EntityAlreadyExists": "certificate_name", "~name": "certificate_name", "~certificate name": "certificate_name",
	"~private key": "private_key", "~key": "private_key", "~chain": "certificate_chain", "~certificate chain": "certificate_chain",
	"~certificate body": "certificate_body", "~certificate": "certificate_body"}

func (c *Console) uploadCertificate(v values, now time.Time) (string, string, error) {
	name, err := v.required("certificate_name", "A name")
	if err != nil {
		return "", "", err
	}
	body, err := v.text("certificate_body")
	if err != nil {
		return "", "", err
	}
	key, err := v.text("private_key")
	if err != nil {
		return "", "", err
	}
	chain := v.form.Get("certificate_chain")
	err = c.update(func(tx store.Tx) error {
		_, err := certs.Upload(tx, name, "", body, key, chain, nil, model.SourceAPI, now)
		return err
	})
	if err != nil {
		return "", "", fieldByCode(err, certFields)
	}
	return "/certificates", "Uploaded certificate " + name + ".", nil
}

func (c *Console) createTemplate(v values, now time.Time) (string, string, error) {
	name, err := v.required("name", "A name")
	if err != nil {
		return "", "", err
	}
	// The user data is typed as text and kept base64-encoded, as AWS keeps
	// it (the AWS console encodes it the same way).
	data := model.LaunchTemplateData{ImageID: v.str("image_id"), InstanceType: v.str("instance_type")}
	if ud := strings.ReplaceAll(v.form.Get("user_data"), "\r\n", "\n"); ud != "" {
		data.UserData = base64.StdEncoding.EncodeToString([]byte(ud))
	}
	err = c.update(func(tx store.Tx) error {
		_, _, err := autoscaling.CreateTemplate(tx, name, v.str("description"), data, nil, now)
		return err
	})
	if err != nil {
		return "", "", fieldByCode(err, map[string]string{"InvalidLaunchTemplateName.AlreadyExistsException": "name", "InvalidLaunchTemplateName.MalformedException": "name",
			"~instance type": "instance_type", "~image": "image_id", "~user data": "user_data", "~name": "name"})
	}
	return "/launch-templates/" + name, "Created launch template " + name + ".", nil
}

var groupFields = map[string]string{"AlreadyExists": "name", "~name": "name", "~min": "min", "~max": "max", "~desired": "desired",
	"~launch template": "launch_template", "~zone": "zones", "~target group": "target_group", "~grace": "grace"}

func (c *Console) sizes(v values, def *model.AutoScalingGroup) (min, desired, max int, err error) {
	if min, err = v.integer("min", "The minimum", def.MinSize, 0, 10000); err != nil {
		return
	}
	if max, err = v.integer("max", "The maximum", def.MaxSize, 0, 10000); err != nil {
		return
	}
	desired, err = v.integer("desired", "The desired capacity", def.Desired, 0, 10000)
	return
}

func (c *Console) createGroup(v values, now time.Time) (string, string, error) {
	name, err := v.required("name", "A name")
	if err != nil {
		return "", "", err
	}
	min, desired, max, err := c.sizes(v, &model.AutoScalingGroup{MinSize: 1, Desired: 1, MaxSize: 1})
	if err != nil {
		return "", "", err
	}
	grace, err := v.integer("grace", "The health check grace period", 0, 0, 86400)
	if err != nil {
		return "", "", err
	}
	lt, err := v.required("launch_template", "A launch template")
	if err != nil {
		return "", "", err
	}
	zones := splitList(v.str("zones"))
	if len(zones) == 0 {
		return "", "", onField("zones", formError("ValidationError", "At least one Availability Zone or VPC Subnet is required."))
	}
	var target float64
	if v.checked("policy") {
		if target, err = strconv.ParseFloat(v.str("target_value"), 64); err != nil {
			return "", "", onField("target_value", formError("ValidationError", "The target value must be a number"))
		}
	}
	g := &model.AutoScalingGroup{Name: name, LaunchTemplate: model.LaunchTemplateSpec{Name: lt}, MinSize: min, MaxSize: max, Desired: desired,
		Zones: zones, HealthCheckGracePeriod: grace, DefaultCooldown: 300, DefaultInstanceWarmup: -1, Source: model.SourceAPI}
	if v.checked("elb_health") {
		g.HealthCheckType = "ELB"
	}
	err = c.update(func(tx store.Tx) error {
		if tgName := v.str("target_group"); tgName != "" {
			tg, err := elb.TargetGroupByName(tx, tgName)
			if err != nil {
				return err
			}
			if tg == nil {
				return onField("target_group", model.Errorf("ValidationError", "There is no target group named '%s'", model.Quote(tgName)))
			}
			g.TargetGroupARNs = []string{tg.ARN}
		}
		if err := autoscaling.CreateGroup(tx, g, now); err != nil {
			return fieldByCode(err, groupFields)
		}
		if v.checked("policy") {
			p := &model.ScalingPolicy{Name: v.str("policy_name"), Group: name, PolicyType: "TargetTrackingScaling", MetricType: "ASGAverageCPUUtilization",
				TargetValue: target, EstimatedInstanceWarmup: -1, Enabled: true, Source: model.SourceAPI}
			if err := autoscaling.PutPolicy(tx, p); err != nil {
				return fieldByCode(err, map[string]string{"~name": "policy_name", "~target": "target_value"})
			}
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return "/auto-scaling-groups/" + name, "Created Auto Scaling group " + name + ".", nil
}

func (c *Console) setCapacity(name string, v values, now time.Time) (string, string, error) {
	var g *model.AutoScalingGroup
	if err := c.opts.Store.View(func(tx store.Tx) error {
		var err error
		g, err = autoscaling.Group(tx, name)
		return err
	}); err != nil {
		return "", "", onField("form", err)
	}
	min, desired, max, err := c.sizes(v, g)
	if err != nil {
		return "", "", err
	}
	err = c.update(func(tx store.Tx) error {
		_, err := autoscaling.UpdateGroup(tx, name, autoscaling.GroupChange{MinSize: &min, MaxSize: &max, Desired: &desired}, now)
		return err
	})
	if err != nil {
		return "", "", fieldByCode(err, map[string]string{"~desired": "desired", "~max bound": "max", "~min": "min"})
	}
	return "/auto-scaling-groups/" + name, fmt.Sprintf("Set %s to desired %d, min %d, max %d.", name, desired, min, max), nil
}

func (c *Console) addPolicy(group string, v values) (string, string, error) {
	name, err := v.required("policy_name", "A policy name")
	if err != nil {
		return "", "", err
	}
	target, err := strconv.ParseFloat(v.str("target_value"), 64)
	if err != nil {
		return "", "", onField("target_value", formError("ValidationError", "The target value must be a number"))
	}
	metric := v.str("metric")
	err = c.update(func(tx store.Tx) error {
		p := &model.ScalingPolicy{Name: name, Group: group, PolicyType: "TargetTrackingScaling", MetricType: metric,
			TargetValue: target, EstimatedInstanceWarmup: -1, Enabled: true, Source: model.SourceAPI}
		if metric == "ALBRequestCountPerTarget" {
			g, err := autoscaling.Group(tx, group)
			if err != nil {
				return err
			}
			if len(g.TargetGroupARNs) == 0 {
				return onField("metric", formError("ValidationError", "The group is attached to no target group: request count per target needs one"))
			}
			lbs, err := elb.TargetGroupLoadBalancers(tx, g.TargetGroupARNs[0])
			if err != nil || len(lbs) == 0 {
				return onField("metric", formError("ValidationError", "No load balancer forwards to the group's target group yet"))
			}
			p.ResourceLabel = autoscaling.ResourceLabel(lbs[0], g.TargetGroupARNs[0])
		}
		return autoscaling.PutPolicy(tx, p)
	})
	if err != nil {
		return "", "", fieldByCode(err, map[string]string{"~name": "policy_name", "~target": "target_value", "~metric": "metric"})
	}
	return "/auto-scaling-groups/" + group, "Created policy " + name + ".", nil
}
