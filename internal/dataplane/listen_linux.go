package dataplane

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// listenControl sets TCP_DEFER_ACCEPT on a listening socket: the kernel
// hands a connection over once its first bytes arrived (HTTP's client
// speaks first), so accepting it, reading its request and forwarding it
// take one wake-up of the loop instead of three (the listener's, the
// request's, the target's answer's), and no read finds the socket empty. NGINX's `listen … deferred` and HAProxy's `defer-accept`
// do the same. A client that connects and stays silent is handed over
// after the second (a retransmitted SYN-ACK's acknowledgement) and then
// meets the idle timeout as any other.
func listenControl(_, _ string, c syscall.RawConn) error {
	var err error
	c.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
	})
	return err
}
