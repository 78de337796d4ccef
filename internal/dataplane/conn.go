package dataplane

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// request is what routing one request and building its heads need: the
// connection it came on, the parsed head and the routing decisions. An
// HTTP/1 connection carries one at a time; each HTTP/2 stream has its own.
type request struct {
	so       *socket
	remoteIP []byte // the client address as sent in X-Forwarded-For
	remote   netip.Addr

	// stats are those of the load balancer whose listener accepted the
	// connection: it counts there until it closes, whatever tables come.
	stats *LoadBalancerStats

	up  []byte // the head (and buffered body) sent to the target
	upp *[]byte

	extra []byte // Set-Cookie fields of stickiness for the response

	// The group the request was sent to, and whether its session moved
	// from the target its sticky cookie named.
	group       *TargetGroup
	stickyMoved bool

	req  requestHead
	resp responseHead
	now  time.Time // when the current request's head was read
}

// conn is one client connection: a loop reading request heads, routing each
// request and proxying it, with every buffer reused from request to request.
type conn struct {
	request
	c net.Conn
	// cc counts the bytes of the client socket while a goroutine serves
	// it: c is &cc, or a tls.Conn over it (kept here to cost no
	// allocation).
	cc countedConn

	rb   rbuf   // bytes from the client
	out  []byte // bytes to the client, batched
	outp *[]byte

	// inline holds request heads while they are small: an idle keep-alive
	// connection blocks reading into it and holds no pooled buffer, so it
	// costs little memory.
	inline [inlineBuf]byte

	idle atomic.Bool // waiting for a new request: may be closed at once
	// served is set once a request head arrived. A closing listener
	// closes idle connections at once, but gives one that has served
	// nothing closingGrace for its first request: its client connected
	// to send one, and a close would reset it.
	served atomic.Bool

	readDeadline, writeDeadline time.Time

	// ev is the connection while an event loop serves it (c is nil then).
	ev *evConn
}

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, flushLimit+4096); return &b }}

func newConn(so *socket, nc net.Conn, st *LoadBalancerStats) *conn {
	c := &conn{request: request{so: so, stats: st}}
	c.c = c.counting(nc)
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.remote = ap.Addr().Unmap()
		c.remoteIP = []byte(c.remote.String())
	}
	return c
}

// countedConn is a client socket that counts the bytes read and written
// on it as the load balancer's ProcessedBytes: one atomic add per call.
type countedConn struct {
	net.Conn
	st *LoadBalancerStats
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.st.bytes(n)
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.st.bytes(n)
	return n, err
}

// CloseWrite half-closes the socket, as a tunnel ending one way does.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// counting returns nc (a raw client socket) counted in c's stats.
func (c *conn) counting(nc net.Conn) net.Conn {
	c.cc = countedConn{Conn: nc, st: c.stats}
	return &c.cc
}

// allowed applies the load balancer's security group to a new connection.
func allowed(lb *LoadBalancer, addr net.Addr) bool {
	if lb == nil || len(lb.AllowCIDRs) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	return allowedIP(lb, ap.Addr())
}

// allowedIP applies the load balancer's security group to a client address.
func allowedIP(lb *LoadBalancer, ip netip.Addr) bool {
	if lb == nil || len(lb.AllowCIDRs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range lb.AllowCIDRs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (c *conn) serve() {
	defer c.done()
	l := c.so.cfg.Load()
	if l.Protocol == "HTTPS" {
		if l.TLS == nil {
			return
		}
		tc := tls.Server(c.c, l.TLS)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			return
		}
		tc.SetDeadline(time.Time{})
		c.c = tc
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			c.so.srv.serveH2(c.so, tc, c.stats) // HTTP/2 has its own server
			return
		}
	}
	c.rb.inline = c.inline[:]
	c.rb.acquire()
	c.serveRequests()
}

// done closes the connection and gives its buffers back.
func (c *conn) done() {
	c.c.Close()
	c.releaseBufs()
	c.so.remove(c)
}

// serveRequests answers requests until the connection is to close.
func (c *conn) serveRequests() {
	for {
		l := c.so.cfg.Load()
		if !c.serveOne(l) || c.so.closing.Load() {
			return
		}
	}
}

// serveOne reads and answers one request. It reports whether the connection
// stays open.
func (c *conn) serveOne(l *Listener) bool {
	idle := l.LoadBalancer.IdleTimeout
	headLen, err := c.readHead(idle)
	c.acquireBufs()
	if err != nil {
		var pe *parseError
		switch {
		case errors.As(err, &pe):
			c.writeRaw(c.lbError(pe.status, true))
		case errors.Is(err, os.ErrDeadlineExceeded) && c.rb.buffered() > 0 && !c.so.closing.Load():
			c.writeRaw(c.lbError(408, true))
		}
		return false
	}
	c.now = time.Now()
	// The table may have changed while the connection was idle: route with
	// the one in force now.
	l = c.so.cfg.Load()
	if err := parseRequestHead(c.rb.bytes()[:headLen], &c.req); err != nil {
		var pe *parseError
		if !errors.As(err, &pe) {
			pe = errBadRequestLine
		}
		c.writeRaw(c.lbError(pe.status, true))
		return false
	}
	h := &c.req
	hasBody := h.hasBody()
	keep := h.keepAlive() && !c.so.closing.Load()
	if refusedMethod(h.method) {
		c.writeRaw(c.lbError(405, hasBody || !keep))
		return keep && !hasBody && c.skip(headLen)
	}
	view := c.view()
	rule := match(l, &view)
	if rule == nil {
		c.writeRaw(c.lbError(404, hasBody || !keep))
		return keep && !hasBody && c.skip(headLen)
	}
	switch rule.Action.Type {
	case ActionFixedResponse:
		c.writeFixed(&rule.Action, h, keep && !hasBody)
		return keep && !hasBody && c.skip(headLen)
	case ActionRedirect:
		c.writeRedirect(l, &rule.Action, &view, keep && !hasBody)
		return keep && !hasBody && c.skip(headLen)
	default:
		return c.forward(l, &rule.Action, headLen, keep)
	}
}

// acquireBufs takes the write buffers from their pool once a request has
// arrived.
func (c *conn) acquireBufs() {
	if c.outp == nil {
		c.outp = outPool.Get().(*[]byte)
		c.out = (*c.outp)[:0]
	}
	if c.upp == nil {
		c.upp = outPool.Get().(*[]byte)
		c.up = (*c.upp)[:0]
	}
}

// releaseBufs gives every pooled buffer back.
func (c *conn) releaseBufs() {
	c.rb.release()
	c.releaseWriteBufs()
}

// releaseWriteBufs gives the write buffers back between requests.
func (c *conn) releaseWriteBufs() {
	if c.outp != nil {
		*c.outp = c.out[:0]
		outPool.Put(c.outp)
		c.outp, c.out = nil, nil
	}
	if c.upp != nil {
		*c.upp = c.up[:0]
		outPool.Put(c.upp)
		c.upp, c.up = nil, nil
	}
}

// skip consumes a request that carried no body.
func (c *conn) skip(headLen int) bool {
	c.rb.consume(headLen)
	return true
}

// view is what the rules of a listener see of the parsed request.
func (c *request) view() reqView {
	h := &c.req
	v := reqView{method: h.method, target: h.target, headers: h.headers, remote: c.remote}
	v.host, _ = h.get("host")
	return v
}

// reroute routes the request again when the listener's table in force is
// no longer l: a table swap may have started draining the targets of the
// table the request was routed with. It returns the new listener, the
// group its rule forwards to and that group's pick; ng is nil when the
// table is unchanged or no longer forwards the request.
func (c *request) reroute(l *Listener) (nl *Listener, ng *TargetGroup, t *Target) {
	nl = c.so.cfg.Load()
	if nl == l {
		return l, nil, nil
	}
	view := c.view()
	r := match(nl, &view)
	if r == nil || r.Action.Type != ActionForward {
		return l, nil, nil
	}
	ng = pickGroup(r.Action.Groups)
	return nl, ng, ng.pick(nil, c.now)
}

// match returns the first rule whose conditions all hold.
func match(l *Listener, v *reqView) *Rule {
	for _, r := range l.Rules {
		if r.matchView(v) {
			return r
		}
	}
	return nil
}

// readHead reads until rb holds a complete request head and returns its
// length.
func (c *conn) readHead(idle time.Duration) (int, error) {
	scanned := 0
	for {
		if scanned == 0 {
			// RFC 9112 §2.2: empty lines before a request line are
			// ignored (some clients send a CRLF after a body).
			for c.rb.buffered() > 0 && (c.rb.bytes()[0] == '\r' || c.rb.bytes()[0] == '\n') {
				c.rb.consume(1)
			}
		}
		if c.rb.buffered() > 0 {
			c.idle.Store(false)
			headLen, ok := c.rb.findHead(&scanned, maxHeadBytes)
			if !ok {
				return 0, errHeadTooLarge
			}
			if headLen > 0 {
				if !c.served.Load() {
					c.served.Store(true)
				}
				return headLen, nil
			}
		} else {
			c.idle.Store(true)
			if c.so.closing.Load() {
				if c.served.Load() {
					return 0, io.EOF
				}
				c.c.SetReadDeadline(time.Now().Add(closingGrace))
				n, err := c.rb.fill(c.c)
				if n == 0 && err != nil {
					c.idle.Store(false)
					return 0, err
				}
				continue
			}
			// Idle: give the pooled buffers back while waiting.
			c.releaseWriteBufs()
			c.rb.shrink()

		}
		refresh(c.c, &c.readDeadline, idle, true)
		n, err := c.rb.fill(c.c)
		if n == 0 && err != nil {
			c.idle.Store(false)
			return 0, err
		}
	}
}

func (c *conn) writeRaw(b []byte) error {
	refresh(c.c, &c.writeDeadline, c.so.cfg.Load().LoadBalancer.IdleTimeout, false)
	_, err := c.c.Write(b)
	return err
}

// writeFixed answers with a rule's fixed response.
func (c *conn) writeFixed(a *Action, h *requestHead, keep bool) {
	c.stats.fixedResponse(a.FixedStatus)
	c.writeRaw(appendFixed(c.out[:0], a, h, keep))
}

// appendFixed writes a rule's fixed response.
func appendFixed(out []byte, a *Action, h *requestHead, keep bool) []byte {
	out = appendStatusLine(out, a.FixedStatus)
	if a.FixedContentType != "" {
		out = append(out, "Content-Type: "...)
		out = append(out, a.FixedContentType...)
		out = append(out, "\r\n"...)
	}
	out = appendContentLength(out, int64(len(a.FixedBody)))
	if !keep {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, "\r\n"...)
	if string(h.method) != "HEAD" {
		out = append(out, a.FixedBody...)
	}
	return out
}

// writeRedirect answers with a rule's redirect.
func (c *conn) writeRedirect(l *Listener, a *Action, v *reqView, keep bool) {
	c.stats.redirect()
	c.writeRaw(appendRedirectResponse(c.out[:0], l, a, v, keep))
}

// appendRedirectResponse writes a rule's redirect.
func appendRedirectResponse(out []byte, l *Listener, a *Action, v *reqView, keep bool) []byte {
	out = appendStatusLine(out, a.Redirect.StatusCode)
	out = append(out, "Location: "...)
	out = appendRedirect(out, a.Redirect, l, v)
	out = append(out, "\r\nContent-Length: 0\r\n"...)
	if !keep {
		out = append(out, "Connection: close\r\n"...)
	}
	return append(out, "\r\n"...)
}

// idempotent methods may be retried on another target when the first one
// died without answering.
func idempotent(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE":
		return true
	}
	return false
}

// maxAttempts bounds the targets one request is tried on.
const maxAttempts = 3

// forward proxies the request to a target of the action's group. It reports
// whether the client connection stays open.
func (c *conn) forward(l *Listener, a *Action, headLen int, keep bool) bool {
	h := &c.req
	g, writeTG, sticky, rewrite := c.route(a, h.headers)
	if g.Version != HTTP1 {
		// HTTP/2 and gRPC groups take HTTP/2 clients only, as ALB.
		c.writeRaw(c.lbError(464, true))
		return false
	}
	bodyBuffered := c.rb.buffered() - headLen
	var bodyLen int64 // bytes of body that follow the head, when known
	switch {
	case h.flags.chunked:
		bodyLen = -1
	case h.flags.contentLength > 0:
		bodyLen = h.flags.contentLength
	}
	// A request whose whole body is already buffered can be sent again to
	// another target; one still streaming from the client cannot.
	replayable := bodyLen >= 0 && bodyLen <= int64(bodyBuffered)
	isHead := string(h.method) == "HEAD"
	upgrade := h.isUpgrade()
	retryIdempotent := replayable && idempotent(h.method) && !upgrade
	client10 := h.minor == 0
	stripExpect := h.flags.expectContinue
	hasBody := h.hasBody()

	var status int
	c.up, status = c.appendRequestHead(c.up[:0], l, h, stripExpect)
	if status != 0 {
		c.writeRaw(c.lbError(status, true))
		return false
	}
	upHead := len(c.up)
	if replayable && bodyLen > 0 {
		c.up = append(c.up, c.rb.bytes()[headLen:headLen+int(bodyLen)]...)
	}

	g.state.requests.Add(1)
	var exclude *Target
	lastStatus := 503
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t := g.choose(sticky, exclude, c.now)
		if t == nil && exclude == nil {
			if nl, ng, nt := c.reroute(l); ng != nil {
				l, g, t = nl, ng, nt
			}
		}
		if t == nil {
			break
		}
		bc, err := c.backend(g, t)
		if err != nil {
			t.markConnFailure()
			exclude = t
			lastStatus = 502
			if isTimeout(err) {
				lastStatus = 504
			}
			continue
		}
		t.inflight.Add(1)
		t.Requests.Add(1)
		c.group = g
		c.stickyMoved = rewrite || sticky != nil && t != sticky
		c.extra = c.extra[:0]
		if writeTG {
			c.extra = c.appendGroupCookies(c.extra, a, g)
		}
		res := c.exchange(l, t, bc, headLen, upHead, replayable, isHead, upgrade, client10, keep)
		t.inflight.Add(-1)
		if res.outcome == outcomeDone {
			t.observeStatus(res.status)
			return res.keep
		}
		step, fault := afterFailure(res.outcome, retryIdempotent, res.nothingSent, true)
		if fault {
			t.markConnFailure()
		}
		switch step {
		case stepRetrySame:
			attempt-- // not counted: no one's fault
			continue
		case stepRetryOther:
			exclude = t
			lastStatus = 502
			continue
		}
		// Not retryable: answer with the error and end the connection when
		// the request body may not have been read.
		if res.status == 0 {
			res.status = 502
		}
		if res.outcome != outcomeClientGone {
			c.writeRaw(c.lbError(res.status, true))
		}
		return false
	}
	closeAfter := hasBody || !keep
	c.writeRaw(c.lbError(lastStatus, closeAfter))
	if closeAfter {
		return false
	}
	c.rb.consume(headLen)
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// backend returns a pooled connection to t or dials a new one (with TLS
// for an HTTPS target group).
func (c *conn) backend(g *TargetGroup, t *Target) (*backendConn, error) {
	if bc := t.pool.get(c.now); bc != nil {
		return bc, nil
	}
	d := net.Dialer{Timeout: c.so.srv.DialTimeout}
	nc, err := d.Dial("tcp", t.Addr)
	if err != nil {
		return nil, err
	}
	if g.TLS != nil {
		tc := tls.Client(nc, g.TLS)
		tc.SetDeadline(time.Now().Add(c.so.srv.DialTimeout))
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return nil, err
		}
		tc.SetDeadline(time.Time{})
		nc = tc
	}
	bc := &backendConn{Conn: nc, target: t}
	bc.buf.acquire()
	return bc, nil
}

type outcome int

const (
	outcomeDone       outcome = iota // response relayed (status may be an error from the target)
	outcomeRetry                     // the target failed before answering
	outcomeRetrySame                 // a pooled connection was stale: try a fresh one
	outcomeFailed                    // failed, not retryable: answer status and close
	outcomeClientGone                // the client went away: close quietly
)

type exchangeResult struct {
	outcome     outcome
	status      int
	keep        bool
	nothingSent bool // not a byte of the request reached the target
}

func (bc *backendConn) discard() {
	bc.buf.release()
	bc.Close()
}

// earlyAnswerWait bounds the wait for the answer of a target that stopped
// reading an upload: by then it has closed, and what it said is already
// on the way.
const earlyAnswerWait = time.Second

// exchange sends the request on bc and relays the response.
func (c *conn) exchange(l *Listener, t *Target, bc *backendConn, headLen, upHead int, replayable, isHead, upgrade, client10, keep bool) exchangeResult {
	idle := l.LoadBalancer.IdleTimeout
	h := &c.req
	// Decided before the body is streamed: that reuses the buffer h is in.
	resendable := replayable && idempotent(h.method) && !upgrade
	// Send the head (and a buffered body) in one write.
	refresh(bc, &bc.writeDeadline, idle, false)
	toSend := c.up
	if !replayable {
		toSend = c.up[:upHead]
	}
	sent := time.Now()
	if _, err := bc.Write(toSend); err != nil {
		bc.discard()
		if bc.reused && replayable {
			return exchangeResult{outcome: outcomeRetrySame}
		}
		return exchangeResult{outcome: outcomeRetry, nothingSent: replayable}
	}
	if !replayable {
		// Stream the body from the client. The head is consumed first: the
		// copy reuses the buffer.
		chunked := h.flags.chunked
		cl := h.flags.contentLength
		expect := h.flags.expectContinue && !client10 // no 1xx to HTTP/1.0
		c.rb.consume(headLen)
		if c.rb.p == nil && (chunked || cl > int64(c.rb.capacity())) {
			c.rb.grow() // stream a large body in large reads
		}
		if expect {
			c.writeRaw([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
		}
		p := pipe{src: c.c, sb: &c.rb, dst: bc, out: c.out[:0], timeout: idle, srcDeadline: &c.readDeadline, dstDeadline: &bc.writeDeadline}
		var err error
		if chunked {
			err = p.copyChunked(false)
		} else {
			err = p.copyN(cl)
			if err == nil {
				err = p.flush()
			}
		}
		c.out = p.out[:0]
		if err != nil {
			var se *sideError
			if errors.As(err, &se) && se.src {
				bc.discard()
				switch {
				case errors.Is(se.err, errBadChunk):
					c.writeRaw(c.lbError(400, true))
				case isTimeout(se.err):
					// The client stopped sending mid-body: ALB's 408.
					c.writeRaw(c.lbError(408, true))
				}
				return exchangeResult{outcome: outcomeClientGone}
			}
			// The target stopped reading the body: it may have answered
			// already (a 413 for a body it will not take). That answer
			// goes to the client, whose connection then closes, the rest
			// of its body unread.
			if headEnd, err := readResponseHead(bc, min(idle, earlyAnswerWait)); err == nil &&
				parseResponseHead(bc.buf.bytes()[:headEnd], &c.resp) == nil && c.resp.status >= 200 && c.resp.status != 101 {
				t.latency.observe(time.Since(sent))
				c.resp.flags.connClose = true // not pooled: it stopped mid-request
				return c.relayResponse(idle, t, bc, headEnd, isHead, client10, false)
			}
			bc.discard()
			return exchangeResult{outcome: outcomeFailed, status: 502}
		}
	}

	// Read the response head; interim 1xx responses are relayed.
	var headEnd int
	for {
		var err error
		headEnd, err = readResponseHead(bc, idle)
		if err != nil {
			bc.discard()
			switch {
			case isTimeout(err):
				return exchangeResult{outcome: outcomeFailed, status: 504}
			case err == errBadResponse || err == errHeadTooLarge:
				return exchangeResult{outcome: outcomeFailed, status: 502}
			}
			return exchangeResult{outcome: closedBeforeHead(bc.buf.buffered() > 0, bc.reused, resendable), status: 502}
		}
		if err := parseResponseHead(bc.buf.bytes()[:headEnd], &c.resp); err != nil {
			bc.discard()
			return exchangeResult{outcome: outcomeFailed, status: 502}
		}
		if c.resp.status >= 200 || c.resp.status == 101 {
			break
		}
		if c.resp.status != 100 || !h.flags.expectContinue || replayable {
			// Relay 103 Early Hints and the like; a 100 the proxy already
			// answered itself is dropped.
			if !client10 {
				c.out = appendResponseHead(c.out[:0], &c.resp, frameNone, true, false, nil)
				c.writeRaw(c.out)
			}
		}
		bc.buf.consume(headEnd)
	}
	t.latency.observe(time.Since(sent))
	if replayable {
		c.rb.consume(headLen + int(max(h.flags.contentLength, 0)))
	}
	r := &c.resp
	if r.status == 101 {
		if !upgrade {
			bc.discard()
			return exchangeResult{outcome: outcomeFailed, status: 502}
		}
		c.out = appendResponseHead(c.out[:0], r, frameNone, true, false, nil)
		bc.buf.consume(headEnd)
		c.tunnel(bc)
		return exchangeResult{outcome: outcomeDone, status: 101, keep: false}
	}

	return c.relayResponse(idle, t, bc, headEnd, isHead, client10, keep)
}

// relayResponse sends the response whose parsed head (c.resp) is the first
// headEnd bytes of bc's buffer, and its body, to the client.
func (c *conn) relayResponse(idle time.Duration, t *Target, bc *backendConn, headEnd int, isHead, client10, keep bool) exchangeResult {
	r := &c.resp
	fr, reusable := responseFraming(isHead, r)
	backendKeep := r.minor >= 1 && !r.flags.connClose && reusable
	clientKeep := keep && fr != frameUntilClose && !(client10 && fr == frameChunked) && !c.so.closing.Load()
	clientFr := fr
	if client10 && fr == frameChunked {
		clientFr = frameUntilClose
	}
	status := r.status
	if c.group != nil && c.group.Sticky.Type != StickyNone {
		c.extra = c.appendStickyCookies(c.extra, c.group, t, r.headers, c.stickyMoved)
	}
	c.out = appendResponseHead(c.out[:0], r, clientFr, clientKeep, client10 && clientKeep, c.extra)
	bc.buf.consume(headEnd)

	p := pipe{src: bc, sb: &bc.buf, dst: c.c, out: c.out, timeout: idle, srcDeadline: &bc.readDeadline, dstDeadline: &c.writeDeadline}
	var err error
	switch fr {
	case frameNone:
		err = p.flush()
	case frameLength:
		err = p.copyN(r.flags.contentLength)
		if err == nil {
			err = p.flush()
		}
	case frameChunked:
		err = p.copyChunked(client10)
	case frameUntilClose:
		err = p.copyUntilEOF()
	}
	c.out = p.out[:0]
	if err != nil {
		bc.discard()
		// The head is out: the client learns of a failure by the
		// connection closing before the body ends.
		return exchangeResult{outcome: outcomeClientGone, status: status}
	}
	if backendKeep {
		bc.target.pool.put(bc, time.Now())
	} else {
		bc.discard()
	}
	return exchangeResult{outcome: outcomeDone, status: status, keep: clientKeep}
}

// readResponseHead reads until bc's buffer holds a complete response head.
func readResponseHead(bc *backendConn, idle time.Duration) (int, error) {
	scanned := 0
	for {
		headLen, ok := bc.buf.findHead(&scanned, maxResponseHead)
		if !ok {
			return 0, errHeadTooLarge
		}
		if headLen > 0 {
			return headLen, nil
		}
		if bc.buf.buffered() == 0 {
			runtime.Gosched() // let the target answer before asking: saves a futile read
		}
		refresh(bc, &bc.readDeadline, idle, true)
		n, err := bc.buf.fill(bc)
		if n == 0 && err != nil {
			return 0, err
		}
	}
}

// tunnel relays bytes both ways after a protocol switch (WebSocket) until
// either side closes.
func (c *conn) tunnel(bc *backendConn) {
	defer bc.discard()
	c.c.SetDeadline(time.Time{})
	bc.SetDeadline(time.Time{})
	if _, err := c.c.Write(append(c.out, bc.buf.bytes()...)); err != nil {
		return
	}
	bc.buf.consume(bc.buf.buffered())
	if n := c.rb.buffered(); n > 0 {
		if _, err := bc.Write(c.rb.bytes()); err != nil {
			return
		}
		c.rb.consume(n)
	}
	// The idle timeout applies to the tunnel as a whole: it ends when no
	// byte has moved either way for that long.
	idle := c.so.cfg.Load().LoadBalancer.IdleTimeout
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan struct{}, 2)
	go func() {
		if tunnelCopy(bc.Conn, c.c, idle, &last) {
			closeWrite(bc.Conn)
		} else {
			c.c.Close()
			bc.Conn.Close()
		}
		done <- struct{}{}
	}()
	go func() {
		if tunnelCopy(c.c, bc.Conn, idle, &last) {
			closeWrite(c.c)
		} else {
			c.c.Close()
			bc.Conn.Close()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}

// tunnelCopy copies src to dst until src ends (it reports true) or fails,
// or until nothing has moved either way (last) for the idle timeout.
func tunnelCopy(dst, src net.Conn, idle time.Duration, last *atomic.Int64) bool {
	buf := make([]byte, 32<<10)
	for {
		src.SetReadDeadline(time.Unix(0, last.Load()).Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			dst.SetWriteDeadline(time.Now().Add(idle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
			last.Store(time.Now().UnixNano())
		}
		switch {
		case err == nil:
		case err == io.EOF:
			return true
		case isTimeout(err) && time.Since(time.Unix(0, last.Load())) < idle:
			// The other direction moved: keep waiting.
		default:
			return false
		}
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}
