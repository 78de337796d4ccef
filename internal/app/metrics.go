package app

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// collector exposes Alba's state as Prometheus metrics, read at scrape time
// from the atomics the data plane keeps: nothing is added to the request
// path. Names follow ALB's CloudWatch metrics where one exists.
type collector struct{ n *Node }

var (
	descRequests   = prometheus.NewDesc("alba_target_requests_total", "Requests sent to a target (RequestCount).", []string{"target_group", "target", "port"}, nil)
	desc5xx        = prometheus.NewDesc("alba_target_5xx_total", "5XX responses from a target (HTTPCode_Target_5XX_Count).", []string{"target_group", "target", "port"}, nil)
	descConnErrors = prometheus.NewDesc("alba_target_connection_errors_total", "Failed connections to a target (TargetConnectionErrorCount).", []string{"target_group", "target", "port"}, nil)
	descInFlight   = prometheus.NewDesc("alba_target_in_flight_requests", "Requests being proxied to a target.", []string{"target_group", "target", "port"}, nil)
	descHealthy    = prometheus.NewDesc("alba_target_healthy", "1 when the target is healthy, else 0, with its AWS state.", []string{"target_group", "target", "port", "state"}, nil)
	descLatency    = prometheus.NewDesc("alba_target_response_time_seconds", "Time from sending a request to a target to its response head (TargetResponseTime).", []string{"target_group", "target", "port"}, nil)
	descGroupReqs  = prometheus.NewDesc("alba_target_group_requests_total", "Requests routed to a target group.", []string{"target_group"}, nil)
	descHosts      = prometheus.NewDesc("alba_target_group_hosts", "Targets of a group by health (HealthyHostCount, UnHealthyHostCount).", []string{"target_group", "health"}, nil)
	descDesired    = prometheus.NewDesc("alba_autoscaling_group_desired_capacity", "An auto scaling group's desired capacity.", []string{"group"}, nil)
	descMin        = prometheus.NewDesc("alba_autoscaling_group_min_size", "An auto scaling group's minimum size.", []string{"group"}, nil)
	descMax        = prometheus.NewDesc("alba_autoscaling_group_max_size", "An auto scaling group's maximum size.", []string{"group"}, nil)
	descInstances  = prometheus.NewDesc("alba_autoscaling_group_instances", "Instances of a group by lifecycle state.", []string{"group", "state"}, nil)
	descCPU        = prometheus.NewDesc("alba_instance_cpu_utilization_percent", "An instance's CPU utilization, percent of its vCPUs (CPUUtilization).", []string{"group", "instance"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, desc5xx, descConnErrors, descInFlight, descHealthy, descLatency, descGroupReqs, descHosts, descDesired, descMin, descMax, descInstances, descCPU} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	snap := n.Controller.Snapshot()
	if snap != nil {
		for _, g := range snap.Groups {
			name := g.Group.Name
			healthy, unhealthy := 0, 0
			for _, tv := range g.Targets {
				t := tv.Live
				lbl := []string{name, t.ID, strconv.Itoa(t.Port)}
				ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(t.Requests.Load()), lbl...)
				ch <- prometheus.MustNewConstMetric(desc5xx, prometheus.CounterValue, float64(t.Errors5xx.Load()), lbl...)
				ch <- prometheus.MustNewConstMetric(descConnErrors, prometheus.CounterValue, float64(t.ConnErrors.Load()), lbl...)
				ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(t.InFlight()), lbl...)
				st := n.Health.Status(t)
				v := 0.0
				if st.State == health.StateHealthy {
					v = 1
					healthy++
				} else if st.State == health.StateUnhealthy {
					unhealthy++
				}
				ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, v, append(lbl, st.State)...)
				buckets, count, sum := t.Latency()
				bm := map[float64]uint64{}
				for i, ub := range dataplane.LatencyBuckets {
					bm[ub] = buckets[i]
				}
				ch <- prometheus.MustNewConstHistogram(descLatency, count, sum, bm, lbl...)
			}
			ch <- prometheus.MustNewConstMetric(descHosts, prometheus.GaugeValue, float64(healthy), name, "healthy")
			ch <- prometheus.MustNewConstMetric(descHosts, prometheus.GaugeValue, float64(unhealthy), name, "unhealthy")
			if dg := snap.Table.Group(g.Group.ARN); dg != nil {
				ch <- prometheus.MustNewConstMetric(descGroupReqs, prometheus.CounterValue, float64(dg.Requests()), name)
			}
		}
	}
	n.Store.View(func(tx store.Tx) error {
		gs, _ := autoscaling.Groups(tx)
		for _, g := range gs {
			ch <- prometheus.MustNewConstMetric(descDesired, prometheus.GaugeValue, float64(g.Desired), g.Name)
			ch <- prometheus.MustNewConstMetric(descMin, prometheus.GaugeValue, float64(g.MinSize), g.Name)
			ch <- prometheus.MustNewConstMetric(descMax, prometheus.GaugeValue, float64(g.MaxSize), g.Name)
			insts, _ := autoscaling.InstancesOf(tx, g.Name)
			count := map[string]int{model.LifecyclePending: 0, model.LifecycleInService: 0, model.LifecycleTerminating: 0}
			for _, i := range insts {
				count[i.LifecycleState]++
				if cpu, ok := n.AutoScaling.InstanceCPU(i.ID); ok {
					ch <- prometheus.MustNewConstMetric(descCPU, prometheus.GaugeValue, cpu, g.Name, i.ID)
				}
			}
			for state, k := range count {
				ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(k), g.Name, state)
			}
		}
		return nil
	})
}

// metricsRegistry has Alba's collector plus the Go runtime and process
// collectors.
func (n *Node) metricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{n}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
