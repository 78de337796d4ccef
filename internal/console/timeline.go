package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// The timeline: one time axis for a load balancer and an auto scaling
// group — request rate, latency, status classes, healthy hosts, CPU per
// instance against the policy's target, capacity — read second by second
// from the metrics history, with target health transitions and scaling
// activities as markers. /console/timeline answers a range as JSON;
// /console/live pushes each new second as a server-sent event.

// Point is one second of the timeline. Absent values are null: a second
// without requests has no latency, an instance between CPU samples no CPU.
type Point struct {
	// T is the second, Unix milliseconds.
	T int64 `json:"t"`
	// Requests is RequestCount that second: requests per second.
	Requests float64 `json:"rps"`
	// P50 and P99 are TargetResponseTime's percentiles, milliseconds.
	P50 *float64 `json:"p50"`
	P99 *float64 `json:"p99"`
	// C2xx, C4xx and C5xx count responses by class, the load balancer's
	// own included.
	C2xx float64 `json:"c2xx"`
	C4xx float64 `json:"c4xx"`
	C5xx float64 `json:"c5xx"`
	// Healthy and Unhealthy are the host counts of the group's target
	// groups.
	Healthy   *float64 `json:"healthy"`
	Unhealthy *float64 `json:"unhealthy"`
	// CPU is CPUUtilization per instance id, percent.
	CPU map[string]float64 `json:"cpu,omitempty"`
	// Desired and InService are the group's capacity.
	Desired   *float64 `json:"desired"`
	InService *float64 `json:"inService"`
}

// Selection is what a timeline shows.
type Selection struct {
	// LoadBalancer and Group name the resources ("" when there is none).
	LoadBalancer string `json:"loadBalancer"`
	Group        string `json:"group"`
	// CPUTarget is the group's CPU policy's target value, 0 without one.
	CPUTarget float64 `json:"cpuTarget"`

	lbDim     string
	tgDims    []string
	tgNames   []string
	instances []string
}

// Timeline is a range of points with the markers in it.
type Timeline struct {
	Selection Selection `json:"selection"`
	Points    []Point   `json:"points"`
	Markers   []Marker  `json:"markers"`
}

// selection resolves the query's lb and group, each defaulting to the
// first there is.
func (c *Console) selection(r *http.Request) (Selection, error) {
	var sel Selection
	err := c.opts.Store.View(func(tx store.Tx) error {
		lbs, err := elb.LoadBalancers(tx)
		if err != nil {
			return err
		}
		want := r.URL.Query().Get("lb")
		var lb *model.LoadBalancer
		for _, l := range lbs {
			if lb == nil && want == "" || l.Name == want {
				lb = l
			}
		}
		if want != "" && lb == nil {
			return model.Errorf("LoadBalancerNotFound", "There is no load balancer named '%s'", model.Quote(want))
		}
		gs, err := autoscaling.Groups(tx)
		if err != nil {
			return err
		}
		wantG := r.URL.Query().Get("group")
		var g *model.AutoScalingGroup
		for _, x := range gs {
			if g == nil && wantG == "" || x.Name == wantG {
				g = x
			}
		}
		if wantG != "" && g == nil {
			return model.Errorf("ValidationError", "There is no auto scaling group named '%s'", model.Quote(wantG))
		}
		if lb != nil {
			sel.LoadBalancer, sel.lbDim = lb.Name, metrics.LoadBalancerDimension(lb.ARN)
		}
		if g != nil {
			sel.Group = g.Name
			for _, arn := range g.TargetGroupARNs {
				sel.tgDims = append(sel.tgDims, metrics.TargetGroupDimension(arn))
				if tg, err := elb.TargetGroup(tx, arn); err == nil && tg != nil {
					sel.tgNames = append(sel.tgNames, tg.Name)
				}
			}
			ps, err := autoscaling.PoliciesOf(tx, g.Name)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if p.MetricType == "ASGAverageCPUUtilization" && p.Enabled {
					sel.CPUTarget = p.TargetValue
				}
			}
		}
		if g == nil && lb != nil {
			// Without a group, the hosts are those of the groups the load
			// balancer forwards to.
			for _, m := range c.opts.History.List(metrics.Filter{Namespace: metrics.NamespaceELB, Name: "HealthyHostCount",
				Dimensions: []metrics.Dimension{{Name: metrics.DimLoadBalancer, Value: sel.lbDim}}}) {
				sel.tgDims = append(sel.tgDims, m.Dimension(metrics.DimTargetGroup))
			}
		}
		return nil
	})
	return sel, err
}

// points reads [start, end) second by second.
func (c *Console) points(sel *Selection, start, end time.Time) []Point {
	h := c.opts.History
	start, end = start.Truncate(time.Second), end.Truncate(time.Second)
	n := int(end.Sub(start) / time.Second)
	if n <= 0 {
		return nil
	}
	pts := make([]Point, n)
	for i := range pts {
		pts[i].T = start.Add(time.Duration(i) * time.Second).UnixMilli()
	}
	firstData := n
	read := func(m metrics.Metric, fn func(p *Point, d metrics.Datapoint)) {
		dps, _ := h.Query(metrics.Query{Metric: m, Start: start, End: end, Period: time.Second})
		for _, d := range dps {
			if i := int(d.Timestamp.Sub(start) / time.Second); i >= 0 && i < n {
				fn(&pts[i], d)
				firstData = min(firstData, i)
			}
		}
	}
	opt := func(dst **float64, v float64) {
		if *dst == nil {
			*dst = new(float64)
		}
		**dst += v
	}
	if sel.lbDim != "" {
		lb := func(name string) metrics.Metric {
			return metrics.New(metrics.NamespaceELB, name, metrics.DimLoadBalancer, sel.lbDim)
		}
		read(lb("RequestCount"), func(p *Point, d metrics.Datapoint) { p.Requests = d.Sum })
		read(lb("TargetResponseTime"), func(p *Point, d metrics.Datapoint) {
			if d.SampleCount == 0 {
				return
			}
			p50, _ := d.Statistic("p50")
			p99, _ := d.Statistic("p99")
			p50, p99 = p50*1000, p99*1000
			p.P50, p.P99 = &p50, &p99
		})
		for _, m := range []string{"HTTPCode_Target_2XX_Count", "HTTPCode_Target_3XX_Count"} {
			read(lb(m), func(p *Point, d metrics.Datapoint) { p.C2xx += d.Sum })
		}
		for _, m := range []string{"HTTPCode_Target_4XX_Count", "HTTPCode_ELB_4XX_Count"} {
			read(lb(m), func(p *Point, d metrics.Datapoint) { p.C4xx += d.Sum })
		}
		for _, m := range []string{"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"} {
			read(lb(m), func(p *Point, d metrics.Datapoint) { p.C5xx += d.Sum })
		}
	}
	for _, tg := range sel.tgDims {
		dims := []string{metrics.DimTargetGroup, tg}
		if sel.lbDim != "" {
			dims = append(dims, metrics.DimLoadBalancer, sel.lbDim)
		}
		read(metrics.New(metrics.NamespaceELB, "HealthyHostCount", dims...), func(p *Point, d metrics.Datapoint) { opt(&p.Healthy, d.Average()) })
		read(metrics.New(metrics.NamespaceELB, "UnHealthyHostCount", dims...), func(p *Point, d metrics.Datapoint) { opt(&p.Unhealthy, d.Average()) })
	}
	if sel.Group != "" {
		g := func(name string) metrics.Metric {
			return metrics.New(metrics.NamespaceAutoScaling, name, metrics.DimAutoScalingGroup, sel.Group)
		}
		read(g("GroupDesiredCapacity"), func(p *Point, d metrics.Datapoint) { opt(&p.Desired, d.Average()) })
		read(g("GroupInServiceInstances"), func(p *Point, d metrics.Datapoint) { opt(&p.InService, d.Average()) })
		for _, id := range sel.instances {
			read(autoscaling.InstanceCPUMetric(id), func(p *Point, d metrics.Datapoint) {
				if p.CPU == nil {
					p.CPU = map[string]float64{}
				}
				p.CPU[id] = d.Average()
			})
		}
	}
	// The range starts where the history does (when this node started):
	// before that there is nothing to draw, not zero.
	return pts[firstData:]
}

// withInstances adds the instances whose CPU the range holds: the group's
// now and those gone since start.
func (c *Console) withInstances(sel *Selection, start time.Time) {
	if sel.Group == "" {
		return
	}
	seen := map[string]bool{}
	for _, m := range c.opts.History.List(metrics.Filter{Namespace: metrics.NamespaceEC2, Name: "CPUUtilization",
		Dimensions: []metrics.Dimension{{Name: metrics.DimInstanceID}}, Since: start}) {
		seen[m.Dimension(metrics.DimInstanceID)] = true
	}
	c.opts.Store.View(func(tx store.Tx) error {
		insts, _ := autoscaling.InstancesOf(tx, sel.Group)
		mine := map[string]bool{}
		for _, i := range insts {
			mine[i.ID] = true
		}
		// Activities name the instances the group had in the range.
		as, _ := autoscaling.Activities(tx, sel.Group)
		for _, a := range as {
			if a.StartTime.Before(start) {
				continue
			}
			for id := range seen {
				if !mine[id] && containsWord(a.Description, id) {
					mine[id] = true
				}
			}
		}
		for id := range seen {
			if mine[id] {
				sel.instances = append(sel.instances, id)
			}
		}
		return nil
	})
	slices.Sort(sel.instances)
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w {
			return true
		}
	}
	return false
}

// markers returns the health transitions of the selection's target groups
// and the group's activities from start on, oldest first.
func (c *Console) markers(sel Selection, start time.Time, afterSeq uint64, afterActivity time.Time) []Marker {
	var out []Marker
	for _, m := range c.opts.Markers.Since(afterSeq, start) {
		if len(sel.tgNames) == 0 || slices.Contains(sel.tgNames, m.Group) {
			out = append(out, m)
		}
	}
	if sel.Group != "" {
		c.opts.Store.View(func(tx store.Tx) error {
			as, _ := autoscaling.Activities(tx, sel.Group)
			for _, a := range as {
				if a.StartTime.Before(start) || !a.StartTime.After(afterActivity) {
					continue
				}
				out = append(out, activityMarker(a))
			}
			return nil
		})
	}
	slices.SortStableFunc(out, func(a, b Marker) int { return a.Time.Compare(b.Time) })
	return out
}

func activityMarker(a *model.Activity) Marker {
	short := "A"
	switch {
	case containsWord(a.Description, "Launching"):
		short = "+"
	case containsWord(a.Description, "Terminating"):
		short = "−"
	}
	return Marker{Time: a.StartTime, T: a.StartTime.UnixMilli(), Kind: "activity", Short: short, Group: a.Group,
		Text: a.Description + " — " + a.Cause + " (" + a.StatusCode + ")"}
}

// timeline answers ?lb=&group=&seconds= (300 by default, up to 3600).
func (c *Console) timeline(w http.ResponseWriter, r *http.Request) {
	sel, err := c.selection(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	secs := 300
	if s := r.URL.Query().Get("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3600 {
			http.Error(w, fmt.Sprintf("seconds %q must be a whole number from 1 to 3600 (the history keeps an hour at 1 s)", s), http.StatusBadRequest)
			return
		}
		secs = n
	}
	end := c.opts.Clock.Now().Truncate(time.Second)
	start := end.Add(-time.Duration(secs) * time.Second)
	c.withInstances(&sel, start)
	tl := Timeline{Selection: sel, Points: c.points(&sel, start, end), Markers: c.markers(sel, start, 0, time.Time{})}
	if tl.Markers == nil {
		tl.Markers = []Marker{}
	}
	if tl.Points == nil {
		tl.Points = []Point{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(tl)
}

// live streams the selection as server-sent events: "point" once a second
// with the seconds completed since the last, "marker" as transitions and
// activities happen. A reconnecting browser sends Last-Event-ID (the last
// second it got, Unix milliseconds) and resumes from there.
func (c *Console) live(w http.ResponseWriter, r *http.Request) {
	sel, err := c.selection(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	clk := c.opts.Clock
	next := clk.Now().Truncate(time.Second)
	if id, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		if t := time.UnixMilli(id).Add(time.Second); t.Before(next) && next.Sub(t) < time.Hour {
			next = t
		}
	}
	// Markers from before the stream opened were in the range the page
	// loaded.
	seq := c.opts.Markers.Last()
	lastActivity := clk.Now()
	fmt.Fprintf(w, "retry: 1000\n\n")
	flusher.Flush()
	for {
		// A second is complete once the sampler has written it: the one
		// before now.
		end := clk.Now().Truncate(time.Second)
		if end.After(next) {
			c.withInstances(&sel, next)
			pts := c.points(&sel, next, end)
			for _, p := range pts {
				b, _ := json.Marshal(p)
				fmt.Fprintf(w, "event: point\nid: %d\ndata: %s\n\n", p.T, b)
			}
			next = end
			sel.instances = nil
		}
		for _, m := range c.markers(sel, time.Time{}, seq, lastActivity) {
			if m.Kind == "activity" {
				lastActivity = m.Time
			} else {
				seq = max(seq, m.Seq)
			}
			b, _ := json.Marshal(m)
			fmt.Fprintf(w, "event: marker\ndata: %s\n\n", b)
		}
		flusher.Flush()
		// Just after the next second, when the sampler has written it.
		wait := min(max(end.Add(time.Second+50*time.Millisecond).Sub(clk.Now()), 10*time.Millisecond), time.Second)
		select {
		case <-r.Context().Done():
			return
		case <-clk.After(wait):
		}
	}
}
