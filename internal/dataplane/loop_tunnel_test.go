//go:build linux

package dataplane

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
)

// After a 101 the connection is a tunnel on either engine, plain or over
// TLS, to a target group of HTTP or HTTPS targets: bytes the client sent
// behind its request and bytes the target sent behind its 101 arrive, a
// megabyte each way at once arrives whole, and the client's end of stream
// reaches a plain target as one, which can still answer before it closes
// (net/http's TLS connection to an HTTPS target has no half close: that
// target stops on its own).
func TestTunnel(t *testing.T) {
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	want := append([]byte("early"), payload...)
	gotByTarget := make(chan []byte, 1)
	serve := func(untilEOF bool) func(c net.Conn) {
		return func(c net.Conn) {
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err != nil || req.Header.Get("Upgrade") != "websocket" {
				return
			}
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello")
			var got bytes.Buffer
			src := io.Reader(br)
			if !untilEOF {
				src = io.LimitReader(br, int64(len(want)))
			}
			io.Copy(io.MultiWriter(c, &got), src) // an echo
			io.WriteString(c, "bye")
			gotByTarget <- got.Bytes()
		}
	}
	plain := tcpTarget(t, serve(true))
	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{testCert(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tlsLn.Close() })
	go func() {
		for {
			c, err := tlsLn.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(false)(c)
			}()
		}
	}()
	cases := []struct {
		loops, https, tlsTarget bool
	}{
		{true, false, false}, {true, true, false}, {false, false, false}, {false, true, false},
		{true, true, true}, {false, true, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("loops=%v/https=%v/tls-target=%v", tc.loops, tc.https, tc.tlsTarget), func(t *testing.T) {
			target := plain
			if tc.tlsTarget {
				target = tlsLn.Addr().String()
			}
			f := engineFixture(t, tc.loops, tc.https, target)
			if tc.tlsTarget {
				f.withGroup(t, func(g *TargetGroup) { g.TLS = &tls.Config{InsecureSkipVerify: true} })
			}
			c := dialEngine(t, f, tc.https)
			io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			first := make([]byte, len("helloearly"))
			if _, err := io.ReadFull(br, first); err != nil || string(first) != "helloearly" {
				t.Fatalf("first bytes %q %v", first, err)
			}
			sent := make(chan error, 1)
			go func() {
				_, err := c.Write(payload)
				if err == nil {
					err = c.(interface{ CloseWrite() error }).CloseWrite()
				}
				sent <- err
			}()
			echo := make([]byte, len(payload))
			if _, err := io.ReadFull(br, echo); err != nil || !bytes.Equal(echo, payload) {
				t.Fatalf("echo of %d bytes: equal %v, %v", len(payload), bytes.Equal(echo, payload), err)
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(br)
			if err != nil || string(rest) != "bye" {
				t.Fatalf("after the half close: %q %v", rest, err)
			}
			if got := <-gotByTarget; !bytes.Equal(got, want) {
				t.Fatalf("target got %d bytes, want %d", len(got), len(want))
			}
			waitNoOutstanding(t, f.srv)
		})
	}
}
