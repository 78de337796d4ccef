package model

// TargetHealth is a target's health as DescribeTargetHealth reports it: a
// state and, when not healthy, AWS's reason code and a description. The
// health checker produces it, the data plane acts on it, and the fronts
// show it; it lives here so that the fronts need neither.
type TargetHealth struct {
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
}

// Target health states.
const (
	TargetInitial   = "initial"
	TargetHealthy   = "healthy"
	TargetUnhealthy = "unhealthy"
	TargetDraining  = "draining"
	TargetUnused    = "unused"
)

// Target health reason codes.
const (
	ReasonRegistrationInProgress  = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking   = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch    = "Target.ResponseCodeMismatch"
	ReasonTimeout                 = "Target.Timeout"
	ReasonFailedHealthChecks      = "Target.FailedHealthChecks"
	ReasonDeregistrationInProcess = "Target.DeregistrationInProgress"
	ReasonNotRegistered           = "Target.NotRegistered"
	ReasonNotInUse                = "Target.NotInUse"
)
