package awsapi

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAWSCLI drives the handler with the real aws CLI (botocore's
// serializers, parsers and SigV4 signer), when it is installed. The e2e
// test runs the whole tutorial with it against alba up.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: every aws command starts Python")
	}
	if _, err := exec.LookPath(awsCLI()); err != nil {
		t.Skip("aws CLI not installed (apt-get install awscli)")
	}
	e := newEnv(t, func(o *Options) { o.AccessKeyID, o.SecretAccessKey = "test", "test" })
	run := func(args ...string) (map[string]any, string, int) {
		t.Helper()
		cmd := exec.Command(awsCLI(), append([]string{"--endpoint-url", e.srv.URL, "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		codeNum := 0
		if ee, ok := err.(*exec.ExitError); ok {
			codeNum = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if out.Len() > 0 {
			if err := json.Unmarshal(out.Bytes(), &v); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out.String())
			}
		}
		return v, errb.String(), codeNum
	}
	ok := func(args ...string) map[string]any {
		t.Helper()
		v, stderr, c := run(args...)
		if c != 0 {
			t.Fatalf("aws %s: exit %d\n%s", strings.Join(args, " "), c, stderr)
		}
		return v
	}
	first := func(v map[string]any, list, field string) string {
		t.Helper()
		items, _ := v[list].([]any)
		if len(items) == 0 {
			t.Fatalf("no %s in %v", list, v)
		}
		return items[0].(map[string]any)[field].(string)
	}

	tg := first(ok("elbv2", "create-target-group", "--name", "cli", "--protocol", "HTTP", "--port", "8080", "--target-type", "ip",
		"--health-check-path", "/status", "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "2"), "TargetGroups", "TargetGroupArn")
	ok("elbv2", "register-targets", "--target-group-arn", tg, "--targets", "Id=10.0.0.1,Port=9000", "Id=10.0.0.2")
	th := ok("elbv2", "describe-target-health", "--target-group-arn", tg)
	if n := len(th["TargetHealthDescriptions"].([]any)); n != 2 {
		t.Errorf("%d targets", n)
	}
	attrs := ok("elbv2", "modify-target-group-attributes", "--target-group-arn", tg, "--attributes", "Key=stickiness.enabled,Value=true", "Key=stickiness.type,Value=lb_cookie")
	if n := len(attrs["Attributes"].([]any)); n < 10 {
		t.Errorf("%d attributes", n)
	}
	lb := first(ok("elbv2", "create-load-balancer", "--name", "cli", "--subnets", "subnet-a", "subnet-b"), "LoadBalancers", "LoadBalancerArn")
	ok("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP", "--port", "18200", "--default-actions", "Type=forward,TargetGroupArn="+tg)
	ok("elbv2", "wait", "load-balancer-available", "--load-balancer-arns", lb)
	ok("elbv2", "describe-target-groups") // auto-paginated
	ok("elbv2", "add-tags", "--resource-arns", lb, "--tags", "Key=env,Value=dev")
	ok("elbv2", "describe-ssl-policies", "--names", "ELBSecurityPolicy-TLS13-1-2-2021-06")

	_, stderr, c := run("elbv2", "describe-load-balancers", "--names", "nope")
	if c == 0 || !strings.Contains(stderr, "(LoadBalancerNotFound)") {
		t.Errorf("unknown load balancer: exit %d, %s", c, stderr)
	}
	_, stderr, c = run("elbv2", "delete-target-group", "--target-group-arn", tg)
	if c == 0 || !strings.Contains(stderr, "(ResourceInUse)") {
		t.Errorf("delete of a group in use: exit %d, %s", c, stderr)
	}

	lt := ok("ec2", "create-launch-template", "--launch-template-name", "cli-lt", "--version-description", "v1",
		"--launch-template-data", `{"ImageId":"ami-12345678","InstanceType":"t2.micro","UserData":"`+userData+`","SecurityGroupIds":["sg-1"]}`,
		"--tag-specifications", `ResourceType=launch-template,Tags=[{Key=env,Value=dev}]`)
	if lt["LaunchTemplate"].(map[string]any)["LaunchTemplateName"] != "cli-lt" {
		t.Errorf("launch template: %v", lt)
	}
	vs := ok("ec2", "describe-launch-template-versions", "--launch-template-name", "cli-lt", "--versions", "$Latest")
	if d := vs["LaunchTemplateVersions"].([]any)[0].(map[string]any)["LaunchTemplateData"].(map[string]any); d["UserData"] != userData {
		t.Errorf("user data: %v", d)
	}
	_, stderr, c = run("ec2", "create-launch-template", "--launch-template-name", "cli-lt", "--launch-template-data", "{}")
	if c == 0 || !strings.Contains(stderr, "(InvalidLaunchTemplateName.AlreadyExistsException)") {
		t.Errorf("duplicate template: exit %d, %s", c, stderr)
	}

	ok("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "cli-asg", "--launch-template", "LaunchTemplateName=cli-lt,Version=$Latest",
		"--min-size", "0", "--max-size", "2", "--vpc-zone-identifier", "subnet-a,subnet-b", "--health-check-type", "ELB", "--health-check-grace-period", "30")
	ok("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "cli-asg", "--desired-capacity", "1")
	pol := ok("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", "cli-asg", "--policy-name", "cpu50", "--policy-type", "TargetTrackingScaling",
		"--target-tracking-configuration", `{"PredefinedMetricSpecification":{"PredefinedMetricType":"ASGAverageCPUUtilization"},"TargetValue":50.0}`)
	if len(pol["Alarms"].([]any)) != 2 {
		t.Errorf("policy: %v", pol)
	}
	gs := ok("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "cli-asg")
	if g := gs["AutoScalingGroups"].([]any)[0].(map[string]any); g["DesiredCapacity"].(float64) != 1 {
		t.Errorf("group: %v", g)
	}
	ok("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", "cli-asg")
	ok("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", "cli-asg")
	ok("iam", "list-server-certificates")

	// Unsigned requests are refused when credentials are configured.
	_, stderr, c = run("--no-sign-request", "elbv2", "describe-load-balancers")
	if c == 0 || !strings.Contains(stderr, "MissingAuthenticationToken") {
		t.Errorf("unsigned: exit %d, %s", c, stderr)
	}
}

// awsCLI is the AWS CLI v2 from Debian's awscli package when installed (a
// Python environment may carry an older v1 earlier on PATH), else the first
// aws on PATH.
func awsCLI() string {
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		return "/usr/bin/aws"
	}
	return "aws"
}
