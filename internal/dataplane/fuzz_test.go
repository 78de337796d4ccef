package dataplane

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
	"time"
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

// scanChunks feeds pieces to a chunk scanner as reads would bring them: a
// line not yet whole waits for the next piece. It returns what the scanner
// relayed, whether the body ended, and whether its framing was refused.
func scanChunks(pieces [][]byte, dataOnly bool) (out []byte, done, bad bool) {
	s := chunkScanner{dataOnly: dataOnly}
	var buf []byte
	for _, p := range pieces {
		buf = append(buf, p...)
		for !s.done() {
			n, o, err := s.scan(buf, out, 1<<30)
			out, buf = o, buf[n:]
			if err != nil {
				return out, false, true
			}
			if n == 0 {
				break
			}
		}
	}
	return out, s.done(), false
}

// The chunk scanner judges a body the same however reads cut it, and what
// it relays of a body it accepts is well-formed chunked coding whose data
// is what it relays as data alone (to HTTP/2).
func FuzzChunkScanner(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n",
		"5\nhello\n0\n\n",
		"fffffffffffffffff\r\n",
		"0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"2\r\nabc\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), uint16(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		at := int(cut) % (len(b) + 1)
		out, done, bad := scanChunks([][]byte{b}, false)
		out2, done2, bad2 := scanChunks([][]byte{b[:at], b[at:]}, false)
		if done != done2 || bad != bad2 || (!bad && !bytes.Equal(out, out2)) {
			t.Fatalf("whole: done %v bad %v %q; cut at %d: done %v bad %v %q", done, bad, out, at, done2, bad2, out2)
		}
		if !done || bad {
			return
		}
		data, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(out)))
		if err != nil {
			t.Fatalf("relayed %q, which is not chunked coding: %v", out, err)
		}
		dataOnly, _, _ := scanChunks([][]byte{b}, true)
		if !bytes.Equal(data, dataOnly) {
			t.Fatalf("data %q relayed framed, %q alone", data, dataOnly)
		}
	})
}

// Alba's request head parser is never laxer than net/http's: a head it
// accepts, net/http reads too, with the same method, target and framing.
func FuzzRequestHeadAgainstNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		"GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimLeft(b, "\r\n") // empty lines before a request line: the loop skips them (RFC 9112 §2.2)
		end := findHeadEnd(b)
		if end < 0 {
			return
		}
		var h requestHead
		if parseRequestHead(b[:end], &h) != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:end])))
		if err != nil {
			t.Fatalf("Alba accepts a head net/http refuses (%v): %q", err, b[:end])
		}
		target := req.RequestURI
		if req.URL.IsAbs() {
			target = req.URL.RequestURI() // Alba forwards the origin form
		}
		if req.Method != string(h.method) || target != string(h.target) {
			t.Fatalf("%q: Alba reads %s %s, net/http %s %s", b[:end], h.method, h.target, req.Method, req.RequestURI)
		}
		chunked := len(req.TransferEncoding) > 0 && req.TransferEncoding[0] == "chunked"
		if chunked != h.flags.chunked || !chunked && h.flags.contentLength >= 0 && req.ContentLength != h.flags.contentLength {
			t.Fatalf("%q: Alba reads chunked %v length %d, net/http %v %d", b[:end], h.flags.chunked, h.flags.contentLength, req.TransferEncoding, req.ContentLength)
		}
	})
}

// A sticky cookie opens only as what it was sealed for: any bytes a
// client sends are refused or name a sealed target, never a panic.
func FuzzStickyCookie(f *testing.F) {
	sealer, err := NewCookieSealer(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("AWSALB", []byte("AAAA"), "i-1")
	f.Add("AWSALBTG", []byte(strings.Repeat("A", 71)), "tg")
	f.Fuzz(func(t *testing.T, name string, value []byte, seed string) {
		sealer.open(name, value, time.Unix(0, 0))
		id := makeStickyID(seed)
		v := sealer.appendSealed(nil, name, id, time.Unix(1<<40, 0))
		if got, ok := sealer.open(name, v, time.Unix(0, 0)); !ok || got != id {
			t.Fatalf("a sealed cookie does not open as sealed: %v", ok)
		}
		if _, ok := sealer.open(name+"x", v, time.Unix(0, 0)); ok {
			t.Fatal("a cookie opens under another name")
		}
		if _, ok := sealer.open(name, v, time.Unix(1<<40+1, 0)); ok {
			t.Fatal("an expired cookie opens")
		}
	})
}

// Rule conditions match any request without a panic, and a pattern with
// no wildcard matches exactly itself (host names case-insensitively).
func FuzzRuleConditions(f *testing.F) {
	f.Add("/api/*", "/api/movies")
	f.Add("*.example.com", "A.EXAMPLE.com")
	f.Add("/a?c", "/abc")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		for _, host := range []bool{false, true} {
			c := Conditions{Paths: []string{pattern}}
			if host {
				c = Conditions{Hosts: []string{pattern}}
			}
			r := &Rule{Conditions: c}
			v := reqView{method: []byte("GET"), target: []byte(s), host: []byte(s)}
			got := r.matchView(&v)
			if strings.ContainsAny(pattern, "*?") || strings.ContainsAny(s, "?:") {
				continue // wildcards; a query or a port, which matching leaves out
			}
			want := pattern == s
			if host {
				want = asciiLower(pattern) == asciiLower(s)
			}
			if got != want {
				t.Fatalf("host %v: pattern %q on %q: %v, want %v", host, pattern, s, got, want)
			}
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// HTTP/2 request fields become an HTTP/1.1 head for the target. Whatever
// fields a client sends, the head Alba builds from those it accepts
// carries exactly their request: net/http reads it, with the same
// method, target and authority, no connection-specific field, and
// nothing smuggled in through a name or a value (the fields come out one
// for one).
func FuzzH2HeaderConversion(f *testing.F) {
	enc := func(fields ...string) []byte { // name\xfevalue\xff...
		var b []byte
		for i := 0; i+1 < len(fields); i += 2 {
			b = append(b, fields[i]...)
			b = append(b, 0xfe)
			b = append(b, fields[i+1]...)
			b = append(b, 0xff)
		}
		return b
	}
	f.Add(enc(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "x"), int64(0))
	f.Add(enc(":method", "POST", ":scheme", "https", ":path", "/a?b", ":authority", "x", "content-length", "3", "cookie", "a=1", "cookie", "b=2"), int64(3))
	f.Add(enc(":method", "POST", ":scheme", "https", ":path", "/", "host", "y", "x-a", "1"), int64(-1))
	f.Add(enc(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "x", "te", "trailers"), int64(0))
	f.Fuzz(func(t *testing.T, raw []byte, length int64) {
		if length < -1 || length > 1<<40 {
			return
		}
		s := &h2Stream{pseudo: true}
		accepted := 0
		for _, kv := range bytes.Split(raw, []byte{0xff}) {
			name, value, ok := bytes.Cut(kv, []byte{0xfe})
			if !ok {
				continue
			}
			if !s.field(string(name), string(value)) {
				return // a malformed request: reset, never forwarded
			}
			if n := string(name); !strings.HasPrefix(n, ":") && n != "host" && n != "cookie" && n != "te" {
				accepted++
			}
		}
		if !s.method || !s.path || !s.scheme || s.tooLarge || !s.buildHead(length) {
			return
		}
		head := s.head
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("the head built from %q is one net/http refuses (%v): %q", raw, err, head)
		}
		if req.Method != string(s.methodB) || req.RequestURI != string(s.pathB) {
			t.Fatalf("%q: built %s %s from :method %q :path %q", head, req.Method, req.RequestURI, s.methodB, s.pathB)
		}
		if len(s.authority) > 0 && req.Host != string(s.authority) {
			t.Fatalf("%q: Host %q, :authority %q", head, req.Host, s.authority)
		}
		for _, h := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Upgrade"} {
			if _, ok := req.Header[h]; ok {
				t.Fatalf("%q: a connection-specific field %s went through", head, h)
			}
		}
		lines := bytes.Count(head, []byte("\r\n")) - 2 // the request line and the blank line
		want := accepted
		if len(s.authority) > 0 {
			want++
		}
		if len(s.cookies) > 0 {
			want++
		}
		if lines != want && lines != want+1 { // +1: a content-length or chunked framing added
			t.Fatalf("%q: %d header lines from %d accepted fields", head, lines, want)
		}
	})
}
