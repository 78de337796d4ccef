package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/certs"
	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/console"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// t0 is the fake clock's start: not on a whole second, so that the
// timeline's rounding shows.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 400e6, time.UTC)

// env is a console over a real bbolt store, served over HTTP.
type env struct {
	t       *testing.T
	st      store.Store
	hist    *metrics.History
	markers *console.Markers
	clk     *clock.Fake // nil with the real clock
	srv     *httptest.Server
	c       *client

	mu     sync.Mutex
	health map[string]model.TargetHealth // by group ARN|id|port
}

// newEnv starts a console on a fake clock at t0; mod may change its options
// (a nil Clock then means the real one).
func newEnv(t *testing.T, mod ...func(*console.Options)) *env {
	t.Helper()
	st, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, hist: metrics.NewHistory(), markers: console.NewMarkers(0), clk: clock.NewFake(t0), health: map[string]model.TargetHealth{}}
	// Every update runs twice, as a conflict on etcd makes it: the forms
	// must act only through the transaction.
	opts := console.Options{Store: store.Rerun(st), History: e.hist, Markers: e.markers, TargetHealth: e.targetHealth, Clock: e.clk}
	for _, m := range mod {
		m(&opts)
	}
	if opts.Clock == nil {
		e.clk = nil
	}
	e.srv = httptest.NewServer(console.New(opts))
	t.Cleanup(e.srv.Close)
	e.c = e.newClient()
	return e
}

func realClock(o *console.Options) { o.Clock = nil }

func (e *env) targetHealth(group, id string, port int) (model.TargetHealth, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.health[fmt.Sprintf("%s|%s|%d", group, id, port)]
	return h, ok
}

func (e *env) setHealth(group, id string, port int, h model.TargetHealth) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.health[fmt.Sprintf("%s|%s|%d", group, id, port)] = h
}

func (e *env) now() time.Time {
	if e.clk == nil {
		return time.Now()
	}
	return e.clk.Now()
}

func (e *env) update(fn func(tx store.Tx) error) {
	e.t.Helper()
	if err := e.st.Update(fn); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) view(fn func(tx store.Tx) error) {
	e.t.Helper()
	if err := e.st.View(fn); err != nil {
		e.t.Fatal(err)
	}
}

// snapshot is every record of the store, to show that a refused form
// changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	e.view(func(tx store.Tx) error {
		for _, kind := range []string{model.KindLoadBalancer, model.KindListener, model.KindTargetGroup, model.KindTarget, model.KindRule,
			model.KindCertificate, model.KindLaunchTemplate, model.KindLaunchTemplateVersion, model.KindAutoScalingGroup,
			model.KindInstance, model.KindScalingPolicy, model.KindActivity} {
			kvs, err := tx.List(kind)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				fmt.Fprintf(&b, "%s %s %s\n", kind, kv.Key, kv.Value)
			}
		}
		return nil
	})
	return b.String()
}

// client is a browser: a cookie jar, and redirects left for the test to
// look at.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (e *env) newClient() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{t: e.t, base: e.srv.URL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// resp is an answer, read whole.
type resp struct {
	code int
	body string
	hdr  http.Header
}

func (r resp) location() string { return r.hdr.Get("Location") }

func (c *client) do(req *http.Request) resp {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading: %v", req.Method, req.URL, err)
	}
	return resp{code: res.StatusCode, body: string(b), hdr: res.Header}
}

func (c *client) get(path string) resp {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *client) post(path string, v url.Values) resp {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(v.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// postMultipart posts fields and files (field name → content) as a
// browser posts a form with enctype multipart/form-data.
func (c *client) postMultipart(path string, fields url.Values, files map[string]string) resp {
	c.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for k, content := range files {
		fw, err := mw.CreateFormFile(k, k+".pem")
		if err != nil {
			c.t.Fatal(err)
		}
		io.WriteString(fw, content)
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, c.base+path, &b)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token loads a page as a browser does (which sets the CSRF cookie) and
// returns the token its forms carry.
func (c *client) token(path string) string {
	c.t.Helper()
	r := c.get(path)
	if r.code != http.StatusOK {
		c.t.Fatalf("GET %s: %d\n%s", path, r.code, r.body)
	}
	m := csrfRe.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("GET %s: no csrf input in the page", path)
	}
	return html.UnescapeString(m[1])
}

// form posts the form of page (loaded first for its token) to action.
func (c *client) form(page, action string, v url.Values) resp {
	c.t.Helper()
	v.Set("csrf", c.token(page))
	return c.post(action, v)
}

var dataPageRe = regexp.MustCompile(`<main id="page" data-page="([^"]*)"`)

func dataPage(body string) string {
	if m := dataPageRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

var pageErrorRe = regexp.MustCompile(`<p class="error" id="error">([^<]*)</p>`)

// pageError is the error the layout shows above the page, unescaped.
func pageError(body string) string {
	if m := pageErrorRe.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

var noticeRe = regexp.MustCompile(`<p class="notice" id="notice">([^<]*)</p>`)

var fieldErrorRe = regexp.MustCompile(`<span class="field-error">([^<]*)</span>`)

// fieldError returns the page's one field error, failing unless it sits
// beside field: after its input, within the same label ("form": just
// before the form's button).
func fieldError(t *testing.T, body, field string) string {
	t.Helper()
	all := fieldErrorRe.FindAllStringSubmatchIndex(body, -1)
	if len(all) != 1 {
		t.Fatalf("want one field error, the page has %d", len(all))
	}
	at, end := all[0][0], all[0][1]
	text := html.UnescapeString(body[all[0][2]:all[0][3]])
	if field == "form" {
		if !strings.HasPrefix(strings.TrimSpace(body[end:]), "<button") {
			t.Fatalf("the error %q is not the form's (before its button): %.200s", text, body[end:])
		}
		return text
	}
	in := strings.LastIndex(body[:at], `name="`+field+`"`)
	if in < 0 {
		t.Fatalf("the error %q does not follow the field %s", text, field)
	}
	if between := body[in:at]; strings.Contains(between, "<label") || strings.Contains(between, "</label>") {
		t.Fatalf("the error %q is not beside the field %s: %s", text, field, between)
	}
	return text
}

// inputValue is what the page's field named name holds: an input's value
// or a textarea's text.
func inputValue(t *testing.T, body, name string) string {
	t.Helper()
	i := strings.Index(body, ` name="`+name+`"`)
	if i < 0 {
		t.Fatalf("no field %s in the page", name)
	}
	start := strings.LastIndexByte(body[:i], '<')
	end := i + strings.IndexByte(body[i:], '>')
	tag := body[start : end+1]
	if strings.HasPrefix(tag, "<textarea") {
		close := strings.Index(body[end:], "</textarea>")
		return html.UnescapeString(body[end+1 : end+close])
	}
	m := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// wantRedirect checks a form's answer: 303 to path with a notice
// containing notice, which the page it leads to shows.
func wantRedirect(t *testing.T, c *client, r resp, path, notice string) {
	t.Helper()
	if r.code != http.StatusSeeOther {
		t.Fatalf("answer %d, want 303 to %s\nerror: %s %s", r.code, path, pageError(r.body), fieldErrorRe.FindString(r.body))
	}
	u, err := url.Parse(r.location())
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != path {
		t.Fatalf("redirect to %s, want %s", r.location(), path)
	}
	if got := u.Query().Get("notice"); !strings.Contains(got, notice) {
		t.Fatalf("notice %q, want it to say %q", got, notice)
	}
	page := c.get(r.location())
	if page.code != http.StatusOK {
		t.Fatalf("GET %s: %d", r.location(), page.code)
	}
	m := noticeRe.FindStringSubmatch(page.body)
	if m == nil || !strings.Contains(html.UnescapeString(m[1]), notice) {
		t.Fatalf("the page %s does not show the notice %q", r.location(), notice)
	}
}

// testCert is a self-signed certificate and its key, PEM.
type testCert struct{ body, key string }

func newCert(t *testing.T, cn string) testCert {
	t.Helper()
	body, key, err := certs.Generate(certs.GenerateOptions{CommonName: cn, DNSNames: []string{cn, "www." + cn},
		KeyType: certs.KeyECDSAP256, Now: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return testCert{string(body), string(key)}
}

// keyMiddle is a line from inside a PEM key: what a page that leaked the
// key would hold even if it reformatted its armour.
func keyMiddle(key string) string {
	lines := strings.Split(strings.TrimSpace(key), "\n")
	return lines[len(lines)/2]
}

// seeded names what seed creates.
type seeded struct {
	tg   *model.TargetGroup
	lb   *model.LoadBalancer
	cert testCert
}

// seed creates through the service layer what the tutorial has by its
// last step: a target group web with one target, a load balancer shop
// forwarding to it on HTTP 8081 and HTTPS 8443 (certificate shop-cert), a
// launch template web-lt, and a group web-asg with a CPU policy.
func (e *env) seed() seeded {
	e.t.Helper()
	var s seeded
	s.cert = newCert(e.t, "shop.example.test")
	now := e.now()
	e.update(func(tx store.Tx) error {
		var err error
		if s.tg, err = elb.CreateTargetGroup(tx, &model.TargetGroup{Name: "web", Protocol: "HTTP", Port: 8080, TargetType: "instance", Source: model.SourceAPI}); err != nil {
			return err
		}
		if err := elb.RegisterTargets(tx, s.tg.ARN, []model.Target{{ID: "i-0abc", Port: 8080, Address: "127.0.0.1"}}, now); err != nil {
			return err
		}
		if s.lb, err = elb.CreateLoadBalancer(tx, &model.LoadBalancer{Name: "shop", Source: model.SourceAPI}, now); err != nil {
			return err
		}
		fwd := []model.Action{{Type: "forward", TargetGroupARN: s.tg.ARN}}
		if _, err := elb.CreateListener(tx, &model.Listener{LoadBalancerARN: s.lb.ARN, Protocol: "HTTP", Port: 8081, DefaultActions: fwd}); err != nil {
			return err
		}
		ct, err := certs.Upload(tx, "shop-cert", "", s.cert.body, s.cert.key, "", nil, model.SourceAPI, now)
		if err != nil {
			return err
		}
		if _, err := elb.CreateListener(tx, &model.Listener{LoadBalancerARN: s.lb.ARN, Protocol: "HTTPS", Port: 8443, DefaultActions: fwd, Certificates: []string{ct.ARN}}); err != nil {
			return err
		}
		ud := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho seeded\n"))
		if _, _, err := autoscaling.CreateTemplate(tx, "web-lt", "first", model.LaunchTemplateData{ImageID: "ami-0123456789abcdef0", InstanceType: "t2.micro", UserData: ud}, nil, now); err != nil {
			return err
		}
		g := &model.AutoScalingGroup{Name: "web-asg", LaunchTemplate: model.LaunchTemplateSpec{Name: "web-lt"}, MinSize: 1, MaxSize: 3, Desired: 1,
			Zones: []string{"zone-a", "zone-b"}, TargetGroupARNs: []string{s.tg.ARN}, HealthCheckType: "ELB", DefaultInstanceWarmup: -1, Source: model.SourceAPI}
		if err := autoscaling.CreateGroup(tx, g, now); err != nil {
			return err
		}
		return autoscaling.PutPolicy(tx, &model.ScalingPolicy{Name: "cpu50", Group: "web-asg", PolicyType: "TargetTrackingScaling",
			MetricType: "ASGAverageCPUUtilization", TargetValue: 50, EstimatedInstanceWarmup: -1, Enabled: true})
	})
	return s
}

// ---- pages

func TestEveryPageRenders(t *testing.T) {
	e := newEnv(t)
	s := e.seed()
	e.setHealth(s.tg.ARN, "i-0abc", 8080, model.TargetHealth{State: model.TargetHealthy})
	tests := []struct {
		path, page string
		want       []string // in the page
	}{
		{"/", "overview", []string{`data-lb="shop"`, `data-group="web-asg"`, "policy target 50 %"}},
		{"/?lb=shop&group=web-asg", "overview", []string{`data-lb="shop"`}},
		{"/load-balancers", "loadbalancers", []string{`data-name="shop"`, "HTTP:8081 → forward to web"}},
		{"/load-balancers/shop", "loadbalancer", []string{"Load balancer shop", `data-port="8081"`, `data-port="8443"`, "shop-cert (the first is the default)", "ELBSecurityPolicy-2016-08"}},
		{"/target-groups", "targetgroups", []string{`data-name="web"`, "HTTP:8080", "shop", "1 of 1"}},
		{"/target-groups/web", "targetgroup", []string{"Target group web", `data-id="i-0abc"`, "state-healthy"}},
		{"/auto-scaling-groups", "groups", []string{`data-name="web-asg"`, "web-lt"}},
		{"/auto-scaling-groups/web-asg", "group", []string{"Auto Scaling group web-asg", "desired 1, min 1, max 3", "cpu50", "ASGAverageCPUUtilization"}},
		{"/launch-templates", "templates", []string{`data-name="web-lt"`}},
		{"/launch-templates/web-lt", "template", []string{"Launch template web-lt", "ami-0123456789abcdef0", "echo seeded"}},
		{"/certificates", "certificates", []string{`data-name="shop-cert"`, "shop:8443"}},
		{"/console/loadtest", "loadtest", []string{"http://127.0.0.1:8081", "None yet."}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := e.c.get(tt.path)
			if r.code != http.StatusOK {
				t.Fatalf("%d\n%s", r.code, r.body)
			}
			if got := dataPage(r.body); got != tt.page {
				t.Errorf("data-page %q, want %q", got, tt.page)
			}
			if ct := r.hdr.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if r.hdr.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("missing framing protection: %v", r.hdr)
			}
			for _, w := range tt.want {
				if !strings.Contains(html.UnescapeString(r.body), w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			if !regexp.MustCompile(`data-csrf="[^"]{20,}"`).MatchString(r.body) {
				t.Errorf("the page carries no token for its scripts")
			}
		})
	}
	// The unhealthy target shows as such once its health changes; an
	// unknown one as registering.
	e.setHealth(s.tg.ARN, "i-0abc", 8080, model.TargetHealth{State: model.TargetUnhealthy, Reason: "Target.ResponseCodeMismatch"})
	if r := e.c.get("/target-groups/web"); !strings.Contains(r.body, "state-unhealthy") || !strings.Contains(r.body, "Target.ResponseCodeMismatch") {
		t.Errorf("the target group page does not show the unhealthy target")
	}
}

func TestUnknownNamesAre404WithAWSCode(t *testing.T) {
	e := newEnv(t)
	e.seed()
	tests := []struct{ path, code string }{
		{"/load-balancers/nope", "LoadBalancerNotFound"},
		{"/target-groups/nope", "TargetGroupNotFound"},
		{"/auto-scaling-groups/nope", "ValidationError"},
		{"/launch-templates/nope", "InvalidLaunchTemplateName.NotFoundException"},
		{"/console/loadtest/nope", "NotFound"},
		{"/no-such-page", "NotFound"},
		{"/load-balancers/shop/extra", "NotFound"},
		{"/?lb=nope", "LoadBalancerNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := e.c.get(tt.path)
			if r.code != http.StatusNotFound {
				t.Fatalf("%d, want 404", r.code)
			}
			if got := dataPage(r.body); got != "notfound" {
				t.Errorf("data-page %q, want notfound", got)
			}
			if got := pageError(r.body); !strings.HasPrefix(got, tt.code+": ") {
				t.Errorf("error %q, want code %s", got, tt.code)
			}
		})
	}
	if r := e.c.get("/console/loadtest/nope/state"); r.code != http.StatusNotFound {
		t.Errorf("state of an unknown load test: %d, want 404", r.code)
	}
}

func TestStaticAssetsAreEmbedded(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/console/static/console.css", "/console/static/timeline.js", "/console/static/loadrun.js"} {
		r := e.c.get(p)
		if r.code != http.StatusOK || len(r.body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", p, r.code, len(r.body))
		}
	}
	if r := e.c.get("/console/static/nope.js"); r.code != http.StatusNotFound {
		t.Errorf("an unknown asset: %d, want 404", r.code)
	}
}

func TestCertificatesPageNeverShowsThePrivateKey(t *testing.T) {
	e := newEnv(t)
	s := e.seed()
	for _, p := range []string{"/certificates", "/load-balancers/shop", "/load-balancers"} {
		r := e.c.get(p)
		if r.code != http.StatusOK {
			t.Fatalf("GET %s: %d", p, r.code)
		}
		for _, leak := range []string{s.cert.key, keyMiddle(s.cert.key), "BEGIN EC PRIVATE KEY"} {
			if strings.Contains(r.body, leak) || strings.Contains(html.UnescapeString(r.body), leak) {
				t.Errorf("GET %s shows the private key (%q)", p, leak)
			}
		}
	}
	r := e.c.get("/certificates")
	row := regexp.MustCompile(`(?s)<tr class="cert" data-name="shop-cert">.*?</tr>`).FindString(r.body)
	if row == "" {
		t.Fatal("no row for shop-cert")
	}
	for _, w := range []string{"<td>shop-cert</td>", "<td>shop.example.test</td>", "www.shop.example.test", "shop:8443", ":server-certificate/shop-cert"} {
		if !strings.Contains(row, w) {
			t.Errorf("the certificate's row lacks %q: %s", w, row)
		}
	}
	// The store keeps the key, for the listeners.
	e.view(func(tx store.Tx) error {
		ct, err := certs.Get(tx, "shop-cert")
		if err != nil || ct.PrivateKey != s.cert.key {
			t.Errorf("the stored certificate lost its key: %v", err)
		}
		return nil
	})
}

// ---- forms

// TestFormsDoTheTutorialsSteps posts each form as a browser does, on an
// empty store, and checks the store through the service layer.
func TestFormsDoTheTutorialsSteps(t *testing.T) {
	e := newEnv(t)
	c := e.c
	var tg *model.TargetGroup

	t.Run("create target group", func(t *testing.T) {
		r := c.form("/target-groups", "/console/target-groups", url.Values{"name": {"web"}, "target_type": {"instance"}, "protocol": {"HTTP"},
			"port": {"8080"}, "health_check_path": {"/health"}, "interval": {"10"}, "timeout": {"4"}, "healthy_threshold": {"3"},
			"unhealthy_threshold": {"2"}, "matcher": {"200-299"}})
		wantRedirect(t, c, r, "/target-groups/web", "Created target group web.")
		e.view(func(tx store.Tx) (err error) {
			tg, err = elb.TargetGroupByName(tx, "web")
			return err
		})
		if tg == nil {
			t.Fatal("no target group web")
		}
		hc := tg.HealthCheck
		if tg.Port != 8080 || tg.Protocol != "HTTP" || tg.TargetType != "instance" || hc.Path != "/health" || hc.IntervalSeconds != 10 ||
			hc.TimeoutSeconds != 4 || hc.HealthyThreshold != 3 || hc.UnhealthyThreshold != 2 || hc.Matcher != "200-299" || tg.Source != model.SourceAPI {
			t.Errorf("target group %+v", tg)
		}
	})
	if tg == nil {
		t.FailNow()
	}

	t.Run("create a GRPC target group", func(t *testing.T) {
		// The form's HTTP defaults (path /, codes 200) mean ALB's gRPC
		// ones; a bad gRPC code is shown beside the codes field.
		r := c.form("/target-groups", "/console/target-groups", url.Values{"name": {"rpc"}, "target_type": {"ip"}, "protocol": {"HTTP"},
			"protocol_version": {"GRPC"}, "port": {"50051"}, "health_check_path": {"/"}, "interval": {"10"}, "timeout": {"4"},
			"healthy_threshold": {"3"}, "unhealthy_threshold": {"2"}, "matcher": {"200"}})
		wantRedirect(t, c, r, "/target-groups/rpc", "Created target group rpc.")
		var g *model.TargetGroup
		e.view(func(tx store.Tx) (err error) {
			g, err = elb.TargetGroupByName(tx, "rpc")
			return err
		})
		if hc := g.HealthCheck; g.ProtocolVersion != "GRPC" || hc.GrpcCode != "12" || hc.Matcher != "" || hc.Path != "/AWS.ALB/healthcheck" {
			t.Errorf("GRPC group %+v", g)
		}
		r = c.form("/target-groups", "/console/target-groups", url.Values{"name": {"rpc2"}, "target_type": {"ip"}, "protocol": {"HTTP"},
			"protocol_version": {"GRPC"}, "port": {"50051"}, "matcher": {"100"}})
		if r.code != 400 || !strings.Contains(r.body, "gRPC codes 0-99") {
			t.Errorf("gRPC code 100: %d %s", r.code, r.body)
		}
	})

	t.Run("create load balancer", func(t *testing.T) {
		r := c.form("/load-balancers", "/console/load-balancers", url.Values{"name": {"shop"}, "zones": {"zone-a, zone-b"}, "protocol": {"HTTP"},
			"port": {"8081"}, "target_group": {"web"}})
		wantRedirect(t, c, r, "/load-balancers/shop", "Created load balancer shop with an HTTP listener on port 8081.")
		e.view(func(tx store.Tx) error {
			lb, err := elb.LoadBalancerByName(tx, "shop")
			if err != nil || lb == nil {
				t.Fatalf("no load balancer shop: %v", err)
			}
			if !slices.Equal(lb.Zones, []string{"zone-a", "zone-b"}) {
				t.Errorf("zones %v", lb.Zones)
			}
			ls, err := elb.Listeners(tx)
			if err != nil {
				return err
			}
			if len(ls) != 1 || ls[0].LoadBalancerARN != lb.ARN || ls[0].Protocol != "HTTP" || ls[0].Port != 8081 ||
				len(ls[0].DefaultActions) != 1 || ls[0].DefaultActions[0].Type != "forward" || ls[0].DefaultActions[0].TargetGroupARN != tg.ARN {
				t.Errorf("listeners %+v", ls)
			}
			return nil
		})
	})

	t.Run("create launch template", func(t *testing.T) {
		r := c.form("/launch-templates", "/console/launch-templates", url.Values{"name": {"web-lt"}, "description": {"v1"},
			"image_id": {"ami-0123456789abcdef0"}, "instance_type": {"t2.micro"}, "user_data": {"#!/bin/sh\r\necho hello\r\n"}})
		wantRedirect(t, c, r, "/launch-templates/web-lt", "Created launch template web-lt.")
		e.view(func(tx store.Tx) error {
			lt, err := autoscaling.TemplateByRef(tx, "", "web-lt")
			if err != nil {
				t.Fatal(err)
			}
			vs, err := autoscaling.Versions(tx, lt)
			if err != nil || len(vs) != 1 {
				t.Fatalf("versions %v, %v", vs, err)
			}
			d := vs[0].Data
			ud, err := d.DecodedUserData()
			if err != nil || ud != "#!/bin/sh\necho hello\n" || d.ImageID != "ami-0123456789abcdef0" || d.InstanceType != "t2.micro" || vs[0].Description != "v1" {
				t.Errorf("version %+v (user data %q, %v)", vs[0], ud, err)
			}
			return nil
		})
		// The page shows the script, not its base64.
		if p := c.get("/launch-templates/web-lt"); !strings.Contains(p.body, "echo hello") {
			t.Errorf("the template page does not show the user data")
		}
	})

	t.Run("create auto scaling group with its CPU policy", func(t *testing.T) {
		r := c.form("/auto-scaling-groups", "/console/auto-scaling-groups", url.Values{"name": {"web-asg"}, "launch_template": {"web-lt"},
			"zones": {"zone-a, zone-b"}, "target_group": {"web"}, "elb_health": {"true"}, "grace": {"60"}, "desired": {"2"}, "min": {"1"}, "max": {"4"},
			"policy": {"true"}, "policy_name": {"Target Tracking Policy"}, "target_value": {"50"}})
		wantRedirect(t, c, r, "/auto-scaling-groups/web-asg", "Created Auto Scaling group web-asg.")
		e.view(func(tx store.Tx) error {
			g, err := autoscaling.Group(tx, "web-asg")
			if err != nil {
				t.Fatal(err)
			}
			if g.MinSize != 1 || g.Desired != 2 || g.MaxSize != 4 || g.LaunchTemplate.Name != "web-lt" || !slices.Equal(g.Zones, []string{"zone-a", "zone-b"}) ||
				!slices.Equal(g.TargetGroupARNs, []string{tg.ARN}) || g.HealthCheckType != "ELB" || g.HealthCheckGracePeriod != 60 {
				t.Errorf("group %+v", g)
			}
			ps, err := autoscaling.PoliciesOf(tx, "web-asg")
			if err != nil {
				return err
			}
			if len(ps) != 1 || ps[0].Name != "Target Tracking Policy" || ps[0].PolicyType != "TargetTrackingScaling" ||
				ps[0].MetricType != "ASGAverageCPUUtilization" || ps[0].TargetValue != 50 || !ps[0].Enabled {
				t.Errorf("policies %+v", ps)
			}
			return nil
		})
	})

	t.Run("add request count policy", func(t *testing.T) {
		r := c.form("/auto-scaling-groups/web-asg", "/console/auto-scaling-groups/web-asg/policies", url.Values{"policy_name": {"rps"},
			"metric": {"ALBRequestCountPerTarget"}, "target_value": {"100"}})
		wantRedirect(t, c, r, "/auto-scaling-groups/web-asg", "Created policy rps.")
		e.view(func(tx store.Tx) error {
			ps, _ := autoscaling.PoliciesOf(tx, "web-asg")
			var p *model.ScalingPolicy
			for _, x := range ps {
				if x.Name == "rps" {
					p = x
				}
			}
			if p == nil || p.MetricType != "ALBRequestCountPerTarget" || p.TargetValue != 100 || !strings.HasSuffix(p.ResourceLabel, "/"+elbDim(tg.ARN)) {
				t.Errorf("policy %+v", p)
			}
			return nil
		})
	})

	t.Run("stickiness with a duration", func(t *testing.T) {
		r := c.form("/target-groups/web", "/console/target-groups/web/stickiness", url.Values{"enabled": {"true"}, "type": {"lb_cookie"}, "duration": {"3600"}})
		wantRedirect(t, c, r, "/target-groups/web", "Stickiness is on for web.")
		e.view(func(tx store.Tx) error {
			g, _ := elb.TargetGroupByName(tx, "web")
			a := g.Attributes
			if a["stickiness.enabled"] != "true" || a["stickiness.type"] != "lb_cookie" || a["stickiness.lb_cookie.duration_seconds"] != "3600" {
				t.Errorf("attributes %v", a)
			}
			return nil
		})
		// Turned off again (an unchecked box is not posted).
		r = c.form("/target-groups/web", "/console/target-groups/web/stickiness", url.Values{"type": {"lb_cookie"}, "duration": {"3600"}})
		wantRedirect(t, c, r, "/target-groups/web", "Stickiness is off for web.")
		e.view(func(tx store.Tx) error {
			g, _ := elb.TargetGroupByName(tx, "web")
			if g.Attributes["stickiness.enabled"] != "false" {
				t.Errorf("attributes %v", g.Attributes)
			}
			return nil
		})
	})

	t.Run("capacity to zero", func(t *testing.T) {
		r := c.form("/auto-scaling-groups/web-asg", "/console/auto-scaling-groups/web-asg/capacity", url.Values{"desired": {"0"}, "min": {"0"}, "max": {"0"}})
		wantRedirect(t, c, r, "/auto-scaling-groups/web-asg", "Set web-asg to desired 0, min 0, max 0.")
		e.view(func(tx store.Tx) error {
			g, _ := autoscaling.Group(tx, "web-asg")
			if g.Desired != 0 || g.MinSize != 0 || g.MaxSize != 0 {
				t.Errorf("group desired %d min %d max %d", g.Desired, g.MinSize, g.MaxSize)
			}
			return nil
		})
	})

	cert := newCert(t, "shop.example.test")
	t.Run("upload certificate as files", func(t *testing.T) {
		r := c.postMultipart("/console/certificates", url.Values{"csrf": {c.token("/certificates")}, "certificate_name": {"shop-cert"}},
			map[string]string{"certificate_body_file": cert.body, "private_key_file": cert.key})
		wantRedirect(t, c, r, "/certificates", "Uploaded certificate shop-cert.")
		e.view(func(tx store.Tx) error {
			ct, err := certs.Get(tx, "shop-cert")
			if err != nil || ct.Body != cert.body || ct.PrivateKey != cert.key || ct.Source != model.SourceAPI {
				t.Errorf("certificate %v, %v", ct != nil, err)
			}
			return nil
		})
	})
	other := newCert(t, "other.example.test")
	t.Run("upload certificate as text", func(t *testing.T) {
		r := c.form("/certificates", "/console/certificates", url.Values{"certificate_name": {"other-cert"}, "certificate_body": {other.body}, "private_key": {other.key}})
		wantRedirect(t, c, r, "/certificates", "Uploaded certificate other-cert.")
		e.view(func(tx store.Tx) error {
			if ct, err := certs.Get(tx, "other-cert"); err != nil || ct.Body != other.body || ct.PrivateKey != other.key {
				t.Errorf("certificate other-cert: %v", err)
			}
			return nil
		})
	})

	listener := func(t *testing.T, port int) *model.Listener {
		t.Helper()
		var found *model.Listener
		e.view(func(tx store.Tx) error {
			ls, err := elb.Listeners(tx)
			for _, l := range ls {
				if l.Port == port {
					found = l
				}
			}
			return err
		})
		if found == nil {
			t.Fatalf("no listener on port %d", port)
		}
		return found
	}
	t.Run("add HTTPS listener with the certificate", func(t *testing.T) {
		r := c.postMultipart("/console/load-balancers/shop/listeners", url.Values{"csrf": {c.token("/load-balancers/shop")}, "protocol": {"HTTPS"},
			"port": {"8443"}, "target_group": {"web"}, "certificate": {"shop-cert"}, "certificate_name": {""}, "certificate_body": {""}, "private_key": {""}, "ssl_policy": {""}}, nil)
		wantRedirect(t, c, r, "/load-balancers/shop", "Added an HTTPS listener on port 8443.")
		l := listener(t, 8443)
		var ct *model.Certificate
		e.view(func(tx store.Tx) (err error) { ct, err = certs.Get(tx, "shop-cert"); return err })
		if l.Protocol != "HTTPS" || !slices.Equal(l.Certificates, []string{ct.ARN}) || l.SslPolicy != "ELBSecurityPolicy-2016-08" ||
			len(l.DefaultActions) != 1 || l.DefaultActions[0].TargetGroupARN != tg.ARN {
			t.Errorf("listener %+v", l)
		}
		if p := c.get("/certificates"); !strings.Contains(p.body, "shop:8443") {
			t.Errorf("the certificates page does not say shop-cert is in use")
		}
	})
	t.Run("add HTTPS listener uploading its certificate", func(t *testing.T) {
		third := newCert(t, "third.example.test")
		r := c.postMultipart("/console/load-balancers/shop/listeners", url.Values{"csrf": {c.token("/load-balancers/shop")}, "protocol": {"HTTPS"},
			"port": {"9443"}, "target_group": {"web"}, "certificate": {""}, "certificate_name": {"third-cert"}, "ssl_policy": {"ELBSecurityPolicy-TLS13-1-2-2021-06"}},
			map[string]string{"certificate_body_file": third.body, "private_key_file": third.key})
		wantRedirect(t, c, r, "/load-balancers/shop", "Added an HTTPS listener on port 9443.")
		l := listener(t, 9443)
		e.view(func(tx store.Tx) error {
			ct, err := certs.Get(tx, "third-cert")
			if err != nil || ct.PrivateKey != third.key {
				t.Fatalf("certificate third-cert: %v", err)
			}
			if !slices.Equal(l.Certificates, []string{ct.ARN}) || l.SslPolicy != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
				t.Errorf("listener %+v", l)
			}
			return nil
		})
	})
}

func elbDim(arn string) string { return metrics.TargetGroupDimension(arn) }

// TestFormErrorsStayBesideTheirField posts forms the service layer or the
// console refuses: each is a 400 with AWS's code and message beside the
// field, keeps what was typed (never a private key) and changes nothing.
func TestFormErrorsStayBesideTheirField(t *testing.T) {
	e := newEnv(t)
	s := e.seed()
	good := newCert(t, "good.example.test")
	tests := []struct {
		name      string
		page      string // the page the form is on, and re-rendered
		dataPage  string
		action    string
		multipart bool
		values    url.Values
		field     string
		code      string
		message   string            // in the error's message
		kept      map[string]string // field → the value the page shows again
		secret    string            // a posted value the page must not hold
	}{
		{name: "duplicate target group name with another port", page: "/target-groups", dataPage: "targetgroups", action: "/console/target-groups",
			values: url.Values{"name": {"web"}, "port": {"9090"}, "protocol": {"HTTP"}, "target_type": {"instance"}},
			field:  "name", code: "DuplicateTargetGroupName", message: "A target group with the same name 'web' exists, but with different settings",
			kept: map[string]string{"name": "web", "port": "9090"}},
		{name: "port 70000", page: "/target-groups", dataPage: "targetgroups", action: "/console/target-groups",
			values: url.Values{"name": {"api"}, "port": {"70000"}, "health_check_path": {"/ping"}},
			field:  "port", code: "ValidationError", message: "The port must be a whole number from 1 to 65535, not '70000'",
			kept: map[string]string{"name": "api", "port": "70000", "health_check_path": "/ping"}},
		{name: "health check interval below 5", page: "/target-groups", dataPage: "targetgroups", action: "/console/target-groups",
			values: url.Values{"name": {"api"}, "port": {"80"}, "interval": {"1"}},
			field:  "interval", code: "ValidationError", message: "The health check interval must be a whole number from 5 to 300, not '1'",
			kept: map[string]string{"name": "api", "port": "80", "interval": "1"}},
		{name: "health check interval not a number", page: "/target-groups", dataPage: "targetgroups", action: "/console/target-groups",
			values: url.Values{"name": {"api"}, "port": {"80"}, "interval": {"often"}},
			field:  "interval", code: "ValidationError", message: "not 'often'", kept: map[string]string{"interval": "often"}},
		{name: "health check path without a slash", page: "/target-groups", dataPage: "targetgroups", action: "/console/target-groups",
			values: url.Values{"name": {"api"}, "port": {"80"}, "health_check_path": {"ping"}},
			field:  "health_check_path", code: "ValidationError", message: "health check path 'ping' must start with /", kept: map[string]string{"health_check_path": "ping"}},
		{name: "desired above max", page: "/auto-scaling-groups", dataPage: "groups", action: "/console/auto-scaling-groups",
			values: url.Values{"name": {"api-asg"}, "launch_template": {"web-lt"}, "zones": {"zone-a"}, "desired": {"5"}, "min": {"1"}, "max": {"2"},
				"policy": {"true"}, "policy_name": {"cpu"}, "target_value": {"50"}},
			field: "desired", code: "ValidationError", message: "desired capacity 5 must be between the min size 1 and the max size 2",
			kept: map[string]string{"name": "api-asg", "desired": "5", "min": "1", "max": "2"}},
		{name: "group with an unknown launch template", page: "/auto-scaling-groups", dataPage: "groups", action: "/console/auto-scaling-groups",
			values: url.Values{"name": {"api-asg"}, "launch_template": {"nope-lt"}, "zones": {"zone-a"}, "desired": {"1"}, "min": {"1"}, "max": {"2"}},
			field:  "launch_template", code: "ValidationError", message: "launch template, with template name nope-lt, does not exist"},
		{name: "capacity desired above max", page: "/auto-scaling-groups/web-asg", dataPage: "group", action: "/console/auto-scaling-groups/web-asg/capacity",
			values: url.Values{"desired": {"9"}, "min": {"1"}, "max": {"3"}},
			field:  "desired", code: "ValidationError", message: "Desired capacity:9 must be between the specified min size:1 and max size:3",
			kept: map[string]string{"desired": "9", "min": "1", "max": "3"}},
		{name: "capacity min above max", page: "/auto-scaling-groups/web-asg", dataPage: "group", action: "/console/auto-scaling-groups/web-asg/capacity",
			values: url.Values{"desired": {"2"}, "min": {"3"}, "max": {"2"}},
			field:  "max", code: "ValidationError", message: "Max bound, 2, must be greater than or equal to min bound, 3"},
		{name: "launch template with an existing name", page: "/launch-templates", dataPage: "templates", action: "/console/launch-templates",
			values: url.Values{"name": {"web-lt"}, "image_id": {"ami-0fedcba9876543210"}, "instance_type": {"t2.micro"}, "user_data": {"echo again"}},
			field:  "name", code: "InvalidLaunchTemplateName.AlreadyExistsException", message: "Launch template name already in use.",
			kept: map[string]string{"name": "web-lt", "image_id": "ami-0fedcba9876543210", "user_data": "echo again"}},
		{name: "launch template with an unknown instance type", page: "/launch-templates", dataPage: "templates", action: "/console/launch-templates",
			values: url.Values{"name": {"new-lt"}, "instance_type": {"z9.huge"}},
			field:  "instance_type", code: "InvalidParameterValue", message: "instance type 'z9.huge' is not supported", kept: map[string]string{"instance_type": "z9.huge"}},
		{name: "malformed certificate body", page: "/certificates", dataPage: "certificates", action: "/console/certificates", multipart: true,
			values: url.Values{"certificate_name": {"bad-cert"}, "certificate_body": {"not a certificate"}, "private_key": {good.key}},
			field:  "certificate_body", code: "MalformedCertificate", message: "The certificate body is not in PEM format",
			kept: map[string]string{"certificate_name": "bad-cert", "certificate_body": "not a certificate", "private_key": ""}, secret: good.key},
		{name: "malformed private key", page: "/certificates", dataPage: "certificates", action: "/console/certificates",
			values: url.Values{"certificate_name": {"bad-cert"}, "certificate_body": {good.body}, "private_key": {"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWdhcmJhZ2U=\n-----END PRIVATE KEY-----\n"}},
			field:  "private_key", code: "MalformedCertificate", message: "The private key could not be parsed",
			kept: map[string]string{"certificate_name": "bad-cert", "private_key": ""}, secret: "c2VjcmV0LWdhcmJhZ2U="},
		{name: "key of another certificate", page: "/certificates", dataPage: "certificates", action: "/console/certificates", multipart: true,
			values: url.Values{"certificate_name": {"bad-cert"}, "certificate_body": {good.body}, "private_key": {s.cert.key}},
			field:  "private_key", code: "KeyPairMismatch", message: "The private key does not match", secret: s.cert.key},
		{name: "certificate name taken", page: "/certificates", dataPage: "certificates", action: "/console/certificates",
			values: url.Values{"certificate_name": {"shop-cert"}, "certificate_body": {good.body}, "private_key": {good.key}},
			field:  "certificate_name", code: "EntityAlreadyExists", message: "shop-cert already exists", secret: good.key},
		{name: "HTTPS listener with a malformed key", page: "/load-balancers/shop", dataPage: "loadbalancer", action: "/console/load-balancers/shop/listeners", multipart: true,
			values: url.Values{"protocol": {"HTTPS"}, "port": {"9443"}, "target_group": {"web"}, "certificate_name": {"new-cert"}, "certificate_body": {good.body},
				"private_key": {"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWdhcmJhZ2U=\n-----END PRIVATE KEY-----\n"}},
			field: "private_key", code: "MalformedCertificate", message: "The private key could not be parsed",
			kept: map[string]string{"port": "9443", "certificate_name": "new-cert", "private_key": ""}, secret: "c2VjcmV0LWdhcmJhZ2U="},
		{name: "listener on a taken port", page: "/load-balancers/shop", dataPage: "loadbalancer", action: "/console/load-balancers/shop/listeners", multipart: true,
			values: url.Values{"protocol": {"HTTPS"}, "port": {"8081"}, "target_group": {"web"}, "certificate": {"shop-cert"}},
			field:  "port", code: "DuplicateListener", message: "A listener already exists on port 8081", kept: map[string]string{"port": "8081"}},
		{name: "load balancer forwarding to a group another serves", page: "/load-balancers", dataPage: "loadbalancers", action: "/console/load-balancers",
			values: url.Values{"name": {"shop2"}, "port": {"9000"}, "target_group": {"web"}},
			field:  "target_group", code: "TargetGroupAssociationLimit", message: "already associated with load balancer 'shop'", kept: map[string]string{"name": "shop2", "port": "9000"}},
		{name: "stickiness duration out of range", page: "/target-groups/web", dataPage: "targetgroup", action: "/console/target-groups/web/stickiness",
			values: url.Values{"enabled": {"true"}, "type": {"lb_cookie"}, "duration": {"0"}},
			field:  "duration", code: "ValidationError", kept: map[string]string{"duration": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot()
			v := url.Values{}
			for k, vs := range tt.values {
				v[k] = vs
			}
			v.Set("csrf", e.c.token(tt.page))
			var r resp
			if tt.multipart {
				r = e.c.postMultipart(tt.action, v, nil)
			} else {
				r = e.c.post(tt.action, v)
			}
			if r.code != http.StatusBadRequest {
				t.Fatalf("answer %d, want 400\n%s", r.code, r.body)
			}
			if got := dataPage(r.body); got != tt.dataPage {
				t.Errorf("data-page %q, want %q", got, tt.dataPage)
			}
			msg := fieldError(t, r.body, tt.field)
			if !strings.HasPrefix(msg, tt.code+": ") || !strings.Contains(msg, tt.message) {
				t.Errorf("error %q, want %s: …%s…", msg, tt.code, tt.message)
			}
			for f, want := range tt.kept {
				if got := inputValue(t, r.body, f); got != want {
					t.Errorf("field %s shows %q, want %q", f, got, want)
				}
			}
			if tt.secret != "" {
				for _, leak := range []string{tt.secret, keyMiddle(tt.secret)} {
					if strings.Contains(r.body, leak) || strings.Contains(html.UnescapeString(r.body), leak) {
						t.Errorf("the page echoes the posted private key")
					}
				}
			}
			if after := e.snapshot(); after != before {
				t.Errorf("the store changed:\nbefore %s\nafter %s", before, after)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.seed()
	good := e.c.token("/target-groups")
	other := e.newClient()
	otherToken := other.token("/target-groups")
	if otherToken == good {
		t.Fatal("two browsers got the same token")
	}
	create := url.Values{"name": {"api"}, "port": {"80"}}
	tests := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"another browser's token", otherToken},
		{"forged token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"token with a character changed", flipLast(good)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot()
			v := url.Values{}
			for k, vs := range create {
				v[k] = vs
			}
			if tt.token != "" {
				v.Set("csrf", tt.token)
			}
			if r := e.c.post("/console/target-groups", v); r.code != http.StatusForbidden {
				t.Errorf("answer %d, want 403", r.code)
			}
			if r := e.c.postMultipart("/console/certificates", v, nil); r.code != http.StatusForbidden {
				t.Errorf("multipart: answer %d, want 403", r.code)
			}
			if r := e.c.post("/console/auto-scaling-groups/web-asg/capacity", url.Values{"csrf": {tt.token}, "desired": {"0"}, "min": {"0"}, "max": {"0"}}); r.code != http.StatusForbidden {
				t.Errorf("capacity: answer %d, want 403", r.code)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("the store changed")
			}
		})
	}
	// A browser without the cookie cannot use a stolen token either.
	fresh := e.newClient()
	if r := fresh.post("/console/target-groups", url.Values{"csrf": {good}, "name": {"api"}, "port": {"80"}}); r.code != http.StatusForbidden {
		t.Errorf("token without its cookie: %d, want 403", r.code)
	}
	// The right token in the header works as in the form.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/console/target-groups", strings.NewReader(url.Values{"name": {"api"}, "port": {"80"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", good)
	if r := e.c.do(req); r.code != http.StatusSeeOther {
		t.Errorf("token in X-CSRF-Token: %d, want 303", r.code)
	}
}

// flipLast changes a token's last character.
func flipLast(s string) string {
	if strings.HasSuffix(s, "A") {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}

// ---- sign-in

func TestCredentials(t *testing.T) {
	const id, secret = "AKIDCONSOLETEST", "console-test-secret"
	e := newEnv(t, func(o *console.Options) { o.AccessKeyID, o.SecretAccessKey = id, secret })
	e.seed()
	c := e.c

	for path, next := range map[string]string{"/": "/", "/load-balancers?x=1": "/load-balancers?x=1", "/console/loadtest": "/console/loadtest"} {
		r := c.get(path)
		if r.code != http.StatusSeeOther || r.location() != "/login?next="+url.QueryEscape(next) {
			t.Errorf("GET %s: %d to %q, want 303 to the sign-in page", path, r.code, r.location())
		}
	}
	for _, path := range []string{"/console/timeline", "/console/timeline?seconds=10", "/console/live", "/console/loadtest/x/state"} {
		if r := c.get(path); r.code != http.StatusUnauthorized {
			t.Errorf("GET %s: %d, want 401", path, r.code)
		}
	}
	if r := c.post("/console/target-groups", url.Values{"name": {"api"}, "port": {"80"}}); r.code != http.StatusUnauthorized {
		t.Errorf("POST before signing in: %d, want 401", r.code)
	}
	if r := c.get("/console/static/console.css"); r.code != http.StatusOK {
		t.Errorf("the sign-in page's style sheet: %d", r.code)
	}

	login := c.get("/login?next=%2Ftarget-groups")
	if login.code != http.StatusOK || dataPage(login.body) != "login" || inputValue(t, login.body, "next") != "/target-groups" {
		t.Fatalf("GET /login: %d %q", login.code, dataPage(login.body))
	}
	if strings.Contains(login.body, `action="/logout"`) {
		t.Errorf("the sign-in page offers to sign out")
	}

	// A wrong secret.
	r := c.form("/login", "/login", url.Values{"next": {"/target-groups"}, "access_key_id": {id}, "secret_access_key": {"wrong-secret-value"}})
	if r.code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d, want 401", r.code)
	}
	if msg := fieldError(t, r.body, "secret_access_key"); !strings.HasPrefix(msg, "InvalidClientTokenId: ") {
		t.Errorf("error %q", msg)
	}
	if strings.Contains(r.body, "wrong-secret-value") || inputValue(t, r.body, "access_key_id") != id || inputValue(t, r.body, "next") != "/target-groups" {
		t.Errorf("the page does not keep the id and next, or echoes the secret")
	}
	if r := c.get("/"); r.code != http.StatusSeeOther {
		t.Errorf("after a wrong secret GET / is %d, want 303", r.code)
	}
	// A wrong id with the right secret.
	if r := c.form("/login", "/login", url.Values{"access_key_id": {"AKIDOTHER"}, "secret_access_key": {secret}}); r.code != http.StatusUnauthorized {
		t.Errorf("wrong id: %d, want 401", r.code)
	}
	// The right ones.
	r = c.form("/login", "/login", url.Values{"next": {"/target-groups"}, "access_key_id": {id}, "secret_access_key": {secret}})
	if r.code != http.StatusSeeOther || r.location() != "/target-groups" {
		t.Fatalf("sign-in: %d to %q, want 303 to /target-groups", r.code, r.location())
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.hdr}).Cookies() {
		if ck.Name == "alba_console" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie %+v", session)
	}
	if p := c.get("/target-groups"); p.code != http.StatusOK || dataPage(p.body) != "targetgroups" || !strings.Contains(p.body, `action="/logout"`) {
		t.Errorf("signed in, GET /target-groups: %d", p.code)
	}
	if p := c.get("/console/timeline?seconds=10"); p.code != http.StatusOK {
		t.Errorf("signed in, GET /console/timeline: %d", p.code)
	}
	// Another browser is not signed in by this one's sign-in.
	if r := e.newClient().get("/"); r.code != http.StatusSeeOther {
		t.Errorf("another browser: %d, want 303", r.code)
	}

	// Off-site next values go to the overview.
	for _, next := range []string{"//evil.example", "https://evil.example/", "/\\evil.example", "evil.example", ""} {
		b := e.newClient()
		r := b.form("/login", "/login", url.Values{"next": {next}, "access_key_id": {id}, "secret_access_key": {secret}})
		if r.code != http.StatusSeeOther || r.location() != "/" {
			t.Errorf("next %q: %d to %q, want 303 to /", next, r.code, r.location())
		}
	}

	// Signing out asks again; signing out needs the token too.
	if r := c.post("/logout", url.Values{}); r.code != http.StatusForbidden {
		t.Errorf("POST /logout without token: %d, want 403", r.code)
	}
	r = c.form("/target-groups", "/logout", url.Values{})
	if r.code != http.StatusSeeOther || r.location() != "/login" {
		t.Errorf("POST /logout: %d to %q", r.code, r.location())
	}
	if r := c.get("/"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login?next=") {
		t.Errorf("after signing out GET /: %d to %q, want 303 to the sign-in page", r.code, r.location())
	}
	if r := c.get("/console/timeline"); r.code != http.StatusUnauthorized {
		t.Errorf("after signing out GET /console/timeline: %d, want 401", r.code)
	}

	// A session lasts 12 hours.
	r = c.form("/login", "/login", url.Values{"access_key_id": {id}, "secret_access_key": {secret}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("sign-in again: %d", r.code)
	}
	e.clk.Advance(11 * time.Hour)
	if r := c.get("/"); r.code != http.StatusOK {
		t.Errorf("after 11 h: %d, want 200", r.code)
	}
	e.clk.Advance(2 * time.Hour)
	if r := c.get("/"); r.code != http.StatusSeeOther {
		t.Errorf("after 13 h: %d, want 303", r.code)
	}
}

func TestNoCredentialsNoSignIn(t *testing.T) {
	e := newEnv(t)
	if r := e.c.get("/login"); r.code != http.StatusSeeOther || r.location() != "/" {
		t.Errorf("GET /login without credentials: %d to %q, want 303 to /", r.code, r.location())
	}
	if r := e.c.form("/target-groups", "/login", url.Values{"access_key_id": {""}, "secret_access_key": {""}}); r.code != http.StatusUnauthorized {
		t.Errorf("POST /login without credentials configured: %d, want 401", r.code)
	}
	if r := e.c.get("/"); r.code != http.StatusOK || strings.Contains(r.body, `action="/logout"`) {
		t.Errorf("GET /: %d (or offers to sign out)", r.code)
	}
}

// ---- timeline

type timeline struct {
	Selection struct {
		LoadBalancer string  `json:"loadBalancer"`
		Group        string  `json:"group"`
		CPUTarget    float64 `json:"cpuTarget"`
	} `json:"selection"`
	Points []struct {
		T         int64              `json:"t"`
		RPS       float64            `json:"rps"`
		P50       *float64           `json:"p50"`
		C2xx      float64            `json:"c2xx"`
		C4xx      float64            `json:"c4xx"`
		C5xx      float64            `json:"c5xx"`
		Healthy   *float64           `json:"healthy"`
		Unhealthy *float64           `json:"unhealthy"`
		CPU       map[string]float64 `json:"cpu"`
		Desired   *float64           `json:"desired"`
		InService *float64           `json:"inService"`
	} `json:"points"`
	Markers []struct {
		T     int64  `json:"t"`
		Kind  string `json:"kind"`
		Short string `json:"short"`
		Text  string `json:"text"`
		Group string `json:"group"`
	} `json:"markers"`
}

func TestTimeline(t *testing.T) {
	e := newEnv(t)
	s := e.seed()
	end := t0.Truncate(time.Second) // the current second is not complete yet
	start := end.Add(-10 * time.Second)
	lbDim := metrics.LoadBalancerDimension(s.lb.ARN)
	tgDim := metrics.TargetGroupDimension(s.tg.ARN)
	lbm := func(name string) metrics.Metric {
		return metrics.New(metrics.NamespaceELB, name, metrics.DimLoadBalancer, lbDim)
	}
	put := func(m metrics.Metric, at time.Time, v float64) { e.hist.Put(m, nil, at, metrics.Value(v)) }
	sec := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second) } // the i-th second of the range

	// Requests: 5 then 7 (two samples in one second), one second before
	// the range and one in the current second, neither shown.
	put(lbm("RequestCount"), sec(7).Add(100*time.Millisecond), 5)
	put(lbm("RequestCount"), sec(9), 3)
	put(lbm("RequestCount"), sec(9).Add(500*time.Millisecond), 4)
	put(lbm("RequestCount"), sec(-1), 100)
	put(lbm("RequestCount"), end, 100)
	put(lbm("HTTPCode_Target_2XX_Count"), sec(9), 6)
	put(lbm("HTTPCode_Target_3XX_Count"), sec(9), 1)
	put(lbm("HTTPCode_ELB_5XX_Count"), sec(8), 2)
	put(lbm("HTTPCode_Target_4XX_Count"), sec(8), 1)
	hosts := func(name string) metrics.Metric {
		return metrics.New(metrics.NamespaceELB, name, metrics.DimLoadBalancer, lbDim, metrics.DimTargetGroup, tgDim)
	}
	put(hosts("HealthyHostCount"), sec(9), 1)
	put(hosts("UnHealthyHostCount"), sec(9), 0)
	asg := func(name string) metrics.Metric {
		return metrics.New(metrics.NamespaceAutoScaling, name, metrics.DimAutoScalingGroup, "web-asg")
	}
	put(asg("GroupDesiredCapacity"), sec(2), 1)
	put(asg("GroupDesiredCapacity"), sec(8), 2)
	put(asg("GroupInServiceInstances"), sec(8), 1)
	// CPU of an instance the group launched in the range, and of one that
	// is not the group's.
	put(autoscaling.InstanceCPUMetric("i-0launched"), sec(9), 42)
	put(autoscaling.InstanceCPUMetric("i-0stranger"), sec(9), 99)

	// Markers: a health transition of the group's target group, one of
	// another group's, one from before the range; an activity in the range
	// and one before.
	e.markers.Add(console.Marker{Time: sec(3), Kind: "health", Short: "✓", Text: "i-0abc:8080 healthy", Group: "web"})
	e.markers.Add(console.Marker{Time: sec(4), Kind: "health", Short: "✗", Text: "i-0zzz:80 unhealthy", Group: "other"})
	e.markers.Add(console.Marker{Time: sec(-5), Kind: "health", Short: "✗", Text: "old", Group: "web"})
	e.update(func(tx store.Tx) error {
		for _, a := range []*model.Activity{
			{ID: "a-in", Group: "web-asg", Description: "Launching a new EC2 instance: i-0launched", Cause: "scaling out", StartTime: sec(5), StatusCode: "Successful"},
			{ID: "a-old", Group: "web-asg", Description: "Terminating EC2 instance: i-0gone", Cause: "scaling in", StartTime: sec(-30), StatusCode: "Successful"},
		} {
			if err := autoscaling.RecordActivity(tx, a); err != nil {
				return err
			}
		}
		return nil
	})

	for _, q := range []string{"?seconds=10", "?seconds=10&lb=shop&group=web-asg"} {
		t.Run(q, func(t *testing.T) {
			r := e.c.get("/console/timeline" + q)
			if r.code != http.StatusOK || r.hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s\n%s", r.code, r.hdr.Get("Content-Type"), r.body)
			}
			var tl timeline
			if err := json.Unmarshal([]byte(r.body), &tl); err != nil {
				t.Fatal(err)
			}
			if tl.Selection.LoadBalancer != "shop" || tl.Selection.Group != "web-asg" || tl.Selection.CPUTarget != 50 {
				t.Errorf("selection %+v", tl.Selection)
			}
			// The range starts at the history's first second in it (sec 2),
			// one point a second up to the last complete one (sec 9).
			if len(tl.Points) != 8 {
				t.Fatalf("%d points, want 8", len(tl.Points))
			}
			for k, p := range tl.Points {
				i := k + 2
				if p.T != sec(i).UnixMilli() {
					t.Errorf("point %d at %d, want %d (a whole second)", i, p.T, sec(i).UnixMilli())
				}
				wantRPS := map[int]float64{7: 5, 9: 7}[i]
				if p.RPS != wantRPS {
					t.Errorf("point %d: rps %v, want %v", i, p.RPS, wantRPS)
				}
				if p.P50 != nil {
					t.Errorf("point %d: a latency without samples", i)
				}
				var wantDesired *float64
				switch i {
				case 2:
					wantDesired = ptr(1)
				case 8:
					wantDesired = ptr(2)
				}
				if !eqPtr(p.Desired, wantDesired) {
					t.Errorf("point %d: desired %v, want %v", i, show(p.Desired), show(wantDesired))
				}
				if i != 8 && p.InService != nil || i == 8 && !eqPtr(p.InService, ptr(1)) {
					t.Errorf("point %d: in service %v", i, show(p.InService))
				}
				if i != 9 && (p.Healthy != nil || p.CPU != nil) {
					t.Errorf("point %d: healthy %v, cpu %v", i, show(p.Healthy), p.CPU)
				}
			}
			p9, p8 := tl.Points[7], tl.Points[6]
			if p9.C2xx != 7 || p9.C4xx != 0 || p9.C5xx != 0 || p8.C4xx != 1 || p8.C5xx != 2 {
				t.Errorf("codes %+v / %+v", p8, p9)
			}
			if !eqPtr(p9.Healthy, ptr(1)) || !eqPtr(p9.Unhealthy, ptr(0)) {
				t.Errorf("hosts %v / %v", show(p9.Healthy), show(p9.Unhealthy))
			}
			if len(p9.CPU) != 1 || p9.CPU["i-0launched"] != 42 {
				t.Errorf("cpu %v, want only the group's instance", p9.CPU)
			}
			var got []string
			for _, m := range tl.Markers {
				got = append(got, fmt.Sprintf("%d %s %s %s", (m.T-start.UnixMilli())/1000, m.Kind, m.Short, m.Group))
			}
			want := []string{"3 health ✓ web", "5 activity + web-asg"}
			if !slices.Equal(got, want) {
				t.Errorf("markers %q, want %q", got, want)
			}
			if len(tl.Markers) == 2 && !strings.Contains(tl.Markers[1].Text, "Launching a new EC2 instance: i-0launched — scaling out (Successful)") {
				t.Errorf("activity marker text %q", tl.Markers[1].Text)
			}
		})
	}

	// Without a group's target groups to filter by, every health marker
	// shows; another load balancer has no requests.
	e.update(func(tx store.Tx) error {
		lb, err := elb.CreateLoadBalancer(tx, &model.LoadBalancer{Name: "empty"}, t0)
		if err != nil {
			return err
		}
		tg, err := elb.CreateTargetGroup(tx, &model.TargetGroup{Name: "empty-tg", Port: 80})
		if err != nil {
			return err
		}
		_, err = elb.CreateListener(tx, &model.Listener{LoadBalancerARN: lb.ARN, Protocol: "HTTP", Port: 9999, DefaultActions: []model.Action{{Type: "forward", TargetGroupARN: tg.ARN}}})
		return err
	})
	var tl timeline
	r := e.c.get("/console/timeline?seconds=10&lb=empty")
	if err := json.Unmarshal([]byte(r.body), &tl); err != nil || r.code != http.StatusOK {
		t.Fatalf("lb=empty: %d %v", r.code, err)
	}
	for _, p := range tl.Points {
		if p.RPS != 0 {
			t.Errorf("lb=empty shows shop's requests")
		}
	}

	// The default range is five minutes: it reaches the requests of the
	// second before the 10 s range.
	r = e.c.get("/console/timeline?lb=shop")
	if err := json.Unmarshal([]byte(r.body), &tl); err != nil || len(tl.Points) != 11 || tl.Points[0].T != sec(-1).UnixMilli() || tl.Points[0].RPS != 100 {
		t.Errorf("default range: %d points (%v), want 11 from the second before the 10 s range", len(tl.Points), err)
	}

	for _, q := range []string{"?seconds=0", "?seconds=9999", "?seconds=-5", "?seconds=ten", "?lb=nope", "?group=nope", "?seconds=10&lb=nope"} {
		if r := e.c.get("/console/timeline" + q); r.code != http.StatusBadRequest {
			t.Errorf("GET /console/timeline%s: %d, want 400", q, r.code)
		}
	}
}

func TestTimelineWithoutResources(t *testing.T) {
	e := newEnv(t)
	r := e.c.get("/console/timeline?seconds=3")
	var tl timeline
	if err := json.Unmarshal([]byte(r.body), &tl); err != nil || r.code != http.StatusOK {
		t.Fatalf("%d %v", r.code, err)
	}
	// Nothing in the history: no points (not zeros), and no markers.
	if tl.Selection.LoadBalancer != "" || tl.Selection.Group != "" || len(tl.Points) != 0 || tl.Markers == nil {
		t.Errorf("timeline %+v", tl)
	}
	if r := e.c.get("/"); r.code != http.StatusOK || !strings.Contains(r.body, "No load balancer yet") {
		t.Errorf("the empty overview: %d", r.code)
	}
}

func ptr(v float64) *float64 { return &v }

func eqPtr(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func show(p *float64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

// ---- live stream

// sse reads a text/event-stream.
type sse struct {
	t  *testing.T
	sc *bufio.Scanner
}

type event struct{ name, id, data string }

// next returns the next event, skipping comments and retry lines; a blank
// line ends an event.
func (s *sse) next() event {
	s.t.Helper()
	var ev event
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		case strings.HasPrefix(line, "retry: "):
		default:
			s.t.Fatalf("unexpected line %q", line)
		}
	}
	s.t.Fatalf("the stream ended: %v", s.sc.Err())
	return ev
}

func openLive(t *testing.T, e *env, ctx context.Context, lastID string) (*sse, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/console/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /console/live: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return &sse{t: t, sc: bufio.NewScanner(res.Body)}, res
}

func TestLiveStream(t *testing.T) {
	e := newEnv(t, realClock)
	s := e.seed()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A second of requests the stream will send once it is complete.
	now := time.Now()
	e.hist.Put(metrics.New(metrics.NamespaceELB, "RequestCount", metrics.DimLoadBalancer, metrics.LoadBalancerDimension(s.lb.ARN)), nil, now, metrics.Value(3))

	stream, res := openLive(t, e, ctx, "")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	// The stream took its marker position before it wrote its first line:
	// a transition now is news.
	if !stream.sc.Scan() || stream.sc.Text() != "retry: 1000" {
		t.Fatalf("first line %q", stream.sc.Text())
	}
	e.markers.Add(console.Marker{Time: time.Now(), Kind: "health", Short: "✓", Text: "i-0abc:8080 healthy", Group: "web"})
	var point *struct {
		T   int64   `json:"t"`
		RPS float64 `json:"rps"`
	}
	sawMarker := false
	for point == nil || !sawMarker {
		ev := stream.next()
		switch ev.name {
		case "point":
			if point != nil {
				continue
			}
			if err := json.Unmarshal([]byte(ev.data), &point); err != nil {
				t.Fatalf("point %q: %v", ev.data, err)
			}
			if point.T%1000 != 0 || ev.id != strconv.FormatInt(point.T, 10) {
				t.Errorf("point at %d, id %q: want a whole second, as its id", point.T, ev.id)
			}
			// The first is the second the stream opened in (later only if
			// a second ended between the sample and the request).
			switch first := now.Truncate(time.Second).UnixMilli(); {
			case point.T < first:
				t.Errorf("first point at %d, before the stream opened (%d)", point.T, first)
			case point.T == first && point.RPS != 3:
				t.Errorf("rps %v, want 3", point.RPS)
			}
		case "marker":
			var m struct {
				Kind, Text, Group string
			}
			if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
				t.Fatal(err)
			}
			if m.Kind != "health" || m.Text != "i-0abc:8080 healthy" || m.Group != "web" {
				t.Errorf("marker %+v", m)
			}
			sawMarker = true
		default:
			t.Fatalf("event %q", ev.name)
		}
	}
	cancel()

	// A browser reconnecting with Last-Event-ID gets the seconds it missed
	// at once.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	last := time.Now().Truncate(time.Second).Add(-3 * time.Second).UnixMilli()
	for i := int64(1); i <= 3; i++ {
		e.hist.Put(metrics.New(metrics.NamespaceELB, "RequestCount", metrics.DimLoadBalancer, metrics.LoadBalancerDimension(s.lb.ARN)), nil,
			time.UnixMilli(last+1000*i), metrics.Value(1))
	}
	stream2, _ := openLive(t, e, ctx2, strconv.FormatInt(last, 10))
	ev := stream2.next()
	if ev.name != "point" || ev.id != strconv.FormatInt(last+1000, 10) {
		t.Errorf("resumed with %s %s, want the point after %d", ev.name, ev.id, last)
	}
	cancel2()

	if r := e.c.get("/console/live?lb=nope"); r.code != http.StatusBadRequest {
		t.Errorf("live for an unknown load balancer: %d, want 400", r.code)
	}
}

// ---- load test

// loopbackServer stands in for the data plane on 127.0.0.1: it answers 200
// (404 on /missing) with an X-Instance-Id.
func loopbackServer(t *testing.T) (port int, hits *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hits = new(atomic.Int64)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Instance-Id", "i-0loop")
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, hits
}

type loadState struct {
	ID      string `json:"id"`
	Target  string `json:"target"`
	Users   int    `json:"users"`
	Running bool   `json:"running"`
	Error   string `json:"error"`
	Points  []struct {
		Requests int64 `json:"requests"`
	} `json:"points"`
	Report *struct {
		Requests  int64            `json:"requests"`
		Failures  int64            `json:"failures"`
		Codes     map[string]int64 `json:"codes"`
		Instances map[string]int64 `json:"instances"`
	} `json:"report"`
}

func (c *client) loadState(id string) loadState {
	c.t.Helper()
	r := c.get("/console/loadtest/" + id + "/state")
	if r.code != http.StatusOK {
		c.t.Fatalf("state of %s: %d", id, r.code)
	}
	var st loadState
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		c.t.Fatal(err)
	}
	return st
}

// waitDone polls a run's state until it is no longer running.
func (c *client) waitDone(id string) loadState {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st := c.loadState(id)
		if !st.Running {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("load test %s still running after 30 s", id)
		}
		<-tick.C
	}
}

func TestLoadTest(t *testing.T) {
	e := newEnv(t)
	port, hits := loopbackServer(t)
	target := "http://127.0.0.1:" + strconv.Itoa(port)
	// A load balancer whose listener is on that port: no data plane runs
	// here, the loopback server answers in its place.
	e.update(func(tx store.Tx) error {
		tg, err := elb.CreateTargetGroup(tx, &model.TargetGroup{Name: "web", Port: 8080})
		if err != nil {
			return err
		}
		lb, err := elb.CreateLoadBalancer(tx, &model.LoadBalancer{Name: "shop"}, t0)
		if err != nil {
			return err
		}
		fwd := []model.Action{{Type: "forward", TargetGroupARN: tg.ARN}}
		if _, err := elb.CreateListener(tx, &model.Listener{LoadBalancerARN: lb.ARN, Protocol: "HTTP", Port: port, DefaultActions: fwd}); err != nil {
			return err
		}
		// One bound to an address that is not loopback: not offered.
		_, err = elb.CreateListener(tx, &model.Listener{LoadBalancerARN: lb.ARN, Protocol: "HTTP", Port: 8082, BindAddress: "192.0.2.10", DefaultActions: fwd})
		return err
	})
	page := e.c.get("/console/loadtest")
	if !strings.Contains(page.body, `<option value="`+target+`"`) || strings.Contains(page.body, "192.0.2.10") {
		t.Fatalf("the load test page does not offer exactly the loopback listener")
	}

	refusals := []struct {
		name   string
		values url.Values
		field  string
	}{
		{"target off this machine", url.Values{"target": {"http://example.com"}, "users": {"2"}, "duration": {"2s"}}, "target"},
		{"listener that is not loopback", url.Values{"target": {"http://192.0.2.10:8082"}, "users": {"2"}, "duration": {"2s"}}, "target"},
		{"loopback port that is no listener", url.Values{"target": {"http://127.0.0.1:1"}, "users": {"2"}, "duration": {"2s"}}, "target"},
		{"duration over 10m", url.Values{"target": {target}, "users": {"2"}, "duration": {"11m"}}, "duration"},
		{"duration not a duration", url.Values{"target": {target}, "users": {"2"}, "duration": {"soon"}}, "duration"},
		{"path without a slash", url.Values{"target": {target}, "users": {"2"}, "duration": {"2s"}, "paths": {"/,api"}}, "paths"},
		{"no users", url.Values{"target": {target}, "users": {"0"}, "duration": {"2s"}}, "users"},
		{"negative rate", url.Values{"target": {target}, "users": {"2"}, "duration": {"2s"}, "rate": {"-1"}}, "rate"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := e.c.form("/console/loadtest", "/console/loadtest", tt.values)
			if r.code != http.StatusBadRequest || dataPage(r.body) != "loadtest" {
				t.Fatalf("%d %q, want 400 on the load test page", r.code, dataPage(r.body))
			}
			if msg := fieldError(t, r.body, tt.field); !strings.HasPrefix(msg, "ValidationError: ") {
				t.Errorf("error %q", msg)
			}
			if !strings.Contains(r.body, "None yet.") {
				t.Errorf("a refused load test was started")
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("refused load tests sent %d requests", n)
	}

	r := e.c.form("/console/loadtest", "/console/loadtest", url.Values{"target": {target}, "users": {"2"}, "duration": {"2s"}, "paths": {"/, /missing"}})
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/loadtest/") {
		t.Fatalf("start: %d to %q\n%s", r.code, r.location(), fieldErrorRe.FindString(r.body))
	}
	u, _ := url.Parse(r.location())
	id := strings.TrimPrefix(u.Path, "/console/loadtest/")
	if want := t0.UTC().Format("20060102-150405"); id != want {
		t.Errorf("id %q, want %q", id, want)
	}
	if !strings.Contains(u.Query().Get("notice"), "Started a load test on "+target) {
		t.Errorf("notice %q", u.Query().Get("notice"))
	}

	// One at a time.
	second := e.c.form("/console/loadtest", "/console/loadtest", url.Values{"target": {target}, "users": {"2"}, "duration": {"2s"}})
	if second.code != http.StatusBadRequest {
		t.Fatalf("a second start while one runs: %d, want 400", second.code)
	}
	if msg := fieldError(t, second.body, "form"); !strings.Contains(msg, "Load test "+id+" is still running") {
		t.Errorf("error %q", msg)
	}

	if p := e.c.get("/console/loadtest/" + id); p.code != http.StatusOK || dataPage(p.body) != "loadrun" {
		t.Errorf("the run's page: %d %q", p.code, dataPage(p.body))
	}
	st := e.c.waitDone(id)
	if st.Error != "" || st.Target != target || st.Users != 2 || st.Report == nil {
		t.Fatalf("state %+v", st)
	}
	rp := st.Report
	if rp.Requests <= 0 || rp.Failures != 0 || rp.Codes["200"] <= 0 || rp.Codes["404"] <= 0 || rp.Codes["200"]+rp.Codes["404"] != rp.Requests ||
		rp.Instances["i-0loop"] != rp.Requests {
		t.Errorf("report %+v", rp)
	}
	if hits.Load() < rp.Requests {
		t.Errorf("the server saw %d requests, the report counts %d", hits.Load(), rp.Requests)
	}
	if len(st.Points) == 0 {
		t.Errorf("no progress points")
	}

	// Done, another may start, even within the same second: both runs
	// are kept.
	r = e.c.form("/console/loadtest", "/console/loadtest", url.Values{"target": {target}, "users": {"1"}, "duration": {"1m"}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("start after the first ended: %d\n%s", r.code, fieldErrorRe.FindString(r.body))
	}
	u, _ = url.Parse(r.location())
	id2 := strings.TrimPrefix(u.Path, "/console/loadtest/")
	if id2 == id {
		t.Fatalf("the second run took the first's id %s", id)
	}
	if st := e.c.loadState(id); st.Report == nil || st.Report.Requests != rp.Requests {
		t.Errorf("the first run's report is gone: %+v", st)
	}
	if r := e.c.post("/console/loadtest/"+id2+"/stop", url.Values{}); r.code != http.StatusForbidden {
		t.Errorf("stop without token: %d, want 403", r.code)
	}
	if !e.c.loadState(id2).Running {
		t.Errorf("the run stopped without a valid token")
	}
	r = e.c.form("/console/loadtest/"+id2, "/console/loadtest/"+id2+"/stop", url.Values{})
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/loadtest/"+id2) {
		t.Fatalf("stop: %d to %q", r.code, r.location())
	}
	if st := e.c.loadState(id2); st.Running {
		t.Errorf("still running after stop")
	}
	list := e.c.get("/console/loadtest")
	for _, x := range []string{id, id2} {
		if !strings.Contains(list.body, `href="/console/loadtest/`+x+`"`) {
			t.Errorf("the load test page does not list run %s", x)
		}
	}
	if r := e.c.form("/console/loadtest", "/console/loadtest/nope/stop", url.Values{}); r.code != http.StatusNotFound {
		t.Errorf("stop an unknown run: %d, want 404", r.code)
	}
}
