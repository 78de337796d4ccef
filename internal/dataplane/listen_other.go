//go:build unix && !linux

package dataplane

import "syscall"

// listenControl: TCP_DEFER_ACCEPT is Linux's.
var listenControl func(network, address string, c syscall.RawConn) error
