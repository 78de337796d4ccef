//go:build unix

package dataplane

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"time"

	"golang.org/x/net/http2/hpack"
)

// HTTP/2 from clients (ALPN h2 on HTTPS listeners) on the event loops.
// The connection's frames are read and written by the loop through the
// same TLS transport as HTTP/1; each stream is a front of an evExchange,
// so it is routed, sent to a target over a pooled HTTP/1.1 connection,
// retried and recorded exactly as an HTTP/1 request is (ALB's HTTP1
// target groups). Header blocks are decoded with hpack into an HTTP/1.1
// head that the HTTP/1 parser validates: one set of rules for what a
// request may carry.

// Frame types and flags (RFC 9113 §6).
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2Priority     = 0x2
	h2RSTStream    = 0x3
	h2Settings     = 0x4
	h2PushPromise  = 0x5
	h2Ping         = 0x6
	h2GoAway       = 0x7
	h2WindowUpdate = 0x8
	h2Continuation = 0x9

	h2FlagEndStream  = 0x1
	h2FlagAck        = 0x1
	h2FlagEndHeaders = 0x4
	h2FlagPadded     = 0x8
	h2FlagPriority   = 0x20
)

// Error codes (RFC 9113 §7).
const (
	h2NoError            = 0x0
	h2ProtocolError      = 0x1
	h2InternalError      = 0x2
	h2FlowControlError   = 0x3
	h2StreamClosed       = 0x5
	h2FrameSizeError     = 0x6
	h2RefusedStream      = 0x7
	h2Cancel             = 0x8
	h2CompressionError   = 0x9
	h2EnhanceYourCalm    = 0xb
	h2HTTP11Required     = 0xd
	h2SettingsHeaderSize = 0x1
	h2SettingsPush       = 0x2
	h2SettingsMaxStreams = 0x3
	h2SettingsWindow     = 0x4
	h2SettingsFrameSize  = 0x5
	h2SettingsHeaderList = 0x6
)

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Limits of the server side.
const (
	h2MaxStreams = 128      // concurrent streams a client may open
	h2MaxFrame   = 16384    // the largest frame accepted (the default)
	h2ConnWindow = 16 << 20 // the connection's receive window
	// h2StreamWindow is each stream's receive window: the most of a
	// request body held for a target that has not taken it yet.
	h2StreamWindow = 1 << 20
	h2MaxHeadBlock = maxHeadBytes // a header block, CONTINUATIONs included
	// A client that resets streams faster than this (CVE-2023-44487,
	// rapid reset) or sends empty frames to keep the server busy is told
	// to calm down and disconnected.
	h2MaxResetsPerSecond = 200
	h2MaxEmptyFrames     = 1000
)

// evH2 is the HTTP/2 state of a loop connection.
type evH2 struct {
	c       *evConn
	streams map[uint32]*h2Stream
	free    []*h2Stream
	dec     *hpack.Decoder
	enc     *hpack.Encoder
	hb      []byte // the header block being encoded
	cur     *h2Stream
	curErr  bool // the block being decoded is malformed

	preface    bool // the client's preface has been read
	lastStream uint32
	goingAway  bool // GOAWAY sent: no new streams
	closing    bool // close once the streams in flight are done

	peerMaxFrame int
	peerWindow   int64 // SETTINGS_INITIAL_WINDOW_SIZE of the client
	sendWindow   int64 // the connection's send window
	recvUnacked  int64 // received bytes not yet given back

	// The header block being received (HEADERS then CONTINUATIONs).
	hdrStream uint32
	hdrEnd    bool
	hdrBlock  []byte
	hdrFrames int

	resets     int
	resetsFrom time.Time
	empty      int

	// Strings handed to the hpack encoder (which may keep them in its
	// table), interned per connection so that a response's usual names
	// and values cost no allocation.
	strs     map[string]string
	name     []byte // a field name being lower-cased
	lastLen  int64
	lastLenS string

	queued  bool // in the loop's flush queue
	blocked bool // streams wait for the connection window or the socket
}

// h2Stream is one request of an HTTP/2 connection: the front of its
// exchange.
type h2Stream struct {
	request
	evExchange
	h  *evH2
	id uint32

	head      []byte // the request as an HTTP/1.1 head, then parsed
	methodB   []byte
	pathB     []byte
	authority []byte
	cookies   []byte
	fields    []byte // the regular fields, as HTTP/1.1 lines
	pseudo    bool   // still in the pseudo-header fields
	method    bool
	path      bool
	scheme    bool

	window    int64 // the stream's send window
	unacked   int64 // received body bytes not yet given back
	body      []byte
	bodyLen   int64     // body bytes received
	clientEnd bool      // END_STREAM received
	tooLarge  bool      // the decoded head passes maxHeadBytes: 431
	pipe      *bodyPipe // the body on its way to an async attempt's goroutine
	started   bool      // the request went to the exchange
	replied   bool      // a response HEADERS went out
	ended     bool      // END_STREAM sent
	done      bool
}

// appendWriter lets the hpack encoder append to a slice.
type appendWriter struct{ b *[]byte }

func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// startH2 makes c an HTTP/2 connection (after the TLS handshake chose h2).
func (c *evConn) startH2() {
	h := &evH2{c: c, streams: map[uint32]*h2Stream{}, peerMaxFrame: 16384, peerWindow: 65535, sendWindow: 65535}
	h.dec = hpack.NewDecoder(4096, h.emit)
	h.dec.SetMaxStringLength(maxLineBytes)
	h.enc = hpack.NewEncoder(appendWriter{&h.hb})
	c.h2 = h
	c.state = stH2
	c.acquireBufs()
	// The server's preface: its settings, and a larger connection window.
	out := c.out
	out = appendFrameHeader(out, 18, h2Settings, 0, 0)
	out = appendSetting(out, h2SettingsMaxStreams, h2MaxStreams)
	out = appendSetting(out, h2SettingsWindow, h2StreamWindow)
	out = appendSetting(out, h2SettingsHeaderList, maxHeadBytes)
	out = appendFrameHeader(out, 4, h2WindowUpdate, 0, 0)
	out = binary.BigEndian.AppendUint32(out, h2ConnWindow-65535)
	c.out = out
	h.schedule()
}

func appendFrameHeader(b []byte, length int, typ, flags byte, stream uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
}

// windowUpdate gives the client n bytes of window on stream id (0: the
// connection).
func (h *evH2) windowUpdate(id uint32, n uint32) {
	h.c.out = appendFrameHeader(h.c.out, 4, h2WindowUpdate, 0, id)
	h.c.out = binary.BigEndian.AppendUint32(h.c.out, n)
	h.schedule()
}

// rstStream ends stream id with code.
func (h *evH2) rstStream(id uint32, code uint32) {
	h.c.out = appendFrameHeader(h.c.out, 4, h2RSTStream, 0, id)
	h.c.out = binary.BigEndian.AppendUint32(h.c.out, code)
	h.schedule()
}

// goAwayFrame tells the client the last stream taken and why it goes.
func (h *evH2) goAwayFrame(code uint32) {
	h.c.out = appendFrameHeader(h.c.out, 8, h2GoAway, 0, 0)
	h.c.out = binary.BigEndian.AppendUint32(h.c.out, h.lastStream)
	h.c.out = binary.BigEndian.AppendUint32(h.c.out, code)
	h.schedule()
}

func appendSetting(b []byte, id uint16, v uint32) []byte {
	b = binary.BigEndian.AppendUint16(b, id)
	return binary.BigEndian.AppendUint32(b, v)
}

// onEvent serves the connection after a socket event: frames in, then
// whatever was waiting for the socket to take more.
func (h *evH2) onEvent() {
	c := h.c
	for c.state == stH2 {
		if !h.frames() {
			return
		}
		if c.rb.buffered() == c.rb.capacity() && !c.rb.makeRoom() {
			h.fail(h2FrameSizeError)
			return
		}
		n, ok := c.read()
		if !ok {
			c.close()
			return
		}
		if n == 0 {
			break
		}
		c.rb.advance(n)
		if len(h.streams) == 0 {
			c.deadline = c.lp.now.Add(c.idleTimeout())
		}
	}
	if c.state != stH2 {
		return
	}
	if !h.flushNow() {
		return
	}
	if h.blocked {
		h.resume()
	}
	h.maybeClose()
}

// frames handles the complete frames buffered; false when the
// connection ended.
func (h *evH2) frames() bool {
	c := h.c
	if !h.preface {
		if c.rb.buffered() < len(h2Preface) {
			return true
		}
		if string(c.rb.bytes()[:len(h2Preface)]) != h2Preface {
			h.fail(h2ProtocolError)
			return false
		}
		c.rb.consume(len(h2Preface))
		h.preface = true
	}
	for c.rb.buffered() >= 9 {
		b := c.rb.bytes()
		length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if length > h2MaxFrame {
			h.fail(h2FrameSizeError)
			return false
		}
		if len(b) < 9+length {
			if c.rb.r+9+length > c.rb.capacity() {
				c.rb.compact()
				for c.rb.capacity() < 9+length && c.rb.grow() {
				}
			}
			return true
		}
		typ, flags := b[3], b[4]
		stream := binary.BigEndian.Uint32(b[5:9]) & 0x7fffffff
		payload := b[9 : 9+length]
		ok := h.frame(typ, flags, stream, payload)
		if c.state != stH2 {
			return false
		}
		c.rb.consume(9 + length)
		if !ok {
			return false
		}
	}
	return true
}

// frame handles one frame; false when the connection must end.
func (h *evH2) frame(typ, flags byte, id uint32, p []byte) bool {
	if h.hdrStream != 0 && typ != h2Continuation {
		h.fail(h2ProtocolError) // a header block is never interrupted
		return false
	}
	if len(p) == 0 && typ != h2Settings && typ != h2Headers && typ != h2Continuation {
		if typ != h2Data || flags&h2FlagEndStream == 0 {
			if h.empty++; h.empty > h2MaxEmptyFrames {
				h.fail(h2EnhanceYourCalm)
				return false
			}
		}
	}
	switch typ {
	case h2Data:
		return h.data(flags, id, p)
	case h2Headers:
		return h.headers(flags, id, p)
	case h2Continuation:
		if id == 0 || id != h.hdrStream {
			h.fail(h2ProtocolError)
			return false
		}
		return h.block(flags, p)
	case h2Priority:
		if id == 0 || len(p) != 5 {
			h.fail(h2ProtocolError)
			return false
		}
	case h2RSTStream:
		if id == 0 || len(p) != 4 {
			h.fail(h2ProtocolError)
			return false
		}
		if id > h.lastStream {
			h.fail(h2ProtocolError) // an idle stream
			return false
		}
		if s := h.streams[id]; s != nil {
			if !s.replied {
				// A request cancelled before its answer: the pattern of a
				// rapid reset attack when it comes in numbers.
				if h.c.lp.now.Sub(h.resetsFrom) > time.Second {
					h.resets, h.resetsFrom = 0, h.c.lp.now
				}
				if h.resets++; h.resets > h2MaxResetsPerSecond {
					h.fail(h2EnhanceYourCalm)
					return false
				}
			}
			s.ended = true // nothing more goes out on it
			s.abandon()
		}
	case h2Settings:
		if id != 0 || len(p)%6 != 0 || flags&h2FlagAck != 0 && len(p) != 0 {
			h.fail(h2ProtocolError)
			return false
		}
		if flags&h2FlagAck != 0 {
			return true
		}
		for i := 0; i < len(p); i += 6 {
			v := binary.BigEndian.Uint32(p[i+2:])
			switch binary.BigEndian.Uint16(p[i:]) {
			case h2SettingsWindow:
				if v > 1<<31-1 {
					h.fail(h2FlowControlError)
					return false
				}
				delta := int64(v) - h.peerWindow
				h.peerWindow = int64(v)
				for _, s := range h.streams {
					s.window += delta
				}
				if delta > 0 {
					h.blocked = true
				}
			case h2SettingsFrameSize:
				if v < 16384 || v > 1<<24-1 {
					h.fail(h2ProtocolError)
					return false
				}
				h.peerMaxFrame = int(min(v, 1<<20))
			case h2SettingsHeaderSize:
				h.enc.SetMaxDynamicTableSizeLimit(min(v, 4096))
			case h2SettingsPush:
				if v > 1 {
					h.fail(h2ProtocolError)
					return false
				}
			}
		}
		h.c.out = appendFrameHeader(h.c.out, 0, h2Settings, h2FlagAck, 0)
		h.schedule()
	case h2Ping:
		if id != 0 || len(p) != 8 {
			h.fail(h2ProtocolError)
			return false
		}
		if flags&h2FlagAck == 0 {
			h.c.out = append(appendFrameHeader(h.c.out, 8, h2Ping, h2FlagAck, 0), p...)
			h.schedule()
		}
	case h2GoAway:
		if id != 0 || len(p) < 8 {
			h.fail(h2ProtocolError)
			return false
		}
		// The client leaves: streams in flight finish, no new ones come.
		h.closing = true
	case h2WindowUpdate:
		if len(p) != 4 {
			h.fail(h2ProtocolError)
			return false
		}
		inc := int64(binary.BigEndian.Uint32(p) & 0x7fffffff)
		if inc == 0 {
			if id == 0 {
				h.fail(h2ProtocolError)
				return false
			}
			if s := h.streams[id]; s != nil {
				h.reset(s, h2ProtocolError)
			}
			return true
		}
		if id == 0 {
			if h.sendWindow += inc; h.sendWindow > 1<<31-1 {
				h.fail(h2FlowControlError)
				return false
			}
			h.blocked = true
			return true
		}
		if s := h.streams[id]; s != nil {
			if s.window += inc; s.window > 1<<31-1 {
				h.reset(s, h2FlowControlError)
				return true
			}
			h.blocked = true
		}
	case h2PushPromise:
		h.fail(h2ProtocolError) // clients do not push
		return false
	default:
		// Unknown frame types are ignored (RFC 9113 §4.1).
	}
	return true
}

// padded strips the padding of a DATA or HEADERS payload.
func padded(flags byte, p []byte) ([]byte, bool) {
	if flags&h2FlagPadded == 0 {
		return p, true
	}
	if len(p) < 1 || int(p[0]) >= len(p) {
		return nil, false
	}
	return p[1 : len(p)-int(p[0])], true
}

func (h *evH2) headers(flags byte, id uint32, p []byte) bool {
	if id == 0 || id%2 == 0 {
		h.fail(h2ProtocolError)
		return false
	}
	p, ok := padded(flags, p)
	if !ok {
		h.fail(h2ProtocolError)
		return false
	}
	if flags&h2FlagPriority != 0 {
		if len(p) < 5 {
			h.fail(h2ProtocolError)
			return false
		}
		p = p[5:]
	}
	if s := h.streams[id]; s != nil || id <= h.lastStream {
		// Trailers of a request body, or a stream that is over.
		if s == nil || s.clientEnd || flags&h2FlagEndStream == 0 {
			h.fail(h2StreamClosed)
			return false
		}
		// Trailer fields are decoded (to keep the table in step) and
		// dropped: the request went or goes to the target with a length.
		h.cur = nil
	} else {
		if h.goingAway || h.closing {
			h.cur = nil
		} else {
			h.lastStream = id
			s := h.newStream(id)
			if len(h.streams) > h2MaxStreams {
				h.reset(s, h2RefusedStream)
				h.cur = nil
			} else {
				h.cur = s
			}
		}
	}
	h.hdrStream, h.hdrEnd, h.hdrFrames = id, flags&h2FlagEndStream != 0, 0
	h.hdrBlock = h.hdrBlock[:0]
	h.curErr = false
	return h.block(flags, p)
}

// block adds a fragment to the header block; the block is decoded once
// its END_HEADERS comes.
func (h *evH2) block(flags byte, p []byte) bool {
	if h.hdrFrames++; len(h.hdrBlock)+len(p) > h2MaxHeadBlock || h.hdrFrames > 256 {
		h.fail(h2EnhanceYourCalm) // a CONTINUATION flood
		return false
	}
	h.hdrBlock = append(h.hdrBlock, p...)
	if flags&h2FlagEndHeaders == 0 {
		return true
	}
	id := h.hdrStream
	h.hdrStream = 0
	if _, err := h.dec.Write(h.hdrBlock); err != nil {
		h.fail(h2CompressionError)
		return false
	}
	if err := h.dec.Close(); err != nil {
		h.fail(h2CompressionError)
		return false
	}
	s := h.cur
	h.cur = nil
	if s == nil {
		if t := h.streams[id]; t != nil && h.hdrEnd {
			t.endOfBody() // trailers close the body
		}
		return true
	}
	if h.curErr {
		h.reset(s, h2ProtocolError)
		return true
	}
	s.clientEnd = h.hdrEnd
	s.headDone()
	return true
}

// emit takes a decoded field into the current stream's head.
func (h *evH2) emit(f hpack.HeaderField) {
	s := h.cur
	if s == nil || h.curErr {
		return
	}
	if !s.field(f.Name, f.Value) {
		h.curErr = true
	}
}

func (h *evH2) data(flags byte, id uint32, p []byte) bool {
	if id == 0 {
		h.fail(h2ProtocolError)
		return false
	}
	n := int64(len(p))
	h.recvUnacked += n
	if h.recvUnacked > h2ConnWindow {
		h.fail(h2FlowControlError)
		return false
	}
	if h.recvUnacked >= h2ConnWindow/2 {
		h.windowUpdate(0, uint32(h.recvUnacked))
		h.recvUnacked = 0
	}
	s := h.streams[id]
	if s == nil || s.clientEnd {
		if id > h.lastStream {
			h.fail(h2ProtocolError)
			return false
		}
		return true // a stream already over (reset): its bytes are dropped
	}
	body, ok := padded(flags, p)
	if !ok {
		h.fail(h2ProtocolError)
		return false
	}
	if s.unacked += n; s.unacked > h2StreamWindow {
		h.reset(s, h2FlowControlError)
		return true
	}
	s.dataIn(body, flags&h2FlagEndStream != 0)
	return true
}

// newStream opens stream id.
func (h *evH2) newStream(id uint32) *h2Stream {
	var s *h2Stream
	if n := len(h.free); n > 0 {
		s = h.free[n-1]
		h.free = h.free[:n-1]
	} else {
		s = &h2Stream{h: h}
		c := h.c
		s.request = request{so: c.so, remote: c.remote, remoteIP: c.remoteIP, stats: c.stats}
		s.evExchange = evExchange{lp: c.lp, dataOnly: true}
		s.rq, s.front = &s.request, s
	}
	s.id = id
	s.window = h.peerWindow
	s.pseudo, s.method, s.path, s.scheme = true, false, false, false
	s.head, s.methodB, s.pathB = s.head[:0], s.methodB[:0], s.pathB[:0]
	s.authority, s.cookies, s.fields = s.authority[:0], s.cookies[:0], s.fields[:0]
	s.unacked, s.bodyLen, s.body = 0, 0, s.body[:0]
	s.clientEnd, s.started, s.replied, s.ended, s.done, s.tooLarge = false, false, false, false, false, false
	s.pipe, s.reqBody = nil, nil
	s.upOpen, s.noReplay = false, false
	s.state = stHead
	s.deadline = h.c.lp.now.Add(h.c.idleTimeout())
	h.streams[id] = s
	return s
}

// field adds a decoded field to the stream's head; false when the
// request is malformed (RFC 9113 §8.2, §8.3).
func (s *h2Stream) field(name, value string) bool {
	for i := 0; i < len(value); i++ {
		if b := value[i]; b == 0 || b == '\r' || b == '\n' {
			return false
		}
	}
	// RFC 9113 §8.2.1: nor may a value start or end with whitespace (an
	// :authority of " " would go out as an empty Host).
	if n := len(value); n > 0 && (value[0] == ' ' || value[0] == '\t' || value[n-1] == ' ' || value[n-1] == '\t') {
		return false
	}
	if len(name) > 0 && name[0] == ':' {
		if !s.pseudo {
			return false
		}
		switch name {
		case ":method":
			if s.method || value == "" {
				return false
			}
			s.method = true
			s.methodB = append(s.methodB[:0], value...)
		case ":path":
			if s.path || value == "" {
				return false
			}
			s.path = true
			s.pathB = append(s.pathB[:0], value...)
		case ":scheme":
			if s.scheme {
				return false
			}
			s.scheme = true
		case ":authority":
			s.authority = append(s.authority[:0], value...)
		default:
			return false
		}
		return true
	}
	s.pseudo = false
	if len(s.fields)+len(s.cookies)+len(name)+len(value) > maxHeadBytes {
		s.tooLarge = true // decoded, a small block can name a large head
		return true
	}
	if !isToken([]byte(name)) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if b := name[i]; b >= 'A' && b <= 'Z' {
			return false
		}
	}
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return false
	case "te":
		return value == "trailers"
	case "host":
		if len(s.authority) == 0 {
			s.authority = append(s.authority, value...)
		}
		return true
	case "cookie":
		if len(s.cookies) > 0 {
			s.cookies = append(s.cookies, "; "...)
		}
		s.cookies = append(s.cookies, value...)
		return true
	}
	s.fields = append(s.fields, name...)
	s.fields = append(s.fields, ": "...)
	s.fields = append(s.fields, value...)
	s.fields = append(s.fields, "\r\n"...)
	return true
}

// headDone handles a complete request header block.
func (s *h2Stream) headDone() {
	if !s.method {
		s.h.reset(s, h2ProtocolError)
		return
	}
	if s.tooLarge {
		s.answerError(431)
		return
	}
	if string(s.methodB) == "CONNECT" {
		s.answerError(405) // as ALB, and as Alba's HTTP/1 does
		return
	}
	if !s.path || !s.scheme {
		s.h.reset(s, h2ProtocolError)
		return
	}
	// Routed at once: a fixed answer need not wait for the body, and a
	// group a goroutine's transport serves takes the body as it streams
	// in; others buffer it first (up to smallBuf, so a retry can send it
	// again).
	s.startRequest()
}

// buildHead writes the request as an HTTP/1.1 head and parses it: the
// HTTP/1 parser's rules apply to HTTP/2 requests too. length is the
// body's length when known (-1: it streams, chunked unless declared).
func (s *h2Stream) buildHead(length int64) bool {
	b := append(s.head[:0], s.methodB...)
	b = append(b, ' ')
	b = append(b, s.pathB...)
	b = append(b, " HTTP/1.1\r\n"...)
	if len(s.authority) > 0 {
		b = append(b, "host: "...)
		b = append(b, s.authority...)
		b = append(b, "\r\n"...)
	}
	b = append(b, s.fields...)
	if len(s.cookies) > 0 {
		b = append(b, "cookie: "...)
		b = append(b, s.cookies...)
		b = append(b, "\r\n"...)
	}
	n := len(b)
	b = append(b, "\r\n"...)
	s.head = b
	if err := parseRequestHead(b, &s.req); err != nil {
		return false
	}
	if s.req.flags.contentLength >= 0 {
		return length < 0 || length == s.req.flags.contentLength
	}
	// No length declared: add the one known, or chunk a streamed body.
	b = b[:n]
	switch {
	case length > 0 || length == 0 && !bodilessMethod(s.methodB):
		b = append(b, "content-length: "...)
		b = strconv.AppendInt(b, length, 10)
		b = append(b, "\r\n"...)
	case length < 0:
		b = append(b, "transfer-encoding: chunked\r\n"...)
	}
	b = append(b, "\r\n"...)
	s.head = b
	return parseRequestHead(b, &s.req) == nil
}

// bodilessMethod reports whether a request of method normally carries no
// body (and so goes to the target without a Content-Length when it has
// none, as net/http sends it).
func bodilessMethod(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// startRequest routes the request and starts its exchange, with the
// body received so far (all of it once clientEnd).
func (s *h2Stream) startRequest() {
	s.started = true
	lp := s.lp
	s.now = lp.now
	length := int64(-1)
	if s.clientEnd {
		length = s.bodyLen
	}
	if !s.buildHead(length) {
		s.answerError(400)
		return
	}
	h := &s.req
	if refusedMethod(h.method) {
		s.answerError(405)
		return
	}
	l := s.so.cfg.Load()
	view := s.view()
	rule := match(l, &view)
	if rule == nil {
		s.answerError(404)
		return
	}
	a := &rule.Action
	switch a.Type {
	case ActionFixedResponse:
		s.stats.fixedResponse(a.FixedStatus)
		var ct []byte
		if a.FixedContentType != "" {
			ct = []byte(a.FixedContentType)
		}
		s.answer(a.FixedStatus, ct, []byte(a.FixedBody), nil)
		return
	case ActionRedirect:
		s.stats.redirect()
		s.answer(a.Redirect.StatusCode, nil, nil, appendRedirect(nil, a.Redirect, l, &view))
		return
	}
	g, writeTG, sticky, rewrite := s.route(a, h.headers)
	if !g.async() && !s.clientEnd && len(s.body) <= smallBuf {
		s.started = false // the body is buffered first
		return
	}
	if s.upp == nil {
		s.upp = outPool.Get().(*[]byte)
		s.up = (*s.upp)[:0]
	}
	var status int
	s.up, status = s.appendRequestHead(s.up[:0], l, h, false)
	if status != 0 {
		s.answerError(status)
		return
	}
	if g.async() && !s.clientEnd {
		// A goroutine's transport sends the body as it comes, while the
		// response may already flow back (gRPC streams both ways).
		s.pipe = newBodyPipe(s.body, s.pipeRead)
		s.reqBody, s.noReplay = s.pipe, true
		s.body = s.body[:0]
		s.start(l, a, g, writeTG, sticky, rewrite)
		return
	}
	s.upOpen = !s.clientEnd
	s.noReplay = s.upOpen
	s.appendBody(s.body)
	if s.clientEnd {
		s.endBody()
	}
	s.body = s.body[:0]
	s.start(l, a, g, writeTG, sticky, rewrite)
}

// appendBody adds body bytes to what goes to the target.
func (s *h2Stream) appendBody(b []byte) {
	if len(b) == 0 {
		return
	}
	if s.req.flags.chunked {
		s.up = strconv.AppendInt(s.up, int64(len(b)), 16)
		s.up = append(s.up, "\r\n"...)
		s.up = append(s.up, b...)
		s.up = append(s.up, "\r\n"...)
		return
	}
	s.up = append(s.up, b...)
}

func (s *h2Stream) endBody() {
	if s.upOpen && s.req.flags.chunked {
		s.up = append(s.up, "0\r\n\r\n"...)
	}
	s.upOpen = false
}

// dataIn takes DATA of the request.
func (s *h2Stream) dataIn(b []byte, end bool) {
	s.bodyLen += int64(len(b))
	if !s.started {
		s.deadline = s.lp.now.Add(s.idleTimeout())
	}
	if end {
		s.clientEnd = true
	}
	switch {
	case !s.started:
		s.body = append(s.body, b...)
		if end || len(s.body) > smallBuf {
			s.startRequest()
		}
	case (s.pipe != nil || s.upOpen) && s.pastLength(end):
		s.h.reset(s, h2ProtocolError)
		return
	case s.pipe != nil:
		s.pipe.write(b, end)
	case s.upOpen:
		s.appendBody(b)
		if end {
			s.endBody()
		}
		if s.state == stSend {
			s.send()
		}
	default:
		// The answer is out or on its way: the rest is dropped.
		s.credit()
	}
	if s.done && s.clientEnd {
		s.h.release(s)
	}
}

// pastLength reports whether the body received breaks the length the
// client declared: longer, or shorter at its end (RFC 9113 §8.1.1).
func (s *h2Stream) pastLength(end bool) bool {
	d := s.req.flags.contentLength
	return d >= 0 && (s.bodyLen > d || end && s.bodyLen != d)
}

// endOfBody: trailers ended the request body.
func (s *h2Stream) endOfBody() { s.dataIn(nil, true) }

// pipeRead is told (on the goroutine) that it took n bytes of the body:
// the client gets their window back.
func (s *h2Stream) pipeRead(p *bodyPipe, n int) {
	s.lp.do(func() {
		if s.pipe != p || s.clientEnd {
			return
		}
		s.h.windowUpdate(s.id, uint32(n))
		s.unacked -= int64(n)
	})
}

// credit gives the client back the window of the body bytes taken.
func (s *h2Stream) credit() {
	if s.unacked == 0 || s.clientEnd {
		return
	}
	s.h.windowUpdate(s.id, uint32(s.unacked))
	s.unacked = 0
}

// answer sends a complete response of the load balancer's own.
func (s *h2Stream) answer(status int, contentType, body, location []byte) {
	h := s.h
	h.hb = h.hb[:0]
	h.status(status)
	h.field("server", "alba")
	if contentType != nil {
		h.fieldB("content-type", contentType)
	}
	if location != nil {
		h.fieldB("location", location)
	}
	h.contentLength(int64(len(body)))
	h.headerFrames(s.id, len(body) == 0)
	if len(body) > 0 {
		// Small answers only: within any window a client starts with.
		h.c.out = appendFrameHeader(h.c.out, len(body), h2Data, h2FlagEndStream, s.id)
		h.c.out = append(h.c.out, body...)
		s.window -= int64(len(body))
		h.sendWindow -= int64(len(body))
	}
	s.replied, s.ended = true, true
	h.schedule()
	s.complete()
}

// answerError answers with the load balancer's error page for code.
func (s *h2Stream) answerError(code int) {
	s.lbError(code, false) // counted among the load balancer's answers
	s.answer(code, []byte("text/html"), errorBody(code), nil)
}

// field adds a header field to the block being encoded.
func (h *evH2) field(name, value string) {
	h.enc.WriteField(hpack.HeaderField{Name: name, Value: value})
}

func (h *evH2) fieldB(name string, value []byte) {
	h.enc.WriteField(hpack.HeaderField{Name: name, Value: h.intern(value)})
}

// maxInterned bounds a connection's interned strings (the table starts
// over when full: a value that changes, like Date, cannot grow it).
const maxInterned = 128

// intern returns b as a string, allocated once per connection.
func (h *evH2) intern(b []byte) string {
	if len(b) > 256 {
		return string(b)
	}
	if v, ok := h.strs[string(b)]; ok {
		return v
	}
	if h.strs == nil || len(h.strs) >= maxInterned {
		h.strs = make(map[string]string, maxInterned)
	}
	v := string(b)
	h.strs[v] = v
	return v
}

// statusText holds the :status values, made once.
var statusText = func() (t [600]string) {
	for i := 100; i < len(t); i++ {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func (h *evH2) status(code int) {
	if code >= 100 && code < len(statusText) {
		h.field(":status", statusText[code])
		return
	}
	h.field(":status", strconv.Itoa(code))
}

// contentLength adds a content-length field; the same length as the
// last one reuses its string.
func (h *evH2) contentLength(n int64) {
	if n != h.lastLen || h.lastLenS == "" {
		h.lastLen, h.lastLenS = n, strconv.FormatInt(n, 10)
	}
	h.field("content-length", h.lastLenS)
}

// headerFrames writes the encoded block as HEADERS (and CONTINUATION)
// frames of stream id.
func (h *evH2) headerFrames(id uint32, endStream bool) {
	c := h.c
	b := h.hb
	typ := byte(h2Headers)
	for first := true; first || len(b) > 0; first = false {
		n := min(len(b), h.peerMaxFrame)
		var flags byte
		if first && endStream {
			flags |= h2FlagEndStream
		}
		if n == len(b) {
			flags |= h2FlagEndHeaders
		}
		c.out = appendFrameHeader(c.out, n, typ, flags, id)
		c.out = append(c.out, b[:n]...)
		b = b[n:]
		typ = h2Continuation
	}
}

// responseFields encodes a target's response head for HTTP/2:
// names in lower case, without the fields HTTP/2 has no use for.
func (h *evH2) responseFields(r *responseHead) {
	h.status(r.status)
	for i := range r.headers {
		f := &r.headers[i]
		if isHopByHop(f.name) || asciiEqualFold(f.name, "content-length") {
			continue
		}
		if r.flags.connOther && namedByConnection(r.headers, f.name) {
			continue
		}
		h.fieldB(h.lowerName(f.name), f.value)
	}
}

// lowerName returns a field name in lower case (as HTTP/2 sends names),
// interned.
func (h *evH2) lowerName(name []byte) string {
	h.name = append(h.name[:0], name...)
	for j, b := range h.name {
		if b >= 'A' && b <= 'Z' {
			h.name[j] = b + 'a' - 'A'
		}
	}
	return h.intern(h.name)
}

// The exchange's front, for an HTTP/2 stream.

func (s *h2Stream) noTarget(status int) { s.answerError(status) }
func (s *h2Stream) failed(status int)   { s.answerError(status) }

func (s *h2Stream) interim(r *responseHead) {
	h := s.h
	h.hb = h.hb[:0]
	h.responseFields(r)
	h.headerFrames(s.id, false)
	h.schedule()
}

func (s *h2Stream) respond(r *responseHead, fr framing, headEnd int) bool {
	h := s.h
	h.hb = h.hb[:0]
	h.responseFields(r)
	switch {
	case fr == frameLength:
		h.contentLength(r.flags.contentLength)
	case fr == frameNone && r.flags.contentLength >= 0:
		h.contentLength(r.flags.contentLength) // HEAD, 304
	}
	// Stickiness cookies, written as HTTP/1 lines for both fronts.
	for b := s.extra; len(b) > 0; {
		line, rest := nextLine(b)
		b = rest
		if v, ok := bytes.CutPrefix(line, []byte("Set-Cookie: ")); ok {
			h.fieldB("set-cookie", v)
		}
	}
	end := fr == frameNone
	h.headerFrames(s.id, end)
	s.replied, s.ended = true, end
	h.schedule()
	return true
}

// h2OutLimit is how much may wait for the client socket before streams
// stop relaying.
const h2OutLimit = 4 * flushLimit

func (s *h2Stream) room() int {
	h := s.h
	c := h.c
	if len(c.out) >= flushLimit {
		h.flushNow()
	}
	n := min(s.window, h.sendWindow, int64(h.peerMaxFrame), int64(h2OutLimit-len(c.out)-c.tr.pendingLen()))
	if n <= 0 {
		h.blocked = true
		return 0
	}
	return int(n)
}

func (s *h2Stream) bodyOut() []byte {
	c := s.h.c
	c.out = appendFrameHeader(c.out, 0, h2Data, 0, s.id)
	return c.out
}

func (s *h2Stream) bodyIn(out []byte) {
	h := s.h
	start := len(h.c.out) - 9 // bodyOut's frame header
	n := len(out) - len(h.c.out)
	if n == 0 {
		h.c.out = out[:start]
		return
	}
	out[start], out[start+1], out[start+2] = byte(n>>16), byte(n>>8), byte(n)
	s.window -= int64(n)
	h.sendWindow -= int64(n)
	h.c.out = out
}

func (s *h2Stream) flush() bool {
	c := s.h.c
	if c.state != stH2 {
		return false
	}
	if len(c.out) > 0 {
		s.h.schedule()
	}
	return true
}

func (s *h2Stream) gone() bool { return s.done || s.h.c.state != stH2 }

func (s *h2Stream) finished() {
	if !s.ended {
		h := s.h
		if s.chunked && len(s.sc.trailers) > 0 {
			// The target's trailer fields end the stream (gRPC's status
			// rides in them).
			h.hb = h.hb[:0]
			h.trailerFields(s.sc.trailers)
			h.headerFrames(s.id, true)
		} else {
			h.c.out = appendFrameHeader(h.c.out, 0, h2Data, h2FlagEndStream, s.id)
		}
		s.ended = true
		h.schedule()
	}
	s.complete()
}

// trailerFields encodes trailer lines (validated by the chunk scanner)
// as HTTP/2 fields.
func (h *evH2) trailerFields(b []byte) {
	for len(b) > 0 {
		line, rest := nextLine(b)
		b = rest
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || isHopByHop(line[:colon]) {
			continue
		}
		h.fieldB(h.lowerName(line[:colon]), trimOWS(line[colon+1:]))
	}
}

func (s *h2Stream) broken() { s.h.reset(s, h2InternalError) }

func (s *h2Stream) uploaded() { s.credit() }

// complete ends the stream on the server's side.
func (s *h2Stream) complete() {
	h := s.h
	s.done = true
	if !s.clientEnd {
		// The answer came before the whole body: the client may stop
		// sending it (RFC 9113 §8.1).
		h.rstStream(s.id, h2NoError)
		s.clientEnd = true
	}
	h.release(s)
}

// abandon drops the stream's exchange (the client reset it, or the
// connection ends).
func (s *h2Stream) abandon() {
	if s.attempting() {
		s.endAttempt(false)
	}
	s.done, s.clientEnd = true, true
	s.h.release(s)
}

// reset ends a stream with RST_STREAM code.
func (h *evH2) reset(s *h2Stream, code uint32) {
	if !s.ended {
		h.rstStream(s.id, code)
		s.ended = true
	}
	s.abandon()
}

// release forgets a stream that is over on both sides.
func (h *evH2) release(s *h2Stream) {
	if h.streams[s.id] != s {
		return
	}
	delete(h.streams, s.id)
	s.state = stGone
	s.freeBufs()
	if h.cur == s {
		h.cur = nil
	}
	if len(h.free) < 16 {
		h.free = append(h.free, s)
	}
	if len(h.streams) == 0 {
		h.c.deadline = h.c.lp.now.Add(h.c.idleTimeout())
	}
}

// fail ends the connection with a GOAWAY carrying code.
func (h *evH2) fail(code uint32) {
	h.goAwayFrame(code)
	h.flushNow()
	h.c.close()
}

// goAway tells the client that no new streams are taken (a closing
// listener, a shutdown); the streams in flight finish.
func (h *evH2) goAway() {
	if h.goingAway {
		return
	}
	h.goingAway = true
	h.goAwayFrame(h2NoError)
}

// maybeClose closes a connection going away once its streams are done.
func (h *evH2) maybeClose() {
	if (h.goingAway || h.closing) && len(h.streams) == 0 && h.c.state == stH2 && !h.c.pendingOutput() {
		h.c.close()
	}
}

// closeStreams abandons every stream (the connection closes).
func (h *evH2) closeStreams() {
	for _, s := range h.streams {
		if s.attempting() {
			s.endAttempt(false)
		}
		s.done = true
	}
	for id, s := range h.streams {
		delete(h.streams, id)
		s.freeBufs()
	}
}

// freeBufs ends a stream's body pipe and gives its buffer back.
func (s *h2Stream) freeBufs() {
	if s.pipe != nil {
		s.pipe.abort()
		s.pipe = nil
	}
	if s.upp != nil {
		*s.upp = s.up[:0]
		outPool.Put(s.upp)
		s.upp, s.up = nil, nil
	}
}

// schedule queues the connection for a flush at the end of the loop's
// batch of events: the frames of all its streams go out together.
func (h *evH2) schedule() {
	if !h.queued {
		h.queued = true
		h.c.lp.h2q = append(h.c.lp.h2q, h)
	}
}

// flushNow writes what is pending; false when the socket has not taken
// it all (or the connection closed).
func (h *evH2) flushNow() bool {
	if h.c.state != stH2 {
		return false
	}
	return h.c.flush()
}

// resume lets streams that waited for the window or the socket relay.
func (h *evH2) resume() {
	h.blocked = false
	for _, s := range h.streams {
		if s.state == stBody && s.attempting() {
			s.relay()
			if h.blocked || h.c.state != stH2 {
				return
			}
		}
	}
}

// flushH2 flushes the HTTP/2 connections queued during a batch.
func (lp *eventLoop) flushH2() {
	// A resumed stream queues its connection again: the queue is worked
	// until empty (each round moves bytes out, or the socket is full and
	// the connection waits for it).
	for i := 0; i < len(lp.h2q); i++ {
		h := lp.h2q[i]
		lp.h2q[i] = nil
		h.queued = false
		if h.c.state != stH2 {
			continue
		}
		if h.flushNow() && h.blocked {
			h.resume()
		}
		h.maybeClose()
	}
	lp.h2q = lp.h2q[:0]
}

// tick enforces the streams' timeouts and the connection's idle timeout.
func (h *evH2) tick(now time.Time) {
	for _, s := range h.streams {
		if !now.After(s.deadline) {
			continue
		}
		switch s.state {
		case stSend, stResp, stBody:
			s.evExchange.timeout()
		case stHead:
			if !s.started {
				s.answerError(408) // a body that stopped coming
			}
		}
	}
	if len(h.streams) == 0 && now.After(h.c.deadline) {
		h.goAway()
		h.flushNow()
		h.c.close()
	}
}
