package awsapi

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- CloudWatch: the metrics history read as CloudWatch serves it
// (GetMetricStatistics, GetMetricData, ListMetrics) and the target tracking
// policies' alarms (DescribeAlarms).

func cloudwatchService() *service {
	return &service{
		name: "monitoring", version: "2010-08-01", ns: "http://monitoring.amazonaws.com/doc/2010-08-01/",
		ops: map[string]op{
			"GetMetricStatistics": handle((*handler).getMetricStatistics),
			"GetMetricData":       handle((*handler).getMetricData),
			"ListMetrics":         handle((*handler).listMetrics),
			"DescribeAlarms":      handle((*handler).describeAlarms),
		},
	}
}

// maxDatapoints is how many datapoints one GetMetricStatistics may return.
const maxDatapoints = 1440

type dimensionIn struct {
	Name  string `q:"Name,req,min=1,max=255"`
	Value string `q:"Value,req,min=1,max=1024"`
}

type dimensionXML struct{ Name, Value string }

func dimensionsXML(ds []metrics.Dimension) memberList[dimensionXML] {
	out := make([]dimensionXML, len(ds))
	for i, d := range ds {
		out[i] = dimensionXML{d.Name, d.Value}
	}
	return members(out)
}

type metricIn struct {
	Namespace  string        `q:"Namespace,req,min=1,max=255"`
	MetricName string        `q:"MetricName,req,min=1,max=255"`
	Dimensions []dimensionIn `q:"Dimensions,max=30"`
}

func (m metricIn) metric() metrics.Metric {
	pairs := make([]string, 0, 2*len(m.Dimensions))
	for _, d := range m.Dimensions {
		pairs = append(pairs, d.Name, d.Value)
	}
	return metrics.New(m.Namespace, m.MetricName, pairs...)
}

// units are the metrics' units, as CloudWatch reports them.
var units = map[string]string{
	"TargetResponseTime": "Seconds", "ProcessedBytes": "Bytes", "CPUUtilization": "Percent",
	"GroupMinSize": "None", "GroupMaxSize": "None", "GroupDesiredCapacity": "None", "GroupInServiceInstances": "None",
	"GroupPendingInstances": "None", "GroupTerminatingInstances": "None", "GroupTotalInstances": "None",
	"ALBRequestCountPerTarget": "None", "ASGAverageCPUUtilization": "Percent",
}

func unitOf(name string) string {
	if u, ok := units[name]; ok {
		return u
	}
	return "Count"
}

var basicStatistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

// checkPeriod applies CloudWatch's rule: 1, 5, 10, 30 or a multiple of 60.
func checkPeriod(p int, param string) error {
	if p == 1 || p == 5 || p == 10 || p == 30 || p > 0 && p%60 == 0 {
		return nil
	}
	return apiErrorf("InvalidParameterValue", "The parameter %s must be 1, 5, 10, 30 or a multiple of 60.", param)
}

func checkRange(start, end time.Time) error {
	if !end.After(start) {
		return apiErrorf("InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.")
	}
	return nil
}

type getMetricStatisticsIn struct {
	metricIn
	StartTime          time.Time `q:"StartTime,req"`
	EndTime            time.Time `q:"EndTime,req"`
	Period             int       `q:"Period,req,min=1"`
	Statistics         []string  `q:"Statistics,max=5"`
	ExtendedStatistics []string  `q:"ExtendedStatistics,max=10"`
	Unit               string    `q:"Unit"`
}

type entryXML struct {
	Key   string `xml:"key"`
	Value double `xml:"value"`
}

type entryList struct {
	Items []entryXML `xml:"entry"`
}

type datapointXML struct {
	Timestamp          isoTime
	SampleCount        *double
	Average            *double
	Sum                *double
	Minimum            *double
	Maximum            *double
	Unit               string
	ExtendedStatistics *entryList
}

type getMetricStatisticsOut struct {
	Label      string
	Datapoints memberList[datapointXML]
}

func (h *handler) getMetricStatistics(c *call, in *getMetricStatisticsIn) (any, error) {
	if len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0 {
		return nil, apiErrorf("MissingParameter", "Must specify either Statistics or ExtendedStatistics.")
	}
	for _, s := range in.Statistics {
		if !slices.Contains(basicStatistics, s) {
			return nil, validation("1 validation error detected: Value '%s' at 'statistics' failed to satisfy constraint: Member must satisfy enum value set: [%s]", model.Quote(s), strings.Join(basicStatistics, ", "))
		}
	}
	for _, s := range in.ExtendedStatistics {
		if _, ok := metrics.ParsePercentile(s); !ok {
			return nil, apiErrorf("InvalidParameterValue", "The value %s for parameter ExtendedStatistics is not supported: use a percentile p0.0 to p100 (p99, p99.9).", model.Quote(s))
		}
	}
	if err := checkPeriod(in.Period, "Period"); err != nil {
		return nil, err
	}
	if err := checkRange(in.StartTime, in.EndTime); err != nil {
		return nil, err
	}
	period := time.Duration(in.Period) * time.Second
	if n := int64(in.EndTime.Sub(in.StartTime)+period-1) / int64(period); n > maxDatapoints {
		return nil, apiErrorf("InvalidParameterCombination", "You have requested up to %d datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n)
	}
	m := in.metric()
	out := getMetricStatisticsOut{Label: in.MetricName}
	unit := unitOf(in.MetricName)
	if in.Unit != "" && in.Unit != unit {
		return out, nil
	}
	dps, err := h.history().Query(metrics.Query{Metric: m, Start: in.StartTime, End: in.EndTime, Period: period})
	if err != nil {
		return nil, err
	}
	var xs []datapointXML
	for _, d := range dps {
		x := datapointXML{Timestamp: isoTime(d.Timestamp), Unit: unit}
		for _, s := range in.Statistics {
			v, _ := d.Statistic(s)
			p := new(double)
			*p = double(v)
			switch s {
			case "SampleCount":
				x.SampleCount = p
			case "Average":
				x.Average = p
			case "Sum":
				x.Sum = p
			case "Minimum":
				x.Minimum = p
			case "Maximum":
				x.Maximum = p
			}
		}
		if len(in.ExtendedStatistics) > 0 {
			x.ExtendedStatistics = &entryList{}
			for _, s := range in.ExtendedStatistics {
				if v, ok := d.Statistic(s); ok {
					x.ExtendedStatistics.Items = append(x.ExtendedStatistics.Items, entryXML{s, double(v)})
				}
			}
		}
		xs = append(xs, x)
	}
	out.Datapoints = members(xs)
	return out, nil
}

// history is the metrics history, an empty one when none was given.
func (h *handler) history() *metrics.History {
	if h.opts.Metrics == nil {
		return metrics.NewHistory()
	}
	return h.opts.Metrics
}

type metricDataQueryIn struct {
	ID         string `q:"Id,req,min=1,max=255"`
	Expression string `q:"Expression"`
	Label      string `q:"Label"`
	ReturnData *bool  `q:"ReturnData"`
	Period     *int   `q:"Period,min=1"`
	MetricStat *struct {
		Metric metricIn `q:"Metric,req"`
		Period int      `q:"Period,req,min=1"`
		Stat   string   `q:"Stat,req"`
		Unit   string   `q:"Unit"`
	} `q:"MetricStat"`
}

type getMetricDataIn struct {
	MetricDataQueries []metricDataQueryIn `q:"MetricDataQueries,req,max=500"`
	StartTime         time.Time           `q:"StartTime,req"`
	EndTime           time.Time           `q:"EndTime,req"`
	NextToken         string              `q:"NextToken"`
	ScanBy            string              `q:"ScanBy"`
	MaxDatapoints     *int                `q:"MaxDatapoints,min=1"`
}

type metricDataResultXML struct {
	Id         string
	Label      string
	Timestamps memberList[isoTime]
	Values     memberList[double]
	StatusCode string
	Messages   memberList[string]
}

type getMetricDataOut struct {
	MetricDataResults memberList[metricDataResultXML]
	Messages          memberList[string]
}

// maxMetricDataPoints is GetMetricData's default and largest answer.
const maxMetricDataPoints = 100800

func (h *handler) getMetricData(c *call, in *getMetricDataIn) (any, error) {
	if err := checkRange(in.StartTime, in.EndTime); err != nil {
		return nil, err
	}
	if in.NextToken != "" {
		return nil, apiErrorf("InvalidNextToken", "The token is not valid: every answer of this endpoint is complete")
	}
	desc := true
	switch in.ScanBy {
	case "", "TimestampDescending":
	case "TimestampAscending":
		desc = false
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]", model.Quote(in.ScanBy))
	}
	ids := map[string]bool{}
	var results []metricDataResultXML
	budget := orDefault(in.MaxDatapoints, maxMetricDataPoints)
	for i, q := range in.MetricDataQueries {
		if ids[q.ID] {
			return nil, validation("The values for parameter id in MetricDataQueries are not unique.")
		}
		ids[q.ID] = true
		if !validQueryID(q.ID) {
			return nil, validation("Invalid metric data query id %s: it must start with a lowercase letter and hold only letters, digits and underscores.", model.Quote(q.ID))
		}
		if q.Expression != "" {
			return nil, validation("The metric data query %s uses an Expression: Alba does not evaluate metric math; query each metric with MetricStat.", model.Quote(q.ID))
		}
		if q.MetricStat == nil {
			return nil, validation("The metric data query %s (MetricDataQueries.member.%d) must have a MetricStat or an Expression.", model.Quote(q.ID), i+1)
		}
		ms := q.MetricStat
		if err := checkPeriod(ms.Period, "Period"); err != nil {
			return nil, err
		}
		if !slices.Contains(basicStatistics, ms.Stat) {
			if _, ok := metrics.ParsePercentile(ms.Stat); !ok {
				return nil, validation("The metric data query %s has an unsupported Stat %s: use SampleCount, Average, Sum, Minimum, Maximum or a percentile (p99).", model.Quote(q.ID), model.Quote(ms.Stat))
			}
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		r := metricDataResultXML{Id: q.ID, Label: q.Label, StatusCode: "Complete"}
		if r.Label == "" {
			r.Label = ms.Metric.MetricName
		}
		var ts []isoTime
		var vs []double
		if ms.Unit == "" || ms.Unit == unitOf(ms.Metric.MetricName) {
			dps, err := h.history().Query(metrics.Query{Metric: ms.Metric.metric(), Start: in.StartTime, End: in.EndTime, Period: time.Duration(ms.Period) * time.Second})
			if err != nil {
				return nil, err
			}
			if desc {
				slices.Reverse(dps)
			}
			for _, d := range dps {
				v, ok := d.Statistic(ms.Stat)
				if !ok {
					continue
				}
				if budget == 0 {
					r.StatusCode = "PartialData"
					break
				}
				budget--
				ts = append(ts, isoTime(d.Timestamp))
				vs = append(vs, double(v))
			}
		}
		r.Timestamps, r.Values = members(ts), members(vs)
		results = append(results, r)
	}
	return getMetricDataOut{MetricDataResults: members(results)}, nil
}

func validQueryID(id string) bool {
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

type listMetricsIn struct {
	Namespace  string `q:"Namespace,min=1,max=255"`
	MetricName string `q:"MetricName,min=1,max=255"`
	Dimensions []struct {
		Name  string `q:"Name,req,min=1,max=255"`
		Value string `q:"Value,max=1024"`
	} `q:"Dimensions,max=10"`
	NextToken      string `q:"NextToken"`
	RecentlyActive string `q:"RecentlyActive"`
}

type metricXML struct {
	Namespace  string
	MetricName string
	Dimensions memberList[dimensionXML]
}

type listMetricsOut struct {
	Metrics   memberList[metricXML]
	NextToken string `xml:",omitempty"`
}

// listMetricsPage is ListMetrics' page size, as CloudWatch's.
const listMetricsPage = 500

func (h *handler) listMetrics(c *call, in *listMetricsIn) (any, error) {
	f := metrics.Filter{Namespace: in.Namespace, Name: in.MetricName}
	for _, d := range in.Dimensions {
		f.Dimensions = append(f.Dimensions, metrics.Dimension{Name: d.Name, Value: d.Value})
	}
	switch in.RecentlyActive {
	case "":
	case "PT3H":
		f.Since = c.now.Add(-3 * time.Hour)
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'recentlyActive' failed to satisfy constraint: Member must satisfy enum value set: [PT3H]", model.Quote(in.RecentlyActive))
	}
	ms := h.history().List(f)
	key := func(m metrics.Metric) string {
		var b strings.Builder
		b.WriteString(m.Namespace + "\x00" + m.Name)
		for _, d := range m.Dimensions {
			b.WriteString("\x00" + d.Name + "=" + d.Value)
		}
		return b.String()
	}
	page, next, err := paginate(ms, key, tokenPage{in.NextToken}.paging(nil, listMetricsPage))
	if err != nil {
		return nil, err
	}
	out := listMetricsOut{NextToken: next}
	xs := make([]metricXML, len(page))
	for i, m := range page {
		xs[i] = metricXML{m.Namespace, m.Name, dimensionsXML(m.Dimensions)}
	}
	out.Metrics = members(xs)
	return out, nil
}

type describeAlarmsIn struct {
	AlarmNames      []string `q:"AlarmNames,max=100"`
	AlarmNamePrefix string   `q:"AlarmNamePrefix,min=1,max=255"`
	AlarmTypes      []string `q:"AlarmTypes"`
	ActionPrefix    string   `q:"ActionPrefix,min=1,max=1024"`
	StateValue      string   `q:"StateValue"`
	MaxRecords      *int     `q:"MaxRecords,min=1,max=100"`
	tokenPage
}

type metricAlarmXML struct {
	AlarmName                          string
	AlarmArn                           string
	AlarmDescription                   string
	AlarmConfigurationUpdatedTimestamp isoTime
	ActionsEnabled                     bool
	OKActions                          memberList[string]
	AlarmActions                       memberList[string]
	InsufficientDataActions            memberList[string]
	StateValue                         string
	StateReason                        string
	StateUpdatedTimestamp              isoTime
	MetricName                         string
	Namespace                          string
	Statistic                          string
	Dimensions                         memberList[dimensionXML]
	Period                             int
	EvaluationPeriods                  int
	DatapointsToAlarm                  int
	Threshold                          double
	ComparisonOperator                 string
	TreatMissingData                   string `xml:",omitempty"`
}

type describeAlarmsOut struct {
	MetricAlarms    memberList[metricAlarmXML]
	CompositeAlarms memberList[string]
	NextToken       string `xml:",omitempty"`
}

// Alarm is one of a target tracking policy's two alarms as Alba evaluates
// it: the high one over the scale-out window, the low one over the scale-in
// window at 90 % of the target, as AWS sets them.
type alarm struct {
	name, arn string
	policy    *model.ScalingPolicy
	high      bool
}

func (h *handler) describeAlarms(c *call, in *describeAlarmsIn) (any, error) {
	for _, t := range in.AlarmTypes {
		if t != "MetricAlarm" && t != "CompositeAlarm" {
			return nil, validation("1 validation error detected: Value '%s' at 'alarmTypes' failed to satisfy constraint: Member must satisfy enum value set: [CompositeAlarm, MetricAlarm]", model.Quote(t))
		}
	}
	switch in.StateValue {
	case "", "OK", "ALARM", "INSUFFICIENT_DATA":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]", model.Quote(in.StateValue))
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "" {
		return nil, apiErrorf("InvalidParameterCombination", "AlarmNamePrefix and AlarmNames cannot be specified together.")
	}
	out := describeAlarmsOut{}
	if len(in.AlarmTypes) > 0 && !slices.Contains(in.AlarmTypes, "MetricAlarm") {
		return out, nil
	}
	policies, err := inView(h, func(tx store.Tx) ([]*model.ScalingPolicy, error) { return autoscaling.Policies(tx) })
	if err != nil {
		return nil, err
	}
	var alarms []metricAlarmXML
	for _, p := range policies {
		for _, a := range []alarm{{arn: p.AlarmHigh, policy: p, high: true}, {arn: p.AlarmLow, policy: p}} {
			if a.arn == "" {
				continue
			}
			a.name = a.arn[strings.LastIndex(a.arn, ":")+1:]
			if len(in.AlarmNames) > 0 && !slices.Contains(in.AlarmNames, a.name) ||
				!strings.HasPrefix(a.name, in.AlarmNamePrefix) || !strings.HasPrefix(p.ARN, in.ActionPrefix) {
				continue
			}
			x := h.alarmOut(a, c.now)
			if in.StateValue != "" && x.StateValue != in.StateValue {
				continue
			}
			alarms = append(alarms, x)
		}
	}
	page, next, err := paginate(alarms, func(a metricAlarmXML) string { return a.AlarmName }, in.paging(in.MaxRecords, 50))
	if err != nil {
		return nil, err
	}
	out.MetricAlarms, out.NextToken = members(page), next
	return out, nil
}

// alarmOut describes a, its state read from the history now.
func (h *handler) alarmOut(a alarm, now time.Time) metricAlarmXML {
	p := a.policy
	m := autoscaling.PolicySeries(p)
	window := h.opts.ScaleOutWindow
	threshold, op, action := p.TargetValue, "GreaterThanThreshold", "scale out"
	if !a.high {
		window = h.opts.ScaleInWindow
		threshold, op, action = p.TargetValue*0.9, "LessThanThreshold", "scale in"
	}
	if window <= 0 {
		window = time.Minute
	}
	period := int(window / time.Second)
	x := metricAlarmXML{
		AlarmName: a.name, AlarmArn: a.arn,
		AlarmDescription:                   fmt.Sprintf("DO NOT EDIT OR DELETE. For TargetTrackingScaling policy %s.", p.ARN),
		AlarmConfigurationUpdatedTimestamp: isoTime(now), StateUpdatedTimestamp: isoTime(now),
		ActionsEnabled: p.Enabled, AlarmActions: members([]string{p.ARN}),
		MetricName: m.Name, Namespace: m.Namespace, Statistic: "Average", Dimensions: dimensionsXML(m.Dimensions),
		Period: period, EvaluationPeriods: 1, DatapointsToAlarm: 1, Threshold: double(threshold), ComparisonOperator: op,
	}
	if p.DisableScaleIn && !a.high {
		x.ActionsEnabled = false
	}
	dps, _ := h.history().Query(metrics.Query{Metric: m, Start: now.Add(-window), End: now.Add(time.Second), Period: window + time.Second})
	if len(dps) == 0 {
		x.StateValue = "INSUFFICIENT_DATA"
		x.StateReason = fmt.Sprintf("No datapoints of %s in the last %s.", m.Name, window)
		return x
	}
	var sum, n float64
	for _, d := range dps {
		sum, n = sum+d.Sum, n+d.SampleCount
	}
	v := sum / n
	breach := v > threshold
	if !a.high {
		breach = v < threshold
	}
	x.StateValue = "OK"
	if breach {
		x.StateValue = "ALARM"
	}
	x.StateReason = fmt.Sprintf("The average of %s over the last %s was %.2f, %s the threshold of %.2f: target tracking would %s.",
		m.Name, window, v, map[bool]string{true: "beyond", false: "within"}[breach], threshold, map[bool]string{true: action, false: "hold"}[breach])
	return x
}
