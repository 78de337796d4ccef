//go:build unix && !linux

package poller

import (
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Event bits. Without epoll only Netpoll makes events, and it uses In and
// Out; the others are requests that it ignores.
const (
	In        = 0x1
	Out       = 0x4
	RdHup     = 0x2000
	Hup       = 0x10
	Err       = 0x8
	Edge      = 1 << 31
	Exclusive = 1 << 28
)

// Event is one descriptor's readiness.
type Event struct {
	Events uint32
	Fd     int32
	Pad    int32
}

func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	return syscall.EIO
}

// Read reads from fd into b: n bytes and errno 0, n 0 at the end of
// stream, or EAGAIN when nothing is ready.
func Read(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, err := unix.Read(fd, b)
	if err != nil {
		return 0, errno(err)
	}
	return n, 0
}

// Write writes what fd takes of b.
func Write(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, err := unix.Write(fd, b)
	if err != nil {
		return 0, errno(err)
	}
	return n, 0
}

// Close closes fd.
func Close(fd int) { unix.Close(fd) }

// Accept takes a connection from the listening socket fd, non-blocking
// and close-on-exec, with its peer's address.
func Accept(fd int) (int, netip.AddrPort, syscall.Errno) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, netip.AddrPort{}, errno(err)
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, netip.AddrPort{}, errno(err)
	}
	var ap netip.AddrPort
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		ap = netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return nfd, ap, 0
}

// SetNoDelay turns Nagle's algorithm off on a TCP socket.
func SetNoDelay(fd int) { unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) }

// Dial starts a non-blocking TCP connection to ap; connecting reports
// that it is under way (the socket turns writable once it is done; then
// SocketError tells how it went).
func Dial(ap netip.AddrPort) (fd int, connecting bool, err error) {
	af, sa := sockaddr(ap)
	syscall.ForkLock.RLock()
	fd, err = unix.Socket(af, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, false, os.NewSyscallError("socket", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, false, os.NewSyscallError("fcntl", err)
	}
	return connect(fd, sa)
}

// PeerClosed reports whether the peer of an idle socket has closed it or
// sent bytes nobody asked for: either way it is of no more use.
func PeerClosed(fd int) bool {
	var b [1]byte
	_, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err != unix.EAGAIN
}
