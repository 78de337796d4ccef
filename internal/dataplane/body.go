package dataplane

import (
	"bytes"
	"errors"
)

// framing is how a message body is delimited on the wire.
type framing int

const (
	frameNone       framing = iota // no body
	frameLength                    // Content-Length bytes
	frameChunked                   // chunked transfer coding
	frameUntilClose                // response read until the target closes
)

// errBadChunk is a chunked body whose framing is broken.
var errBadChunk = errors.New("malformed chunked body")

// flushLimit is how many bytes are batched before a write.
const flushLimit = 32 << 10

var crlf = []byte("\r\n")

// validTrailer reports whether a trailer line is a well-formed field line
// (no obs-fold, a token name, a value without CR, LF or NUL): trailers are
// forwarded, and a malformed one could be split differently by the peer.
func validTrailer(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return false
	}
	for _, c := range line[colon+1:] {
		if !valueTable[c] {
			return false
		}
	}
	return true
}

// parseChunkSize parses "hex[;ext]".
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	digits := 0
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if digits >= 15 {
			return 0, false
		}
		n = n<<4 | int64(d)
		digits++
	}
rest:
	if digits == 0 {
		return 0, false
	}
	// Whitespace only before an extension's ';' (RFC 9112 §7.1.1's BWS).
	for ; i < len(line); i++ {
		if line[i] == ' ' || line[i] == '\t' {
			continue
		}
		if line[i] != ';' {
			return 0, false
		}
		break
	}
	if i == len(line) && i > digits {
		return 0, false // whitespace and no extension
	}
	for _, c := range line[i:] {
		if !valueTable[c] {
			return 0, false
		}
	}
	return n, true
}
