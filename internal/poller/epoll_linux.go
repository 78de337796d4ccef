//go:build linux

package poller

import (
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
