package dataplane

import (
	"net"
	"net/netip"
	"sync"
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

// conn is what a socket keeps of a client connection an event loop serves
// (evConn embeds it): its request, its buffers, reused from request to
// request, and the net.Conn of a handshake in progress.
type conn struct {
	request
	// c is the client connection while a goroutine runs its TLS
	// handshake, for a forced shutdown to close.
	c net.Conn

	rb   rbuf   // bytes from the client
	out  []byte // bytes to the client, batched
	outp *[]byte

	// inline holds request heads while they are small: an idle keep-alive
	// connection blocks reading into it and holds no pooled buffer, so it
	// costs little memory.
	inline [inlineBuf]byte

	// served is set once a request head arrived (the loop reads and
	// writes it): a closing listener gives one that has served nothing
	// closingGrace for its first request (see evConn.mayStillSend).
	served bool
}

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, flushLimit+4096); return &b }}

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

type outcome int

const (
	outcomeDone       outcome = iota // response relayed (status may be an error from the target)
	outcomeRetry                     // the target failed before answering
	outcomeRetrySame                 // a pooled connection was stale: try a fresh one
	outcomeFailed                    // failed, not retryable: answer status and close
	outcomeClientGone                // the client went away: close quietly
)
