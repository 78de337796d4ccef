package e2e

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the load generator sent is what CloudWatch reports, to the
// request, with each aws CLI: the load balancer's RequestCount and the
// target group's 2xx count.
func TestCloudWatchCountsWhatTheLoadGeneratorSent(t *testing.T) {
	clis := awsCLIs(t, "")
	if len(clis) == 0 {
		t.Skip("no aws CLI installed")
	}
	_, port := catalog(t, "cw-a")
	lport := freePort(t)
	l := up(t, config(lport, []int{port}, fastHealth))
	l.waitHealthy(t, port)

	began := time.Now().UTC()
	stdout, stderr, code := runAlba(t, 30*time.Second, "loadtest", "--target", fmt.Sprintf("http://127.0.0.1:%d", lport), "-d", "3s", "--fail-on-error")
	if code != 0 {
		t.Fatalf("alba loadtest exited %d\n%s\n%s", code, stdout, stderr)
	}
	m := regexp.MustCompile(`(?m)^Requests +(\d+)$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no request count in the report:\n%s", stdout)
	}
	sent, _ := strconv.Atoi(m[1])

	for _, aws := range clis {
		aws.endpoint = "http://" + l.admin
		lbs := aws.ok("elbv2", "describe-load-balancers", "--names", "web")
		_, lbDim, _ := strings.Cut(str(lbs, "LoadBalancers", 0, "LoadBalancerArn"), ":loadbalancer/")
		tgs := aws.ok("elbv2", "describe-target-groups", "--names", "web")
		_, tgDim, _ := strings.Cut(str(tgs, "TargetGroups", 0, "TargetGroupArn"), ":")
		tgDim = tgDim[strings.LastIndex(tgDim, ":")+1:]
		// Dimensions are as on AWS, matched exactly: a target group's
		// series carry its load balancer too.
		sum := func(metric string, dims ...string) float64 {
			args := []string{"cloudwatch", "get-metric-statistics", "--namespace", "AWS/ApplicationELB", "--metric-name", metric, "--dimensions"}
			for i := 0; i < len(dims); i += 2 {
				args = append(args, "Name="+dims[i]+",Value="+dims[i+1])
			}
			out := aws.ok(append(args,
				"--start-time", began.Add(-time.Minute).Format(time.RFC3339), "--end-time", time.Now().UTC().Add(time.Minute).Format(time.RFC3339),
				"--period", "60", "--statistics", "Sum")...)
			total := 0.0
			for i := range length(out, "Datapoints") {
				total += path(out, "Datapoints", i, "Sum").(float64)
			}
			return total
		}
		within := func(got float64) bool { return math.Abs(got-float64(sent)) <= float64(sent)/100 }
		// The history samples every second: wait for the last one.
		var got float64
		waitFor(t, 10*time.Second, func() bool { got = sum("RequestCount", "LoadBalancer", lbDim); return within(got) })
		t.Logf("%s: the load generator sent %d, RequestCount says %.0f", aws.bin, sent, got)
		if got2xx := sum("HTTPCode_Target_2XX_Count", "TargetGroup", tgDim, "LoadBalancer", lbDim); !within(got2xx) {
			t.Errorf("%s: HTTPCode_Target_2XX_Count %.0f for the target group, the load generator sent %d", aws.bin, got2xx, sent)
		}
		listed := aws.ok("cloudwatch", "list-metrics", "--namespace", "AWS/ApplicationELB", "--metric-name", "RequestCount")
		found := false
		for i := range length(listed, "Metrics") {
			for j := range length(listed, "Metrics", i, "Dimensions") {
				found = found || str(listed, "Metrics", i, "Dimensions", j, "Value") == lbDim
			}
		}
		if !found {
			t.Errorf("%s: list-metrics does not name %s: %v", aws.bin, lbDim, listed)
		}
		aws.fails("InvalidParameterValue", "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ApplicationELB", "--metric-name", "RequestCount",
			"--start-time", began.Format(time.RFC3339), "--end-time", began.Add(-time.Hour).Format(time.RFC3339), "--period", "60", "--statistics", "Sum")
	}
}

var cpuCause = regexp.MustCompile(`At (\S+Z) a monitor alarm \S+ in state ALARM triggered policy \S+ changing the desired capacity from 1 to 2 \(ASGAverageCPUUtilization was ([0-9.]+), above`)

// checkCPUAsThePolicySaw reads AWS/EC2 CPUUtilization of the group's first
// instance with the aws CLI and finds, in the seconds before the scale-out,
// the run of samples whose average the activity's cause names.
func checkCPUAsThePolicySaw(t *testing.T, l *lb, instance string) {
	clis := awsCLIs(t, "http://"+l.admin)
	if len(clis) == 0 {
		t.Log("no aws CLI installed: CPUUtilization not read")
		return
	}
	var at time.Time
	var saw float64
	for _, a := range l.activities(t) {
		if m := cpuCause.FindStringSubmatch(a.Cause); m != nil {
			at, _ = time.Parse(time.RFC3339, m[1])
			saw, _ = strconv.ParseFloat(m[2], 64)
		}
	}
	if at.IsZero() {
		t.Fatalf("no scale-out activity naming the CPU: %+v", l.activities(t))
	}
	for _, aws := range clis {
		out := aws.ok("cloudwatch", "get-metric-statistics", "--namespace", "AWS/EC2", "--metric-name", "CPUUtilization",
			"--dimensions", "Name=InstanceId,Value="+instance,
			"--start-time", at.Add(-20*time.Second).Format(time.RFC3339), "--end-time", at.Add(2*time.Second).Format(time.RFC3339),
			"--period", "1", "--statistics", "Sum", "SampleCount")
		type point struct {
			at         time.Time
			sum, count float64
		}
		var ps []point
		for i := range length(out, "Datapoints") {
			// The CLI v1 prints timestamps as the wire has them (AWS JSON:
			// epoch seconds), the v2 in ISO 8601.
			var ts time.Time
			switch v := path(out, "Datapoints", i, "Timestamp").(type) {
			case float64:
				ts = time.Unix(int64(v), 0)
			case string:
				ts, _ = time.Parse(time.RFC3339, v)
			}
			ps = append(ps, point{ts, path(out, "Datapoints", i, "Sum").(float64), path(out, "Datapoints", i, "SampleCount").(float64)})
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].at.Before(ps[j].at) })
		// The policy averages the samples of its window (3 s here, read
		// second by second) up to the second it decided in: the seconds
		// before that one average to what the cause says, to its two
		// decimals.
		end := -1
		for i, p := range ps {
			if p.at.Equal(at) {
				end = i
			}
		}
		match := false
		var sum, n float64
		for j := end; j >= 0 && j > end-6; j-- {
			sum, n = sum+ps[j].sum, n+ps[j].count
			match = match || (n >= 2 && math.Abs(sum/n-saw) < 0.006)
		}
		if !match {
			t.Errorf("%s: no run of CPUUtilization samples of %s before %v averages %.2f, what the policy saw: %+v", aws.bin, instance, at, saw, ps)
		} else {
			t.Logf("%s: CPUUtilization of %s averages %.2f before %v, as the scale-out's cause says", aws.bin, instance, saw, at)
		}
	}
}
