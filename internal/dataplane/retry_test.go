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
