package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consolePages are the console's pages for the tutorial's resources, each
// with the data-page marker its main element carries.
var consolePages = []struct{ path, name string }{
	{"/", "overview"},
	{"/load-balancers", "loadbalancers"},
	{"/load-balancers/movie-catalog", "loadbalancer"},
	{"/target-groups", "targetgroups"},
	{"/target-groups/movie-catalog", "targetgroup"},
	{"/auto-scaling-groups", "groups"},
	{"/auto-scaling-groups/movie-catalog", "group"},
	{"/launch-templates", "templates"},
	{"/launch-templates/movie-catalog", "template"},
	{"/certificates", "certificates"},
	{"/console/loadtest", "loadtest"},
}

// The tutorial's system under load, watched in a real browser: every page
// renders without a JavaScript error, the timeline's newest point moves
// within 3 s, and when the group scales out a marker with the activity's
// cause appears and the new instance's row turns healthy. A screenshot of
// the overview under load is saved (to docs/ with ALBA_SCREENSHOTS=docs).
func TestConsoleWatchesTheGroupScaleOut(t *testing.T) {
	b := newBrowser(t)
	lport := freePort(t)
	l := up(t, asgConfig(lport, "4ms", scalingGroup), fastScaling...)
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 1 })
	base := "http://" + l.admin

	for _, p := range consolePages {
		b.open(base + p.path)
		if got := eval[string](b, `document.getElementById("page").dataset.page`); got != p.name {
			t.Errorf("%s: data-page %q, want %q", p.path, got, p.name)
		}
		b.noErrors(p.path)
	}

	// Light traffic: the chart's newest point moves.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	light := startPacedLoad(ctx, fmt.Sprintf("http://127.0.0.1:%d/status", lport), 1, 20*time.Millisecond)
	b.open(base + "/")
	b.waitJS(10*time.Second, `window.albaTimeline && albaTimeline.points > 0 && albaTimeline.last > 0`)
	last := eval[float64](b, `albaTimeline.last`)
	b.waitJS(3*time.Second, fmt.Sprintf(`albaTimeline.last > %f`, last))
	b.waitJS(5*time.Second, `albaTimeline.updates > 2 && document.querySelectorAll('[data-chart="requests"] canvas').length > 0`)

	// Heavy traffic from the console's own load test, whose figures move
	// second by second as locust's charts do.
	b.open(base + "/console/loadtest")
	b.submit("start-load-test", map[string]string{"target": fmt.Sprintf("http://127.0.0.1:%d", lport), "users": "4", "duration": "2m",
		"paths": "/discover?type=movie&genre=28"})
	if got := eval[string](b, `document.getElementById("page").dataset.page`); got != "loadrun" {
		t.Fatalf("starting a load test leads to %q: %s", got, b.textOf(".field-error"))
	}
	b.waitJS(10*time.Second, `window.albaLoadTest && albaLoadTest.points >= 2 && parseFloat(document.getElementById("lt-rps").textContent) > 0`)
	if lat := b.textOf("#lt-latency"); strings.Count(lat, "/") != 2 {
		t.Errorf("the load test shows no p50 / p95 / p99: %q", lat)
	}
	run := eval[string](b, `location.pathname`)
	b.noErrors("the load test")
	// The scale-out happens while the load test's page is open: the
	// overview opened after it shows the marker from the range it loads.
	waitFor(t, 120*time.Second, func() bool { return hasActivity(l.activities(t), "ASGAverageCPUUtilization", "from 1 to 2") })
	// Meanwhile the group scales out; the timeline marks it with the
	// activity's cause, on hover too.
	b.open(base + "/")
	b.waitJS(10*time.Second, `window.albaTimeline && albaTimeline.points > 0`)
	if !eval[bool](b, `albaTimeline.markers.some(function (m) { return m.kind === "activity" })`) {
		resp, err := http.Get(base + "/console/timeline")
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		t.Logf("the page has no activity marker yet: %s\nthe timeline says %s", eval[string](b, `JSON.stringify(albaTimeline)`), body)
	}
	b.waitJS(120*time.Second, `albaTimeline.markers.some(function (m) { return m.kind === "activity" && m.text.indexOf("ASGAverageCPUUtilization") >= 0 && m.text.indexOf("from 1 to 2") >= 0 })`)
	annotated := `Array.prototype.some.call(document.querySelectorAll(".dygraph-annotation.activity"), function (a) { return a.title.indexOf("above the target of 50.00") >= 0 })`
	for end := time.Now().Add(5 * time.Second); !eval[bool](b, annotated); {
		if time.Now().After(end) {
			t.Fatalf("no annotation with the cause: %s", eval[string](b, `JSON.stringify({first: albaTimeline.first, last: albaTimeline.last, annotations: albaTimeline.annotations, markers: albaTimeline.markers, drawn: Array.prototype.map.call(document.querySelectorAll(".dygraph-annotation"), function (a) { return a.className + " " + a.title })})`))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(b.textOf("#markers"), "ASGAverageCPUUtilization was") {
		t.Errorf("the marker list does not give the cause: %q", b.textOf("#markers"))
	}

	// The new instance's row turns healthy on the group's page.
	deadline := time.Now().Add(60 * time.Second)
	for {
		b.open(base + "/auto-scaling-groups/movie-catalog")
		n := eval[float64](b, `document.querySelectorAll("tr.instance td.target .state-healthy").length`)
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group page shows %v healthy instances, want 2:\n%s", n, b.textOf("#instances"))
		}
		time.Sleep(time.Second)
	}
	b.noErrors("the group page")
	if cause := b.textOf("table.activities"); !strings.Contains(cause, "above the target of 50.00") {
		t.Errorf("the group page's activities have no scale-out cause:\n%s", cause)
	}

	// The overview under load, as a user sees it.
	b.open(base + "/")
	b.waitJS(10*time.Second, `albaTimeline.points > 0 && document.querySelectorAll(".dygraph-annotation.activity").length > 0`)
	b.waitJS(5*time.Second, fmt.Sprintf(`albaTimeline.last > %f`, eval[float64](b, `albaTimeline.last`)))
	dir := t.TempDir()
	if os.Getenv("ALBA_SCREENSHOTS") == "docs" {
		dir = "../docs/images"
		os.MkdirAll(dir, 0o755)
	}
	shot := filepath.Join(dir, "console-overview.png")
	b.screenshot(shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 20000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
	b.noErrors("the overview under load")

	// Stopped from its page, the load test reports what it did.
	b.open(base + run)
	b.submit("stop", nil)
	b.waitJS(10*time.Second, `window.albaLoadTest && albaLoadTest.report && albaLoadTest.report.requests > 0`)
	if r := b.textOf("#lt-report"); !strings.Contains(r, "200") {
		t.Errorf("the load test's report has no status codes: %q", r)
	}
	cancel()
	light.wait()
}

// formStep fills a form's fields (selector → value; checkboxes take
// "true"/"false") and submits it, waiting for the page it leads to.
func (b *browser) submit(formID string, fields map[string]string) {
	b.t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sel := fmt.Sprintf(`#%s [name="%s"]`, formID, k)
		v := fields[k]
		js := fmt.Sprintf(`(function () { var e = document.querySelector(%q); if (!e) throw new Error("no field %s");
			if (e.type === "checkbox") e.checked = %q === "true"; else e.value = %q; return true })()`, sel, k, v, v)
		actions = append(actions, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](js)(ctx, tg)
			return err
		}))
	}
	// The page being left is marked: the answer is the next document.
	actions = append(actions, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`document.documentElement.dataset.left = "1"; true`)(ctx, tg)
		return err
	}), chromedp.Click(chromedp.CSS("#"+formID+" button")))
	b.run(20*time.Second, actions...)
	b.waitJS(20*time.Second, `document.documentElement.dataset.left !== "1" && document.readyState === "complete" && document.getElementById("page")`)
	if e := b.textOf(".field-error"); e != "" {
		b.t.Logf("%s: the form answers %q", formID, e)
	}
}

// The tutorial's steps through the console's forms leave the resources the
// aws CLI leaves when it does the same: the describe-* answers of the two
// Albas agree but for identifiers and times.
func TestConsoleFormsLeaveWhatTheCLILeaves(t *testing.T) {
	cli := awsCLIs(t, "")
	if len(cli) == 0 {
		t.Skip("no aws CLI installed")
	}
	b := newBrowser(t)
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "web", "", "localhost")
	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(keyFile)
	httpPort, httpsPort := freePort(t), freePort(t)
	userData := "#!/bin/bash\nexec alba catalog --listen \"$ALBA_PRIVATE_IP:$PORT\"\n"

	viaConsole := upEmpty(t, "--listen-host", "127.0.0.1")
	viaCLI := upEmpty(t, "--listen-host", "127.0.0.3")
	base := "http://" + viaConsole.admin

	// Empty, the overview has nothing to draw and says so, without an error.
	b.open(base + "/")
	b.waitJS(10*time.Second, `window.albaTimeline && albaTimeline.updates > 0`)
	b.noErrors("the overview of an empty Alba")

	// The console, form by form, as the tutorial's steps go.
	b.open(base + "/target-groups")
	b.submit("create-target-group", map[string]string{"name": "movie-catalog", "protocol": "HTTP", "port": "8080", "target_type": "instance",
		"health_check_path": "/status", "interval": "10", "timeout": "5", "healthy_threshold": "2", "unhealthy_threshold": "2", "matcher": "200"})
	if n := b.textOf("#notice"); !strings.Contains(n, "Created target group movie-catalog") {
		t.Fatalf("after creating the target group: notice %q, error %q", n, b.textOf(".field-error"))
	}
	// A second one of the same name and another port: AWS's error beside
	// the name, and nothing created.
	b.open(base + "/target-groups")
	b.submit("create-target-group", map[string]string{"name": "movie-catalog", "port": "9090"})
	if e := b.textOf(`#create-target-group label:first-of-type .field-error`); !strings.Contains(e, "DuplicateTargetGroupName") {
		t.Errorf("a duplicate name: the name field says %q", e)
	}
	b.open(base + "/load-balancers")
	b.submit("create-load-balancer", map[string]string{"name": "movie-catalog", "zones": "zone-a, zone-b", "port": fmt.Sprint(httpPort), "target_group": "movie-catalog"})
	b.open(base + "/launch-templates")
	b.submit("create-launch-template", map[string]string{"name": "movie-catalog", "description": "the catalog", "image_id": "ami-0abcdef1234567890",
		"instance_type": "t2.micro", "user_data": userData})
	b.open(base + "/auto-scaling-groups")
	b.submit("create-group", map[string]string{"name": "movie-catalog", "launch_template": "movie-catalog", "zones": "zone-a, zone-b",
		"target_group": "movie-catalog", "elb_health": "true", "grace": "30", "desired": "1", "min": "1", "max": "2",
		"policy": "true", "policy_name": "cpu50", "target_value": "50"})
	b.open(base + "/load-balancers/movie-catalog")
	b.submit("add-listener", map[string]string{"protocol": "HTTPS", "port": fmt.Sprint(httpsPort), "target_group": "movie-catalog",
		"certificate_name": "web", "certificate_body": string(certPEM), "private_key": string(keyPEM), "ssl_policy": "ELBSecurityPolicy-2016-08"})
	if n := b.textOf("#notice"); !strings.Contains(n, "Added an HTTPS listener") {
		t.Fatalf("after adding the HTTPS listener: notice %q, errors %q", n, b.textOf(".field-error"))
	}
	b.open(base + "/target-groups/movie-catalog")
	b.submit("stickiness", map[string]string{"enabled": "true", "type": "lb_cookie", "duration": "120"})
	// Out of bounds first: the error sits beside the desired capacity.
	b.open(base + "/auto-scaling-groups/movie-catalog")
	b.submit("capacity-form", map[string]string{"desired": "5", "min": "1", "max": "2"})
	if e := b.textOf(`#capacity-form .field-error`); !strings.Contains(e, "ValidationError") || !strings.Contains(e, "Desired capacity") {
		t.Errorf("desired above max: the form says %q", e)
	}
	b.open(base + "/auto-scaling-groups/movie-catalog")
	b.submit("capacity-form", map[string]string{"desired": "0", "min": "0", "max": "0"})
	b.noErrors("the forms")
	if s := b.textOf("#capacity"); !strings.Contains(s, "desired 0, min 0, max 0") {
		t.Errorf("after setting the sizes to 0 the page says %q", s)
	}

	// The aws CLI, the same steps.
	aws := cli[0]
	aws.endpoint = "http://" + viaCLI.admin
	tg := str(aws.ok("elbv2", "create-target-group", "--name", "movie-catalog", "--protocol", "HTTP", "--port", "8080", "--target-type", "instance",
		"--health-check-path", "/status", "--health-check-interval-seconds", "10", "--health-check-timeout-seconds", "5",
		"--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2", "--matcher", "HttpCode=200"), "TargetGroups", 0, "TargetGroupArn")
	lbArn := str(aws.ok("elbv2", "create-load-balancer", "--name", "movie-catalog", "--subnets", "zone-a", "zone-b"), "LoadBalancers", 0, "LoadBalancerArn")
	aws.ok("elbv2", "create-listener", "--load-balancer-arn", lbArn, "--protocol", "HTTP", "--port", fmt.Sprint(httpPort),
		"--default-actions", "Type=forward,TargetGroupArn="+tg)
	aws.ok("ec2", "create-launch-template", "--launch-template-name", "movie-catalog", "--version-description", "the catalog", "--launch-template-data",
		fmt.Sprintf(`{"ImageId":"ami-0abcdef1234567890","InstanceType":"t2.micro","UserData":%q}`, base64.StdEncoding.EncodeToString([]byte(userData))))
	aws.ok("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "movie-catalog", "--launch-template", "LaunchTemplateName=movie-catalog",
		"--min-size", "1", "--max-size", "2", "--desired-capacity", "1", "--vpc-zone-identifier", "zone-a,zone-b", "--target-group-arns", tg,
		"--health-check-type", "ELB", "--health-check-grace-period", "30")
	aws.ok("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", "movie-catalog", "--policy-name", "cpu50", "--policy-type", "TargetTrackingScaling",
		"--target-tracking-configuration", `{"PredefinedMetricSpecification":{"PredefinedMetricType":"ASGAverageCPUUtilization"},"TargetValue":50}`)
	cert := str(aws.ok("iam", "upload-server-certificate", "--server-certificate-name", "web", "--certificate-body", "file://"+certFile,
		"--private-key", "file://"+keyFile), "ServerCertificateMetadata", "Arn")
	aws.ok("elbv2", "create-listener", "--load-balancer-arn", lbArn, "--protocol", "HTTPS", "--port", fmt.Sprint(httpsPort), "--ssl-policy", "ELBSecurityPolicy-2016-08",
		"--certificates", "CertificateArn="+cert, "--default-actions", "Type=forward,TargetGroupArn="+tg)
	aws.ok("elbv2", "modify-target-group-attributes", "--target-group-arn", tg, "--attributes", "Key=stickiness.enabled,Value=true",
		"Key=stickiness.type,Value=lb_cookie", "Key=stickiness.lb_cookie.duration_seconds,Value=120")
	aws.ok("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", "movie-catalog", "--min-size", "0", "--max-size", "0", "--desired-capacity", "0")

	// What each Alba holds, as describe-* says.
	describe := func(endpoint string) map[string]any {
		a := &awsCLI{t: t, endpoint: endpoint, bin: aws.bin}
		out := map[string]any{}
		lbs := a.ok("elbv2", "describe-load-balancers")
		out["load balancers"] = lbs
		lbArn := str(lbs, "LoadBalancers", 0, "LoadBalancerArn")
		tgs := a.ok("elbv2", "describe-target-groups")
		out["target groups"] = tgs
		tgArn := str(tgs, "TargetGroups", 0, "TargetGroupArn")
		out["listeners"] = sortedBy(a.ok("elbv2", "describe-listeners", "--load-balancer-arn", lbArn), "Listeners", "Port")
		out["target group attributes"] = sortedBy(a.ok("elbv2", "describe-target-group-attributes", "--target-group-arn", tgArn), "Attributes", "Key")
		out["launch template versions"] = a.ok("ec2", "describe-launch-template-versions", "--launch-template-name", "movie-catalog")
		out["certificates"] = a.ok("iam", "list-server-certificates")
		g := a.ok("autoscaling", "describe-auto-scaling-groups")
		for i := range length(g, "AutoScalingGroups") {
			delete(path(g, "AutoScalingGroups", i).(map[string]any), "Instances") // launched and stopped by now, or not yet
		}
		out["groups"] = g
		out["policies"] = a.ok("autoscaling", "describe-policies")
		return normalize(out).(map[string]any)
	}
	// The group drains to 0 on both.
	for _, l := range []*lb{viaConsole, viaCLI} {
		waitFor(t, 60*time.Second, func() bool { return len(l.group(t).Instances) == 0 })
	}
	got, want := describe("http://"+viaConsole.admin), describe("http://"+viaCLI.admin)
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			g, _ := json.MarshalIndent(got[k], "", "  ")
			w, _ := json.MarshalIndent(want[k], "", "  ")
			t.Errorf("%s differ:\nthrough the console: %s\nthrough the aws CLI: %s", k, g, w)
		}
	}
}

var (
	uuidRe  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	elbIDRe = regexp.MustCompile(`/[0-9a-f]{16}\b`)
)

// sortedBy sorts the list at key of v by the field by.
func sortedBy(v map[string]any, key, by string) map[string]any {
	l, _ := v[key].([]any)
	sort.Slice(l, func(i, j int) bool { return fmt.Sprint(path(l[i], by)) < fmt.Sprint(path(l[j], by)) })
	return v
}

// normalize replaces what differs between two Albas holding the same
// resources: ARNs, ids, DNS names, alarm names and times.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			switch {
			case strings.HasSuffix(k, "Time") || strings.HasSuffix(k, "Date") || k == "Expiration" || k == "DNSName" ||
				k == "LaunchTemplateId" || k == "ServerCertificateId" || k == "AlarmName" || k == "CanonicalHostedZoneId":
				out[k] = "…"
			default:
				out[k] = normalize(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	case string:
		// Ids inside ARNs and alarm names: 16 hex digits of ELB, UUIDs.
		v = uuidRe.ReplaceAllString(v, "…")
		return elbIDRe.ReplaceAllString(v, "/…")
	}
	return v
}
