package asgcontroller

import (
	"math"
	"sync"
	"time"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// sample measures every in-service instance's CPU utilization (percent of
// its instance type's vCPUs) and each policy's group metric.
func (c *Controller) sample(groups []*model.AutoScalingGroup, now time.Time) {
	var insts []*model.Instance
	var policies []*model.ScalingPolicy
	labels := map[string]string{} // resource label -> target group ARN
	c.Store.View(func(tx store.Tx) error {
		insts, _ = autoscaling.Instances(tx)
		policies, _ = autoscaling.Policies(tx)
		for _, p := range policies {
			if p.MetricType == "ALBRequestCountPerTarget" {
				if tg, err := autoscaling.TargetGroupForLabel(tx, p.ResourceLabel); err == nil {
					labels[p.ResourceLabel] = tg.ARN
				}
			}
		}
		return nil
	})
	// CPU times are read at once for every instance, outside the lock: a
	// provider may ask an engine per instance.
	type reading struct {
		cpu time.Duration
		at  time.Time // when the provider answered: a slow engine does not inflate the rate
		err error
	}
	readings := make([]reading, len(insts))
	var wg sync.WaitGroup
	for i, inst := range insts {
		if inst.LifecycleState != model.LifecycleInService {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			readings[i].cpu, readings[i].err = c.Provider.CPUTime(inst.Runtime)
			readings[i].at = c.Clock.Now()
		}()
	}
	wg.Wait()
	byGroup := map[string][]*model.Instance{}
	c.mu.Lock()
	seen := map[string]bool{}
	for i, inst := range insts {
		if inst.LifecycleState != model.LifecycleInService {
			continue
		}
		byGroup[inst.Group] = append(byGroup[inst.Group], inst)
		seen[inst.ID] = true
		cpu, at, err := readings[i].cpu, readings[i].at, readings[i].err
		if err != nil {
			continue
		}
		st, ok := c.cpu[inst.ID]
		if !ok {
			c.cpu[inst.ID] = &cpuState{cpu: cpu, at: at}
			continue
		}
		if dt := at.Sub(st.at); dt > 0 {
			vcpus := model.InstanceTypes[inst.InstanceType].VCPUs
			if vcpus <= 0 {
				vcpus = 1
			}
			// Clamped as EC2's is: the engine's counters and the clock are
			// read at slightly different moments.
			st.percent = min(100, math.Max(0, float64(cpu-st.cpu)/float64(dt)/vcpus*100))
			st.valid = true
			c.History.Put(autoscaling.InstanceCPUMetric(inst.ID), nil, now, metrics.Value(st.percent))
		}
		st.cpu, st.at = cpu, at
	}
	for id := range c.cpu {
		if !seen[id] {
			delete(c.cpu, id)
		}
	}
	gByName := map[string]*model.AutoScalingGroup{}
	for _, g := range groups {
		gByName[g.Name] = g
	}
	for _, p := range policies {
		g := gByName[p.Group]
		if g == nil {
			continue
		}
		ready := c.readyLocked(g, p, byGroup[g.Name], now)
		key := p.Key()
		var v float64
		ok := false
		switch p.MetricType {
		case "ASGAverageCPUUtilization":
			sum := 0.0
			for _, inst := range ready {
				sum += c.cpu[inst.ID].percent
			}
			if len(ready) > 0 {
				v, ok = sum/float64(len(ready)), true
			}
		case "ALBRequestCountPerTarget":
			arn := labels[p.ResourceLabel]
			if arn == "" || c.LB == nil {
				break
			}
			count := c.LB.Requests(arn)
			last, had := c.reqLast[key]
			c.reqLast[key] = reqSample{count, now}
			if had && len(ready) > 0 && now.After(last.at) {
				perMinute := float64(count-last.count) / now.Sub(last.at).Minutes()
				v, ok = perMinute/float64(len(ready)), true
			}
		}
		if ok {
			c.History.Put(autoscaling.PolicySeries(p), nil, now, metrics.Value(v))
		}
	}
	c.mu.Unlock()
}

// readyLocked returns the in-service instances past their warmup with a CPU
// sample: the ones whose metrics count.
func (c *Controller) readyLocked(g *model.AutoScalingGroup, p *model.ScalingPolicy, insts []*model.Instance, now time.Time) []*model.Instance {
	warm := autoscaling.Warmup(g, p)
	var out []*model.Instance
	for _, inst := range insts {
		if inst.InServiceTime == nil || now.Sub(*inst.InServiceTime) < warm {
			continue
		}
		if p.MetricType == "ASGAverageCPUUtilization" {
			if st, ok := c.cpu[inst.ID]; !ok || !st.valid {
				continue
			}
		}
		out = append(out, inst)
	}
	return out
}

// evaluate runs a group's policies and changes its desired capacity when
// they say so.
func (c *Controller) evaluate(g *model.AutoScalingGroup, now time.Time) {
	if g.Status != "" {
		return
	}
	var policies []*model.ScalingPolicy
	var insts []*model.Instance
	c.Store.View(func(tx store.Tx) error {
		policies, _ = autoscaling.PoliciesOf(tx, g.Name)
		insts, _ = autoscaling.InstancesOf(tx, g.Name)
		return nil
	})
	if len(policies) == 0 {
		return
	}
	var inService []*model.Instance
	warming := false
	for _, inst := range insts {
		switch inst.LifecycleState {
		case model.LifecyclePending:
			warming = true
		case model.LifecycleInService:
			inService = append(inService, inst)
		}
	}
	c.mu.Lock()
	var pms []PolicyMetric
	ready := -1
	need := max(1, int(c.ScaleOutWindow/c.SampleInterval))
	for _, p := range policies {
		r := c.readyLocked(g, p, inService, now)
		if len(r) < len(inService) {
			warming = true
		}
		if ready < 0 || len(r) < ready {
			ready = len(r)
		}
		from := now.Add(-c.ScaleOutWindow)
		if s := c.since[p.Key()]; s.After(from) {
			from = s
		}
		m := PolicyMetric{Policy: p}
		// Second by second: a coarser period would round the start down
		// past since, back to samples taken at the old capacity.
		dps, _ := c.History.Query(metrics.Query{Metric: autoscaling.PolicySeries(p), Start: from, End: now.Add(time.Nanosecond), Period: time.Second})
		if len(dps) > 0 {
			var sum, n float64
			for _, d := range dps {
				sum += d.Sum
				n += d.SampleCount
			}
			m.Value, m.Valid = sum/n, int(n) >= need
		}
		pms = append(pms, m)
	}
	c.mu.Unlock()
	c.logMetrics(g, pms, len(inService), now)
	d, ok := c.Tracking.Decide(now, g, max(ready, 0), warming, pms)
	if !ok {
		return
	}
	if err := c.Store.Update(func(tx store.Tx) error { return autoscaling.SetDesiredCapacity(tx, g.Name, d.Desired, d.Cause) }); err != nil {
		c.Logger.Error("auto scaling: setting desired capacity", "group", g.Name, "err", err)
		return
	}
	// Samples taken at the old capacity must not be multiplied by the new
	// one: the next decision waits for a window of fresh samples.
	c.mu.Lock()
	for _, p := range policies {
		c.since[p.Key()] = now.Add(time.Second)
	}
	c.mu.Unlock()
	c.event("scaling %s: %s", g.Name, d.Cause)
}

// logMetrics shows each policy's metric in the terminal now and then.
func (c *Controller) logMetrics(g *model.AutoScalingGroup, ms []PolicyMetric, n int, now time.Time) {
	if now.Sub(c.lastLog[g.Name]) < 30*time.Second {
		return
	}
	for _, m := range ms {
		if m.Valid {
			c.lastLog[g.Name] = now
			c.event("%s: %d in service, %s %.1f (target %.1f)", g.Name, n, m.Policy.MetricType, m.Value, m.Policy.TargetValue)
		}
	}
}
