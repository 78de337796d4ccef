//go:build unix && !linux

package dataplane

import (
	"net"
	"time"
)

// drainBacklog does nothing here: the listener closes at once.
func drainBacklog(net.Listener, time.Duration) {}
