package handover

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A connection the kernel completed before the handover, and one made
// after the predecessor closed its copy, both reach the successor: the
// socket and its queue are the same.
func TestTakeCarriesTheAcceptQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	old, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := old.Addr().String()
	queued, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	io.WriteString(queued, "before")

	o, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("handover socket: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	served := make(chan error, 1)
	go func() {
		served <- o.Serve(context.Background(), func() []Socket {
			return []Socket{{Name: addr, Listener: old}, {Name: "admin:x", Listener: admin}}
		})
	}()
	socks, err := Take(path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after a handover: %v", err)
	}
	old.Close() // the predecessor lets go: the socket stays the successor's
	admin.Close()
	if len(socks) != 2 || socks[0].Name != addr || socks[1].Name != "admin:x" {
		t.Fatalf("took %+v", socks)
	}
	ln := socks[0].Listener
	defer ln.Close()
	defer socks[1].Listener.Close()
	if ln.Addr().String() != addr {
		t.Errorf("the taken socket listens on %s, want %s", ln.Addr(), addr)
	}
	after, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("a connection after the predecessor closed its copy: %v", err)
	}
	defer after.Close()
	io.WriteString(after, "after!")
	for _, want := range []string{"before", "after!"} {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 6)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != want {
			t.Errorf("accepted a connection that sent %q (%v), want %q", b, err, want)
		}
		c.Close()
	}
}

func TestTakeFromNobody(t *testing.T) {
	dir := t.TempDir()
	if _, err := Take(filepath.Join(dir, FileName), time.Second); !errors.Is(err, ErrNone) {
		t.Errorf("no socket file: %v, want ErrNone", err)
	}
	// A crashed Alba's socket file: nobody listens on it.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := Take(stale, time.Second); !errors.Is(err, ErrNone) {
		t.Errorf("stale socket file: %v, want ErrNone", err)
	}
	// Listen replaces it.
	o, err := Listen(stale)
	if err != nil {
		t.Fatalf("Listen over a stale socket file: %v", err)
	}
	o.Close()
}

// A successor that goes away before confirming takes nothing: the
// predecessor keeps its sockets and serves the next successor.
func TestServeOutlivesAFailedSuccessor(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	served := make(chan error, 1)
	go func() {
		served <- o.Serve(context.Background(), func() []Socket { return []Socket{{Name: "l", Listener: ln}} })
	}()
	for _, req := range []string{"take\n", "garbage\n"} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 512)) // the answer (or nothing), never confirmed
		c.Close()
	}
	// Had Serve returned, nobody would answer this one.
	socks, err := Take(path, 5*time.Second)
	if err != nil || len(socks) != 1 {
		t.Fatalf("the next successor: %v, %v", socks, err)
	}
	socks[0].Listener.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestServeEndsWithItsContext(t *testing.T) {
	o, err := Listen(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Serve(ctx, func() []Socket { return nil }) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve after its context ended: %v", err)
	}
}
