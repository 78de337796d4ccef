//go:build linux

package poller

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// rawListener is a non-blocking listening socket on loopback.
func rawListener(t *testing.T) (int, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rc, _ := ln.(*net.TCPListener).SyscallConn()
	fd := -1
	rc.Control(func(f uintptr) { fd, _ = syscall.Dup(int(f)) })
	t.Cleanup(func() { Close(fd) })
	return fd, netip.MustParseAddrPort(ln.Addr().String())
}

// wait waits for an event on fd (or a wake-up), failing after a while.
func wait(t *testing.T, p *Poller, fd int) Event {
	t.Helper()
	p.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		evs, err := p.Wait()
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		for _, ev := range evs {
			if int(ev.Fd) == fd {
				return ev
			}
		}
	}
}

// A connection's life through the poller: Dial, Accept with the peer's
// address, readiness of each side, Read and Write, PeerClosed, Close.
func TestPollerServesAConnection(t *testing.T) {
	p, err := New(16)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	lfd, addr := rawListener(t)
	if err := p.Add(lfd, In|Exclusive); err != nil {
		t.Fatal(err)
	}
	cfd, connecting, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(cfd)
	if err := p.Add(cfd, In|Out|RdHup|Edge); err != nil {
		t.Fatal(err)
	}
	wait(t, p, lfd)
	sfd, peer, errno := Accept(lfd)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer Close(sfd)
	if !peer.Addr().IsLoopback() || peer.Port() == 0 {
		t.Fatalf("peer %v", peer)
	}
	_ = connecting // accepted: the connect is done, whatever Dial said
	if err := SocketError(cfd); err != nil {
		t.Fatalf("SocketError: %v", err)
	}
	if _, _, errno := Accept(lfd); errno != syscall.EAGAIN {
		t.Fatalf("Accept with nothing queued: %v, want EAGAIN", errno)
	}
	if PeerClosed(sfd) {
		t.Fatal("a fresh connection reported closed")
	}
	if n, errno := Write(cfd, []byte("ping")); n != 4 || errno != 0 {
		t.Fatalf("Write: %d %v", n, errno)
	}
	if err := p.Add(sfd, In|Edge); err != nil {
		t.Fatal(err)
	}
	wait(t, p, sfd)
	buf := make([]byte, 16)
	if n, errno := Read(sfd, buf); string(buf[:n]) != "ping" || errno != 0 {
		t.Fatalf("Read: %q %v", buf[:n], errno)
	}
	if _, errno := Read(sfd, buf); errno != syscall.EAGAIN {
		t.Fatalf("Read with nothing: %v, want EAGAIN", errno)
	}
	Close(cfd)
	if ev := wait(t, p, sfd); ev.Events&(RdHup|Hup|In) == 0 {
		t.Fatalf("peer close: events %#x", ev.Events)
	}
	if !PeerClosed(sfd) {
		t.Fatal("the peer's close went unreported")
	}
}

// Wake ends a parked Wait; with nothing ready Wait returns at its
// deadline; a refused Dial says so.
func TestPollerWakesAndTimesOut(t *testing.T) {
	p, err := New(4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go p.Wake()
	wait(t, p, p.WakeFD())
	p.Drained()
	p.SetDeadline(time.Now().Add(20 * time.Millisecond))
	if evs, err := p.Wait(); !IsTimeout(err) || len(evs) != 0 {
		t.Fatalf("Wait with nothing ready: %v %v, want a timeout", evs, err)
	}
	_, addr := rawListener(t)
	fd, connecting, err := Dial(netip.AddrPortFrom(addr.Addr(), 1)) // nothing listens on port 1
	if err == nil {
		defer Close(fd)
		if connecting {
			p.Add(fd, Out|Edge)
			wait(t, p, fd)
		}
		if SocketError(fd) == nil {
			t.Fatal("a connection to a closed port succeeded")
		}
	}
	p.Close()
	if _, err := p.Wait(); err == nil || IsTimeout(err) {
		t.Fatalf("Wait on a closed poller: %v", err)
	}
}

// Coalesce: with nothing ready and the loop asking to gather, Wait
// sleeps once and looks again.
func TestPollerCoalesces(t *testing.T) {
	p, err := New(4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.CoalesceWait = time.Millisecond
	p.Coalesce = func() bool { return true }
	p.SetDeadline(time.Now().Add(20 * time.Millisecond))
	p.Wait()
	if p.Coalesces == 0 {
		t.Fatal("no coalescing sleep")
	}
	before := p.Coalesces
	p.Coalesce = func() bool { return false }
	p.SetDeadline(time.Now().Add(20 * time.Millisecond))
	p.Wait()
	if p.Coalesces != before {
		t.Fatal("slept although the loop did not ask")
	}
}
