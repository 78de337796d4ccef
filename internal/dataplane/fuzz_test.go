package dataplane

import (
	"testing"
)

// The parsers meet bytes from anyone on the network: whatever they get,
// they must not panic, and what they accept must be self-consistent.

func FuzzParseRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close, X-Foo\r\nX-Foo: 1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := findHeadEnd(b)
		if end < 0 {
			return
		}
		if end > len(b) {
			t.Fatalf("head end %d beyond %d bytes", end, len(b))
		}
		var h requestHead
		if err := parseRequestHead(b[:end], &h); err != nil {
			return
		}
		if h.flags.chunked && h.flags.contentLength >= 0 {
			t.Fatal("accepted both Content-Length and chunked")
		}
		if !isToken(h.method) {
			t.Fatalf("accepted method %q", h.method)
		}
		for _, f := range h.headers {
			if !isToken(f.name) {
				t.Fatalf("accepted field name %q", f.name)
			}
			for _, c := range f.value {
				if !valueTable[c] {
					t.Fatalf("accepted byte %#x in a field value", c)
				}
			}
		}
		// Rebuilding the head for a target must not panic either.
		c := &conn{request: request{remoteIP: []byte("127.0.0.1")}}
		l := &Listener{Port: 8080, Protocol: "HTTP", LoadBalancer: &LoadBalancer{XFFMode: "append"}}
		c.appendRequestHead(nil, l, &h, h.flags.expectContinue)
		var v reqView
		v.method, v.target, v.headers = h.method, h.target, h.headers
		v.host, _ = h.get("host")
		appendRedirect(nil, &RedirectConfig{}, l, &v)
		(&Rule{Conditions: Conditions{Hosts: []string{"*.x"}, Paths: []string{"/a*"}, Queries: []QueryCondition{{[]QueryPair{{"k", "v*"}}}}}}).matchView(&v)
	})
}

func FuzzParseResponseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.0 204\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := findHeadEnd(b)
		if end < 0 {
			return
		}
		var r responseHead
		if err := parseResponseHead(b[:end], &r); err != nil {
			return
		}
		if r.status < 100 || r.status > 999 {
			t.Fatalf("accepted status %d", r.status)
		}
		appendResponseHead(nil, &r, frameLength, true, false, nil)
	})
}

func FuzzChunkSize(f *testing.F) {
	for _, s := range []string{"0", "1a", "ff;ext=1", "FFFFFFFFFFFFFFF", " 1", "1 ;x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseChunkSize([]byte(s))
		if ok && n < 0 {
			t.Fatalf("negative size %d from %q", n, s)
		}
	})
}
