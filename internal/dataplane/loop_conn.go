//go:build unix

package dataplane

import (
	"crypto/tls"
	"errors"
	"github.com/alba-lb/alba/internal/poller"
	"net/netip"
	"syscall"
	"time"
)

// evState is where a loop connection is in its exchange.
type evState int

const (
	stHead      evState = iota // reading a request head
	stSend                     // connecting to a target and sending the request
	stResp                     // waiting for the response head
	stBody                     // relaying a response body (or sending an answer of the proxy's own)
	stClosing                  // writing a last answer, then closing
	stTunnel                   // relaying a switched protocol's bytes both ways (WebSocket)
	stH2                       // HTTP/2: the streams have states of their own
	stHandshake                // an HTTPS handshake, on a goroutine
	stGone                     // closed
)

// evConn is a client connection served by an event loop. It embeds the
// goroutine engine's conn: the parsed request, buffers and the routing,
// stickiness and header code are shared.
type evConn struct {
	conn
	evExchange // the request in progress (lp, state and deadline too)
	fd         int
	edge            // the client socket's readiness
	wpos       int  // bytes of out already written
	reading    bool // readRequest is on the stack
	needBody   int  // bytes of head and small body to buffer before starting

	// HTTPS: tls runs over tr; tlsConfig is set until the handshake starts.
	tls        *tls.Conn
	tr         *tlsTransport
	tlsEmpty   bool // tls holds no decrypted bytes: its last Read wanted more
	tlsConfig  *tls.Config
	remotePort netip.AddrPort

	h2 *evH2 // set once the connection speaks HTTP/2

	pipe *bodyPipe // a streamed body on its way to an async attempt's goroutine

	// The request in progress, as HTTP/1 frames it.
	upLeft    int64        // bytes of a streamed body still to read from the client (chunked: 1 until the end)
	upChunked bool         // the streamed body is chunked: usc validates it
	usc       chunkScanner // the request body's chunks
	pumping   bool         // pumpUpload is on the stack
	headLen   int
	keep      bool   // the client may send another request after this one
	cliKeep   bool   // the response says so
	tun       tunnel // after a 101

	// noDelay: TCP_NODELAY is set. A plain connection sets it before its
	// second write, as NGINX does once a connection is kept alive: Nagle's
	// algorithm holds back a write only while an earlier one is unacked,
	// so a first write (a whole response, on a new connection per
	// request) goes out at once without the system call.
	noDelay bool
	written bool // a write went out

	idleSince time.Time // when the last response ended (see mayStillSend)

	// shared: a goroutine or a function queued for the loop may still
	// hold the connection (an async attempt, a body pipe, a tunnel), so
	// it is never reused for another client.
	shared bool

	// registered: the socket is in the loop's set. A plain connection
	// joins it only once it waits for an edge (see await).
	registered bool
}

// await puts the client socket in the loop's set the first time the
// connection waits for one of its edges; false if the kernel refuses
// (out of memory for watches), which fails the connection as a socket
// error would. A connection that brings its request with it and closes
// after the answer (a new connection per request) never waits for an
// edge: it costs no epoll_ctl, and no event for the bytes it came with.
// Registering reports what is ready already, so no edge is missed.
func (c *evConn) await() bool {
	if c.registered {
		return true
	}
	if err := c.lp.register(c.fd, c); err != nil {
		c.so.srv.Logger.Error("cannot watch a client connection", "err", err)
		return false
	}
	c.registered = true
	return true
}

func (c *evConn) onEvent(ev uint32) {
	if c.state == stHandshake {
		c.tr.signal(ev)
		return
	}
	c.note(ev)
	c.advance()
}

// advance moves the connection on after a client socket event.
func (c *evConn) advance() {
	switch c.state {
	case stHead:
		c.readRequest()
	case stBody:
		c.relay()
	case stClosing:
		if c.flush() {
			c.close()
		}
	case stH2:
		c.h2.onEvent()
	case stTunnel:
		c.tunnel()
	case stSend:
		if c.upOpen {
			c.pumpUpload()
		}
	}
	if c.pipe != nil && c.upOpen {
		c.pumpPipe()
	}
	// Otherwise, in stSend and stResp, the client's bytes wait in the
	// kernel until the response is out (edge-triggered: readable stays
	// set).
}

// readRequest reads until a request head is complete and starts it; it
// goes on with pipelined requests. A request answered at once (a fixed
// response, say) finishes inside it: the loop below, not a nested call,
// takes the next one.
func (c *evConn) readRequest() {
	if c.reading {
		return
	}
	c.reading = true
	c.readRequests()
	c.reading = false
}

func (c *evConn) readRequests() {
	scanned := 0
	for c.state == stHead {
		// RFC 9112 §2.2: empty lines before a request line are ignored.
		for scanned == 0 && c.needBody == 0 && c.rb.buffered() > 0 && (c.rb.bytes()[0] == '\r' || c.rb.bytes()[0] == '\n') {
			c.rb.consume(1)
		}
		switch {
		case c.needBody > 0:
			// A small body still on its way: read it, then start again.
			if c.rb.buffered() >= c.needBody {
				c.needBody = 0
				continue
			}
			if c.rb.r+c.needBody > c.rb.capacity() {
				c.rb.compact()
				for c.rb.capacity() < c.needBody && c.rb.grow() {
				}
			}
		case c.rb.buffered() > 0:
			headLen, ok := c.rb.findHead(&scanned, maxHeadBytes)
			if !ok {
				c.fail(errHeadTooLarge.status)
				return
			}
			if headLen > 0 {
				c.served = true
				c.startRequest(headLen)
				continue
			}
		default:
			if c.so.closing.Load() {
				if !c.mayStillSend() {
					c.close()
					return
				}
				if grace := c.lp.now.Add(closingGrace); c.deadline.After(grace) {
					c.deadline = grace
				}
			}
			c.releaseWriteBufs()
			c.rb.shrink()
		}
		inHead := c.rb.buffered() > 0 && c.needBody == 0
		n, ok := c.read()
		if !ok {
			c.close() // the client went away (a partial request is dropped)
			return
		}
		if n == 0 {
			return // wait for more
		}
		c.rb.advance(n)
		// A head's clock starts with its first byte, and later bytes do not
		// wind it back: a client trickling its head (slowloris) gets its
		// 408 within the idle timeout, as NGINX's client_header_timeout
		// does. Each read of a small body winds it, as client_body_timeout.
		if !inHead {
			c.deadline = c.lp.now.Add(c.idleTimeout())
		}
	}
}

// read reads from the client into the buffer's free space: n bytes, or 0
// when nothing is ready; false when the client went away.
func (c *evConn) read() (int, bool) {
	free := c.rb.free()
	if c.tls != nil {
		// crypto/tls may hold decrypted bytes (when the last read filled
		// free) or a record from the stash: ask it then even when the
		// socket has nothing new.
		if c.tlsEmpty && c.tr.drained() {
			return 0, true
		}
		n, err := c.tls.Read(free)
		c.tlsEmpty = err == errWouldBlock || err == nil && n < len(free)
		if err == errWouldBlock {
			return n, true
		}
		return n, err == nil
	}
	n, eof, errno := c.edge.read(c.fd, free)
	c.stats.bytes(n) // over TLS, the transport counts the records
	// A short read says drained: the connection waits only when nothing
	// came.
	if n == 0 && !c.readable && !c.await() {
		return 0, false
	}
	return n, !eof && errno == 0
}

// betweenRequests reports whether the connection waits for a request
// with nothing of one received: a closing listener may close it at once.
func (c *evConn) betweenRequests() bool {
	return c.state == stHead && c.rb.buffered() == 0 && c.needBody == 0
}

// fail answers with an error status and closes the connection.
func (c *evConn) fail(status int) {
	c.acquireBufs()
	c.queue(c.lbError(status, true))
	c.state = stClosing
	c.deadline = c.lp.now.Add(c.idleTimeout())
	if c.flush() {
		c.close()
	}
}

// answer queues a response of the proxy's own; the connection closes after
// it unless keep, in which case the head is consumed and reading goes on.
func (c *evConn) answer(b []byte, keep bool) {
	c.keep = keep
	if !keep {
		c.queue(b)
		c.state = stClosing
		if c.flush() {
			c.close()
		}
		return
	}
	c.rb.consume(c.headLen)
	c.queue(b)
	c.cliKeep = true
	c.state = stBody // the flush below finishes it
	c.left, c.chunked = 0, false
	c.bc = nil
	c.relay()
}

// queue puts b after the output not yet written (an interim response the
// client has taken only part of stays whole). With nothing pending, b may
// have been built at c.out[:0].
func (c *evConn) queue(b []byte) {
	if c.wpos == len(c.out) {
		c.out, c.wpos = c.out[:0], 0
	} else if c.wpos > 0 {
		c.out = c.out[:copy(c.out, c.out[c.wpos:])]
		c.wpos = 0
	}
	c.out = append(c.out, b...)
}

// startRequest parses and routes the request whose head is the first
// headLen buffered bytes.
func (c *evConn) startRequest(headLen int) {
	c.acquireBufs()
	c.now = c.lp.now
	c.headLen = headLen
	l := c.so.cfg.Load()
	h := &c.req
	if err := parseRequestHead(c.rb.bytes()[:headLen], h); err != nil {
		var pe *parseError
		if !errors.As(err, &pe) {
			pe = errBadRequestLine
		}
		c.fail(pe.status)
		return
	}
	cl := h.flags.contentLength
	c.upLeft = 0
	switch {
	case h.flags.chunked:
		c.upLeft = -1 // chunks stream to the target, validated on the way
	case cl > 0 && int64(c.rb.buffered()-headLen) < cl && (int64(headLen)+cl > smallBuf || h.flags.expectContinue):
		c.upLeft = -1 // a large body (or one awaiting 100 Continue) streams to the target
	case cl > 0 && int64(c.rb.buffered()-headLen) < cl:
		c.needBody = headLen + int(cl) // parsed again once it is all here
		return
	}
	hasBody := h.hasBody()
	keep := h.keepAlive() && !c.so.closing.Load()
	if refusedMethod(h.method) {
		c.answer(c.lbError(405, hasBody || !keep), keep && !hasBody)
		return
	}
	view := c.view()
	rule := match(l, &view)
	if rule == nil {
		c.answer(c.lbError(404, hasBody || !keep), keep && !hasBody)
		return
	}
	switch rule.Action.Type {
	case ActionFixedResponse:
		c.stats.fixedResponse(rule.Action.FixedStatus)
		c.answer(appendFixed(c.out[:0], &rule.Action, h, keep && !hasBody), keep && !hasBody)
	case ActionRedirect:
		c.stats.redirect()
		c.answer(appendRedirectResponse(c.out[:0], l, &rule.Action, &view, keep && !hasBody), keep && !hasBody)
	default:
		c.forward(l, &rule.Action, keep)
	}
}

// forward starts forwarding the request to a target of the action.
func (c *evConn) forward(l *Listener, a *Action, keep bool) {
	h := &c.req
	g, writeTG, sticky, rewrite := c.route(a, h.headers)
	if g.Version != HTTP1 {
		// HTTP/2 and gRPC groups take HTTP/2 clients only, as ALB.
		c.answer(c.lbError(464, true), false)
		return
	}
	var status int
	c.up, status = c.appendRequestHead(c.up[:0], l, h, h.flags.expectContinue)
	if status != 0 {
		c.fail(status)
		return
	}
	c.keep = keep
	c.upOpen, c.noReplay = false, false
	c.pipe, c.reqBody = nil, nil
	if c.upLeft < 0 {
		// Streamed: what has arrived goes now, the rest as it comes
		// (pumpUpload); the request cannot be sent again.
		c.rb.consume(c.headLen)
		c.upChunked = h.flags.chunked
		c.upLeft = h.flags.contentLength
		if c.upChunked {
			c.usc.reset()
			c.upLeft = 1 // until the scanner finds the last chunk
		}
		c.upOpen, c.noReplay = true, true
		if h.flags.expectContinue && h.minor >= 1 {
			// The client waits for leave to send its body: ALB gives it.
			c.queue(continue100)
		}
		c.usc.dataOnly = g.async()
		if g.async() {
			// A goroutine's transport sends the head it parses from up,
			// and the body as it comes through the pipe (de-chunked: the
			// transport frames it again).
			c.pipe = newBodyPipe(nil, c.pipeRead)
			c.shared = true
			c.reqBody = c.pipe
			c.start(l, a, g, writeTG, sticky, rewrite)
			c.pumpPipe()
			return
		}
		if !c.takeBody() {
			c.fail(400) // malformed chunks: nothing went to a target
			return
		}
		c.start(l, a, g, writeTG, sticky, rewrite)
		return
	}
	if cl := h.flags.contentLength; cl > 0 {
		c.up = append(c.up, c.rb.bytes()[c.headLen:c.headLen+int(cl)]...)
	}
	c.start(l, a, g, writeTG, sticky, rewrite)
}

// uploadAhead bounds the streamed body read from the client ahead of what
// the target has taken.
const uploadAhead = 64 << 10

// pumpUpload moves a streamed body from the client to the target as each
// side allows: the client's bytes are read only while the target keeps
// up, so neither is buffered without bound.
func (c *evConn) pumpUpload() {
	if c.pumping {
		return // send called back into it: the loop below goes on
	}
	c.pumping = true
	defer func() { c.pumping = false }()
	for c.state == stSend && c.upOpen {
		if len(c.up)-c.upos >= uploadAhead {
			return // the target's turn: its writability resumes the upload
		}
		if before := c.rb.buffered(); before > 0 {
			if !c.takeBody() {
				// Malformed chunks mid-body: the target got half a request.
				c.endAttempt(false)
				c.fail(400)
				return
			}
			if c.rb.buffered() < before || !c.upOpen {
				c.send()
				continue
			}
		}
		// More bytes are needed (a chunk line may be waiting whole).
		if !c.rb.makeRoom() {
			c.endAttempt(false)
			c.fail(400) // a chunk line longer than any buffer
			return
		}
		n, ok := c.read()
		if !ok {
			c.close() // the client went away mid-upload
			return
		}
		if n == 0 {
			return // wait for the client
		}
		c.rb.advance(n)
		c.deadline = c.lp.now.Add(c.idleTimeout())
	}
}

// pumpPipe moves a streamed body from the client into the pipe an async
// attempt's goroutine sends it from, at most uploadAhead ahead of what the
// goroutine took (pipeRead resumes it). The response may come back
// meanwhile: its relay goes on beside the upload.
func (c *evConn) pumpPipe() {
	if c.pendingOutput() {
		c.flush() // a 100 Continue goes first
	}
	for c.upOpen && c.pipe != nil && c.attempting() {
		if c.pipe.size() >= uploadAhead {
			return
		}
		if before := c.rb.buffered(); before > 0 {
			c.up = c.up[:0] // the transport parsed the head already
			if !c.takeBody() {
				// Malformed chunks mid-body: the target got half a request.
				c.endAttempt(false)
				c.fail(400)
				return
			}
			c.pipe.write(c.up, !c.upOpen)
			c.up = c.up[:0]
			if c.rb.buffered() < before || !c.upOpen {
				continue
			}
		}
		if !c.rb.makeRoom() {
			c.endAttempt(false)
			c.fail(400) // a chunk line longer than any buffer
			return
		}
		n, ok := c.read()
		if !ok {
			c.close() // the client went away mid-upload
			return
		}
		if n == 0 {
			return // wait for the client
		}
		c.rb.advance(n)
		if c.state == stResp {
			c.deadline = c.lp.now.Add(c.idleTimeout())
		}
	}
}

// pipeRead is told (on the goroutine) that it took n bytes of the body:
// the loop reads more of it from the client.
func (c *evConn) pipeRead(p *bodyPipe, n int) {
	if p.size() >= uploadAhead/2 {
		return // plenty left: no wake-up yet
	}
	c.lp.do(func() {
		if c.pipe == p && c.upOpen && c.state != stGone {
			c.pumpPipe()
		}
	})
}

// endPipe ends the body pipe of the request, if any: a goroutine still
// reading it gets an error.
func (c *evConn) endPipe() {
	if c.pipe != nil {
		c.pipe.abort()
		c.pipe, c.reqBody = nil, nil
	}
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// takeBody moves buffered body bytes into up (chunks validated and
// re-framed by the scanner); false when the chunked framing is broken.
func (c *evConn) takeBody() bool {
	if c.pendingOutput() {
		c.flush() // a 100 Continue goes first
	}
	if c.upChunked {
		n, out, err := c.usc.scan(c.rb.bytes(), c.up, uploadAhead)
		c.up = out
		c.rb.consume(n)
		if err != nil {
			return false
		}
		if c.usc.done() {
			c.upLeft, c.upOpen = 0, false
		}
		return true
	}
	n := min(int64(c.rb.buffered()), c.upLeft)
	c.up = append(c.up, c.rb.bytes()[:n]...)
	c.rb.consume(int(n))
	c.upLeft -= n
	if c.upLeft == 0 {
		c.upOpen = false
	}
	return true
}

// The exchange's front, for an HTTP/1 client.

func (c *evConn) noTarget(status int) {
	closeAfter := c.req.hasBody() || !c.keep
	c.answer(c.lbError(status, closeAfter), !closeAfter)
}

func (c *evConn) failed(status int) { c.fail(status) }

func (c *evConn) interim(r *responseHead) {
	if c.req.minor == 0 {
		return // HTTP/1.0 has no 1xx responses
	}
	c.out = appendResponseHead(c.out, r, frameNone, true, false, nil)
	c.flush() // the rest, if any, goes with the final response
}

func (c *evConn) respond(r *responseHead, fr framing, headEnd int) bool {
	streamed := c.noReplay // its body was consumed as it streamed
	if !streamed {
		c.rb.consume(c.headLen + int(max(c.req.flags.contentLength, 0)))
	}
	// An HTTP/1.0 client cannot take chunks: it gets the data, and the
	// end of the response is the connection's, as it is for a response
	// the target ends by closing.
	client10 := c.req.minor == 0
	c.dataOnly = client10 && fr == frameChunked
	clientFr := fr
	if c.dataOnly {
		clientFr = frameUntilClose
	}
	// An answer before the whole upload arrived ends the connection: the
	// rest of the body is not read.
	c.cliKeep = c.keep && clientFr != frameUntilClose && !(streamed && c.upLeft > 0) && !c.so.closing.Load() // a closing listener says so
	c.out = appendResponseHead(c.out, r, clientFr, c.cliKeep, client10 && c.cliKeep, c.extra)
	return true
}

func (c *evConn) room() int         { return flushLimit + 4096 - len(c.out) }
func (c *evConn) bodyOut() []byte   { return c.out }
func (c *evConn) bodyIn(out []byte) { c.out = out }
func (c *evConn) gone() bool        { return c.state == stGone }
func (c *evConn) broken()           { c.close() }
func (c *evConn) uploaded()         { c.pumpUpload() }

// mayStillSend reports whether a connection between requests, on a
// closing listener, gets closingGrace for one more request (answered with
// Connection: close) rather than a close at once: one accepted just
// before (its client connected to send a request) or one that answered
// its last request less than closingGrace ago (its client may be sending
// the next one now, and a close would cross it: the request would fail
// with no answer). One idle longer is closed, as NGINX and HAProxy do.
func (c *evConn) mayStillSend() bool {
	return !c.served || c.lp.now.Sub(c.idleSince) < closingGrace
}

// finished goes on with the next request.
func (c *evConn) finished() {
	c.endPipe()
	if !c.cliKeep || c.so.closing.Load() {
		c.close()
		return
	}
	c.idleSince = c.lp.now
	c.state = stHead
	c.deadline = c.lp.now.Add(c.idleTimeout())
	c.readRequest() // unless already on the stack, which goes on
}

// flush writes pending output; it reports whether all of it went out. A
// failed write closes the connection.
func (c *evConn) flush() bool {
	if !c.pendingOutput() {
		c.out, c.wpos = c.out[:0], 0
		return true
	}
	if c.tls != nil {
		if c.wpos < len(c.out) {
			// The transport takes it all; what the socket does not, it keeps.
			if _, err := c.tls.Write(c.out[c.wpos:]); err != nil {
				c.writeFailed()
				return false
			}
		}
		c.out, c.wpos = c.out[:0], 0
		done, err := c.tr.flushPending()
		if err != nil {
			c.writeFailed()
			return false
		}
		if done {
			c.deadline = c.lp.now.Add(c.idleTimeout())
		}
		return done
	}
	for c.wpos < len(c.out) {
		if !c.writable {
			return false
		}
		if c.written && !c.noDelay {
			poller.SetNoDelay(c.fd)
			c.noDelay = true
		}
		n, errno := poller.Write(c.fd, c.out[c.wpos:])
		if errno == syscall.EAGAIN {
			c.writable = false
			if !c.await() {
				c.writeFailed()
			}
			return false
		}
		if errno != 0 {
			c.writeFailed()
			return false
		}
		c.stats.bytes(n)
		c.wpos += n
		c.written = true
		c.deadline = c.lp.now.Add(c.idleTimeout())
	}
	c.out, c.wpos = c.out[:0], 0
	return true
}

// pendingOutput reports whether bytes wait to go to the client.
func (c *evConn) pendingOutput() bool {
	return len(c.out) > c.wpos || c.tr != nil && len(c.tr.pending) > 0
}

// writeFailed closes a connection whose client cannot be written to (an
// attempt in progress ends with it, as close ends one).
func (c *evConn) writeFailed() { c.close() }

// timeout ends a wait that lasted too long.
func (c *evConn) timeout() {
	switch c.state {
	case stHandshake, stGone:
		// The handshake has its own deadline.
	case stHead:
		if c.rb.buffered() > 0 && !c.so.closing.Load() {
			c.fail(408)
			return
		}
		c.close()
	case stSend:
		if c.upOpen && c.upos == len(c.up) && !c.bc.connecting {
			// The target has all we got; the client stopped sending.
			c.endAttempt(false)
			c.fail(408)
			return
		}
		c.evExchange.timeout()
	case stResp, stBody:
		if c.pipe != nil && c.upOpen && c.pipe.size() == 0 {
			// The target has all we got; the client stopped sending.
			c.endAttempt(false)
			c.fail(408)
			return
		}
		c.evExchange.timeout()
	case stTunnel:
		c.close() // nothing moved either way for the idle timeout
	default:
		c.close()
	}
}

// close closes the client connection (and the attempt's target
// connection, if any).
func (c *evConn) close() {
	if c.state == stGone {
		return
	}
	if c.state == stHandshake {
		// Only before the goroutine starts using it (a failed handshake):
		// afterwards the handshake's goroutine closes it through tls.Conn.
		c.tr.mu.Lock()
		c.tr.closed = true
		c.tr.mu.Unlock()
	}
	if c.attempting() {
		c.endAttempt(false)
	}
	c.endPipe()
	if c.h2 != nil {
		c.h2.closeStreams()
	}
	c.state = stGone
	delete(c.lp.conns, c)
	c.lp.closeFD(c.fd)
	c.releaseBufs()
	c.so.remove(&c.conn)
	if c.tr == nil && c.h2 == nil && !c.shared {
		c.lp.spent = append(c.lp.spent, c)
	}
}
