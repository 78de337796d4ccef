//go:build linux

package poller

import (
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read reads from the socket fd into b: n bytes and errno 0, n 0 at the
// end of stream, or EAGAIN when nothing is ready. recvfrom and sendto go
// to the socket straight, without read and write's file layer (file
// position lock, permission hooks).
func Read(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	r, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Write writes what the socket fd takes of b. A peer gone is EPIPE, with
// no SIGPIPE.
func Write(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	r, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Close closes fd.
func Close(fd int) { syscall.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }

// Accept takes a connection from the listening socket fd, non-blocking
// and close-on-exec, with its peer's address.
func Accept(fd int) (int, netip.AddrPort, syscall.Errno) {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	r, _, e := syscall.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, e
	}
	var ap netip.AddrPort
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port(sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port(sa.Port))
	}
	return int(r), ap, 0
}

// port converts a sockaddr's port, in network byte order.
func port(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// SetNoDelay turns Nagle's algorithm off on a TCP socket.
func SetNoDelay(fd int) {
	one := int32(1)
	syscall.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), 4, 0)
}

// Dial starts a non-blocking TCP connection to ap; connecting reports
// that it is under way (the socket turns writable once it is done; then
// SocketError tells how it went).
func Dial(ap netip.AddrPort) (fd int, connecting bool, err error) {
	af, sa := sockaddr(ap)
	fd, err = unix.Socket(af, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, false, os.NewSyscallError("socket", err)
	}
	return connect(fd, sa)
}

// PeerClosed reports whether the peer of an idle socket has closed it or
// sent bytes nobody asked for: either way it is of no more use.
func PeerClosed(fd int) bool {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return e != unix.EAGAIN // the end of stream, bytes, or an error
}
