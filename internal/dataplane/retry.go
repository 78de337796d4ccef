package dataplane

// The retry policy, as both engines apply it: what a failed attempt to
// reach a target means, and what the request does next. ALB retries a
// request on another target when the target failed before the request
// could have taken effect; a pooled connection the target had already
// closed is no one's fault and is retried at once.

// closedBeforeHead classifies a target connection that ended before the
// response head was whole: partial says some of a head had arrived;
// reused that the connection came from the pool; resendable that the
// request may be sent again (idempotent, and all of it still at hand).
func closedBeforeHead(partial, reused, resendable bool) outcome {
	switch {
	case partial:
		return outcomeFailed // a broken response: the target answered
	case reused && resendable:
		// A pooled connection the target closed while idle, likely
		// before our request reached it.
		return outcomeRetrySame
	default:
		// The whole request went out: the target may have processed it
		// before closing, so only a request that may be sent again is.
		return outcomeRetry
	}
}

// nextStep is what a request does after a failed attempt.
type nextStep int

const (
	stepRetrySame  nextStep = iota // the same choice again, not counted as an attempt
	stepRetryOther                 // another target, excluding this one
	stepAnswer                     // answer the client with the failure's status
)

// afterFailure decides the next step after an attempt ended with o.
// resendable: the request may be sent again whatever happened to it;
// nothingSent: no byte of it reached the target; replayable: the request
// is still whole at hand (false once a streamed body went out). fault
// says whether the failure counts against the target's passive health.
func afterFailure(o outcome, resendable, nothingSent, replayable bool) (step nextStep, fault bool) {
	switch o {
	case outcomeRetrySame:
		if !replayable {
			return stepAnswer, false
		}
		return stepRetrySame, false
	case outcomeRetry:
		if replayable && (resendable || nothingSent) {
			return stepRetryOther, true
		}
		return stepAnswer, true
	}
	return stepAnswer, false
}
