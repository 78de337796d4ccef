//go:build linux

package poller

import (
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// eachSet runs fn on an epoll set and on a Netpoll.
func eachSet(t *testing.T, fn func(t *testing.T, s Set)) {
	t.Run("epoll", func(t *testing.T) {
		p, err := New(16)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		fn(t, p)
	})
	t.Run("netpoll", func(t *testing.T) {
		p := NewNetpoll()
		defer p.Close()
		fn(t, p)
	})
}

// waitFor waits until s reports an event for fd with a bit of mask.
func waitFor(t *testing.T, s Set, fd int, mask uint32) {
	t.Helper()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		evs, err := s.Wait()
		if err != nil {
			t.Fatalf("waiting for %#x on %d: %v", mask, fd, err)
		}
		for _, ev := range evs {
			if int(ev.Fd) == fd && ev.Events&mask != 0 {
				return
			}
		}
	}
}

// socketPair is a connected pair of non-blocking TCP sockets on loopback:
// a descriptor for the set and the peer as a net.Conn.
func socketPair(t *testing.T) (int, net.Conn) {
	t.Helper()
	lfd, addr := rawListener(t)
	fd, _, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(fd) })
	var sfd int
	for {
		var errno syscall.Errno
		sfd, _, errno = Accept(lfd)
		if errno == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	f := osFile(sfd)
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return fd, c
}

// Both sets tell each edge: bytes to read, the peer's close after its
// last bytes (read until EAGAIN where the events are Coarse), room to
// write again after the socket filled, and a wake-up; Wait times out.
func TestSetsTellEachEdge(t *testing.T) {
	eachSet(t, func(t *testing.T, s Set) {
		fd, peer := socketPair(t)
		if err := s.Add(fd, In|Out|RdHup|Edge); err != nil {
			t.Fatal(err)
		}
		waitFor(t, s, fd, Out) // connected
		peer.Write([]byte("ping"))
		waitFor(t, s, fd, In)
		buf := make([]byte, 64)
		if n, errno := Read(fd, buf); string(buf[:n]) != "ping" || errno != 0 {
			t.Fatalf("read %q %v", buf[:n], errno)
		}
		if _, errno := Read(fd, buf); errno != syscall.EAGAIN {
			t.Fatalf("read with nothing: %v", errno)
		}
		// Fill the socket until it takes no more; the peer's reading
		// brings an edge to write again.
		chunk := make([]byte, 64<<10)
		written := 0
		for {
			n, errno := Write(fd, chunk)
			written += n
			if errno == syscall.EAGAIN {
				break
			}
			if errno != 0 {
				t.Fatal(errno)
			}
		}
		drained := make(chan struct{})
		go func() {
			// All of it: a socket left more than a third full may never
			// turn writable again.
			io.ReadFull(peer, make([]byte, written))
			close(drained)
		}()
		// An event may be one from before (Netpoll's may repeat): after
		// EAGAIN, the next edge comes once there is room.
		for {
			waitFor(t, s, fd, Out)
			_, errno := Write(fd, []byte("x"))
			if errno == 0 {
				break
			}
			if errno != syscall.EAGAIN {
				t.Fatal(errno)
			}
		}
		<-drained
		// The last bytes and the close, in one go.
		peer.Write([]byte("bye"))
		peer.Close()
		waitFor(t, s, fd, In)
		got := ""
		for {
			n, errno := Read(fd, buf)
			if errno == syscall.EAGAIN {
				waitFor(t, s, fd, In)
				continue
			}
			if errno != 0 || n == 0 {
				break
			}
			got += string(buf[:n])
		}
		if got != "bye" {
			t.Fatalf("read %q before the end, want bye", got)
		}
		go s.Wake()
		waitFor(t, s, s.WakeFD(), In)
		s.Drained()
		s.SetDeadline(time.Now().Add(20 * time.Millisecond))
		for {
			evs, err := s.Wait()
			if IsTimeout(err) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if int(ev.Fd) == s.WakeFD() {
					t.Fatal("a wake-up after Drained")
				}
			}
		}
		s.CloseFD(fd)
		s.Close()
		if _, err := s.Wait(); err == nil || IsTimeout(err) {
			t.Fatalf("Wait on a closed set: %v", err)
		}
	})
}

func osFile(fd int) *os.File { return os.NewFile(uintptr(fd), "") }
