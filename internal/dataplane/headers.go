package dataplane

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// appendRequestHead writes the head sent to the target: the request line,
// the client's end-to-end fields, and the fields ALB adds (X-Forwarded-*,
// X-Amzn-Trace-Id). It returns an error status (463) when the request cannot
// be forwarded.
func (c *request) appendRequestHead(dst []byte, l *Listener, h *requestHead, stripExpect bool) ([]byte, int) {
	lb := l.LoadBalancer
	dst = append(dst, h.method...)
	dst = append(dst, ' ')
	dst = append(dst, h.target...)
	dst = append(dst, " HTTP/1.1\r\n"...)

	var xff []byte
	xffCount := 0
	var trace []byte
	sawHost := false
	for i := range h.headers {
		f := &h.headers[i]
		name := f.name
		if isHopByHop(name) {
			continue
		}
		if h.flags.connOther && namedByConnection(h.headers, name) {
			continue
		}
		switch len(name) {
		case 4:
			if asciiEqualFold(name, "host") {
				dst = appendHost(dst, f.value, l.Port, lb.PreserveHost)
				sawHost = true
				continue
			}
		case 6:
			if stripExpect && asciiEqualFold(name, "expect") {
				continue
			}
		case 15:
			if asciiEqualFold(name, "x-amzn-trace-id") {
				trace = f.value
				continue
			}
			if asciiEqualFold(name, "x-forwarded-for") {
				if lb.XFFMode == "remove" {
					continue
				}
				xffCount += bytes.Count(f.value, []byte{','}) + 1
				if xffCount > maxXFFAddresses {
					return dst, 463
				}
				if lb.XFFMode == "preserve" {
					break // forwarded unchanged, below
				}
				if len(xff) > 0 {
					xff = append(xff, ", "...)
				}
				xff = append(xff, f.value...)
				continue
			}
		case 16:
			if asciiEqualFold(name, "x-forwarded-port") {
				continue
			}
		case 17:
			if asciiEqualFold(name, "x-forwarded-proto") {
				continue
			}
		}
		if lb.DropInvalidHeaders && !validALBName(name) {
			continue
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.value...)
		dst = append(dst, "\r\n"...)
	}
	if !sawHost {
		// Only HTTP/1.0 comes without a Host; the request to the target is
		// HTTP/1.1, which needs one: ELB names itself.
		name := lb.DNSName
		if name == "" {
			name = lb.Name
		}
		dst = appendHost(dst, []byte(name), l.Port, false)
	}
	if lb.XFFMode == "" || lb.XFFMode == "append" {
		dst = append(dst, "X-Forwarded-For: "...)
		if len(xff) > 0 {
			dst = append(dst, xff...)
			dst = append(dst, ", "...)
		}
		dst = append(dst, c.remoteIP...)
		dst = append(dst, "\r\n"...)
	}
	if l.Protocol == "HTTPS" {
		dst = append(dst, "X-Forwarded-Proto: https\r\n"...)
	} else {
		dst = append(dst, "X-Forwarded-Proto: http\r\n"...)
	}
	dst = append(dst, "X-Forwarded-Port: "...)
	dst = strconv.AppendInt(dst, int64(l.Port), 10)
	dst = append(dst, "\r\nX-Amzn-Trace-Id: "...)
	dst = appendTraceID(dst, trace, c.now)
	dst = append(dst, "\r\n"...)
	switch {
	case h.flags.chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case h.flags.contentLength >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, h.flags.contentLength, 10)
		dst = append(dst, "\r\n"...)
	}
	if h.isUpgrade() {
		dst = append(dst, "Connection: Upgrade\r\n"...)
		if v, ok := h.get("upgrade"); ok {
			dst = append(dst, "Upgrade: "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	dst = append(dst, "\r\n"...)
	return dst, 0
}

// appendHost writes the Host field as ALB forwards it: the port is stripped
// on 80 and 443 and made the listener's port elsewhere, unless the load
// balancer preserves the header.
func appendHost(dst, host []byte, port int, preserve bool) []byte {
	dst = append(dst, "Host: "...)
	if preserve {
		dst = append(dst, host...)
		return append(dst, "\r\n"...)
	}
	dst = append(dst, hostWithoutPort(host)...)
	if port != 80 && port != 443 {
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(port), 10)
	}
	return append(dst, "\r\n"...)
}

// hostWithoutPort strips a :port from a Host value, minding IPv6 literals.
func hostWithoutPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			return h[:i+1]
		}
		return h
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// validALBName reports whether a field name is [-A-Za-z0-9]+, ALB's rule for
// routing.http.drop_invalid_header_fields.
func validALBName(b []byte) bool {
	for _, c := range b {
		if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendTraceID writes an X-Amzn-Trace-Id value. A client's Root is kept and
// a Self field put in front of it; otherwise a new Root is made:
// 1-{8 hex epoch seconds}-{24 hex random}.
func appendTraceID(dst, client []byte, now time.Time) []byte {
	if bytes.Contains(client, []byte("Root=")) {
		dst = append(dst, "Self="...)
		dst = appendTraceValue(dst, now)
		dst = append(dst, ';')
		// Drop a Self field the client (or an earlier LB) put there.
		for len(client) > 0 {
			i := bytes.IndexByte(client, ';')
			var part []byte
			if i < 0 {
				part, client = client, nil
			} else {
				part, client = client[:i], client[i+1:]
			}
			if bytes.HasPrefix(part, []byte("Self=")) || len(part) == 0 {
				continue
			}
			dst = append(dst, part...)
			if len(client) > 0 {
				dst = append(dst, ';')
			}
		}
		if n := len(dst); dst[n-1] == ';' {
			dst = dst[:n-1]
		}
		return dst
	}
	dst = append(dst, "Root="...)
	return appendTraceValue(dst, now)
}

func appendTraceValue(dst []byte, now time.Time) []byte {
	dst = append(dst, "1-"...)
	secs := uint32(now.Unix())
	for s := 28; s >= 0; s -= 4 {
		dst = append(dst, hexDigits[secs>>uint(s)&0xf])
	}
	dst = append(dst, '-')
	a, b := rand.Uint64(), rand.Uint32()
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, hexDigits[a>>uint(s)&0xf])
	}
	for s := 28; s >= 0; s -= 4 {
		dst = append(dst, hexDigits[b>>uint(s)&0xf])
	}
	return dst
}

// appendResponseHead writes the head sent to the client from the target's
// response. framing is how the body follows.
func appendResponseHead(dst []byte, r *responseHead, fr framing, keepAlive, http10KeepAlive bool, extra []byte) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(r.status), 10)
	dst = append(dst, ' ')
	dst = append(dst, r.reason...)
	dst = append(dst, "\r\n"...)
	for i := range r.headers {
		f := &r.headers[i]
		if isHopByHop(f.name) {
			continue
		}
		if r.flags.connOther && namedByConnection(r.headers, f.name) {
			continue
		}
		dst = append(dst, f.name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.value...)
		dst = append(dst, "\r\n"...)
	}
	switch fr {
	case frameLength:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, r.flags.contentLength, 10)
		dst = append(dst, "\r\n"...)
	case frameChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case frameNone:
		if r.flags.contentLength >= 0 { // HEAD and 304 keep the target's length
			dst = append(dst, "Content-Length: "...)
			dst = strconv.AppendInt(dst, r.flags.contentLength, 10)
			dst = append(dst, "\r\n"...)
		}
	}
	switch {
	case r.status == 101:
		// The switch is announced to the client as the target made it.
		dst = append(dst, "Connection: Upgrade\r\n"...)
		if v, ok := getHeader(r.headers, "upgrade"); ok {
			dst = append(dst, "Upgrade: "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	case !keepAlive:
		dst = append(dst, "Connection: close\r\n"...)
	case http10KeepAlive:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = append(dst, extra...)
	return append(dst, "\r\n"...)
}

func appendStatusLine(dst []byte, code int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(code)...)
	return append(dst, "\r\n"...)
}

func appendContentLength(dst []byte, n int64) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "\r\n"...)
}
