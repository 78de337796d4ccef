package dataplane

import (
	"fmt"
	"net/http"
)

// Responses the load balancer itself generates, prebuilt once so that an
// error costs no allocation. ALB's codes: 463 for too many X-Forwarded-For
// addresses, 464 for a protocol mismatch, others as in RFC 9110.
var errorResponses = func() map[int][2][]byte {
	m := map[int][2][]byte{}
	for _, code := range []int{400, 403, 404, 405, 408, 413, 431, 463, 464, 500, 501, 502, 503, 504, 505} {
		text := http.StatusText(code)
		switch code {
		case 463:
			text = "X-Forwarded-For Has Too Many Addresses"
		case 464:
			text = "Incompatible Protocol"
		}
		body := fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n", code, text, code, text)
		var v [2][]byte
		for i, conn := range []string{"keep-alive", "close"} {
			v[i] = fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nServer: alba\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n%s", code, text, len(body), conn, body)
		}
		m[code] = v
	}
	return m
}()

// errorResponse returns the prebuilt response for code; close selects the
// variant that announces the connection's end.
func errorResponse(code int, close bool) []byte {
	v, ok := errorResponses[code]
	if !ok {
		v = errorResponses[500]
	}
	if close {
		return v[1]
	}
	return v[0]
}

// errorBody is the page of errorResponse(code), for a front that writes
// the head itself (HTTP/2).
func errorBody(code int) []byte {
	b := errorResponse(code, false)
	return b[findHeadEnd(b):]
}

// lbError returns the prebuilt response for code (see errorResponse) and
// counts it in the load balancer's ELB responses: every answer of the
// load balancer's own goes through here, in both HTTP/1 engines, once per
// response sent.
func (c *request) lbError(code int, close bool) []byte {
	if _, ok := errorResponses[code]; !ok {
		code = 500 // what errorResponse sends
	}
	c.stats.elbResponse(code)
	return errorResponse(code, close)
}
