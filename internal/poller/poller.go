package poller

import (
	"errors"
	"os"
)

// ErrTimeout is Wait's error when the deadline passed first.
var ErrTimeout = os.ErrDeadlineExceeded

// IsTimeout reports whether err is Wait's deadline passing.
func IsTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
