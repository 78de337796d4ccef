package dataplane

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds (seconds) of the response time
// histogram kept per target: what TargetResponseTime means on ALB, from the
// request sent to the response head received.
var LatencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// latency is a fixed-bucket histogram updated with atomics on the request
// path.
type latency struct {
	counts [15]atomic.Uint64 // one per bucket, plus +Inf
	sumNs  atomic.Uint64
}

func (h *latency) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d))
}

// Latency returns the cumulative bucket counts (aligned with
// LatencyBuckets, +Inf last), the total count and the sum in seconds.
func (t *Target) Latency() (buckets []uint64, count uint64, sum float64) {
	buckets = make([]uint64, len(t.latency.counts))
	for i := range t.latency.counts {
		count += t.latency.counts[i].Load()
		buckets[i] = count
	}
	return buckets, count, float64(t.latency.sumNs.Load()) / 1e9
}

// LoadBalancerStats counts what a load balancer's listeners saw; it outlives
// table compilations (the lbcontroller keeps one per load balancer ARN).
// Each count is what CloudWatch's AWS/ApplicationELB namespace reports
// under the name in parentheses. A connection counts against the load
// balancer whose listener accepted it, for as long as it lasts.
type LoadBalancerStats struct {
	NewConnections      atomic.Uint64 // client connections accepted, the rejected ones not included (NewConnectionCount)
	ActiveConnections   atomic.Int64  // client connections open now (ActiveConnectionCount is their count per period)
	ProcessedBytes      atomic.Uint64 // bytes read from and written to clients, on the wire: TLS records included (ProcessedBytes)
	RejectedConnections atomic.Uint64 // refused by the security group (AllowCIDRs) (RejectedConnectionCount)
	FixedResponses      atomic.Uint64 // fixed-response actions answered (HTTP_Fixed_Response_Count)
	Redirects           atomic.Uint64 // redirect actions answered (HTTP_Redirect_Count; also HTTPCode_ELB_3XX_Count, their only source)

	elb [elbClasses]atomic.Uint64 // responses the load balancer generated itself: elb4xx, elb5xx, elb502…
}

// The classes of ELBResponses; the 502, 503 and 504 are counted in elb5xx too.
const (
	elb4xx = iota
	elb5xx
	elb502
	elb503
	elb504
	elbClasses
)

// ELBResponses returns how many responses the load balancer generated
// itself, by class: 4xx, 5xx, and the 502, 503 and 504 among the 5xx
// (HTTPCode_ELB_4XX_Count, HTTPCode_ELB_5XX_Count, HTTPCode_ELB_502_Count
// and so on). They are its error pages and its fixed responses of those
// classes, as on ALB; never a target's response.
func (s *LoadBalancerStats) ELBResponses() (c4xx, c5xx, c502, c503, c504 uint64) {
	if s == nil {
		return 0, 0, 0, 0, 0
	}
	return s.elb[elb4xx].Load(), s.elb[elb5xx].Load(), s.elb[elb502].Load(), s.elb[elb503].Load(), s.elb[elb504].Load()
}

// The counting methods below accept a nil receiver (a load balancer built
// without stats, as in tests), so that call sites need no check.

// lbStats returns the stats of l's load balancer, or nil.
func lbStats(l *Listener) *LoadBalancerStats {
	if l == nil || l.LoadBalancer == nil {
		return nil
	}
	return l.LoadBalancer.Stats
}

// opened counts a client connection in; closed, called exactly once for
// each, counts it out.
func (s *LoadBalancerStats) opened() {
	if s != nil {
		s.NewConnections.Add(1)
		s.ActiveConnections.Add(1)
	}
}

func (s *LoadBalancerStats) closed() {
	if s != nil {
		s.ActiveConnections.Add(-1)
	}
}

func (s *LoadBalancerStats) rejected() {
	if s != nil {
		s.RejectedConnections.Add(1)
	}
}

// bytes counts n bytes moved to or from a client, in one atomic add per
// read or write.
func (s *LoadBalancerStats) bytes(n int) {
	if s != nil && n > 0 {
		s.ProcessedBytes.Add(uint64(n))
	}
}

// elbResponse counts a response of the load balancer's own with code.
func (s *LoadBalancerStats) elbResponse(code int) {
	if s == nil {
		return
	}
	switch {
	case code >= 600: // not an HTTP status: no class
	case code >= 500:
		s.elb[elb5xx].Add(1)
		switch code {
		case 502:
			s.elb[elb502].Add(1)
		case 503:
			s.elb[elb503].Add(1)
		case 504:
			s.elb[elb504].Add(1)
		}
	case code >= 400:
		s.elb[elb4xx].Add(1)
	}
}

// fixedResponse counts a fixed-response action; a 4xx or 5xx one is also
// an ELB response of that class.
func (s *LoadBalancerStats) fixedResponse(code int) {
	if s != nil {
		s.FixedResponses.Add(1)
		s.elbResponse(code)
	}
}

func (s *LoadBalancerStats) redirect() {
	if s != nil {
		s.Redirects.Add(1)
	}
}

// Target response classes, for Target.Responses (5xx is Errors5xx).
const (
	resp2xx = iota
	resp3xx
	resp4xx
	respClasses
)

// Responses returns the target's responses by class
// (HTTPCode_Target_2XX_Count to HTTPCode_Target_5XX_Count): those it sent
// that were relayed to the client in full (HTTP/1) or whose head was
// (HTTP/2). Interim and 101 responses are not counted; c5xx is Errors5xx.
func (t *Target) Responses() (c2xx, c3xx, c4xx, c5xx uint64) {
	return t.responses[resp2xx].Load(), t.responses[resp3xx].Load(), t.responses[resp4xx].Load(), t.Errors5xx.Load()
}
