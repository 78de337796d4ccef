// Package smuggling is a conformance suite for what a proxy does with
// ambiguous or malformed HTTP/1 requests: each case is raw bytes sent on
// a fresh connection, with the status a load balancer should answer and
// how many requests it may forward to the target. A recording target
// tells what arrived. Alba's tests run it on every engine, plain and over
// TLS; the e2e suite runs it side by side with HAProxy and NGINX.
package smuggling

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Case is one request, as raw bytes on a new connection.
type Case struct {
	Name string
	Raw  string
	// Status is the first response's status code a proxy should answer;
	// 0: none while the client waits (the proxy waits for the rest).
	Status int
	// Forwarded is how many requests may reach the target: 0 when the
	// proxy must answer itself, 1 for one normalized request.
	Forwarded int
}

const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// Normalized is what a target must record of a case a proxy forwards:
// its first request as net/http reads it (method, origin-form target,
// the body's length once framing is removed), in Target's terms; false
// when net/http cannot read it whole.
func (c Case) Normalized() (string, bool) {
	// Empty lines before a request line are skipped (RFC 9112 §2.2);
	// net/http does not skip them.
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.TrimLeft(c.Raw, "\r\n"))))
	if err != nil {
		return "", false
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return "", false
	}
	target := req.RequestURI
	if req.URL.IsAbs() {
		target = req.URL.RequestURI()
	}
	return fmt.Sprintf("%s %s %d", req.Method, target, len(body)), true
}

// Cases are RFC 9110/9112's MUST rules and published smuggling research.
var Cases = []Case{
	{"baseline GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"POST with Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 200, 1},
	{"chunked POST", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, 1},
	{"CL.TE", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400, 0},
	{"TE.CL", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + smuggled + "\r\n0\r\n\r\n", 400, 0},
	{"TE.TE: xchunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE.TE: space before the colon", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, 0},
	{"TE.TE: a second field", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE.TE: chunked, identity", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE.TE: chunked twice", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE.TE: a tab before the value", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n", 200, 1},
	{"TE.TE: a vertical tab", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\vchunked\r\n\r\n0\r\n\r\n", 400, 0},
	{"TE.TE: obs-fold (an empty coding first)", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE in HTTP/1.0", "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 0},
	{"CL and TE: 0", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 0},
	{"two Content-Lengths, differing", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, 0},
	{"Content-Length list, differing", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!", 400, 0},
	{"Content-Length with a sign", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400, 0},
	{"negative Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, 0},
	{"Content-Length with a space inside", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\nhellohello", 400, 0},
	{"Content-Length in hex", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello", 400, 0},
	{"Content-Length overflow", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, 0},
	{"empty Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400, 0},
	{"chunk-size overflow", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nx\r\n0\r\n\r\n", 400, 0},
	{"chunk-size with garbage", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk-size with a sign", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk-size 0x prefix", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk extension", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n", 200, 1},
	{"chunk data longer than its size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk without its CRLF", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n", 400, 0},
	{"trailer field", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, 1},
	{"a request in the trailer section", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + smuggled, 400, 0},
	{"obs-fold in a field", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, 0},
	{"space before a colon", "GET /a HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 400, 0},
	{"NUL in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400, 0},
	{"bare CR in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, 0},
	{"invalid byte in a name", "GET /a HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400, 0},
	{"empty field name", "GET /a HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", 400, 0},
	{"a field line before the first one starts with a space", "GET /a HTTP/1.1\r\n Host: x\r\n\r\n", 400, 0},
	{"absolute-form target", "GET http://y/a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"absolute-form with userinfo", "GET http://u@y/a HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"two Host fields", "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, 0},
	{"no Host in HTTP/1.1", "GET /a HTTP/1.1\r\n\r\n", 400, 0},
	{"a Host with a space", "GET /a HTTP/1.1\r\nHost: x y\r\n\r\n", 400, 0},
	{"a target in no form", "GET a HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a bad escape in the path", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a space in the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a tab as a separator", "GET\t/a HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"HTTP/1.2", "GET /a HTTP/1.2\r\nHost: x\r\n\r\n", 505, 0},
	{"HTTP/2 preface on HTTP/1", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, 0},
	{"TRACE", "TRACE /a HTTP/1.1\r\nHost: x\r\n\r\n", 405, 0},
	{"CONNECT", "CONNECT y:443 HTTP/1.1\r\nHost: y:443\r\n\r\n", 405, 0},
	{"CL.0 on GET", "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled, 200, 1},
	// ALB answers 400 for a request line or field over 16 KB and a head
	// over 64 KB (NGINX 414 and 400, HAProxy 414 and 431).
	{"a request line over 16 KB", "GET /" + strings.Repeat("a", 17<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a field over 16 KB", "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 17<<10) + "\r\n\r\n", 400, 0},
	{"a head over 64 KB", "GET /a HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 70) + "\r\n", 400, 0},
	// More Transfer-Encoding spellings.
	{"TE: CHUNKED in capitals", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n", 200, 1},
	{"TE: quoted", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE: with a parameter", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE: gzip, chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE: identity with a Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", 501, 0},
	{"TE: a NUL after chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x00\r\n\r\n0\r\n\r\n", 400, 0},
	{"TE: a trailing space", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked \r\n\r\n0\r\n\r\n", 200, 1},
	{"TE: comma list, empty first", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", 501, 0},
	{"TE: underscore in the name", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 200, 1},
	{"TE: the name in capitals", "POST /a HTTP/1.1\r\nHost: x\r\nTRANSFER-ENCODING: chunked\r\n\r\n0\r\n\r\n", 200, 1},
	{"TE: a space inside the name", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 0},
	{"TE in a Connection field", "POST /a HTTP/1.1\r\nHost: x\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, 1},
	// More Content-Length spellings.
	{"CL: leading zeros", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\nhello", 200, 1},
	{"CL: a trailing space", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5 \r\n\r\nhello", 200, 1},
	{"CL: twice, equal", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, 0},
	{"CL: a list, equal", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", 400, 0},
	{"CL: a decimal point", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5.0\r\n\r\nhello", 400, 0},
	{"CL: an exponent", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5e0\r\n\r\nhello", 400, 0},
	{"CL: underscore in the name", "POST /a HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\n\r\n", 200, 1},
	{"CL: a space inside the name", "POST /a HTTP/1.1\r\nHost: x\r\nContent Length: 5\r\n\r\nhello", 400, 0},
	{"CL: named by Connection", "POST /a HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello", 200, 1},
	{"CL: 0 with bytes after", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + smuggled, 200, 2},
	{"CL: longer than what is sent, then close", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello", 0, 0},
	// More chunk framing.
	{"chunk: leading zeros in the size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0005\r\nhello\r\n0\r\n\r\n", 200, 1},
	{"chunk: size in capitals", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nA\r\nhellohello\r\n0\r\n\r\n", 200, 1},
	{"chunk: a space after the size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk: a space before the size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk: an empty size line", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk: LF-only lines", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", 400, 0},
	{"chunk: CR-only after the data", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r0\r\n\r\n", 400, 0},
	{"chunk: an extension with a quoted CRLF", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"\r\n\"\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk: an extension with a bare LF", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"chunk: last-chunk with an extension", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0;ext\r\n\r\n", 200, 1},
	{"chunk: a trailer with obs-fold", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n", 400, 0},
	{"chunk: a trailer with no colon", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T\r\n\r\n", 400, 0},
	{"chunk: a Content-Length trailer", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 50\r\n\r\n", 200, 1},
	{"chunk: a request after the body", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 200, 2},
	// More request lines.
	{"two spaces after the method", "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a space after the version", "GET /a HTTP/1.1 \r\nHost: x\r\n\r\n", 400, 0},
	{"the version in lower case", "GET /a http/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a version with no minor", "GET /a HTTP/1\r\nHost: x\r\n\r\n", 400, 0},
	{"HTTP/0.9", "GET /a\r\n\r\n", 400, 0},
	{"a method with a NUL", "GE\x00T /a HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a method in lower case", "get /a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"an unknown method", "FOO /a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"a DEL in the target", "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a fragment in the target", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"absolute-form, https", "GET https://y/a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"absolute-form, a scheme in capitals", "GET HTTP://y/a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"absolute-form with a port", "GET http://y:8080/a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"absolute-form, no path", "GET http://y HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"absolute-form, an IPv6 literal", "GET http://[::1]:80/a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"absolute-form, an empty authority", "GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"authority-form for GET", "GET y:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"empty lines before the request", "\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	// More fields.
	{"a field with no colon", "GET /a HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n", 400, 0},
	{"a DEL in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n", 400, 0},
	{"bytes past 0x7f in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\n\r\n", 200, 1},
	{"a tab before a colon", "GET /a HTTP/1.1\r\nHost: x\r\nX-A\t: b\r\n\r\n", 400, 0},
	{"a bare LF between fields", "GET /a HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 200, 1},
	{"a bare CR ending a field", "GET /a HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", 400, 0},
	{"a Host with a port", "GET /a HTTP/1.1\r\nHost: x:8080\r\n\r\n", 200, 1},
	{"a Host with userinfo", "GET /a HTTP/1.1\r\nHost: u@x\r\n\r\n", 400, 0},
	{"a Host with a slash", "GET /a HTTP/1.1\r\nHost: x/y\r\n\r\n", 400, 0},
	{"an empty Host", "GET /a HTTP/1.1\r\nHost:\r\n\r\n", 200, 1},
	{"two Host fields, equal", "GET /a HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", 400, 0},
	{"HTTP/1.0 without Host", "GET /a HTTP/1.0\r\n\r\n", 200, 1},
	{"Expect 100-continue with the body", "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", 200, 1},
	{"Upgrade: h2c", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n", 200, 1},
	// Pipelines and connection ends.
	{"two requests in one write", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 200, 2},
	{"a request after Connection: close", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"HTTP/1.0 keep-alive, then another", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n", 200, 2},
	{"HTTP/1.0 without keep-alive, then another", "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n", 200, 1},
	{"a bad request after a good one", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 200, 1},
	{"too many fields", "GET /a HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 200) + "\r\n", 400, 0},
	// Encoded and odd targets, and more framing around the body.
	{"an encoded slash in the path", "GET /a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"an encoded NUL in the path", "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"dot segments", "GET /a/../b HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"a query with a bad escape", "GET /a?b=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"a path with a backslash", "GET /a\\b HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"a 4 KB target", "GET /" + strings.Repeat("t", 4096) + " HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"a CR before the request line's LF only", "GET /a HTTP/1.1\rHost: x\r\n\r\n", 400, 0},
	{"a NUL in the request line", "GET /a\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"a field name with a colon inside", "GET /a HTTP/1.1\r\nHost: x\r\nX:A: b\r\n\r\n", 200, 1},
	{"a 8 KB field value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("v", 8192) + "\r\n\r\n", 200, 1},
	{"Content-Length on a GET with no body sent", "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 200, 1},
	{"a body on HEAD", "HEAD /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 200, 1},
	{"a chunked GET", "GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, 1},
	{"chunks split small", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nh\r\n1\r\ne\r\n1\r\nl\r\n1\r\nl\r\n1\r\no\r\n0\r\n\r\n", 200, 1},
	{"a chunk of 64 KB", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n" + strings.Repeat("c", 65536) + "\r\n0\r\n\r\n", 200, 1},
	{"a 100 KB body by length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 102400\r\n\r\n" + strings.Repeat("b", 102400), 200, 1},
	{"a chunk-size line near 16 KB", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("e", 16380) + "\r\nhello\r\n0\r\n\r\n", 400, 0},
	{"a trailer section over 16 KB", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + strings.Repeat("t", 17<<10) + "\r\n\r\n", 400, 0},
	{"Expect: something else", "GET /a HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 200, 1},
	{"Connection: close, keep-alive", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close, keep-alive\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
	{"three requests, the middle one bad", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1},
}

// Target is a recording target: it reads requests as net/http does,
// answers each 200, and keeps a line for each (method, target, the body's
// length), health checks left out.
type Target struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
	cut  int // requests whose body the proxy cut short
}

// NewTarget listens on a loopback port.
func NewTarget() (*Target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &Target{ln: ln}
	go t.serve()
	return t, nil
}

// Addr is where the target listens.
func (t *Target) Addr() string { return t.ln.Addr().String() }

// Close stops the target.
func (t *Target) Close() error { return t.ln.Close() }

func (t *Target) serve() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					// A proxy closing a pooled connection is no request;
					// bytes net/http cannot read are one, malformed.
					var ne net.Error
					if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) && !errors.As(err, &ne) {
						t.note(fmt.Sprintf("unreadable: %v", err))
					}
					return
				}
				body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
				if err != nil {
					// A body the proxy streamed and then cut (its rest was
					// malformed) is no request the target can act on.
					if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
						t.mu.Lock()
						t.cut++
						t.mu.Unlock()
					} else {
						t.note(fmt.Sprintf("unreadable body: %v", err))
					}
					return
				}
				if !strings.HasPrefix(req.UserAgent(), "ELB-HealthChecker") {
					t.note(fmt.Sprintf("%s %s %d", req.Method, req.RequestURI, len(body)))
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}()
	}
}

func (t *Target) note(s string) {
	t.mu.Lock()
	t.seen = append(t.seen, s)
	t.mu.Unlock()
}

// TakeQuiet returns what arrived since the last Take once nothing more
// has arrived for quiet (at most 5 s): a proxy that forwards after its
// answer is counted with the case that made it.
func (t *Target) TakeQuiet(quiet time.Duration) []string {
	deadline := time.Now().Add(5 * time.Second)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		t.mu.Lock()
		n := len(t.seen)
		t.mu.Unlock()
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			break
		}
		time.Sleep(quiet / 5)
	}
	return t.Take()
}

// Cut is how many requests arrived with a body cut short: what a proxy
// that streams bodies sends when the rest turns out malformed.
func (t *Target) Cut() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cut
}

// Take returns what arrived since the last Take.
func (t *Target) Take() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.seen
	t.seen = nil
	return s
}

// Send writes raw on a new connection to addr (TLS when cfg is set) and
// returns the status codes of the responses that come back before the
// proxy closes or falls silent for quiet.
func Send(addr string, cfg *tls.Config, raw string, quiet time.Duration) ([]int, error) {
	var c net.Conn
	var err error
	d := net.Dialer{Timeout: 5 * time.Second}
	if cfg != nil {
		c, err = tls.DialWithDialer(&d, "tcp", addr, cfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		// A proxy may answer and close before it has read everything.
		if st := statuses(readAll(c, quiet)); len(st) > 0 {
			return st, nil
		}
		return nil, err
	}
	return statuses(readAll(c, quiet)), nil
}

// readAll reads until the peer closes or is silent for quiet.
func readAll(c net.Conn, quiet time.Duration) []byte {
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out
		}
	}
}

// statuses parses the responses in b (each framed by Content-Length or
// chunked, as proxies answer) and returns their status codes.
func statuses(b []byte) []int {
	var out []int
	br := bufio.NewReader(bytes.NewReader(b))
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return out
		}
		out = append(out, resp.StatusCode)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
