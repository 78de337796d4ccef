package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerImage builds, once per test, the catalog image as a user does:
// a static alba and `alba image build --binary`. The image is removed when
// the test ends.
func dockerImage(t *testing.T) string {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Docker engine answers `docker info`, and CI machines run one")
		}
		t.Skip("no Docker engine answers `docker info`")
	}
	static := filepath.Join(t.TempDir(), "alba")
	build := exec.Command("go", "build", "-o", static, "../cmd/alba")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	tag := fmt.Sprintf("alba-e2e-%d:latest", time.Now().UnixNano())
	if out, err := exec.Command(albaBin, "image", "build", "--binary", static, "--tag", tag).CombinedOutput(); err != nil {
		t.Fatalf("alba image build: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// Containers a killed alba left (the harness SIGKILLs it), then the
		// image.
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=alba.instance-id", "--filter", "ancestor="+tag).Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command("docker", "rm", "-f", id).Run()
		}
		exec.Command("docker", "rmi", "-f", tag).Run()
	})
	return tag
}

// containers lists the names of the containers Alba made for instances.
func containers(t *testing.T, ids ...string) []string {
	t.Helper()
	var out []string
	for _, id := range ids {
		b, err := exec.Command("docker", "ps", "-a", "--filter", "label=alba.instance-id="+id, "--format", "{{.Names}}").Output()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

// A launch template whose image is a Docker image runs its instances as
// containers: they serve through the load balancer, a `docker kill` of
// one under load costs no request and the instance is replaced, and a graceful stop
// of Alba leaves no container behind.
func TestDockerInstances(t *testing.T) {
	image := dockerImage(t)
	lport := freePort(t)
	cfg := strings.Replace(asgConfig(lport, "0s", `    min_size: 2
    max_size: 2
    desired_capacity: 2
    health_check_grace_period: 10
`), "      - instance_type: t2.micro\n", "      - instance_type: t2.micro\n        image_id: "+image+"\n", 1)
	l := up(t, cfg)
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=alba.group=movie-catalog", "--filter", "ancestor="+image).Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command("docker", "rm", "-f", id).Run()
		}
	})
	waitFor(t, 60*time.Second, func() bool { return len(l.inService(t)) == 2 })
	serving := l.inService(t)
	first := serving[0]
	if c := containers(t, first); len(c) != 1 || c[0] != "alba-"+first {
		t.Fatalf("containers of %s: %v", first, c)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", lport)
	resp, err := http.Get(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if from := resp.Header.Get("X-Instance-Id"); resp.StatusCode != 200 || (from != serving[0] && from != serving[1]) {
		t.Fatalf("GET /status through the load balancer: %d from %q, want 200 from one of %v", resp.StatusCode, from, serving)
	}

	ctx, stop := context.WithTimeout(context.Background(), 90*time.Second)
	defer stop()
	ld := startLoad(ctx, base+"/status", 2)
	if out, err := exec.Command("docker", "kill", "alba-"+first).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	var third string
	waitFor(t, 60*time.Second, func() bool {
		for _, id := range l.inService(t) {
			if id != serving[0] && id != serving[1] {
				third = id
				return true
			}
		}
		return false
	})
	stop()
	ld.wait()
	if n := ld.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed across docker kill: %v", n, n+ld.ok.Load(), ld.errs)
	}
	if !hasActivity(l.activities(t), "Terminating EC2 instance: "+first) {
		t.Errorf("no activity terminating the killed instance: %+v", l.activities(t))
	}

	l.signal(syscall.SIGTERM)
	if ec := l.wait(t, 60*time.Second); ec != 0 {
		t.Errorf("exit code %d", ec)
	}
	if c := containers(t, serving[0], serving[1], third); len(c) != 0 {
		t.Errorf("containers left after Alba stopped: %v", c)
	}
}

// The tutorial's Docker steps with the real aws CLI: a launch template
// whose ImageId is a Docker image, an auto scaling group from it behind a
// listener; containers appear and serve, and at min and desired 0 every
// container goes.
func TestAWSCLIDockerInstances(t *testing.T) {
	needAWSCLI(t)
	image := dockerImage(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "up", "--empty", "--data-dir", dataDir, "--admin", admin, "--listen-host", "127.0.0.1")
	waitFor(t, 10*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
	aws := &awsCLI{t: t, endpoint: "http://" + admin}
	tg := str(aws.ok("elbv2", "create-target-group", "--name", "movie-catalog", "--protocol", "HTTP", "--port", "8080",
		"--target-type", "instance", "--vpc-id", "vpc-alba", "--health-check-path", "/status", "--health-check-interval-seconds", "5",
		"--health-check-timeout-seconds", "2", "--healthy-threshold-count", "2"), "TargetGroups", 0, "TargetGroupArn")
	lb := str(aws.ok("elbv2", "create-load-balancer", "--name", "movie-catalog", "--subnets", "subnet-a", "subnet-b"), "LoadBalancers", 0, "LoadBalancerArn")
	lport := freePort(t)
	aws.ok("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP", "--port", fmt.Sprint(lport),
		"--default-actions", "Type=forward,TargetGroupArn="+tg)
	aws.ok("ec2", "create-launch-template", "--launch-template-name", "movie-catalog-docker",
		"--launch-template-data", fmt.Sprintf(`{"ImageId":"%s","InstanceType":"t2.micro",`+
			`"TagSpecifications":[{"ResourceType":"instance","Tags":[{"Key":"Name","Value":"movie-catalog"}]}]}`, image))
	aws.ok("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "movie-catalog",
		"--launch-template", "LaunchTemplateName=movie-catalog-docker", "--min-size", "2", "--max-size", "2",
		"--vpc-zone-identifier", "subnet-a,subnet-b", "--target-group-arns", tg, "--health-check-type", "ELB",
		"--tags", "Key=team,Value=films,PropagateAtLaunch=true", "Key=billing,Value=none,PropagateAtLaunch=false")
	var ids []string
	waitFor(t, 60*time.Second, func() bool {
		g := aws.ok("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "movie-catalog")
		ids = nil
		for i := 0; i < length(g, "AutoScalingGroups", 0, "Instances"); i++ {
			if str(g, "AutoScalingGroups", 0, "Instances", i, "LifecycleState") == "InService" {
				ids = append(ids, str(g, "AutoScalingGroups", 0, "Instances", i, "InstanceId"))
			}
		}
		return len(ids) == 2
	})
	if c := containers(t, ids...); len(c) != 2 {
		t.Fatalf("containers of %v: %v", ids, c)
	}
	// The instance's tags, as EC2 Auto Scaling tags it, are the
	// container's labels.
	tags := `{{index .Config.Labels "Name"}} {{index .Config.Labels "team"}} {{index .Config.Labels "aws:autoscaling:groupName"}} {{index .Config.Labels "billing"}}.`
	if got := dockerInspect(t, "alba-"+ids[0], tags); got != "movie-catalog films movie-catalog ." {
		t.Errorf("tags as labels: %q, want Name, the propagated team and the group name, not billing", got)
	}
	from := map[string]bool{}
	waitFor(t, 30*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/status", lport))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				from[resp.Header.Get("X-Instance-Id")] = true
			}
		}
		return from[ids[0]] && from[ids[1]]
	})
	aws.ok("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", "movie-catalog", "--min-size", "0", "--desired-capacity", "0")
	waitFor(t, 90*time.Second, func() bool { return len(containers(t, ids...)) == 0 })
}

// A container of this data directory that the store does not know — what
// a crash between creating a container and recording its instance leaves
// — is removed after the orphan grace; the instances' containers stay.
func TestDockerOrphanRemoved(t *testing.T) {
	image := dockerImage(t)
	lport := freePort(t)
	cfg := dockerize(asgConfig(lport, "0s", "    min_size: 1\n    max_size: 1\n"), image, "0s")
	l := up(t, cfg, "--orphan-grace", "2s")
	waitFor(t, 60*time.Second, func() bool { return len(l.inService(t)) == 1 })
	id := l.inService(t)[0]
	store, err := exec.Command("docker", "inspect", "-f", `{{index .Config.Labels "alba.store"}}`, "alba-"+id).Output()
	if err != nil {
		t.Fatal(err)
	}
	orphan := "i-0orphan" + fmt.Sprint(time.Now().UnixNano()%1e8)
	if out, err := exec.Command("docker", "run", "-d", "--name", "alba-"+orphan, "--label", "alba.store="+strings.TrimSpace(string(store)),
		"--label", "alba.instance-id="+orphan, image).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "alba-"+orphan).Run() })
	waitFor(t, 60*time.Second, func() bool { return len(containers(t, orphan)) == 0 })
	if c := containers(t, id); len(c) != 1 {
		t.Errorf("the instance's container went with the orphan: %v", c)
	}
	if !strings.Contains(l.out.String(), "removed 1 instance(s) the store does not know") {
		t.Errorf("the removal is not reported:\n%s", l.out.String())
	}
}

// A group whose image the engine lacks fails its launch activities with
// the reason and retries with backoff; a process group in the same file
// runs all the same, and once the image exists the Docker group launches.
func TestDockerMissingImage(t *testing.T) {
	image := dockerImage(t)
	missing := fmt.Sprintf("alba-e2e-missing-%d:latest", time.Now().UnixNano())
	lport := freePort(t)
	// asgConfig's file with a second template and group, on the image.
	cfg := asgConfig(lport, "0s", "    min_size: 1\n    max_size: 1\n") + `  - name: containers
    launch_template: {name: containers}
    zones: [zone-a]
    min_size: 1
    max_size: 1
`
	cfg = strings.Replace(cfg, "launch_templates:\n", "launch_templates:\n  - name: containers\n    versions:\n      - image_id: "+missing+"\n", 1)
	l := up(t, cfg)
	t.Cleanup(func() {
		exec.Command("docker", "rmi", missing).Run()
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=alba.group=containers").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command("docker", "rm", "-f", id).Run()
		}
	})
	failed := func() []activity {
		var out []activity
		for _, a := range l.activities(t) {
			if a.Group == "containers" && a.StatusCode == "Failed" {
				out = append(out, a)
			}
		}
		return out
	}
	waitFor(t, 30*time.Second, func() bool { return len(failed()) > 0 })
	a := failed()[0]
	if !strings.Contains(a.StatusMessage, "image "+missing+" not found on the Docker engine") || !strings.Contains(a.StatusMessage, "alba image build") ||
		!strings.HasPrefix(a.Description, "Launching a new EC2 instance") {
		t.Errorf("failed activity %+v: want AWS's description and a status message naming the image and how to build it", a)
	}
	// The process group is unaffected.
	waitFor(t, 30*time.Second, func() bool {
		return get(fmt.Sprintf("http://127.0.0.1:%d/status", lport)) == 200
	})
	// Once the image exists, a retry launches it.
	if out, err := exec.Command("docker", "tag", image, missing).CombinedOutput(); err != nil {
		t.Fatalf("docker tag: %v %s", err, out)
	}
	waitFor(t, 60*time.Second, func() bool {
		out, _ := exec.Command("docker", "ps", "-q", "--filter", "label=alba.group=containers").Output()
		return len(strings.Fields(string(out))) == 1
	})
	if n := len(failed()); n > 6 {
		t.Errorf("%d failed launches: the group did not back off", n)
	}
}
