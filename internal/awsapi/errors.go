package awsapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// apiError is an error answered with an AWS error code and HTTP status.
type apiError struct {
	Code    string
	Message string
	Status  int
}

// Error reports the code and message.
func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// apiErrorf makes an apiError with the status AWS's models give the code.
func apiErrorf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...), Status: statusOf(code)}
}

// statuses are the HTTP statuses of codes that are not 400.
var statuses = map[string]int{
	"MissingAuthenticationToken": http.StatusForbidden,
	"InvalidClientTokenId":       http.StatusForbidden,
	"SignatureDoesNotMatch":      http.StatusForbidden,
	"IncompleteSignature":        http.StatusForbidden,
	"NoSuchEntity":               http.StatusNotFound,
	"EntityAlreadyExists":        http.StatusConflict,
	"DeleteConflict":             http.StatusConflict,
	"LimitExceeded":              http.StatusConflict,
	"ConcurrentModification":     http.StatusConflict,
	"RequestEntityTooLarge":      http.StatusRequestEntityTooLarge,
	"MethodNotAllowed":           http.StatusMethodNotAllowed,
	"InternalFailure":            http.StatusInternalServerError,
	"ServiceUnavailable":         http.StatusServiceUnavailable,
}

func statusOf(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// asAPIError turns an operation's error into what the client sees: model
// errors keep their AWS code; anything else is an internal failure (the
// caller logs it).
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var me *model.Error
	if errors.As(err, &me) {
		return &apiError{Code: me.Code, Message: me.Message, Status: statusOf(me.Code)}, true
	}
	// A cluster whose etcd has no quorum: nothing was written, try again
	// (the SDKs retry 503 on their own).
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrConflict) {
		return &apiError{Code: "ServiceUnavailable", Message: "The service is unavailable: " + err.Error() + ". Please try again later.", Status: http.StatusServiceUnavailable}, true
	}
	return &apiError{Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure.", Status: http.StatusInternalServerError}, false
}

// validation makes a ValidationError (elbv2, autoscaling).
func validation(format string, args ...any) *apiError {
	return apiErrorf("ValidationError", format, args...)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'A' && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}
