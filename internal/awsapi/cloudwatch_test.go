package awsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// cwEnv is an API whose history holds ten minutes of a load balancer's
// traffic (100 requests a second, response times from 1 to 100 ms) and a
// group's CPU at 80 % against a 50 % policy, read with the real SDK client
// (which speaks RPC v2 CBOR) and with Query forms (what the aws CLI v2 in
// Debian sends).
type cwEnv struct {
	*env
	cw   *cloudwatch.Client
	now  time.Time
	hist *metrics.History
}

const cwLB = "app/web/50dc6c495c0c9188"

func newCWEnv(t *testing.T, opts ...func(*Options)) *cwEnv {
	// Real time, for the SDK's signatures; on a minute, for whole periods.
	now := time.Now().UTC().Truncate(time.Minute)
	h := metrics.NewHistory()
	bounds := []float64{0.001, 0.01, 0.1, 1}
	for s := -600; s < 0; s++ {
		at := now.Add(time.Duration(s) * time.Second)
		h.Put(metrics.New(metrics.NamespaceELB, "RequestCount", metrics.DimLoadBalancer, cwLB), nil, at, metrics.Value(100))
		// 100 requests: 10 under 10 ms, 89 under 100 ms, 1 under 1 s.
		h.Put(metrics.New(metrics.NamespaceELB, "TargetResponseTime", metrics.DimLoadBalancer, cwLB), bounds, at,
			metrics.Sample{Sum: 10*0.005 + 89*0.05 + 0.5, Count: 100, Min: 0.001, Max: 1, Buckets: []uint32{0, 10, 89, 1, 0}})
	}
	// The CPU goes on for a minute more: the alarms are read at the real now.
	for s := -600; s < 60; s++ {
		h.Put(metrics.New(metrics.NamespaceEC2, "CPUUtilization", metrics.DimAutoScalingGroup, "web"), nil, now.Add(time.Duration(s)*time.Second), metrics.Value(80))
	}
	e := newEnv(t, func(o *Options) {
		o.Metrics = h
		o.ScaleOutWindow, o.ScaleInWindow = 10*time.Second, 5*time.Minute
		for _, f := range opts {
			f(o)
		}
	})
	if err := e.st.Update(func(tx store.Tx) error {
		if _, _, err := autoscaling.CreateTemplate(tx, "web-lt", "", model.LaunchTemplateData{InstanceType: "t2.micro"}, nil, now); err != nil {
			return err
		}
		if err := autoscaling.CreateGroup(tx, &model.AutoScalingGroup{Name: "web", LaunchTemplate: model.LaunchTemplateSpec{Name: "web-lt"},
			MinSize: 1, Desired: 1, MaxSize: 2, Zones: []string{"zone-a"}, DefaultInstanceWarmup: -1}, now); err != nil {
			return err
		}
		return autoscaling.PutPolicy(tx, &model.ScalingPolicy{Name: "cpu50", Group: "web", PolicyType: "TargetTrackingScaling",
			MetricType: "ASGAverageCPUUtilization", TargetValue: 50, EstimatedInstanceWarmup: -1, Enabled: true})
	}); err != nil {
		t.Fatal(err)
	}
	cw := cloudwatch.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testKey, testSecret, "")})
	return &cwEnv{env: e, cw: cw, now: now, hist: h}
}

func TestGetMetricStatisticsWithTheSDK(t *testing.T) {
	e := newCWEnv(t)
	ctx := context.Background()
	out, err := e.cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String(metrics.NamespaceELB), MetricName: aws.String("RequestCount"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String(cwLB)}},
		StartTime:  aws.Time(e.now.Add(-5 * time.Minute)), EndTime: aws.Time(e.now), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum, cwtypes.StatisticAverage, cwtypes.StatisticSampleCount},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Datapoints) != 5 {
		t.Fatalf("%d datapoints for 5 minutes at 60 s, want 5", len(out.Datapoints))
	}
	for _, d := range out.Datapoints {
		if *d.Sum != 6000 || *d.Average != 100 || *d.SampleCount != 60 || d.Unit != cwtypes.StandardUnitCount || d.Maximum != nil {
			t.Errorf("datapoint %v: sum %v average %v count %v unit %s max %v; want 6000, 100, 60, Count, no Maximum", d.Timestamp, *d.Sum, *d.Average, *d.SampleCount, d.Unit, d.Maximum)
		}
		if d.Timestamp.Second() != 0 || d.Timestamp.Before(e.now.Add(-5*time.Minute)) {
			t.Errorf("datapoint at %v: not on a minute of the range", d.Timestamp)
		}
	}
	rt, err := e.cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String(metrics.NamespaceELB), MetricName: aws.String("TargetResponseTime"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String(cwLB)}},
		StartTime:  aws.Time(e.now.Add(-10 * time.Minute)), EndTime: aws.Time(e.now), Period: aws.Int32(600),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticAverage}, ExtendedStatistics: []string{"p50", "p99.9"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.Datapoints) != 1 {
		t.Fatalf("TargetResponseTime: %d datapoints, want 1", len(rt.Datapoints))
	}
	d := rt.Datapoints[0]
	if want := (10*0.005 + 89*0.05 + 0.5) / 100; math.Abs(*d.Average-want) > 1e-9 || d.Unit != cwtypes.StandardUnitSeconds {
		t.Errorf("average %v %s, want %v Seconds", *d.Average, d.Unit, want)
	}
	if p := d.ExtendedStatistics["p50"]; p < 0.01 || p > 0.1 {
		t.Errorf("p50 %v, want in the 10–100 ms bucket", p)
	}
	if p := d.ExtendedStatistics["p99.9"]; p < 0.1 || p > 1 {
		t.Errorf("p99.9 %v, want in the 100 ms–1 s bucket", p)
	}
}

func TestCloudWatchErrorsWithTheSDK(t *testing.T) {
	e := newCWEnv(t)
	ctx := context.Background()
	base := func() *cloudwatch.GetMetricStatisticsInput {
		return &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String(metrics.NamespaceELB), MetricName: aws.String("RequestCount"),
			StartTime: aws.Time(e.now.Add(-time.Hour)), EndTime: aws.Time(e.now), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}}
	}
	cases := []struct {
		name string
		mod  func(*cloudwatch.GetMetricStatisticsInput)
		code string
	}{
		{"a period of 7 s", func(in *cloudwatch.GetMetricStatisticsInput) { in.Period = aws.Int32(7) }, "InvalidParameterValue"},
		{"no statistic", func(in *cloudwatch.GetMetricStatisticsInput) { in.Statistics = nil }, "MissingParameter"},
		{"end before start", func(in *cloudwatch.GetMetricStatisticsInput) { in.EndTime = aws.Time(e.now.Add(-2 * time.Hour)) }, "InvalidParameterValue"},
		{"too many datapoints", func(in *cloudwatch.GetMetricStatisticsInput) { in.Period = aws.Int32(1) }, "InvalidParameterCombination"},
		{"a bad percentile", func(in *cloudwatch.GetMetricStatisticsInput) { in.ExtendedStatistics = []string{"p101"} }, "InvalidParameterValue"},
	}
	for _, c := range cases {
		in := base()
		c.mod(in)
		if _, err := e.cw.GetMetricStatistics(ctx, in); code(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := e.cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Mine"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("x"), Value: aws.Float64(1)}}}); code(err) != "UnknownOperationException" {
		t.Errorf("PutMetricData: %v, want UnknownOperationException", err)
	}
}

func TestGetMetricDataWithTheSDK(t *testing.T) {
	e := newCWEnv(t)
	stat := func(name, s string, dims ...cwtypes.Dimension) *cwtypes.MetricStat {
		ns := metrics.NamespaceELB
		if name == "CPUUtilization" {
			ns = metrics.NamespaceEC2
		}
		return &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dims}, Period: aws.Int32(60), Stat: aws.String(s)}
	}
	lb := cwtypes.Dimension{Name: aws.String("LoadBalancer"), Value: aws.String(cwLB)}
	out, err := e.cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(e.now.Add(-3 * time.Minute)), EndTime: aws.Time(e.now), ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			{Id: aws.String("requests"), MetricStat: stat("RequestCount", "Sum", lb)},
			{Id: aws.String("cpu"), Label: aws.String("CPU"), MetricStat: stat("CPUUtilization", "Maximum", cwtypes.Dimension{Name: aws.String("AutoScalingGroupName"), Value: aws.String("web")})},
			{Id: aws.String("p99"), MetricStat: stat("TargetResponseTime", "p99", lb)},
			{Id: aws.String("hidden"), ReturnData: aws.Bool(false), MetricStat: stat("RequestCount", "Sum", lb)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.MetricDataResults) != 3 {
		t.Fatalf("%d results, want 3 (ReturnData false is left out)", len(out.MetricDataResults))
	}
	r := out.MetricDataResults
	if *r[0].Id != "requests" || len(r[0].Values) != 3 || r[0].Values[0] != 6000 || !r[0].Timestamps[0].Before(r[0].Timestamps[1]) || r[0].StatusCode != cwtypes.StatusCodeComplete {
		t.Errorf("requests: %+v", r[0])
	}
	if *r[1].Label != "CPU" || r[1].Values[2] != 80 {
		t.Errorf("cpu: label %q values %v", *r[1].Label, r[1].Values)
	}
	if v := r[2].Values[0]; v < 0.01 || v > 0.1 {
		t.Errorf("p99 of TargetResponseTime %v, want in the 10–100 ms bucket", v)
	}
	_, err = e.cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{StartTime: aws.Time(e.now.Add(-time.Minute)), EndTime: aws.Time(e.now),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("m"), Expression: aws.String("SUM(METRICS())")}}})
	if code(err) != "ValidationError" || !strings.Contains(err.Error(), "metric math") {
		t.Errorf("a math expression: %v, want a ValidationError saying Alba does not evaluate metric math", err)
	}
}

func TestListMetricsAndDescribeAlarmsWithTheSDK(t *testing.T) {
	e := newCWEnv(t)
	ctx := context.Background()
	lm, err := e.cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String(metrics.NamespaceELB),
		Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("LoadBalancer")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(lm.Metrics) != 2 || *lm.Metrics[0].MetricName != "RequestCount" || *lm.Metrics[0].Dimensions[0].Value != cwLB {
		t.Errorf("ListMetrics: %+v, want RequestCount and TargetResponseTime of the load balancer", lm.Metrics)
	}
	al, err := e.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(al.MetricAlarms) != 2 {
		t.Fatalf("%d alarms, want the policy's high and low", len(al.MetricAlarms))
	}
	for _, a := range al.MetricAlarms {
		high := strings.Contains(*a.AlarmName, "AlarmHigh")
		wantState, wantThreshold := cwtypes.StateValueOk, 45.0 // 80 % is not below 90 % of the target
		if high {
			wantState, wantThreshold = cwtypes.StateValueAlarm, 50
		}
		if a.StateValue != wantState || *a.Threshold != wantThreshold || *a.MetricName != "CPUUtilization" || *a.Namespace != "AWS/EC2" || !strings.HasPrefix(*a.AlarmName, "TargetTracking-web-") {
			t.Errorf("alarm %s: state %s threshold %v metric %s/%s", *a.AlarmName, a.StateValue, *a.Threshold, *a.Namespace, *a.MetricName)
		}
	}
	only, err := e.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm})
	if err != nil || len(only.MetricAlarms) != 1 {
		t.Errorf("alarms in ALARM: %v %v, want the high one", only, err)
	}
}

// Debian's aws CLI v2 speaks the Query protocol to CloudWatch.
func TestGetMetricStatisticsOverQuery(t *testing.T) {
	e := newCWEnv(t)
	e2 := newEnv(t, func(o *Options) { o.Metrics = e.hist; o.AccessKeyID = "" })
	status, body := post(t, e2.srv.URL, url.Values{"Action": {"GetMetricStatistics"}, "Version": {"2010-08-01"},
		"Namespace": {"AWS/ApplicationELB"}, "MetricName": {"RequestCount"},
		"Dimensions.member.1.Name": {"LoadBalancer"}, "Dimensions.member.1.Value": {cwLB},
		"StartTime": {e.now.Add(-2 * time.Minute).Format(time.RFC3339)}, "EndTime": {e.now.Format(time.RFC3339)},
		"Period": {"120"}, "Statistics.member.1": {"Sum"}})
	if status != 200 || !strings.Contains(body, "<Sum>12000.0</Sum>") || !strings.Contains(body, "<GetMetricStatisticsResult><Label>RequestCount</Label>") {
		t.Errorf("status %d: %s", status, body)
	}
	status, body = post(t, e2.srv.URL, url.Values{"Action": {"GetMetricStatistics"}, "Version": {"2010-08-01"},
		"Namespace": {"AWS/ApplicationELB"}, "MetricName": {"RequestCount"}, "StartTime": {"yesterday"}, "EndTime": {"now"}, "Period": {"60"}})
	if status != 400 || !strings.Contains(body, "<Code>ValidationError</Code>") || !strings.Contains(body, "ISO 8601") {
		t.Errorf("a bad timestamp: status %d: %s", status, body)
	}
	status, body = post(t, e2.srv.URL, url.Values{"Action": {"GetMetricStatistics"}, "Version": {"2010-08-01"},
		"MetricName": {"RequestCount"}, "StartTime": {"2026-12-01T00:00:00Z"}, "EndTime": {"2026-12-01T01:00:00Z"}, "Period": {"60"}, "Statistics.member.1": {"Sum"}})
	if status != 400 || !strings.Contains(body, "<Code>ValidationError</Code>") || !strings.Contains(body, "namespace") {
		t.Errorf("no namespace: status %d: %s", status, body)
	}
}

func TestBadCBORIsASerializationError(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AccessKeyID = "" })
	cases := []struct{ path, body string }{
		{"/service/GraniteServiceVersion20100801/operation/ListMetrics", "\xff\x00garbage"},
		{"/service/GraniteServiceVersion20100801/operation/ListMetrics", "\x83\x01\x02\x03"}, // a list, not a map
	}
	for _, c := range cases {
		req, _ := http.NewRequest("POST", e.srv.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
		req.Header.Set("Content-Type", "application/cbor")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Query-Error") != "SerializationException;Sender" {
			t.Errorf("%q: status %d, query error %q", c.body, resp.StatusCode, resp.Header.Get("X-Amzn-Query-Error"))
		}
	}
}

// botocore (the aws CLI v1) speaks AWS JSON 1.0 to CloudWatch.
func TestCloudWatchOverJSON(t *testing.T) {
	e := newCWEnv(t, func(o *Options) { o.AccessKeyID = "" })
	call := func(op, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.srv.URL+"/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: the answer is not JSON: %v", op, err)
		}
		return resp.StatusCode, out
	}
	cases := []struct {
		name, op, body string
		status         int
		check          func(map[string]any) bool
	}{
		{"a sum over two minutes", "GetMetricStatistics", fmt.Sprintf(`{"Namespace":"AWS/ApplicationELB","MetricName":"RequestCount",
			"Dimensions":[{"Name":"LoadBalancer","Value":%q}],"StartTime":%d,"EndTime":%q,"Period":120,"Statistics":["Sum"]}`,
			cwLB, e.now.Add(-2*time.Minute).Unix(), e.now.Format(time.RFC3339)), 200,
			func(m map[string]any) bool {
				dps, _ := m["Datapoints"].([]any)
				if len(dps) != 1 {
					return false
				}
				dp, _ := dps[0].(map[string]any)
				return dp["Sum"] == 12000.0 && m["Label"] == "RequestCount"
			}},
		{"the alarms", "DescribeAlarms", `{}`, 200,
			func(m map[string]any) bool { a, _ := m["MetricAlarms"].([]any); return len(a) == 2 }},
		{"a reversed range", "GetMetricStatistics", fmt.Sprintf(`{"Namespace":"AWS/ApplicationELB","MetricName":"RequestCount",
			"StartTime":%d,"EndTime":%d,"Period":60,"Statistics":["Sum"]}`, e.now.Unix(), e.now.Add(-time.Hour).Unix()), 400,
			func(m map[string]any) bool {
				return strings.HasSuffix(fmt.Sprint(m["__type"]), "InvalidParameterValue")
			}},
		{"not JSON", "ListMetrics", `{"Namespace":`, 400,
			func(m map[string]any) bool {
				return strings.HasSuffix(fmt.Sprint(m["__type"]), "SerializationException")
			}},
		{"a list, not an object", "ListMetrics", `[1,2]`, 400,
			func(m map[string]any) bool {
				return strings.HasSuffix(fmt.Sprint(m["__type"]), "SerializationException")
			}},
		{"an operation CloudWatch does not have", "PutDashboardz", `{}`, 400,
			func(m map[string]any) bool {
				return strings.HasSuffix(fmt.Sprint(m["__type"]), "UnknownOperationException")
			}},
	}
	for _, c := range cases {
		status, out := call(c.op, c.body)
		if status != c.status || !c.check(out) {
			t.Errorf("%s: status %d: %v", c.name, status, out)
		}
	}
}
