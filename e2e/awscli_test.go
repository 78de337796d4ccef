package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/alba-lb/alba/internal/certs"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLI runs the real aws CLI against a running Alba's admin address, as
// docs/aws-cli.md tells a user to.
type awsCLI struct {
	t        *testing.T
	endpoint string
	// bin is the aws executable; empty means awsBinary().
	bin string
	// env overrides the test/test credentials and the rest.
	env []string
}

// run returns the parsed JSON output, stderr and the exit code.
func (a *awsCLI) run(args ...string) (map[string]any, string, int) {
	a.t.Helper()
	bin := a.bin
	if bin == "" {
		bin = awsBinary()
	}
	cmd := exec.Command(bin, append([]string{"--endpoint-url", a.endpoint, "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	cmd.Env = append(cmd.Env, a.env...) // the last of a name counts
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatal(err)
	}
	var v map[string]any
	if code == 0 && strings.TrimSpace(out.String()) != "" {
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			a.t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
	return v, errb.String(), code
}

// ok runs a command that must succeed.
func (a *awsCLI) ok(args ...string) map[string]any {
	a.t.Helper()
	v, stderr, code := a.run(args...)
	if code != 0 {
		a.t.Fatalf("%s %s: exit %d\n%s", a.bin, strings.Join(args, " "), code, stderr)
	}
	return v
}

// fails runs a command that must fail with the AWS error code.
func (a *awsCLI) fails(errCode string, args ...string) {
	a.t.Helper()
	_, stderr, code := a.run(args...)
	if code == 0 || !strings.Contains(stderr, "("+errCode+")") {
		a.t.Fatalf("aws %s: exit %d, want the error %s:\n%s", strings.Join(args, " "), code, errCode, stderr)
	}
}

// path walks decoded JSON: string keys index objects, ints index arrays.
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, keys ...any) string {
	s, _ := path(v, keys...).(string)
	return s
}

func length(v any, keys ...any) int {
	l, _ := path(v, keys...).([]any)
	return len(l)
}

// apiMounted reports whether the node answers the AWS API at POST /, and
// whether the code says it should (internal/app mounts awsapi.NewHandler).
func apiMounted(t *testing.T, admin string) (answers, wired bool) {
	resp, err := http.Post("http://"+admin+"/", "application/x-www-form-urlencoded", strings.NewReader("Version=2015-12-01&Action=DescribeSSLPolicies"))
	if err == nil {
		resp.Body.Close()
		answers = resp.StatusCode == 200 || resp.StatusCode == 403
	}
	files, _ := filepath.Glob("../internal/app/*.go")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("awsapi.NewHandler")) {
			wired = true
		}
	}
	return answers, wired
}

// TestAWSCLITutorial runs docs/aws-cli.md's tutorial with the real aws
// CLI against alba up --empty: target group, load balancer, listener,
// launch template with user data, auto scaling group with ELB health
// checks and a target tracking policy; traffic reaches the instances; the
// group scales out, an instance is terminated, the group scales in to
// zero; then everything is deleted in AWS's order.
func TestAWSCLITutorial(t *testing.T) {
	needAWSCLI(t)
	// Alba checks SigV4 signatures made with these (the CLI signs with the
	// same test/test it is given).
	t.Setenv("ALBA_ACCESS_KEY_ID", "test")
	t.Setenv("ALBA_SECRET_ACCESS_KEY", "test")
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "up", "--empty", "--data-dir", dataDir, "--admin", admin, "--listen-host", "127.0.0.1")
	t.Cleanup(func() { killInstances(dataDir) })
	waitFor(t, 10*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
	if answers, wired := apiMounted(t, admin); !answers {
		if wired {
			t.Fatal("internal/app mounts awsapi.NewHandler but POST / does not answer the AWS API")
		}
		t.Skip("the admin address does not serve the AWS API yet (internal/app does not mount awsapi.NewHandler)")
	}
	aws := &awsCLI{t: t, endpoint: "http://" + admin}

	// 1. Target group with a fast health check on /status.
	tg := str(aws.ok("elbv2", "create-target-group", "--name", "movie-catalog", "--protocol", "HTTP", "--port", "8080",
		"--target-type", "instance", "--vpc-id", "vpc-alba", "--health-check-path", "/status", "--health-check-interval-seconds", "5",
		"--health-check-timeout-seconds", "2", "--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2"),
		"TargetGroups", 0, "TargetGroupArn")
	if !strings.Contains(tg, ":targetgroup/movie-catalog/") {
		t.Fatalf("target group ARN %q", tg)
	}
	// 2. Load balancer in two subnets (zones), 3. an HTTP listener.
	lbOut := aws.ok("elbv2", "create-load-balancer", "--name", "movie-catalog", "--subnets", "subnet-a", "subnet-b")
	lb := str(lbOut, "LoadBalancers", 0, "LoadBalancerArn")
	if str(lbOut, "LoadBalancers", 0, "State", "Code") != "active" || length(lbOut, "LoadBalancers", 0, "AvailabilityZones") != 2 {
		t.Fatalf("load balancer: %v", lbOut)
	}
	lport := freePort(t)
	listener := str(aws.ok("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP", "--port", fmt.Sprint(lport),
		"--default-actions", "Type=forward,TargetGroupArn="+tg), "Listeners", 0, "ListenerArn")
	// 4. Launch template whose user data runs the catalog.
	userData := base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\nexec alba catalog --listen \"$ALBA_PRIVATE_IP:$PORT\"\n"))
	lt := aws.ok("ec2", "create-launch-template", "--launch-template-name", "movie-catalog",
		"--launch-template-data", fmt.Sprintf(`{"ImageId":"ami-0abcdef1234567890","InstanceType":"t2.micro","UserData":"%s"}`, userData))
	if str(lt, "LaunchTemplate", "LaunchTemplateName") != "movie-catalog" || !strings.HasPrefix(str(lt, "LaunchTemplate", "LaunchTemplateId"), "lt-") {
		t.Fatalf("launch template: %v", lt)
	}
	// 5. Auto scaling group with ELB health checks, 6. target tracking.
	aws.ok("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "movie-catalog",
		"--launch-template", "LaunchTemplateName=movie-catalog,Version=$Latest", "--min-size", "1", "--max-size", "2", "--desired-capacity", "1",
		"--vpc-zone-identifier", "subnet-a,subnet-b", "--target-group-arns", tg, "--health-check-type", "ELB", "--health-check-grace-period", "30")
	pol := aws.ok("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", "movie-catalog", "--policy-name", "cpu50",
		"--policy-type", "TargetTrackingScaling", "--target-tracking-configuration",
		`{"PredefinedMetricSpecification":{"PredefinedMetricType":"ASGAverageCPUUtilization"},"TargetValue":50.0}`)
	if length(pol, "Alarms") != 2 || !strings.Contains(str(pol, "PolicyARN"), "policyName/cpu50") {
		t.Fatalf("scaling policy: %v", pol)
	}

	instances := func() []string {
		g := aws.ok("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "movie-catalog")
		var ids []string
		for i := 0; i < length(g, "AutoScalingGroups", 0, "Instances"); i++ {
			ids = append(ids, str(g, "AutoScalingGroups", 0, "Instances", i, "InstanceId"))
		}
		return ids
	}
	healthy := func() map[string]bool {
		th := aws.ok("elbv2", "describe-target-health", "--target-group-arn", tg)
		out := map[string]bool{}
		for i := 0; i < length(th, "TargetHealthDescriptions"); i++ {
			if str(th, "TargetHealthDescriptions", i, "TargetHealth", "State") == "healthy" {
				out[str(th, "TargetHealthDescriptions", i, "Target", "Id")] = true
			}
		}
		return out
	}
	// seen GETs through the listener and collects X-Instance-Id.
	seen := func(n int) map[string]int {
		out := map[string]int{}
		client := &http.Client{Timeout: 5 * time.Second}
		for i := 0; i < n; i++ {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/status", lport))
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				out[resp.Header.Get("X-Instance-Id")]++
			}
		}
		return out
	}

	// 7. The instance becomes healthy and serves traffic.
	waitFor(t, 90*time.Second, func() bool { return len(healthy()) == 1 })
	ids := instances()
	if len(ids) != 1 || !healthy()[ids[0]] {
		t.Fatalf("instances %v, healthy %v", ids, healthy())
	}
	if got := seen(10); got[ids[0]] != 10 {
		t.Fatalf("responses by instance %v, want all 10 from %s", got, ids[0])
	}

	// 8. Scale out by hand: a second instance appears in the responses.
	aws.ok("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "movie-catalog", "--desired-capacity", "2")
	waitFor(t, 90*time.Second, func() bool { return len(healthy()) == 2 })
	ids = instances()
	waitFor(t, 20*time.Second, func() bool { return len(seen(20)) == 2 })
	for id := range seen(20) {
		if id != ids[0] && id != ids[1] {
			t.Errorf("response from %q, not an instance of the group %v", id, ids)
		}
	}

	// 9. Stickiness on the target group (the CLI shows the full list).
	attrs := aws.ok("elbv2", "modify-target-group-attributes", "--target-group-arn", tg,
		"--attributes", "Key=stickiness.enabled,Value=true", "Key=stickiness.type,Value=lb_cookie")
	got := map[string]string{}
	for i := 0; i < length(attrs, "Attributes"); i++ {
		got[str(attrs, "Attributes", i, "Key")] = str(attrs, "Attributes", i, "Value")
	}
	if got["stickiness.enabled"] != "true" || got["stickiness.type"] != "lb_cookie" || got["deregistration_delay.timeout_seconds"] != "300" {
		t.Errorf("attributes: %v", got)
	}
	// ... and it really pins a cookie-keeping client to one instance, while
	// clients without the cookie still see both.
	waitFor(t, 10*time.Second, func() bool {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
		ids := map[string]int{}
		for i := 0; i < 20; i++ {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/status", lport))
			if err != nil {
				return false
			}
			resp.Body.Close()
			ids[resp.Header.Get("X-Instance-Id")]++
		}
		return len(ids) == 1
	})
	if n := len(seen(20)); n != 2 {
		t.Errorf("clients without cookies reached %d instances, want 2", n)
	}

	// 9b. HTTPS: upload a certificate with IAM and add an HTTPS listener.
	certFile, keyFile := filepath.Join(dir, "certificate.crt"), filepath.Join(dir, "private.pem")
	certPEM, keyPEM, err := certs.Generate(certs.GenerateOptions{CommonName: "movies.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, certPEM, 0o644)
	os.WriteFile(keyFile, keyPEM, 0o600)
	up := aws.ok("iam", "upload-server-certificate", "--server-certificate-name", "movies",
		"--certificate-body", "file://"+certFile, "--private-key", "file://"+keyFile)
	certARN := str(up, "ServerCertificateMetadata", "Arn")
	if !strings.HasPrefix(certARN, "arn:aws:iam::") || !strings.HasSuffix(certARN, ":server-certificate/movies") {
		t.Fatalf("certificate ARN %q", certARN)
	}
	sport := freePort(t)
	hl := aws.ok("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTPS", "--port", fmt.Sprint(sport),
		"--certificates", "CertificateArn="+certARN, "--default-actions", "Type=forward,TargetGroupArn="+tg)
	httpsListener := str(hl, "Listeners", 0, "ListenerArn")
	waitFor(t, 10*time.Second, func() bool {
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/status", sport))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200 && resp.TLS.PeerCertificates[0].Subject.CommonName == "movies.example.test" && resp.Header.Get("X-Instance-Id") != ""
	})
	aws.fails("DeleteConflict", "iam", "delete-server-certificate", "--server-certificate-name", "movies")
	aws.ok("elbv2", "delete-listener", "--listener-arn", httpsListener)
	aws.ok("iam", "delete-server-certificate", "--server-certificate-name", "movies")

	// 10. Activities show the launches.
	acts := aws.ok("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", "movie-catalog")
	launches := 0
	for i := 0; i < length(acts, "Activities"); i++ {
		if strings.HasPrefix(str(acts, "Activities", i, "Description"), "Launching a new EC2 instance: i-") &&
			str(acts, "Activities", i, "StatusCode") == "Successful" {
			launches++
		}
	}
	if launches != 2 {
		t.Errorf("%d successful launches in %v", launches, acts)
	}

	// 11. Terminate one instance and shrink the group with it.
	victim := ids[1]
	act := aws.ok("autoscaling", "terminate-instance-in-auto-scaling-group", "--instance-id", victim, "--should-decrement-desired-capacity")
	if str(act, "Activity", "Description") != "Terminating EC2 instance: "+victim || !strings.Contains(str(act, "Activity", "Cause"), "shrinking the capacity from 2 to 1") {
		t.Errorf("terminate activity: %v", act)
	}
	waitFor(t, 60*time.Second, func() bool { ids = instances(); return len(ids) == 1 && ids[0] != victim })
	if got := seen(10); got[ids[0]] != 10 {
		t.Errorf("after the termination, responses by instance %v", got)
	}

	// 12. Scale in to zero; the instances go.
	aws.ok("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", "movie-catalog", "--min-size", "0", "--desired-capacity", "0")
	waitFor(t, 60*time.Second, func() bool { return len(instances()) == 0 })

	// 13. Teardown in AWS's order.
	aws.ok("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", "movie-catalog")
	aws.fails("ResourceInUse", "elbv2", "delete-target-group", "--target-group-arn", tg)
	aws.ok("elbv2", "delete-listener", "--listener-arn", listener)
	aws.ok("elbv2", "delete-load-balancer", "--load-balancer-arn", lb)
	aws.ok("elbv2", "delete-target-group", "--target-group-arn", tg)
	aws.ok("ec2", "delete-launch-template", "--launch-template-name", "movie-catalog")
	if n := length(aws.ok("elbv2", "describe-load-balancers"), "LoadBalancers"); n != 0 {
		t.Errorf("%d load balancers left", n)
	}
	if n := length(aws.ok("autoscaling", "describe-auto-scaling-groups"), "AutoScalingGroups"); n != 0 {
		t.Errorf("%d groups left", n)
	}
	aws.fails("InvalidLaunchTemplateName.NotFoundException", "ec2", "describe-launch-templates", "--launch-template-names", "movie-catalog")
}

// needAWSCLI skips a test where the aws CLI is not installed, and fails it
// in CI, which installs it.
func needAWSCLI(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(awsBinary()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the aws CLI is not installed (apt-get install awscli)")
		}
		t.Skip("the aws CLI is not installed (apt-get install awscli)")
	}
}

// awsBinary is the AWS CLI v2 from Debian's awscli package when installed (a
// Python environment may carry an older v1 earlier on PATH), else the first
// aws on PATH.
func awsBinary() string {
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		return "/usr/bin/aws"
	}
	return "aws"
}

// awsCLIs are the aws CLIs this machine has: Debian's v2 (which speaks
// Query to CloudWatch) and a v1 from pip earlier on PATH (which speaks
// AWS JSON 1.0), each found by what --version says.
func awsCLIs(t *testing.T, endpoint string) []*awsCLI {
	seen := map[string]bool{}
	var out []*awsCLI
	for _, dir := range append([]string{"/usr/bin"}, filepath.SplitList(os.Getenv("PATH"))...) {
		bin := filepath.Join(dir, "aws")
		if _, err := os.Stat(bin); err != nil {
			continue
		}
		v, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			continue
		}
		major, _, _ := strings.Cut(strings.TrimPrefix(string(v), "aws-cli/"), ".")
		if !strings.HasPrefix(string(v), "aws-cli/") || seen[major] {
			continue
		}
		seen[major] = true
		out = append(out, &awsCLI{t: t, endpoint: endpoint, bin: bin})
		t.Logf("aws CLI v%s: %s", major, bin)
	}
	return out
}
