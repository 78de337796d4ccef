package poller

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Set is a set of descriptors whose readiness one goroutine waits for:
// an epoll set of its own (Poller, Linux), or Go's netpoller (Netpoll,
// everywhere). Events are edge-triggered either way: after an event,
// the next comes when the descriptor turns ready again.
type Set interface {
	// Add puts fd in the set for the events of mask (In, Out).
	Add(fd int, mask uint32) error
	// Del takes fd out of the set.
	Del(fd int)
	// CloseFD closes fd, which leaves the set.
	CloseFD(fd int)
	// Wait returns the ready events, waiting until there are some, the
	// deadline passes (ErrTimeout) or the set closes (another error).
	Wait() ([]Event, error)
	// SetDeadline bounds the next Waits.
	SetDeadline(t time.Time)
	// Wake makes a waiting Wait return an event for WakeFD (from any
	// goroutine); Drained consumes the wake-ups so far.
	Wake()
	Drained()
	WakeFD() int
	// Close ends the set and a Wait in progress; CloseWake then frees
	// the wake-up, once nothing calls Wake.
	Close() error
	CloseWake()
}

// Netpoll is a Set on Go's own netpoller, for any platform: each
// descriptor in it has a goroutine per direction waiting on a duplicate
// of it, which posts an event each time the runtime reports it ready.
// It costs a goroutine switch per event where Poller costs none, but it
// is made of nothing but the runtime.
type Netpoll struct {
	mu       sync.Mutex
	ready    []Event // posted, not yet returned
	out      []Event // what the last Wait returned
	watches  map[int]*os.File
	signal   chan struct{}
	closed   bool
	deadline time.Time
	timer    *time.Timer
}

// Coarse marks Netpoll's events: they tell that a descriptor turned
// ready, not whether its peer has closed (as epoll's RdHup does), so a
// short read does not mean the socket is drained: read until EAGAIN.
// (Epoll never reports this bit: it is EPOLLONESHOT's, a request flag.)
const Coarse = 1 << 30

// netpollWakeFD is the descriptor Netpoll's wake-up events name: none.
const netpollWakeFD = -1

var errClosed = errors.New("poller closed")

// NewNetpoll returns an empty set.
func NewNetpoll() *Netpoll {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Netpoll{watches: map[int]*os.File{}, signal: make(chan struct{}, 1), timer: t}
}

func (p *Netpoll) Add(fd int, mask uint32) error {
	// A duplicate, so that the runtime's file can close without the
	// socket (the loop owns fd and closes it through CloseFD). It shares
	// fd's non-blocking flag, which makes it pollable.
	dup, err := syscall.Dup(fd)
	if err != nil {
		return os.NewSyscallError("dup", err)
	}
	syscall.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), "")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		f.Close()
		return errClosed
	}
	if old := p.watches[fd]; old != nil {
		old.Close()
	}
	p.watches[fd] = f
	p.mu.Unlock()
	if mask&In != 0 {
		go p.watch(rc.Read, fd, In)
	}
	if mask&Out != 0 {
		go p.watch(rc.Write, fd, Out)
	}
	return nil
}

// watch posts ev for fd each time the runtime reports it ready, until the
// duplicate closes. wait (RawConn's Read or Write) calls its function at
// once, then again after each readiness; at the first call, fd may or may
// not be ready (the runtime forgets a report from before the wait), so a
// poll(2) of it tells.
func (p *Netpoll) watch(wait func(func(uintptr) bool) error, fd int, ev uint32) {
	first := true
	wait(func(dup uintptr) bool {
		if !first || readyNow(int(dup), ev) {
			p.post(fd, ev)
		}
		first = false
		return false
	})
}

// readyNow reports whether fd is ready for ev (In or Out) at once.
func readyNow(fd int, ev uint32) bool {
	want := int16(unix.POLLIN)
	if ev == Out {
		want = unix.POLLOUT
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: want}}
	n, err := unix.Poll(fds, 0)
	return err != nil || n > 0 && fds[0].Revents != 0
}

func (p *Netpoll) post(fd int, ev uint32) {
	p.mu.Lock()
	p.ready = append(p.ready, Event{Events: ev | Coarse, Fd: int32(fd)})
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

func (p *Netpoll) Del(fd int) {
	p.mu.Lock()
	f := p.watches[fd]
	delete(p.watches, fd)
	p.mu.Unlock()
	if f != nil {
		f.Close() // its goroutines return
	}
}

func (p *Netpoll) CloseFD(fd int) {
	p.Del(fd)
	syscall.Close(fd)
}

func (p *Netpoll) Wait() ([]Event, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errClosed
		}
		if len(p.ready) > 0 {
			p.out, p.ready = p.ready, p.out[:0]
			p.mu.Unlock()
			return p.out, nil
		}
		d := p.deadline
		p.mu.Unlock()
		var timeout <-chan time.Time
		if !d.IsZero() {
			wait := time.Until(d)
			if wait <= 0 {
				return nil, ErrTimeout
			}
			p.timer.Reset(wait)
			timeout = p.timer.C
		}
		select {
		case <-p.signal:
			p.timer.Stop()
		case <-timeout:
			return nil, ErrTimeout
		}
	}
}

func (p *Netpoll) SetDeadline(t time.Time) {
	p.mu.Lock()
	p.deadline = t
	p.mu.Unlock()
}

func (p *Netpoll) Wake()       { p.post(netpollWakeFD, In) }
func (p *Netpoll) Drained()    {}
func (p *Netpoll) WakeFD() int { return netpollWakeFD }
func (p *Netpoll) CloseWake()  {}

func (p *Netpoll) Close() error {
	p.mu.Lock()
	p.closed = true
	ws := p.watches
	p.watches = map[int]*os.File{}
	p.mu.Unlock()
	for _, f := range ws {
		f.Close()
	}
	select {
	case p.signal <- struct{}{}:
	default:
	}
	return nil
}
