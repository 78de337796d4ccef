package dataplane

import (
	"bytes"
	"errors"
	"io"
	"net"
	"time"
)

// framing is how a message body is delimited on the wire.
type framing int

const (
	frameNone       framing = iota // no body
	frameLength                    // Content-Length bytes
	frameChunked                   // chunked transfer coding
	frameUntilClose                // response read until the target closes
)

// Errors of a body copy say which side failed, so the caller knows whom to
// blame (and what it may still tell the client).
var (
	errSrcClosed = errors.New("source closed before the body ended")
	errBadChunk  = errors.New("malformed chunked body")
)

// sideError wraps an I/O error with the side it happened on.
type sideError struct {
	src bool // reading the source failed (else writing the destination)
	err error
}

func (e *sideError) Error() string { return e.err.Error() }
func (e *sideError) Unwrap() error { return e.err }

// pipe copies one body from src (whose unread bytes sit in sb) to dst,
// batching writes in out. It flushes out before every blocking read, so a
// streamed body (server-sent events, a slow upload) moves as it arrives.
type pipe struct {
	src     net.Conn
	sb      *rbuf
	dst     net.Conn
	out     []byte
	timeout time.Duration // idle timeout for each read and write
	// srcDeadline and dstDeadline are when the current deadlines run out;
	// they are refreshed only when half spent, to save syscalls.
	srcDeadline, dstDeadline *time.Time
}

// flushLimit is how many bytes are batched before a write.
const flushLimit = 32 << 10

func refresh(c net.Conn, d *time.Time, timeout time.Duration, read bool) {
	now := time.Now()
	// The idle timeout counts from the last activity. Moving the deadline
	// is a runtime timer update: cheap, but not free on every read and
	// write, so it moves once 1/64 of the timeout has passed since it was
	// set (the timeout is honored to within that).
	if d.Sub(now) > timeout-timeout/64 {
		return
	}
	*d = now.Add(timeout)
	if read {
		c.SetReadDeadline(*d)
	} else {
		c.SetWriteDeadline(*d)
	}
}

func (p *pipe) flush() error {
	if len(p.out) == 0 {
		return nil
	}
	refresh(p.dst, p.dstDeadline, p.timeout, false)
	_, err := p.dst.Write(p.out)
	p.out = p.out[:0]
	if err != nil {
		return &sideError{false, err}
	}
	return nil
}

// fill flushes pending output, then reads more input.
func (p *pipe) fill() error {
	if err := p.flush(); err != nil {
		return err
	}
	refresh(p.src, p.srcDeadline, p.timeout, true)
	n, err := p.sb.fill(p.src)
	if n > 0 {
		return nil
	}
	if err == nil || err == io.EOF {
		err = errSrcClosed
	}
	return &sideError{true, err}
}

// emit queues b for the destination.
func (p *pipe) emit(b []byte) error {
	if len(p.out)+len(b) > flushLimit && len(p.out) > 0 {
		if err := p.flush(); err != nil {
			return err
		}
	}
	if len(b) > flushLimit {
		refresh(p.dst, p.dstDeadline, p.timeout, false)
		if _, err := p.dst.Write(b); err != nil {
			return &sideError{false, err}
		}
		return nil
	}
	p.out = append(p.out, b...)
	return nil
}

// copyN copies exactly n body bytes.
func (p *pipe) copyN(n int64) error {
	for n > 0 {
		if p.sb.buffered() == 0 {
			if err := p.fill(); err != nil {
				return err
			}
		}
		b := p.sb.bytes()
		if int64(len(b)) > n {
			b = b[:n]
		}
		if err := p.emit(b); err != nil {
			return err
		}
		p.sb.consume(len(b))
		n -= int64(len(b))
	}
	return nil
}

// copyUntilEOF copies until the source closes (a response without framing).
func (p *pipe) copyUntilEOF() error {
	for {
		if p.sb.buffered() == 0 {
			err := p.fill()
			var se *sideError
			if errors.As(err, &se) && se.src && (se.err == errSrcClosed) {
				return p.flush()
			}
			if err != nil {
				return err
			}
		}
		if err := p.emit(p.sb.bytes()); err != nil {
			return err
		}
		p.sb.consume(p.sb.buffered())
	}
}

// readLine returns the next line (without CRLF) from the source buffer,
// reading more as needed; the line is consumed when the caller calls
// sb.consume(adv).
func (p *pipe) readLine(limit int) (line []byte, adv int, err error) {
	scanned := 0
	for {
		b := p.sb.bytes()
		for i := scanned; i < len(b); i++ {
			if b[i] == '\n' {
				line = b[:i]
				if n := len(line); n > 0 && line[n-1] == '\r' {
					line = line[:n-1]
				}
				return line, i + 1, nil
			}
		}
		scanned = len(b)
		if scanned > limit {
			return nil, 0, &sideError{true, errBadChunk}
		}
		if err := p.fill(); err != nil {
			// A line that fills the buffer (a trailer near 16 KB) is bad
			// framing, answered as such, not a failed read.
			var se *sideError
			if errors.As(err, &se) && se.err == errBufferFull {
				return nil, 0, &sideError{true, errBadChunk}
			}
			return nil, 0, err
		}
	}
}

// copyChunked copies a chunked body, validating its framing so that a
// smuggled message cannot ride inside it. With dechunk the data is written
// raw (for an HTTP/1.0 client, which is then closed).
func (p *pipe) copyChunked(dechunk bool) error {
	for {
		line, adv, err := p.readLine(maxChunkLineSize)
		if err != nil {
			return err
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return &sideError{true, errBadChunk}
		}
		if !dechunk {
			if err := p.emit(line); err != nil {
				return err
			}
			if err := p.emit(crlf); err != nil {
				return err
			}
		}
		p.sb.consume(adv)
		if size == 0 {
			break
		}
		if err := p.copyN(size); err != nil {
			return err
		}
		line, adv, err = p.readLine(2)
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return &sideError{true, errBadChunk}
		}
		p.sb.consume(adv)
		if !dechunk {
			if err := p.emit(crlf); err != nil {
				return err
			}
		}
	}
	// Trailer fields, then the final blank line.
	total := 0
	for {
		line, adv, err := p.readLine(maxLineBytes)
		if err != nil {
			return err
		}
		total += adv
		if total > maxHeadBytes {
			return &sideError{true, errBadChunk}
		}
		if len(line) > 0 && !validTrailer(line) {
			return &sideError{true, errBadChunk}
		}
		if len(line) > 0 && !dechunk {
			if err := p.emit(line); err != nil {
				return err
			}
		}
		p.sb.consume(adv)
		if !dechunk {
			if err := p.emit(crlf); err != nil {
				return err
			}
		}
		if len(line) == 0 {
			return p.flush()
		}
	}
}

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
	for ; i < len(line); i++ { // optional whitespace, then extensions
		if line[i] == ' ' || line[i] == '\t' {
			continue
		}
		if line[i] != ';' {
			return 0, false
		}
		break
	}
	for _, c := range line[i:] {
		if !valueTable[c] {
			return 0, false
		}
	}
	return n, true
}
