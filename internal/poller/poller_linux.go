//go:build linux

package poller

import (
	"errors"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event bits, as epoll reports them.
const (
	In        = unix.EPOLLIN
	Out       = unix.EPOLLOUT
	RdHup     = unix.EPOLLRDHUP
	Hup       = unix.EPOLLHUP
	Err       = unix.EPOLLERR
	Edge      = unix.EPOLLET        // edge-triggered
	Exclusive = unix.EPOLLEXCLUSIVE // one waiter of several is woken
)

// Event is one descriptor's readiness.
type Event = unix.EpollEvent

// ErrTimeout is Wait's error when the deadline passed first.
var ErrTimeout = os.ErrDeadlineExceeded

// Poller is an epoll set with a wake-up descriptor. One goroutine waits on
// it; others may Wake it.
type Poller struct {
	epfd   int
	wakefd int
	file   *os.File
	rc     syscall.RawConn
	events []Event
	n      int
	lookFn func(uintptr) bool // p.look, made once: a method value allocates

	// Coalesce, when set, is asked once per Wait after a look that found
	// nothing ready: true makes the waiter sleep CoalesceWait (holding its
	// thread, so sockets cannot wake it early) and look again, gathering
	// a batch.
	Coalesce     func() bool
	CoalesceWait time.Duration
	coalesced    bool
	// Coalesces counts the sleeps.
	Coalesces uint64
}

// New returns an empty set that holds up to batch events per Wait.
func New(batch int) (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &Event{Events: In, Fd: int32(wakefd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	// Non-blocking, the epoll descriptor joins Go's netpoller through
	// os.NewFile: Wait parks on it like on any socket.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, err
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(wakefd)
		return nil, err
	}
	p := &Poller{epfd: epfd, wakefd: wakefd, file: f, rc: rc, events: make([]Event, batch)}
	p.lookFn = p.look
	return p, nil
}

// CloseFD closes fd, which leaves the set.
func (p *Poller) CloseFD(fd int) { Close(fd) }

// WakeFD is the descriptor Wake makes ready: its events mean "look at
// what was handed to the loop".
func (p *Poller) WakeFD() int { return p.wakefd }

// Add puts fd in the set for the events of mask.
func (p *Poller) Add(fd int, mask uint32) error {
	ev := Event{Events: mask, Fd: int32(fd)}
	if e := rawEpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); e != 0 {
		return os.NewSyscallError("epoll_ctl", e)
	}
	return nil
}

// Del takes fd out of the set (closing fd does too).
func (p *Poller) Del(fd int) { rawEpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil) }

func rawEpollCtl(epfd, op, fd int, ev *Event) syscall.Errno {
	_, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return e
}

// SetDeadline bounds the next Waits: past it, Wait returns ErrTimeout.
func (p *Poller) SetDeadline(t time.Time) { p.file.SetReadDeadline(t) }

// Wait returns the ready events, parking until there are some, the
// deadline passes (ErrTimeout) or the poller closes (another error).
func (p *Poller) Wait() ([]Event, error) {
	p.coalesced = false
	err := p.rc.Read(p.lookFn)
	if err != nil {
		return nil, err
	}
	return p.events[:p.n], nil
}

// look is one non-blocking epoll_wait; false asks the netpoller to park
// until the descriptor is ready.
func (p *Poller) look(uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
			uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)), 0, 0, 0)
		if e != 0 {
			p.n = 0
			return e != unix.EINTR && e != unix.EAGAIN
		}
		p.n = int(r)
		if p.n > 0 || p.coalesced || p.CoalesceWait <= 0 || p.Coalesce == nil || !p.Coalesce() {
			return p.n > 0
		}
		// Once per Wait, and holding on to the thread: a sleep through
		// the netpoller would be woken by the very events it waits to
		// gather.
		p.coalesced = true
		p.Coalesces++
		ts := unix.NsecToTimespec(p.CoalesceWait.Nanoseconds())
		syscall.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
	}
}

// Wake makes a parked Wait return (from any goroutine).
func (p *Poller) Wake() {
	one := uint64(1)
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(p.wakefd), uintptr(unsafe.Pointer(&one)), 8)
}

// Drained consumes the wake-ups so far.
func (p *Poller) Drained() {
	var b [8]byte
	syscall.RawSyscall(unix.SYS_READ, uintptr(p.wakefd), uintptr(unsafe.Pointer(&b[0])), 8)
}

// Close closes the set (its descriptors stay open) and ends a Wait.
func (p *Poller) Close() error { return p.file.Close() }

// CloseWake closes the wake-up descriptor, once nothing calls Wake.
func (p *Poller) CloseWake() { Close(p.wakefd) }

// IsTimeout reports whether err is Wait's deadline passing.
func IsTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// Read reads from fd into b: n bytes and errno 0, n 0 at the end of
// stream, or EAGAIN when nothing is ready.
func Read(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	r, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Write writes what fd takes of b.
func Write(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	r, _, e := syscall.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
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
	a := ap.Addr()
	var sa unix.Sockaddr
	af := unix.AF_INET6
	if a.Is4() || a.Is4In6() {
		af = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	fd, err = unix.Socket(af, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, false, os.NewSyscallError("socket", err)
	}
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

// PeerClosed reports whether the peer of an idle socket has closed it or
// sent bytes nobody asked for: either way it is of no more use.
func PeerClosed(fd int) bool {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return e != unix.EAGAIN // the end of stream, bytes, or an error
}
