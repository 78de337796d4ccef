package dataplane

import (
	"net"
	"testing"
	"time"
)

// drainBacklog returns once the accept loop has taken what the kernel had
// queued, so that the close after it resets nobody queued.
func TestDrainBacklog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 2 { // completed by the kernel, not yet accepted
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	done := make(chan struct{})
	go func() { drainBacklog(ln, time.Minute); close(done) }()
	select {
	case <-done:
		t.Fatal("drainBacklog returned with two connections queued")
	case <-time.After(100 * time.Millisecond):
	}
	for range 2 {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("drainBacklog did not return once the queue was empty")
	}
}
