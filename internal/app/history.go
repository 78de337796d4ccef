package app

import (
	"slices"
	"strconv"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/lbcontroller"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// The metrics history's sources: once a second the node reads what the
// data plane counted and the groups' sizes, under CloudWatch's names.
// Instance CPU comes from the auto scaling controller, which measures it.

// elbCounter is a metric of AWS/ApplicationELB.
func elbMetric(name string, dims ...string) metrics.Metric {
	return metrics.New(metrics.NamespaceELB, name, dims...)
}

// targetCodes are the response classes' metric names, in Responses' order.
var targetCodes = [4]string{"HTTPCode_Target_2XX_Count", "HTTPCode_Target_3XX_Count", "HTTPCode_Target_4XX_Count", "HTTPCode_Target_5XX_Count"}

// trafficTotals is what a load balancer's target groups add up to.
type trafficTotals struct {
	requests, connErrors float64
	codes                [4]float64
	responseTime         metrics.Sample
}

func (t *trafficTotals) add(o trafficTotals) {
	t.requests += o.requests
	t.connErrors += o.connErrors
	for i := range t.codes {
		t.codes[i] += o.codes[i]
	}
	t.responseTime.Merge(o.responseTime)
}

// record writes the totals under dims.
func (t *trafficTotals) record(r *metrics.Recorder, dims []string) {
	r.Gauge(elbMetric("RequestCount", dims...), t.requests)
	r.Gauge(elbMetric("TargetConnectionErrorCount", dims...), t.connErrors)
	for i, name := range targetCodes {
		r.Gauge(elbMetric(name, dims...), t.codes[i])
	}
	r.Put(elbMetric("TargetResponseTime", dims...), dataplane.LatencyBuckets, t.responseTime)
}

// sampleTraffic reads the load balancers, target groups and targets.
func (n *Node) sampleTraffic(r *metrics.Recorder) {
	snap := n.Controller.Snapshot()
	if snap == nil {
		return
	}
	lbOf := map[string]string{}
	for tg, lb := range lbForwards(snap) {
		lbOf[tg] = metrics.LoadBalancerDimension(lb)
	}
	byLB := map[string]*trafficTotals{}
	for _, gv := range snap.Groups {
		tg := metrics.TargetGroupDimension(gv.Group.ARN)
		var g trafficTotals
		healthy, unhealthy := 0, 0
		for _, tv := range gv.Targets {
			t := tv.Live
			if t == nil {
				continue
			}
			dims := []string{metrics.DimTargetGroup, tg, metrics.DimTarget, t.ID + ":" + strconv.Itoa(t.Port)}
			g.requests += r.Counter(elbMetric("RequestCount", dims...), t.Requests.Load())
			g.connErrors += r.Counter(elbMetric("TargetConnectionErrorCount", dims...), t.ConnErrors.Load())
			c2, c3, c4, c5 := t.Responses()
			for i, total := range [4]uint64{c2, c3, c4, c5} {
				g.codes[i] += r.Counter(elbMetric(targetCodes[i], dims...), total)
			}
			buckets, _, sum := t.Latency()
			g.responseTime.Merge(r.Histogram(elbMetric("TargetResponseTime", dims...), dataplane.LatencyBuckets, buckets, sum))
			switch n.Health.Status(t).State {
			case health.StateHealthy:
				healthy++
			case health.StateUnhealthy:
				unhealthy++
			}
		}
		dims := []string{metrics.DimTargetGroup, tg}
		lb := lbOf[gv.Group.ARN]
		if lb != "" {
			dims = append(dims, metrics.DimLoadBalancer, lb)
		}
		g.record(r, dims)
		r.Gauge(elbMetric("HealthyHostCount", dims...), float64(healthy))
		r.Gauge(elbMetric("UnHealthyHostCount", dims...), float64(unhealthy))
		// ALB divides by the healthy targets, or by all when none is.
		per := float64(max(healthy, 1))
		if healthy == 0 && len(gv.Targets) > 0 {
			per = float64(len(gv.Targets))
		}
		r.Gauge(elbMetric("RequestCountPerTarget", metrics.DimTargetGroup, tg), g.requests/per)
		if lb != "" {
			r.Gauge(elbMetric("RequestCountPerTarget", dims...), g.requests/per)
			if byLB[lb] == nil {
				byLB[lb] = &trafficTotals{}
			}
			byLB[lb].add(g)
		}
	}
	for _, lv := range snap.LoadBalancers {
		lb := metrics.LoadBalancerDimension(lv.LoadBalancer.ARN)
		dims := []string{metrics.DimLoadBalancer, lb}
		t := byLB[lb]
		if t == nil {
			t = &trafficTotals{}
		}
		t.record(r, dims)
		s := lv.Stats
		if s == nil {
			continue
		}
		r.Counter(elbMetric("NewConnectionCount", dims...), s.NewConnections.Load())
		r.Gauge(elbMetric("ActiveConnectionCount", dims...), float64(s.ActiveConnections.Load()))
		r.Counter(elbMetric("ProcessedBytes", dims...), s.ProcessedBytes.Load())
		r.Counter(elbMetric("RejectedConnectionCount", dims...), s.RejectedConnections.Load())
		r.Counter(elbMetric("HTTP_Fixed_Response_Count", dims...), s.FixedResponses.Load())
		r.Counter(elbMetric("HTTP_Redirect_Count", dims...), s.Redirects.Load())
		// Redirects are the load balancer's only 3xx answers.
		r.Counter(elbMetric("HTTPCode_ELB_3XX_Count", dims...), s.Redirects.Load())
		c4, c5, c502, c503, c504 := s.ELBResponses()
		for name, v := range map[string]uint64{"HTTPCode_ELB_4XX_Count": c4, "HTTPCode_ELB_5XX_Count": c5,
			"HTTPCode_ELB_502_Count": c502, "HTTPCode_ELB_503_Count": c503, "HTTPCode_ELB_504_Count": c504} {
			r.Counter(elbMetric(name, dims...), v)
		}
	}
}

// sampleGroups reads the auto scaling groups' sizes (AWS/AutoScaling).
func (n *Node) sampleGroups(r *metrics.Recorder) {
	n.Store.View(func(tx store.Tx) error {
		gs, _ := autoscaling.Groups(tx)
		for _, g := range gs {
			insts, _ := autoscaling.InstancesOf(tx, g.Name)
			count := map[string]int{}
			for _, i := range insts {
				count[i.LifecycleState]++
			}
			for name, v := range map[string]int{
				"GroupMinSize": g.MinSize, "GroupMaxSize": g.MaxSize, "GroupDesiredCapacity": g.Desired,
				"GroupInServiceInstances":   count[model.LifecycleInService],
				"GroupPendingInstances":     count[model.LifecyclePending],
				"GroupTerminatingInstances": count[model.LifecycleTerminating],
				"GroupTotalInstances":       len(insts),
			} {
				r.Gauge(metrics.New(metrics.NamespaceAutoScaling, name, metrics.DimAutoScalingGroup, g.Name), float64(v))
			}
		}
		return nil
	})
}

// lbForwards maps each target group's ARN to the load balancer that
// forwards to it (a listener's ARN, which names its load balancer): the
// first by listener address, for a group shared by several.
func lbForwards(snap *lbcontroller.Snapshot) map[string]string {
	out := map[string]string{}
	addrs := make([]string, 0, len(snap.Table.Listeners))
	for a := range snap.Table.Listeners {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		l := snap.Table.Listeners[a]
		for _, rule := range l.Rules {
			for _, wg := range rule.Action.Groups {
				if _, ok := out[wg.Group.ARN]; !ok {
					out[wg.Group.ARN] = l.ARN
				}
			}
		}
	}
	return out
}
