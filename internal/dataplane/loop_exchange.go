//go:build unix

package dataplane

import (
	"github.com/alba-lb/alba/internal/poller"
	"io"
	"math"
	"syscall"
	"time"
)

// evExchange is one request forwarded on an event loop: a target chosen
// (and another one on a retry), the request sent, the response head read
// and its body relayed to the front that asked — an HTTP/1 connection
// (evConn) or an HTTP/2 stream (h2Stream). Both drive this one exchange,
// so target choice, retries, failure classification, response framing
// and the target's books exist once.
type evExchange struct {
	lp    *eventLoop
	rq    *request // the routing context: parsed head, group, up, extra
	front evFront

	// state is where the exchange is (an HTTP/1 connection also keeps its
	// own states here: reading a head, closing, a tunnel).
	state    evState
	deadline time.Time // when the current wait times out

	// The request being forwarded.
	l          *Listener
	action     *Action
	isHead     bool
	upgrade    bool // the client asks to switch protocols (WebSocket)
	retryIdem  bool
	writeTG    bool
	sticky     *Target
	rewrite    bool
	attempt    int
	exclude    *Target
	lastStatus int
	// dataOnly: the front frames the body itself (HTTP/2), so a chunked
	// response is relayed as its data alone.
	dataOnly bool
	// upOpen: the request body is still arriving (the front appends it
	// to up); noReplay: up no longer holds all of it, so a failed
	// attempt is not sent again.
	upOpen   bool
	noReplay bool

	// The attempt in progress.
	t          *Target
	bc         *evBackend
	upos       int // bytes of up sent
	sent       time.Time
	status     int
	left       int64 // body bytes still to relay (Content-Length)
	chunked    bool  // the body is chunked: sc finds its end
	untilClose bool  // the body ends when the target closes
	sc         chunkScanner
	backKeep   bool
	// async is an attempt a goroutine serves through a net/http
	// transport (TLS to an HTTPS target group), when bc is nil.
	async *asyncAttempt
	head  []byte // an async attempt's response head, as HTTP/1.1
	// reqBody, when set, is the request body an async attempt sends as
	// it arrives (the head in up then ends at its blank line).
	reqBody io.ReadCloser
}

// attempting reports whether an attempt is in progress.
func (x *evExchange) attempting() bool { return x.bc != nil || x.async != nil }

// evFront is the client side of an exchange.
type evFront interface {
	// noTarget answers a request that no target took with status (the
	// last attempt's failure, or 503).
	noTarget(status int)
	// failed answers with status a request whose attempt failed and may
	// not be sent again.
	failed(status int)
	// interim relays a 1xx response.
	interim(r *responseHead)
	// respond writes the final response head, whose body follows as fr
	// (rq.extra holds the stickiness cookies). False: the front took the
	// response over (headEnd bytes of the backend's buffer are its head).
	respond(r *responseHead, fr framing, headEnd int) bool
	// room is how many body bytes the client side takes now.
	room() int
	// bodyOut returns the buffer body bytes are appended to; bodyIn
	// takes it back with what was appended.
	bodyOut() []byte
	bodyIn(out []byte)
	// flush sends what is pending; false: the client has not taken it
	// all yet (the exchange waits), or is gone.
	flush() bool
	// gone reports whether the client side went away.
	gone() bool
	// finished: the response went out whole.
	finished()
	// broken: the response was cut after its head went out.
	broken()
	// uploaded: all of up so far went to the target (a streamed body).
	uploaded()
}

// backendReady is called when the backend socket of the attempt has news.
func (x *evExchange) backendReady() {
	switch x.state {
	case stSend:
		x.send()
	case stResp:
		x.readResponse()
	case stBody:
		x.relay()
	case stTunnel:
		x.front.(evTunneler).tunnel()
	}
}

// start begins forwarding the request (whose head to the target is in
// rq.up) to a target of a.
func (x *evExchange) start(l *Listener, a *Action, g *TargetGroup, writeTG bool, sticky *Target, rewrite bool) {
	g.state.requests.Add(1)
	x.l, x.action, x.rq.group = l, a, g
	x.isHead = string(x.rq.req.method) == "HEAD"
	x.upgrade = x.rq.req.isUpgrade()
	x.retryIdem = idempotent(x.rq.req.method) && !x.upgrade
	x.writeTG, x.sticky, x.rewrite = writeTG, sticky, rewrite
	x.attempt, x.exclude, x.lastStatus = 0, nil, 503
	x.tryTarget()
}

func (x *evExchange) idleTimeout() time.Duration {
	return x.rq.so.cfg.Load().LoadBalancer.IdleTimeout
}

// tryTarget sends the request to the next target to try, or answers with
// the last error when there is none.
func (x *evExchange) tryTarget() {
	rq := x.rq
	g := rq.group
	for x.attempt < maxAttempts {
		t := g.choose(x.sticky, x.exclude, rq.now)
		if t == nil && x.exclude == nil {
			if nl, ng, nt := rq.reroute(x.l); ng != nil {
				x.l, rq.group, g, t = nl, ng, ng, nt
			}
		}
		if t == nil {
			break
		}
		var bc *evBackend
		if !g.async() {
			var err error
			if bc, err = x.lp.backend(t); err != nil {
				t.markConnFailure()
				x.exclude, x.lastStatus = t, 502
				x.attempt++
				continue
			}
		}
		t.inflight.Add(1)
		t.Requests.Add(1)
		rq.stickyMoved = x.rewrite || x.sticky != nil && t != x.sticky
		rq.extra = rq.extra[:0]
		if x.writeTG {
			rq.extra = rq.appendGroupCookies(rq.extra, x.action, g)
		}
		x.t, x.upos = t, 0
		x.sent = x.lp.now
		if bc == nil {
			x.startAsync(g, t)
			return
		}
		x.bc = bc
		bc.x = x
		x.state = stSend
		if bc.connecting {
			x.deadline = x.sent.Add(x.lp.srv.DialTimeout)
		} else {
			x.deadline = x.sent.Add(x.idleTimeout())
		}
		x.send()
		return
	}
	x.front.noTarget(x.lastStatus)
}

// send completes the connection to the target and writes the request.
func (x *evExchange) send() {
	bc := x.bc
	if x.upOpen && !bc.connecting && bc.hasNews(bc.fd) {
		// The target answers before the whole body went out (a 413, say):
		// its answer is the response.
		x.state = stResp
		x.deadline = x.lp.now.Add(x.idleTimeout())
		x.readResponse()
		return
	}
	if bc.connecting {
		if !bc.writable {
			return
		}
		if err := poller.SocketError(bc.fd); err != nil {
			x.attemptFailed(outcomeRetry, true, 502)
			return
		}
		bc.connecting = false
		x.deadline = x.lp.now.Add(x.idleTimeout())
	}
	up := x.rq.up
	for x.upos < len(up) {
		if !bc.writable {
			return
		}
		n, errno := poller.Write(bc.fd, up[x.upos:])
		if errno == syscall.EAGAIN {
			bc.writable = false
			return
		}
		if errno != 0 {
			if bc.reused && x.upos == 0 {
				x.attemptFailed(outcomeRetrySame, true, 502)
			} else {
				// The target never got the whole request: it may go to
				// another one (the goroutine engine does the same).
				x.attemptFailed(outcomeRetry, true, 502)
			}
			return
		}
		x.upos += n
	}
	if x.upOpen || x.noReplay {
		// A streamed body: what went out is dropped, and the front adds
		// what comes next (and may send it itself).
		x.rq.up, x.upos = x.rq.up[:0], 0
		x.deadline = x.lp.now.Add(x.idleTimeout())
		x.front.uploaded()
		if x.state != stSend || x.upOpen || x.upos < len(x.rq.up) {
			return
		}
	}
	x.state = stResp
	x.deadline = x.lp.now.Add(x.idleTimeout())
	x.readResponse()
}

// attemptFailed ends the attempt on x.t: the next target is tried when the
// request may be sent again, else the client gets status.
func (x *evExchange) attemptFailed(o outcome, nothingSent bool, status int) {
	t := x.t
	if x.async != nil {
		x.async.cancel()
		x.async = nil
	} else {
		x.bc.close()
		x.bc = nil
	}
	t.inflight.Add(-1)
	step, fault := afterFailure(o, x.retryIdem, nothingSent, !x.noReplay)
	if fault {
		t.markConnFailure()
	}
	switch step {
	case stepRetrySame:
		x.tryTarget()
	case stepRetryOther:
		x.exclude, x.lastStatus = t, status
		x.attempt++
		x.tryTarget()
	default:
		x.front.failed(status)
	}
}

// readResponse reads the response head and starts relaying it.
func (x *evExchange) readResponse() {
	bc := x.bc
	scanned := 0
	for {
		headLen, ok := bc.buf.findHead(&scanned, maxResponseHead)
		if !ok {
			x.attemptFailed(outcomeFailed, false, 502)
			return
		}
		if headLen > 0 {
			if !x.startResponse(headLen) || x.state != stResp {
				return
			}
			continue // an interim 1xx: the final head follows
		}
		if !bc.readable {
			return
		}
		n, eof, err := bc.read()
		switch {
		case err != nil || eof:
			x.attemptFailed(closedBeforeHead(bc.buf.buffered() > 0, bc.reused, x.retryIdem), false, 502)
			return
		case n == 0:
			return // wait for more
		}
	}
}

// startResponse handles a complete response head of headEnd bytes. It
// reports whether the head was an interim one (and more is to read).
func (x *evExchange) startResponse(headEnd int) bool {
	bc, rq := x.bc, x.rq
	r := &rq.resp
	if err := parseResponseHead(bc.buf.bytes()[:headEnd], r); err != nil {
		x.attemptFailed(outcomeFailed, false, 502)
		return false
	}
	if r.status < 200 && r.status != 101 {
		// 103 Early Hints and the like.
		x.front.interim(r)
		bc.buf.consume(headEnd)
		return true
	}
	t := x.t
	t.latency.observe(x.lp.now.Sub(x.sent))
	if r.status == 101 {
		x.switchProtocols(r, headEnd)
		return false
	}
	fr, reusable := responseFraming(x.isHead, r)
	x.backKeep = r.minor >= 1 && !r.flags.connClose && reusable && fr != frameUntilClose
	if !x.beginResponse(r, fr, headEnd) {
		return false
	}
	bc.buf.consume(headEnd)
	x.relay()
	return false
}

// switchProtocols hands a 101 (headEnd bytes of the target's buffer; 0 for
// an async attempt's) to a front that asked to upgrade and can tunnel;
// any other 101 is a broken answer.
func (x *evExchange) switchProtocols(r *responseHead, headEnd int) {
	tn, ok := x.front.(evTunneler)
	if !x.upgrade || !ok {
		x.attemptFailed(outcomeFailed, false, 502) // not asked for
		return
	}
	x.status = 101
	tn.switched(r, headEnd)
}

// beginResponse hands a final response head, whose body follows as fr,
// to the front (with the stickiness cookies) and readies the relay of
// the body; false when the front took the response over.
func (x *evExchange) beginResponse(r *responseHead, fr framing, headEnd int) bool {
	rq := x.rq
	x.status = r.status
	if g := rq.group; g != nil && g.Sticky.Type != StickyNone {
		rq.extra = rq.appendStickyCookies(rq.extra, g, x.t, r.headers, rq.stickyMoved)
	}
	if !x.front.respond(r, fr, headEnd) {
		return false
	}
	x.left, x.untilClose = 0, false
	switch fr {
	case frameLength:
		x.left = r.flags.contentLength
	case frameUntilClose:
		x.left, x.untilClose = math.MaxInt64, true
	}
	x.chunked = fr == frameChunked
	if x.chunked {
		x.sc.reset()
		x.sc.dataOnly = x.dataOnly
	}
	x.state = stBody
	return true
}

// bodyDone reports whether the whole response body has been relayed.
func (x *evExchange) bodyDone() bool {
	if x.chunked {
		return x.sc.done()
	}
	return x.left == 0
}

// relay moves the response body from the target to the client, as fast
// as the client takes it.
func (x *evExchange) relay() {
	if x.async != nil {
		x.relayAsync()
		return
	}
	bc := x.bc
	f := x.front
	for {
		moved, room := false, f.room()
		if bc != nil && !x.bodyDone() && bc.buf.buffered() > 0 && room > 0 {
			b := bc.buf.bytes()
			out := f.bodyOut()
			if x.chunked {
				n, o, err := x.sc.scan(b, out, room)
				f.bodyIn(o)
				bc.buf.consume(n)
				if err != nil {
					// Bad framing from the target: what was relayed stays
					// relayed; the client sees the response cut.
					f.flush()
					x.cut()
					return
				}
				moved = n > 0
			} else {
				if int64(len(b)) > x.left {
					b = b[:x.left]
				}
				if len(b) > room {
					b = b[:room]
				}
				f.bodyIn(append(out, b...))
				bc.buf.consume(len(b))
				x.left -= int64(len(b))
				moved = true
			}
		}
		if !f.flush() || f.gone() {
			return // wait until the client takes more
		}
		if x.bodyDone() {
			x.finish()
			return
		}
		if bc.buf.buffered() > 0 {
			if moved || f.room() > 0 {
				continue
			}
			return // the client's flow-control window is shut
		}
		// More bytes are needed (a chunk line may be waiting whole).
		if !bc.buf.makeRoom() {
			x.cut()
			return
		}
		if !bc.readable {
			return
		}
		n, eof, err := bc.read()
		if err == nil && eof && x.untilClose {
			x.left = 0 // the body ended with the connection
			continue
		}
		if err != nil || eof {
			// The head is out: the client learns of the failure by the
			// response being cut before the body ends.
			x.cut()
			return
		}
		if n == 0 {
			return
		}
		x.deadline = x.lp.now.Add(x.idleTimeout())
	}
}

// cut ends a response whose head went out but whose body cannot follow.
func (x *evExchange) cut() {
	x.endAttempt(false)
	x.front.broken()
}

// finish completes the exchange.
func (x *evExchange) finish() {
	x.endAttempt(true)
	x.front.finished()
}

// endAttempt closes the books on the attempt; ok says the response was
// relayed whole.
func (x *evExchange) endAttempt(ok bool) {
	if x.async != nil {
		x.t.inflight.Add(-1)
		if ok {
			x.t.observeStatus(x.status)
		}
		x.async.cancel()
		x.async, x.t = nil, nil
		return
	}
	if x.bc == nil {
		return
	}
	x.t.inflight.Add(-1)
	if ok {
		x.t.observeStatus(x.status)
		if x.backKeep && x.bc.buf.buffered() == 0 {
			x.lp.put(x.bc)
		} else {
			x.bc.close()
		}
	} else {
		x.bc.close()
	}
	x.bc, x.t = nil, nil
}

// timeout ends a wait of the exchange that lasted too long.
func (x *evExchange) timeout() {
	switch x.state {
	case stSend:
		if x.async == nil && x.bc.connecting {
			x.attemptFailed(outcomeRetry, true, 504)
			return
		}
		// The target stopped taking the request: as a failed write.
		x.attemptFailed(outcomeRetry, true, 502)
	case stResp:
		x.attemptFailed(outcomeFailed, false, 504)
	case stBody:
		x.cut()
	}
}
