package docker

import (
	"context"
	"net"
	"testing"
	"time"
)

// serve accepts on a loopback port and hands each connection to handle.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

func TestWaitAccepting(t *testing.T) {
	// A proxy with no application behind it: accepts, then closes.
	proxyAlone := serve(t, func(c net.Conn) { c.Close() })
	// An application: keeps the connection until the client speaks.
	app := serve(t, func(c net.Conn) { c.Read(make([]byte, 1)); c.Close() })
	// A server that greets first (SMTP-like) and closes.
	greeter := serve(t, func(c net.Conn) { c.Write([]byte("220\r\n")); c.Close() })
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	for _, tc := range []struct {
		name string
		addr string
		held bool
		want bool
	}{
		{"application, held", app, true, true},
		{"greeter, held", greeter, true, true},
		{"proxy alone, held", proxyAlone, true, false},
		{"proxy alone, accept is enough", proxyAlone, false, true},
		{"refused", refused, false, false},
		{"refused, held", refused, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := waitAccepting(context.Background(), []string{tc.addr}, tc.held, 600*time.Millisecond); got != tc.want {
				t.Errorf("waitAccepting = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsLocal(t *testing.T) {
	for host, want := range map[string]bool{
		"unix:///var/run/docker.sock": true,
		"tcp://127.0.0.1:2375":        true,
		"tcp://127.0.0.2:2375":        true,
		"tcp://localhost:2375":        true,
		"tcp://[::1]:2375":            true,
		"tcp://10.0.0.2:2375":         false,
		"tcp://docker.example:2376":   false,
	} {
		if got := isLocal(host); got != want {
			t.Errorf("isLocal(%s) = %v, want %v", host, got, want)
		}
	}
}
