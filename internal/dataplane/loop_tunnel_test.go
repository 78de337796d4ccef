//go:build linux

package dataplane

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
)

// After a 101 the connection is a tunnel on either engine, plain or over
// TLS: bytes the client sent behind its request and bytes the target sent
// behind its 101 arrive, a megabyte each way at once arrives whole, and
// an end of stream from the client reaches the target as one, which can
// still answer before it closes.
func TestTunnel(t *testing.T) {
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	gotByTarget := make(chan []byte, 1)
	target := tcpTarget(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "websocket" {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello")
		var got bytes.Buffer
		io.Copy(io.MultiWriter(c, &got), br) // an echo, until the client's end
		io.WriteString(c, "bye")
		gotByTarget <- got.Bytes()
	})
	for _, loops := range []bool{true, false} {
		for _, https := range []bool{false, true} {
			t.Run(fmt.Sprintf("loops=%v/https=%v", loops, https), func(t *testing.T) {
				f := engineFixture(t, loops, https, target)
				c := dialEngine(t, f, https)
				io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly")
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != 101 {
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
				if got := <-gotByTarget; !bytes.Equal(got, append([]byte("early"), payload...)) {
					t.Fatalf("target got %d bytes, want %d", len(got), len(payload)+5)
				}
				if loops && f.srv.handoffs.Load() != 0 {
					t.Fatalf("handed to the goroutine engine")
				}
				waitNoOutstanding(t, f.srv)
			})
		}
	}
}
