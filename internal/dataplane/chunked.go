package dataplane

import "bytes"

// chunkScanner relays a chunked body incrementally, for the event loops:
// it validates the framing (so a smuggled message cannot ride inside it)
// and writes it out re-framed with CRLF line ends, from whatever bytes
// have arrived. A line split across reads waits whole in the buffer.
type chunkScanner struct {
	// dataOnly relays the chunks' data alone (to a front that frames the
	// body itself: HTTP/2); trailer fields are kept in trailers then.
	dataOnly bool
	trailers []byte
	state    chunkState
	left     int64 // data bytes left in the current chunk
	trailer  int   // trailer bytes so far
}

type chunkState int

const (
	chunkSize    chunkState = iota // a chunk-size line
	chunkData                      // chunk data
	chunkDataEnd                   // the CRLF after chunk data
	chunkTrailer                   // trailer fields, then the blank line
	chunkDone                      // the body is complete
)

func (s *chunkScanner) reset()     { *s = chunkScanner{trailers: s.trailers[:0]} }
func (s *chunkScanner) done() bool { return s.state == chunkDone }

// scan consumes what it can of b, appending the relayed bytes to out
// (stopping once out has grown by limit). It returns the bytes consumed;
// a line not yet whole in b is left for the next call.
func (s *chunkScanner) scan(b, out []byte, limit int) (int, []byte, error) {
	i := 0
	start := len(out)
	for i < len(b) && s.state != chunkDone && len(out)-start < limit {
		switch s.state {
		case chunkSize:
			line, adv, ok := scanLine(b[i:], maxChunkLineSize)
			if !ok {
				return i, out, errBadChunk
			}
			if adv == 0 {
				return i, out, nil
			}
			size, valid := parseChunkSize(line)
			if !valid {
				return i, out, errBadChunk
			}
			if !s.dataOnly {
				out = append(append(out, line...), crlf...)
			}
			i += adv
			s.left = size
			s.state = chunkData
			if size == 0 {
				s.state = chunkTrailer
			}
		case chunkData:
			n := min(int64(len(b)-i), s.left, int64(limit-(len(out)-start)))
			out = append(out, b[i:i+int(n)]...)
			i += int(n)
			s.left -= n
			if s.left == 0 {
				s.state = chunkDataEnd
			}
		case chunkDataEnd:
			line, adv, ok := scanLine(b[i:], 2)
			if !ok || adv > 0 && len(line) != 0 {
				return i, out, errBadChunk
			}
			if adv == 0 {
				return i, out, nil
			}
			if !s.dataOnly {
				out = append(out, crlf...)
			}
			i += adv
			s.state = chunkSize
		case chunkTrailer:
			line, adv, ok := scanLine(b[i:], maxLineBytes)
			if !ok {
				return i, out, errBadChunk
			}
			if adv == 0 {
				return i, out, nil
			}
			s.trailer += adv
			if s.trailer > maxHeadBytes || len(line) > 0 && !validTrailer(line) {
				return i, out, errBadChunk
			}
			if !s.dataOnly {
				out = append(append(out, line...), crlf...)
			} else if len(line) > 0 {
				s.trailers = append(append(s.trailers, line...), crlf...)
			}
			i += adv
			if len(line) == 0 {
				s.state = chunkDone
			}
		}
	}
	return i, out, nil
}

// scanLine returns the line at the start of b without its CRLF and the
// bytes it spans; adv is 0 when the line is not whole yet, and ok is false
// when it is already longer than limit or ends in a bare LF.
func scanLine(b []byte, limit int) (line []byte, adv int, ok bool) {
	j := bytes.IndexByte(b, '\n')
	if j < 0 {
		return nil, 0, len(b) <= limit
	}
	if j > limit {
		return nil, 0, false
	}
	// CRLF only: a parser that ends a chunk line at a bare LF and one
	// that does not read two bodies from the same bytes.
	if j == 0 || b[j-1] != '\r' {
		return nil, 0, false
	}
	return b[:j-1], j + 1, true
}
