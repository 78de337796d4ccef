package app

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/metrics"
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
	descResponses  = prometheus.NewDesc("alba_target_responses_total", "Responses from a target by status class (HTTPCode_Target_2XX_Count and so on).", []string{"target_group", "target", "port", "code"}, nil)
	descLBNewConns = prometheus.NewDesc("alba_load_balancer_new_connections_total", "Client connections accepted (NewConnectionCount).", []string{"load_balancer"}, nil)
	descLBActive   = prometheus.NewDesc("alba_load_balancer_active_connections", "Client connections open now (ActiveConnectionCount).", []string{"load_balancer"}, nil)
	descLBBytes    = prometheus.NewDesc("alba_load_balancer_processed_bytes_total", "Bytes read from and written to clients (ProcessedBytes).", []string{"load_balancer"}, nil)
	descLBRejected = prometheus.NewDesc("alba_load_balancer_rejected_connections_total", "Client connections refused by the security group (RejectedConnectionCount).", []string{"load_balancer"}, nil)
	descLBRequests = prometheus.NewDesc("alba_load_balancer_requests_total", "Requests forwarded to the load balancer's target groups (RequestCount).", []string{"load_balancer"}, nil)
	descLBELB      = prometheus.NewDesc("alba_load_balancer_elb_responses_total", "Responses the load balancer generated itself, by status class (HTTPCode_ELB_4XX_Count, HTTPCode_ELB_5XX_Count).", []string{"load_balancer", "code"}, nil)
	descLBGateway  = prometheus.NewDesc("alba_load_balancer_elb_gateway_errors_total", "The load balancer's own 502, 503 and 504 responses, also counted in the 5xx class (HTTPCode_ELB_502_Count and so on).", []string{"load_balancer", "code"}, nil)
	descLBFixed    = prometheus.NewDesc("alba_load_balancer_fixed_responses_total", "Fixed-response actions answered (HTTP_Fixed_Response_Count).", []string{"load_balancer"}, nil)
	descLBRedirect = prometheus.NewDesc("alba_load_balancer_redirects_total", "Redirect actions answered (HTTP_Redirect_Count).", []string{"load_balancer"}, nil)
	descCPU        = prometheus.NewDesc("alba_instance_cpu_utilization_percent", "An instance's CPU utilization, percent of its vCPUs (CPUUtilization).", []string{"group", "instance"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, desc5xx, descConnErrors, descInFlight, descHealthy, descLatency, descGroupReqs, descHosts, descDesired, descMin, descMax, descInstances, descCPU,
		descResponses, descLBNewConns, descLBActive, descLBBytes, descLBRejected, descLBRequests, descLBELB, descLBGateway, descLBFixed, descLBRedirect} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	snap := n.Controller.Snapshot()
	if snap != nil {
		lbRequests := map[string]uint64{} // by load balancer dimension, app/NAME/ID
		forwards := lbForwards(snap)
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
				c2, c3, c4, c5 := t.Responses()
				for i, v := range [4]uint64{c2, c3, c4, c5} {
					ch <- prometheus.MustNewConstMetric(descResponses, prometheus.CounterValue, float64(v), append(lbl, strconv.Itoa(i+2)+"xx")...)
				}
				if lb := forwards[g.Group.ARN]; lb != "" {
					lbRequests[metrics.LoadBalancerDimension(lb)] += t.Requests.Load()
				}
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
		for _, lv := range snap.LoadBalancers {
			name, s := lv.LoadBalancer.Name, lv.Stats
			ch <- prometheus.MustNewConstMetric(descLBRequests, prometheus.CounterValue, float64(lbRequests[metrics.LoadBalancerDimension(lv.LoadBalancer.ARN)]), name)
			if s == nil {
				continue
			}
			ch <- prometheus.MustNewConstMetric(descLBNewConns, prometheus.CounterValue, float64(s.NewConnections.Load()), name)
			ch <- prometheus.MustNewConstMetric(descLBActive, prometheus.GaugeValue, float64(s.ActiveConnections.Load()), name)
			ch <- prometheus.MustNewConstMetric(descLBBytes, prometheus.CounterValue, float64(s.ProcessedBytes.Load()), name)
			ch <- prometheus.MustNewConstMetric(descLBRejected, prometheus.CounterValue, float64(s.RejectedConnections.Load()), name)
			ch <- prometheus.MustNewConstMetric(descLBFixed, prometheus.CounterValue, float64(s.FixedResponses.Load()), name)
			ch <- prometheus.MustNewConstMetric(descLBRedirect, prometheus.CounterValue, float64(s.Redirects.Load()), name)
			c4, c5, c502, c503, c504 := s.ELBResponses()
			ch <- prometheus.MustNewConstMetric(descLBELB, prometheus.CounterValue, float64(c4), name, "4xx")
			ch <- prometheus.MustNewConstMetric(descLBELB, prometheus.CounterValue, float64(c5), name, "5xx")
			for code, v := range map[string]uint64{"502": c502, "503": c503, "504": c504} {
				ch <- prometheus.MustNewConstMetric(descLBGateway, prometheus.CounterValue, float64(v), name, code)
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
