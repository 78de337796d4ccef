package dataplane

import "testing"

// Each ELB response lands in its class, and the 502, 503 and 504 also in
// their own counts; a fixed response counts as one and by its class.
func TestLoadBalancerStatsClasses(t *testing.T) {
	cases := []struct {
		name  string
		count func(s *LoadBalancerStats)
		elb   [elbClasses]uint64 // 4xx, 5xx, 502, 503, 504
		fixed uint64
	}{
		{"400", func(s *LoadBalancerStats) { s.elbResponse(400) }, [elbClasses]uint64{1, 0, 0, 0, 0}, 0},
		{"463", func(s *LoadBalancerStats) { s.elbResponse(463) }, [elbClasses]uint64{1, 0, 0, 0, 0}, 0},
		{"500", func(s *LoadBalancerStats) { s.elbResponse(500) }, [elbClasses]uint64{0, 1, 0, 0, 0}, 0},
		{"501", func(s *LoadBalancerStats) { s.elbResponse(501) }, [elbClasses]uint64{0, 1, 0, 0, 0}, 0},
		{"502", func(s *LoadBalancerStats) { s.elbResponse(502) }, [elbClasses]uint64{0, 1, 1, 0, 0}, 0},
		{"503", func(s *LoadBalancerStats) { s.elbResponse(503) }, [elbClasses]uint64{0, 1, 0, 1, 0}, 0},
		{"504", func(s *LoadBalancerStats) { s.elbResponse(504) }, [elbClasses]uint64{0, 1, 0, 0, 1}, 0},
		{"fixed 200", func(s *LoadBalancerStats) { s.fixedResponse(200) }, [elbClasses]uint64{}, 1},
		{"fixed 404", func(s *LoadBalancerStats) { s.fixedResponse(404) }, [elbClasses]uint64{1, 0, 0, 0, 0}, 1},
		{"fixed 503", func(s *LoadBalancerStats) { s.fixedResponse(503) }, [elbClasses]uint64{0, 1, 0, 1, 0}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &LoadBalancerStats{}
			tc.count(s)
			var got [elbClasses]uint64
			got[elb4xx], got[elb5xx], got[elb502], got[elb503], got[elb504] = s.ELBResponses()
			if got != tc.elb || s.FixedResponses.Load() != tc.fixed {
				t.Errorf("ELB responses %v, fixed %d; want %v, %d", got, s.FixedResponses.Load(), tc.elb, tc.fixed)
			}
		})
	}
}

// A nil *LoadBalancerStats counts nothing and reads as zeros.
func TestLoadBalancerStatsNil(t *testing.T) {
	var s *LoadBalancerStats
	s.opened()
	s.closed()
	s.rejected()
	s.bytes(10)
	s.elbResponse(502)
	s.fixedResponse(503)
	s.redirect()
	if a, b, c, d, e := s.ELBResponses(); a+b+c+d+e != 0 {
		t.Fatal("a nil LoadBalancerStats reports responses")
	}
	if lbStats(nil) != nil || lbStats(&Listener{}) != nil {
		t.Fatal("lbStats of a listener without a load balancer is not nil")
	}
}

// A target's responses are counted by class; interim and 101 responses
// are not, and a 5xx is Errors5xx.
func TestTargetResponsesByClass(t *testing.T) {
	tg := newTarget("t", 80, "127.0.0.1:80", "a")
	for _, code := range []int{101, 200, 204, 301, 304, 404, 500, 503} {
		tg.observeStatus(code)
	}
	c2, c3, c4, c5 := tg.Responses()
	if c2 != 2 || c3 != 2 || c4 != 1 || c5 != 2 || tg.Errors5xx.Load() != 2 {
		t.Fatalf("responses 2xx %d, 3xx %d, 4xx %d, 5xx %d (Errors5xx %d); want 2, 2, 1, 2 (2)", c2, c3, c4, c5, tg.Errors5xx.Load())
	}
}
