package dataplane

import "testing"

func TestClosedBeforeHead(t *testing.T) {
	for _, tc := range []struct {
		partial, reused, resendable bool
		want                        outcome
	}{
		{false, true, true, outcomeRetrySame}, // a stale pooled connection
		{false, true, false, outcomeRetry},    // stale, but a POST may have been processed
		{false, false, true, outcomeRetry},    // a fresh connection: the target failed
		{false, false, false, outcomeRetry},   // the same, for a POST
		{true, true, true, outcomeFailed},     // half a head: a broken answer
		{true, false, false, outcomeFailed},   // half a head, a fresh connection
	} {
		if got := closedBeforeHead(tc.partial, tc.reused, tc.resendable); got != tc.want {
			t.Errorf("closedBeforeHead(partial %v, reused %v, resendable %v) = %v, want %v",
				tc.partial, tc.reused, tc.resendable, got, tc.want)
		}
	}
}

func TestAfterFailure(t *testing.T) {
	for _, tc := range []struct {
		name                                string
		o                                   outcome
		resendable, nothingSent, replayable bool
		step                                nextStep
		fault                               bool
	}{
		{"stale pooled connection", outcomeRetrySame, false, true, true, stepRetrySame, false},
		{"stale, body already streamed", outcomeRetrySame, false, false, false, stepAnswer, false},
		{"GET, target failed", outcomeRetry, true, false, true, stepRetryOther, true},
		{"POST never sent", outcomeRetry, false, true, true, stepRetryOther, true},
		{"POST sent, target failed", outcomeRetry, false, false, true, stepAnswer, true},
		{"streamed body, target failed", outcomeRetry, true, true, false, stepAnswer, true},
		{"broken response", outcomeFailed, true, false, true, stepAnswer, false},
		{"client gone", outcomeClientGone, true, true, true, stepAnswer, false},
	} {
		step, fault := afterFailure(tc.o, tc.resendable, tc.nothingSent, tc.replayable)
		if step != tc.step || fault != tc.fault {
			t.Errorf("%s: step %v fault %v, want %v %v", tc.name, step, fault, tc.step, tc.fault)
		}
	}
}

// A request routed with a listener whose table has since been swapped is
// routed again by the table in force (its targets may have started
// draining): to the group its rule now forwards to, or not at all when the
// table is the same or no longer forwards the request.
func TestReroute(t *testing.T) {
	group := func(name string, ids ...string) *TargetGroup {
		g := &TargetGroup{Name: name, state: &GroupState{}}
		for _, id := range ids {
			tg := newTarget(id, 80, id+":80", "")
			tg.SetHealthy(true)
			g.Targets = append(g.Targets, tg)
		}
		return g
	}
	forward := func(g *TargetGroup) Action {
		return Action{Type: ActionForward, Groups: []WeightedGroup{{Group: g, Weight: 1}}}
	}
	old, blue, green := group("old", "o1"), group("blue", "b1"), group("green", "g1")
	listener := func(rules ...*Rule) *Listener { return &Listener{Rules: rules} }
	before := listener(&Rule{Action: forward(old)})
	cases := []struct {
		name      string
		inForce   *Listener
		wantGroup *TargetGroup
		wantID    string
	}{
		{"table unchanged", before, nil, ""},
		{"new table, default rule", listener(&Rule{Action: forward(blue)}), blue, "b1"},
		{"new table, a path rule first", listener(
			&Rule{Priority: 1, Conditions: Conditions{Paths: []string{"/api/*"}}, Action: forward(green)},
			&Rule{Action: forward(blue)}), green, "g1"},
		{"new table answers itself", listener(&Rule{Action: Action{Type: ActionFixedResponse, FixedStatus: 200}}), nil, ""},
		{"new table matches nothing", listener(
			&Rule{Priority: 1, Conditions: Conditions{Paths: []string{"/other"}}, Action: forward(green)}), nil, ""},
	}
	for _, tc := range cases {
		so := &socket{}
		so.cfg.Store(tc.inForce)
		rq := &request{so: so}
		if err := parseRequestHead([]byte("GET /api/movies HTTP/1.1\r\nHost: x\r\n\r\n"), &rq.req); err != nil {
			t.Fatal(err)
		}
		nl, ng, tg := rq.reroute(before)
		switch {
		case ng != tc.wantGroup:
			t.Errorf("%s: group %v, want %v", tc.name, ng, tc.wantGroup)
		case ng == nil && nl != before:
			t.Errorf("%s: a listener other than the request's with no group", tc.name)
		case ng != nil && (nl != tc.inForce || tg == nil || tg.ID != tc.wantID):
			t.Errorf("%s: listener in force %v, target %v, want %s", tc.name, nl == tc.inForce, tg, tc.wantID)
		}
	}
}
