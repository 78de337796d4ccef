//go:build unix

package poller

import (
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sockaddr is ap as the socket calls take it, with its address family.
func sockaddr(ap netip.AddrPort) (int, unix.Sockaddr) {
	a := ap.Addr()
	if a.Is4() || a.Is4In6() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
}

// connect starts connecting the non-blocking socket fd to sa, without
// Nagle's algorithm; on failure fd is closed.
func connect(fd int, sa unix.Sockaddr) (int, bool, error) {
	SetNoDelay(fd)
	switch err := unix.Connect(fd, sa); err {
	case nil:
		return fd, false, nil
	case unix.EINPROGRESS:
		return fd, true, nil
	default:
		Close(fd)
		return -1, false, os.NewSyscallError("connect", err)
	}
}

// SocketError returns the outcome of a non-blocking connect.
func SocketError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return syscall.Errno(v)
	}
	return nil
}
