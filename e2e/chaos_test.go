package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// chaosConfig: an HTTP and an HTTPS listener whose requests with
// ?group=api go to the target group api (two static catalogs, api-1 and
// api-2) and the rest to web (an auto scaling group's catalogs).
func chaosConfig(lport, sport int, api []int, extra string) string {
	rules := `        rules:
          - priority: 10
            conditions: {query: [{key: group, value: api}]}
            action: {forward: api}
` + extra
	var targets strings.Builder
	for _, p := range api {
		fmt.Fprintf(&targets, "      - {id: 127.0.0.1, port: %d}\n", p)
	}
	return fmt.Sprintf(`certificates:
  - {name: web, certificate_file: certificate.crt, private_key_file: private.pem}
load_balancers:
  - name: chaos
    zones: [zone-a, zone-b]
    listeners:
      - protocol: HTTP
        port: %d
        address: 127.0.0.1
        default_action: {forward: web}
%s      - protocol: HTTPS
        port: %d
        address: 127.0.0.1
        certificates: [web]
        default_action: {forward: web}
%starget_groups:
  - name: web
    port: 8080
    health_check: {path: /status, interval_seconds: 5, timeout_seconds: 2, healthy_threshold: 2, unhealthy_threshold: 2}
    attributes: {deregistration_delay.timeout_seconds: 5}
  - name: api
    port: 8080
    target_type: ip
    health_check: {path: /status, interval_seconds: 5, timeout_seconds: 2, healthy_threshold: 2, unhealthy_threshold: 2}
    attributes: {deregistration_delay.timeout_seconds: 5}
    targets:
%slaunch_templates:
  - name: web
    versions:
      - instance_type: t2.micro
        user_data: |
          #!/bin/bash
          exec alba catalog --listen "$ALBA_PRIVATE_IP:$PORT"
auto_scaling_groups:
  - name: web
    launch_template: {name: web}
    zones: [zone-a, zone-b]
    target_groups: [web]
    health_check_type: ELB
    min_size: 1
    max_size: 3
`, lport, rules, sport, rules, targets.String())
}

// chaosLoad is the steady mixed load of the chaos run: what it sent, what
// failed, what went to the wrong group, and every latency with its time.
type chaosLoad struct {
	load       // ok, failed (with its first errors), mu, wg
	wrongGroup atomic.Int64
	samples    []sample
}

type sample struct {
	at  time.Time
	lat time.Duration
}

// worker sends requests made by req until ctx ends; api says whether
// they must reach the api group.
func (cl *chaosLoad) worker(ctx context.Context, client *http.Client, api bool, req func() *http.Request) {
	cl.wg.Add(1)
	go func() {
		defer cl.wg.Done()
		defer client.CloseIdleConnections()
		for ctx.Err() == nil {
			t0 := time.Now()
			resp, err := client.Do(req())
			if err != nil {
				if ctx.Err() == nil {
					cl.fail(err.Error())
				}
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat := time.Since(t0)
			if resp.StatusCode >= 500 {
				cl.fail(resp.Status)
				continue
			}
			if id := resp.Header.Get("X-Instance-Id"); strings.HasPrefix(id, "api-") != api {
				cl.wrongGroup.Add(1)
				cl.fail(fmt.Sprintf("%s %s answered by %q", resp.Request.Method, resp.Request.URL, id))
				continue
			}
			cl.ok.Add(1)
			cl.mu.Lock()
			cl.samples = append(cl.samples, sample{t0, lat})
			cl.mu.Unlock()
		}
	}()
}

// p99 is the 99th percentile of the latencies of requests sent in [from, to].
func (cl *chaosLoad) p99(from, to time.Time) (time.Duration, int) {
	cl.mu.Lock()
	var ls []time.Duration
	for _, s := range cl.samples {
		if !s.at.Before(from) && !s.at.After(to) {
			ls = append(ls, s.lat)
		}
	}
	cl.mu.Unlock()
	if len(ls) == 0 {
		return 0, 0
	}
	slices.Sort(ls)
	return ls[min(len(ls)-1, len(ls)*99/100)], len(ls)
}

// The chaos run (issue 15): a steady mixed load — GET and POST with
// bodies, keep-alive and a new connection per request, HTTP and HTTPS —
// while, one after another: scale-out, kill -9 of an instance, SIGHUP
// with a changed file, a rule added and a target deregistered through the
// API, scale-in, and Alba replaced by a new process. Not one request
// fails or reaches the wrong target group; p99 is reported per event.
func TestChaosRunLosesNothing(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runAlbaIn(t, dir, "cert"); code != 0 {
		t.Fatalf("alba cert: %s", stderr)
	}
	_, api1 := catalog(t, "api-1")
	_, api2 := catalog(t, "api-2")
	lport, sport := freePort(t), freePort(t)
	l := &lb{dataDir: filepath.Join(dir, "data"), file: filepath.Join(dir, "alba.yaml"), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	write := func(extra string) {
		if err := os.WriteFile(l.file, []byte(chaosConfig(lport, sport, []int{api1, api2}, extra)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	l.run(t, fastScaling...)
	t.Cleanup(func() { killInstances(l.dataDir) })
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 1 })
	l.waitHealthy(t, api1, api2)

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cl := &chaosLoad{}
	httpURL := fmt.Sprintf("http://127.0.0.1:%d", lport)
	httpsURL := fmt.Sprintf("https://127.0.0.1:%d", sport)
	keepAlive := func() *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 1, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(u string) func() *http.Request {
		return func() *http.Request { r, _ := http.NewRequest("GET", u, nil); return r }
	}
	body := `{"movieId": "1", "popularity": 500}`
	postAPI := func() *http.Request {
		r, _ := http.NewRequest("POST", httpURL+"/updatePopularity?group=api", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	for range 4 {
		cl.worker(ctx, keepAlive(), false, get(httpURL+"/status"))
	}
	cl.worker(ctx, keepAlive(), false, get(httpURL+"/discover?type=movie&genre=28"))
	cl.worker(ctx, keepAlive(), true, get(httpURL+"/discover?type=tv&genre=16&group=api"))
	cl.worker(ctx, keepAlive(), true, postAPI)
	cl.worker(ctx, keepAlive(), true, postAPI)
	cl.worker(ctx, fresh, false, get(httpURL+"/status"))
	cl.worker(ctx, fresh, true, get(httpURL+"/status?group=api"))
	cl.worker(ctx, keepAlive(), false, get(httpsURL+"/status"))
	cl.worker(ctx, keepAlive(), true, get(httpsURL+"/status?group=api"))

	type event struct {
		name string
		run  func()
	}
	cur := l
	events := []event{
		{"scale-out to 2", func() {
			query(t, cur.admin, "Version=2011-01-01&Action=SetDesiredCapacity&AutoScalingGroupName=web&DesiredCapacity=2")
			waitFor(t, 60*time.Second, func() bool { return len(cur.inService(t)) == 2 })
		}},
		{"kill -9 of an instance", func() {
			g := cur.group(t)
			victim := g.Instances[0]
			syscall.Kill(-victim.PID, syscall.SIGKILL)
			waitFor(t, 60*time.Second, func() bool {
				ids := cur.inService(t)
				return len(ids) == 2 && !slices.Contains(ids, victim.ID)
			})
		}},
		{"SIGHUP with a changed file", func() {
			write(`          - priority: 20
            conditions: {path: ["/never/*"]}
            action: {fixed_response: {status_code: 404}}
`)
			cur.signal(syscall.SIGHUP)
			waitFor(t, 20*time.Second, func() bool { return strings.Contains(cur.out.String(), "configuration reloaded") })
		}},
		{"a rule added through the API", func() {
			out := query(t, cur.admin, "Version=2015-12-01&Action=DescribeLoadBalancers&Names.member.1=chaos")
			lbARN := lbARNRe.FindStringSubmatch(out)[1]
			out = query(t, cur.admin, "Version=2015-12-01&Action=DescribeListeners&LoadBalancerArn="+url.QueryEscape(lbARN))
			tg := tgARNRe.FindStringSubmatch(query(t, cur.admin, "Version=2015-12-01&Action=DescribeTargetGroups&Names.member.1=api"))[1]
			for _, m := range listenerARNRe.FindAllStringSubmatch(out, -1) {
				query(t, cur.admin, "Version=2015-12-01&Action=CreateRule&ListenerArn="+url.QueryEscape(m[1])+
					"&Priority=5&Conditions.member.1.Field=path-pattern&Conditions.member.1.Values.member.1=/updatePopularity"+
					"&Actions.member.1.Type=forward&Actions.member.1.TargetGroupArn="+url.QueryEscape(tg))
			}
		}},
		{"a target deregistered through the API", func() {
			tg := tgARNRe.FindStringSubmatch(query(t, cur.admin, "Version=2015-12-01&Action=DescribeTargetGroups&Names.member.1=api"))[1]
			query(t, cur.admin, fmt.Sprintf("Version=2015-12-01&Action=DeregisterTargets&TargetGroupArn=%s&Targets.member.1.Id=127.0.0.1&Targets.member.1.Port=%d", url.QueryEscape(tg), api2))
			waitFor(t, 30*time.Second, func() bool { return cur.state(t, api2).Port == 0 }) // drained and gone
		}},
		{"scale-in to 1", func() {
			query(t, cur.admin, "Version=2011-01-01&Action=SetDesiredCapacity&AutoScalingGroupName=web&DesiredCapacity=1")
			waitFor(t, 60*time.Second, func() bool { return len(cur.group(t).Instances) == 1 && len(cur.inService(t)) == 1 })
		}},
		{"alba replaced (alba up --replace)", func() {
			next := &lb{dataDir: l.dataDir, file: l.file, admin: l.admin}
			next.launch(t, append([]string{"--replace"}, fastScaling...)...)
			if code := cur.proc.wait(t, 60*time.Second); code != 0 {
				t.Fatalf("the replaced alba exited with %d", code)
			}
			next.waitUp(t)
			cur = next
		}},
	}
	settle := func() { // some load between events
		n := cl.ok.Load()
		waitFor(t, 30*time.Second, func() bool { return cl.ok.Load() > n+5000 })
	}
	settle()
	var report []string
	for _, ev := range events {
		from := time.Now()
		ev.run()
		to := time.Now()
		p99, n := cl.p99(from, to.Add(time.Second)) // the event and the second after it
		report = append(report, fmt.Sprintf("%-40s %6.1fs, then 1 s: %6d requests, p99 %v", ev.name, to.Sub(from).Seconds(), n, p99.Round(100*time.Microsecond)))
		settle()
	}
	// At least 100,000 requests in all.
	waitFor(t, 3*time.Minute, func() bool { return cl.ok.Load()+cl.failed.Load() >= 100_000 })
	cancel()
	cl.wait()
	all, _ := cl.p99(time.Time{}, time.Now())
	t.Logf("chaos run: %d requests, %d failed, %d to the wrong group, p99 %v overall\n%s",
		cl.ok.Load()+cl.failed.Load(), cl.failed.Load(), cl.wrongGroup.Load(), all.Round(100*time.Microsecond), strings.Join(report, "\n"))
	if f := cl.failed.Load(); f > 0 {
		t.Errorf("%d requests failed: %v", f, cl.errs)
	}
}
