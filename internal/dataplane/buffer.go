package dataplane

import (
	"sync"
)

// rbuf is a connection's read buffer: bytes b[r:w] are read from the wire and
// not yet consumed. It grows (up to a limit) only to hold one large head.
type rbuf struct {
	b      []byte
	p      *[]byte // the pooled slice b came from, put back as is (no allocation); nil for inline
	inline []byte  // the connection's own small array, used while heads are small
	r, w   int
}

const (
	inlineBuf = 2 << 10 // per connection: most request heads fit
	smallBuf  = 16 << 10
	largeBuf  = maxHeadBytes + 1024
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, largeBuf); return &b }}
)

func (b *rbuf) buffered() int { return b.w - b.r }
func (b *rbuf) bytes() []byte { return b.b[b.r:b.w] }
func (b *rbuf) consume(n int) { b.r += n; b.maybeReset() }
func (b *rbuf) maybeReset() {
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
}
func (b *rbuf) capacity() int { return len(b.b) }
func (b *rbuf) free() []byte  { return b.b[b.w:] }
func (b *rbuf) advance(n int) { b.w += n }
func (b *rbuf) isLarge() bool { return len(b.b) == largeBuf }

// acquire gives the buffer a backing array: the inline one when there is
// one, else a pooled one.
func (b *rbuf) acquire() {
	if b.b != nil {
		return
	}
	if b.inline != nil {
		b.b = b.inline
		return
	}
	b.p = smallPool.Get().(*[]byte)
	b.b = *b.p
}

// release gives the backing array back; the buffer must be empty.
func (b *rbuf) release() {
	if b.b == nil {
		return
	}
	p := b.p
	b.b, b.p = nil, nil
	b.r, b.w = 0, 0
	if p == nil {
		return // inline
	}
	if len(*p) == largeBuf {
		largePool.Put(p)
	} else {
		smallPool.Put(p)
	}
}

// compact moves unread bytes to the front to make room at the end.
func (b *rbuf) compact() {
	if b.r > 0 {
		n := copy(b.b, b.b[b.r:b.w])
		b.r, b.w = 0, n
	}
}

// makeRoom frees space at the end of a buffer that is full there:
// compacting first, then growing; false when neither can.
func (b *rbuf) makeRoom() bool {
	if b.w < b.capacity() {
		return true
	}
	b.compact()
	return b.w < b.capacity() || b.grow()
}

// grow swaps in a larger backing array (inline, then small, then large),
// keeping the unread bytes.
func (b *rbuf) grow() bool {
	var np *[]byte
	switch {
	case b.isLarge():
		return false
	case b.p == nil:
		np = smallPool.Get().(*[]byte)
	default:
		np = largePool.Get().(*[]byte)
	}
	n := copy(*np, b.b[b.r:b.w])
	old := b.p
	b.b, b.p, b.r, b.w = *np, np, 0, n
	if old != nil {
		smallPool.Put(old)
	}
	return true
}

// shrink goes back to the inline array once the buffer is empty, so an
// idle connection holds no pooled buffer.
func (b *rbuf) shrink() {
	if b.p != nil && b.buffered() == 0 && b.inline != nil {
		b.release()
		b.acquire()
	}
}

// findHead looks for the end of a message head in the buffered bytes,
// going on where an earlier look stopped (scanned, which it updates). It
// returns the head's length, or 0 when more bytes are needed, having made
// room for them; ok is false when the head would pass limit bytes or the
// largest buffer.
func (b *rbuf) findHead(scanned *int, limit int) (headLen int, ok bool) {
	bs := b.bytes()
	from := max(*scanned-3, 0)
	if end := findHeadEnd(bs[from:]); end >= 0 {
		*scanned = 0
		return from + end, true
	}
	*scanned = len(bs)
	if *scanned >= limit {
		return 0, false
	}
	return 0, b.makeRoom()
}

var errBufferFull = &parseError{400, "message head too large"}
