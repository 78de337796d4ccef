package dataplane

import (
	"bytes"
	"errors"
	"strings"
)

// HTTP/1.x message heads are parsed in place: every name and value is a
// sub-slice of the connection's read buffer, so parsing allocates nothing.
// The slices are valid until the buffer is compacted for the next message.

// Limits from the ALB documentation: a request line or a single header over
// 16 KB, or all headers over 64 KB, is a malformed request.
const (
	maxLineBytes     = 16 << 10
	maxHeadBytes     = 64 << 10
	maxHeaderCount   = 200
	maxResponseHead  = 32 << 10 // ALB: response headers over 32 KB are a 502
	maxXFFAddresses  = 30
	maxChunkLineSize = 4 << 10
)

// header is one field line of a message head.
type header struct {
	name, value []byte
}

// headFlags records what the parser learned about framing and hop-by-hop
// semantics while it walked the fields.
type headFlags struct {
	contentLength   int64 // -1 when absent
	chunked         bool
	connClose       bool
	connKeepAlive   bool
	connUpgrade     bool
	hasHost         int // number of Host fields
	hasUpgradeField bool
	expectContinue  bool
	connOther       bool // Connection names other fields, which are hop-by-hop too
}

// parseError is a malformed message. status is what the client is told.
type parseError struct {
	status int
	msg    string
}

func (e *parseError) Error() string { return e.msg }

var (
	errBadRequestLine = &parseError{400, "malformed request line"}
	errBadHeader      = &parseError{400, "malformed header field"}
	errLineTooLong    = &parseError{400, "request line or header field over 16 KB"}
	errHeadTooLarge   = &parseError{400, "request head over 64 KB"}
	errTooManyHeaders = &parseError{400, "too many header fields"}
	errBadVersion     = &parseError{505, "unsupported HTTP version"}
	errCLAndTE        = &parseError{400, "both Content-Length and Transfer-Encoding"}
	errBadCL          = &parseError{400, "invalid Content-Length"}
	errBadTE          = &parseError{501, "unsupported Transfer-Encoding"}
	errHost           = &parseError{400, "missing or repeated Host header"}
	errTE10           = &parseError{400, "Transfer-Encoding in an HTTP/1.0 request"}
	errBadHost        = &parseError{400, "malformed Host"}
	errFolded         = &parseError{400, "obsolete line folding"}
)

// findHeadEnd returns the index just past the blank line that ends a head,
// or -1 when the head is not complete in b. Bare LF line ends are accepted,
// as RFC 9112 allows; bare CR is rejected by the field parser.
func findHeadEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
		if i >= len(b) {
			return -1
		}
	}
}

// nextLine returns the line at the start of b without its terminator and the
// remainder after it.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// tokenTable marks the bytes allowed in a token (RFC 9110 tchar).
var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// valueTable marks the bytes allowed in a field value: VCHAR, SP, HTAB and
// obs-text. CR, LF and NUL are not.
var valueTable = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\t'] = true
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// asciiEqualFold reports whether b equals the lower-case ASCII string s,
// ignoring case in b.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// parseFields parses header field lines until the blank line. It fills hs
// (reusing its capacity) and the framing flags. limitLine bounds one line.
func parseFields(b []byte, hs []header, f *headFlags) ([]header, error) {
	f.contentLength = -1
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if len(line) == 0 {
			break
		}
		if len(line) > maxLineBytes {
			return hs, errLineTooLong
		}
		if line[0] == ' ' || line[0] == '\t' {
			return hs, errFolded
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return hs, errBadHeader
		}
		name := line[:colon]
		if !isToken(name) {
			return hs, errBadHeader
		}
		value := trimOWS(line[colon+1:])
		for _, c := range value {
			if !valueTable[c] {
				return hs, errBadHeader
			}
		}
		if len(hs) >= maxHeaderCount {
			return hs, errTooManyHeaders
		}
		hs = append(hs, header{name: name, value: value})
		if err := f.observe(name, value); err != nil {
			return hs, err
		}
	}
	if f.chunked && f.contentLength >= 0 {
		return hs, errCLAndTE
	}
	return hs, nil
}

// observe updates the flags for one field that matters to framing or to
// hop-by-hop handling.
func (f *headFlags) observe(name, value []byte) error {
	switch len(name) {
	case 4:
		if asciiEqualFold(name, "host") {
			f.hasHost++
			if !validAuthority(value) {
				return errBadHost
			}
		}
	case 6:
		if asciiEqualFold(name, "expect") && asciiEqualFold(value, "100-continue") {
			f.expectContinue = true
		}
	case 7:
		if asciiEqualFold(name, "upgrade") {
			f.hasUpgradeField = true
		}
	case 10:
		if asciiEqualFold(name, "connection") {
			forEachToken(value, func(tok []byte) {
				switch {
				case asciiEqualFold(tok, "close"):
					f.connClose = true
				case asciiEqualFold(tok, "keep-alive"):
					f.connKeepAlive = true
				case asciiEqualFold(tok, "upgrade"):
					f.connUpgrade = true
				default:
					f.connOther = true
				}
			})
		}
	case 14:
		if asciiEqualFold(name, "content-length") {
			// A second Content-Length, even an equal one, is refused (as
			// NGINX does; RFC 9110 §8.6 lets a recipient): two fields are
			// a smuggling attempt's mark more often than a client's.
			n, ok := parseContentLength(value)
			if !ok || f.contentLength >= 0 {
				return errBadCL
			}
			f.contentLength = n
		}
	case 17:
		if asciiEqualFold(name, "transfer-encoding") {
			// Only "chunked" is allowed, once: anything else (identity,
			// which RFC 9112 dropped, included) is a 501, as on ALB.
			var err error
			forEachToken(value, func(tok []byte) {
				switch {
				case asciiEqualFold(tok, "chunked"):
					if f.chunked {
						err = errBadTE
					}
					f.chunked = true
				default:
					err = errBadTE
				}
			})
			if err != nil {
				return err
			}
			// No empty element either: a list rule a recipient may
			// relax (RFC 9110 §5.6.1), but not where framing is at stake
			// (HAProxy and NGINX refuse it too).
			for rest := value; ; {
				el, more, found := bytes.Cut(rest, []byte(","))
				if len(trimOWS(el)) == 0 {
					return errBadTE
				}
				if !found {
					break
				}
				rest = more
			}
		}
	}
	return nil
}

// forEachToken calls fn for each comma-separated element of a list value.
func forEachToken(v []byte, fn func([]byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		if tok = trimOWS(tok); len(tok) > 0 {
			fn(tok)
		}
	}
}

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// requestHead is a parsed request head.
type requestHead struct {
	method  []byte
	target  []byte
	minor   int // HTTP/1.minor
	headers []header
	flags   headFlags
}

func (h *requestHead) reset() {
	h.method, h.target = nil, nil
	h.headers = h.headers[:0]
	h.flags = headFlags{}
}

// get returns the first value of the named field (name in lower case).
func (h *requestHead) get(name string) ([]byte, bool) {
	return getHeader(h.headers, name)
}

func getHeader(hs []header, name string) ([]byte, bool) {
	for i := range hs {
		if asciiEqualFold(hs[i].name, name) {
			return hs[i].value, true
		}
	}
	return nil, false
}

// hasBody reports whether a body follows the head (which an answer that
// does not read it must end the connection after).
func (h *requestHead) hasBody() bool { return h.flags.contentLength > 0 || h.flags.chunked }

// keepAlive reports whether the client wants the connection kept open.
func (h *requestHead) keepAlive() bool {
	if h.flags.connClose {
		return false
	}
	return h.minor >= 1 || h.flags.connKeepAlive
}

// isUpgrade reports whether the request asks to switch protocols (WebSocket).
func (h *requestHead) isUpgrade() bool {
	return h.flags.connUpgrade && h.flags.hasUpgradeField && h.minor >= 1
}

// parseRequestHead parses a complete request head (as delimited by
// findHeadEnd) into h.
func parseRequestHead(b []byte, h *requestHead) error {
	h.reset()
	// RFC 9112 §2.2: ignore at least one empty line before the request line.
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	line, rest := nextLine(b)
	if len(line) > maxLineBytes {
		return errLineTooLong
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errBadRequestLine
	}
	h.method = line[:sp1]
	if !isToken(h.method) {
		return errBadRequestLine
	}
	line = line[sp1+1:]
	sp2 := bytes.IndexByte(line, ' ')
	if sp2 <= 0 {
		return errBadRequestLine
	}
	h.target = line[:sp2]
	inPath := true
	for i, c := range h.target {
		switch {
		case c <= ' ' || c >= 0x7f:
			return errBadRequestLine
		case c == '?':
			inPath = false
		case c == '%' && inPath && (i+2 >= len(h.target) || !isHex(h.target[i+1]) || !isHex(h.target[i+2])):
			return errBadRequestLine // a path escape that is none (the query is the target's own)
		}
	}
	proto := line[sp2+1:]
	switch string(proto) {
	case "HTTP/1.1":
		h.minor = 1
	case "HTTP/1.0":
		h.minor = 0
	default:
		if len(proto) == 8 && bytes.HasPrefix(proto, []byte("HTTP/")) {
			return errBadVersion
		}
		return errBadRequestLine
	}
	var err error
	h.headers, err = parseFields(rest, h.headers, &h.flags)
	if err != nil {
		return err
	}
	if h.minor == 1 && h.flags.hasHost != 1 || h.flags.hasHost > 1 {
		return errHost
	}
	if h.minor == 0 && h.flags.chunked {
		// RFC 9112 §6.1: the framing of an HTTP/1.0 message with
		// Transfer-Encoding is faulty (an HTTP/1.0 hop may not read it
		// as chunked): refused, as NGINX does.
		return errTE10
	}
	return h.absoluteForm()
}

var (
	rootPath = []byte("/")
	hostName = []byte("Host")
)

// absoluteForm turns an absolute-form target (http://host/path) into
// origin-form and makes its authority the Host (RFC 9112 §3.2.2), so that
// rules route on, and the target receives, the request it will serve. A
// target in none of the four forms of RFC 9112 §3.2 is refused.
func (h *requestHead) absoluteForm() error {
	t := h.target
	var rest []byte
	switch {
	case len(t) > 7 && asciiEqualFold(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && asciiEqualFold(t[:8], "https://"):
		rest = t[8:]
	case t[0] == '/', string(t) == "*" && string(h.method) == "OPTIONS":
		return nil // origin-form; asterisk-form
	case string(h.method) == "CONNECT":
		return nil // authority-form, which only CONNECT uses (and ALB refuses)
	default:
		return errBadRequestLine // none of RFC 9112's four forms
	}
	i := bytes.IndexAny(rest, "/?#")
	if i < 0 {
		i = len(rest)
	}
	authority, path := rest[:i], rest[i:]
	if len(authority) == 0 || !validAuthority(authority) {
		return errBadRequestLine
	}
	switch {
	case len(path) == 0:
		path = rootPath
	case path[0] != '/':
		return errBadRequestLine
	}
	h.target = path
	found := false
	for i := range h.headers {
		if asciiEqualFold(h.headers[i].name, "host") {
			h.headers[i].value = authority
			found = true
		}
	}
	if !found {
		h.headers = append(h.headers, header{name: hostName, value: authority})
		h.flags.hasHost++
	}
	return nil
}

// validAuthority reports whether a is a host and optional port as RFC
// 3986 spells them, with no userinfo: a reg-name (unreserved and
// sub-delims; RFC 3986's percent-escapes are refused, as net/url refuses
// them for ASCII) or a bracketed IP literal, then ':' and digits.
// What a Host field or an absolute-form target may name; an empty value
// is a Host field's for a URI with no authority.
func validAuthority(a []byte) bool {
	if len(a) == 0 {
		return true
	}
	host, port := a, []byte(nil)
	if a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 2 {
			return false
		}
		for _, c := range a[1:end] {
			if !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		host = nil
		switch rest := a[end+1:]; {
		case len(rest) == 0:
		case rest[0] == ':':
			port = rest[1:]
		default:
			return false
		}
	} else if i := bytes.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
		if len(host) == 0 {
			return false
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=", c) >= 0:
		default:
			return false // no percent-escapes either: names travel as punycode
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// responseHead is a parsed response head from a target.
type responseHead struct {
	minor   int
	status  int
	reason  []byte
	headers []header
	flags   headFlags
}

var errBadResponse = errors.New("malformed response from target")

// parseResponseHead parses a complete response head into h.
func parseResponseHead(b []byte, h *responseHead) error {
	h.headers = h.headers[:0]
	h.flags = headFlags{}
	line, rest := nextLine(b)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return errBadResponse
	}
	switch line[7] {
	case '0':
		h.minor = 0
	case '1':
		h.minor = 1
	default:
		return errBadResponse
	}
	code := line[9:12]
	h.status = 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return errBadResponse
		}
		h.status = h.status*10 + int(c-'0')
	}
	if h.status < 100 {
		return errBadResponse
	}
	h.reason = nil
	if len(line) > 12 {
		if line[12] != ' ' {
			return errBadResponse
		}
		h.reason = line[13:]
	}
	var err error
	h.headers, err = parseFields(rest, h.headers, &h.flags)
	if err != nil {
		return errBadResponse
	}
	return nil
}

// isHopByHop reports whether a field is connection-specific and must not be
// forwarded (RFC 9110 §7.6.1). Transfer-Encoding is re-added by the proxy
// when it forwards a chunked body.
func isHopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return asciiEqualFold(name, "te")
	case 7:
		return asciiEqualFold(name, "trailer") || asciiEqualFold(name, "upgrade")
	case 10:
		return asciiEqualFold(name, "connection") || asciiEqualFold(name, "keep-alive")
	case 14:
		return asciiEqualFold(name, "content-length")
	case 16:
		return asciiEqualFold(name, "proxy-connection")
	case 17:
		return asciiEqualFold(name, "transfer-encoding")
	case 19:
		return asciiEqualFold(name, "proxy-authenticate")
	}
	return false
}

// namedByConnection reports whether name is listed in any Connection field
// of hs: such fields are hop-by-hop too.
func namedByConnection(hs []header, name []byte) bool {
	for i := range hs {
		if !asciiEqualFold(hs[i].name, "connection") {
			continue
		}
		found := false
		forEachToken(hs[i].value, func(tok []byte) {
			if bytes.EqualFold(tok, name) {
				found = true
			}
		})
		if found {
			return true
		}
	}
	return false
}

// refusedMethod reports whether ALB answers the method itself with 405:
// TRACE (it would echo the request, cookies and all, to a script) and
// CONNECT (a load balancer tunnels nothing).
func refusedMethod(m []byte) bool {
	return string(m) == "TRACE" || string(m) == "CONNECT"
}

// responseFraming returns how a response's body is delimited and whether,
// as far as framing goes, its connection may carry another request: a
// response that has no body by rule (to HEAD, a 204, a 304) yet declares
// one comes from a target whose next bytes may be that body, so its
// connection is not pooled.
func responseFraming(isHead bool, r *responseHead) (fr framing, reusable bool) {
	switch {
	case isHead || r.status == 204 || r.status == 304:
		return frameNone, !r.flags.chunked && r.flags.contentLength <= 0
	case r.flags.chunked:
		return frameChunked, true
	case r.flags.contentLength >= 0:
		return frameLength, true
	}
	return frameUntilClose, false
}
