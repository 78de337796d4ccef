package dataplane

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// drainBacklog readies a listener for closing: closing a listening socket
// resets the connections the kernel completed but nobody accepted yet,
// whose clients have sent their requests. It waits, up to wait, while the
// accept loops take what is queued, so that the close right after it
// finds the queue empty but for what arrives in between. (A socket filter
// dropping new SYNs first would close even that gap; these kernels refuse
// SO_ATTACH_FILTER.)
func drainBacklog(ln net.Listener, wait time.Duration) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	deadline := time.Now().Add(wait)
	for {
		queued := uint32(0)
		rc.Control(func(fd uintptr) {
			// For a listening socket, tcpi_unacked is the accept queue.
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				queued = info.Unacked
			}
		})
		if queued == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
