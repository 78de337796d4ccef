//go:build linux

package dataplane

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// record is a TLS record with a body of n bytes.
func record(typ byte, n int) []byte {
	return append([]byte{typ, 3, 3, byte(n >> 8), byte(n)}, bytes.Repeat([]byte{'r'}, n)...)
}

func TestRecordFramerCut(t *testing.T) {
	two := append(record(23, 10), record(23, 3)...)
	cases := []struct {
		name   string
		chunks [][]byte
		want   []int // cut per chunk
	}{
		{"one whole record", [][]byte{record(23, 10)}, []int{15}},
		{"two records in one read", [][]byte{two}, []int{15}},
		{"header split", [][]byte{two[:2], two[2:7], two[7:15]}, []int{2, 5, 8}},
		{"empty record first", [][]byte{append(record(21, 0), record(23, 2)...)}, []int{5}},
		{"body split then next header", [][]byte{two[:12], two[12:20]}, []int{12, 3}},
		{"long record", [][]byte{record(23, 16640)}, []int{16645}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f recordFramer
			for i, ch := range tc.chunks {
				if got := f.cut(ch); got != tc.want[i] {
					t.Fatalf("chunk %d: cut %d, want %d", i, got, tc.want[i])
				}
			}
		})
	}
	// Byte by byte, a stream of records is cut at each record's end.
	var f recordFramer
	stream := append(append(record(23, 3), record(22, 0)...), record(23, 300)...)
	var ends []int
	for i := range stream {
		if f.cut(stream[i:i+1]) == 1 && f.hdrN == 0 {
			ends = append(ends, i+1)
		}
	}
	if fmt.Sprint(ends) != "[8 13 318]" {
		t.Fatalf("record ends %v, want [8 13 318]", ends)
	}
}

// batchConn holds back writes until flush, so that several TLS records
// reach the proxy in one segment.
type batchConn struct {
	net.Conn
	held  []byte
	batch bool
}

func (b *batchConn) Write(p []byte) (int, error) {
	if b.batch {
		b.held = append(b.held, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

func (b *batchConn) flush() error {
	_, err := b.Conn.Write(b.held)
	b.held, b.batch = nil, false
	return err
}

// Requests in TLS records that arrive together, or a byte at a time, are
// all answered: the loop hands crypto/tls one record at a time and skips
// only reads that could find nothing.
func TestEventLoopTLSRecordsTogetherOrApart(t *testing.T) {
	b := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "path %s", r.URL.Path)
	})
	f := engineFixture(t, true, true, hostport(b))
	raw, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(20 * time.Second))
	bc := &batchConn{Conn: raw}
	c := tls.Client(bc, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	expect := func(paths ...string) {
		t.Helper()
		for _, p := range paths {
			_, body := readResponse(t, br, "GET")
			if want := "path " + p; string(body) != want {
				t.Fatalf("got %q, want %q", body, want)
			}
		}
	}

	// Three requests, three records, one segment.
	bc.batch = true
	for _, p := range []string{"/1", "/2", "/3"} {
		io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	if err := bc.flush(); err != nil {
		t.Fatal(err)
	}
	expect("/1", "/2", "/3")

	// One request split over two records, sent together.
	bc.batch = true
	io.WriteString(c, "GET /split HTTP/1.1\r\n")
	io.WriteString(c, "Host: x\r\n\r\n")
	bc.flush()
	expect("/split")

	// Two records trickling in a byte at a time.
	bc.batch = true
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	io.WriteString(c, "GET /slower HTTP/1.1\r\nHost: x\r\n\r\n")
	held := bc.held
	bc.held, bc.batch = nil, false
	for i := range held {
		if _, err := raw.Write(held[i : i+1]); err != nil {
			t.Fatal(err)
		}
		if i%16 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	expect("/slow", "/slower")

	// Then the ordinary exchange, many times over.
	for i := range 20 {
		p := fmt.Sprintf("/n%d", i)
		io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
		expect(p)
	}
	waitNoOutstanding(t, f.srv)
}
