//go:build unix

package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// An async attempt sends a loop's request to a target through a net/http
// transport on a goroutine: the target group's TLS (an HTTPS target
// group) is a client handshake and records the loop does not do itself.
// The goroutine posts the response head and each body chunk back to the
// loop, one chunk in flight, and the exchange drives its front from them
// as it does from a loop attempt: the same target choice, retries,
// framing and books.

// asyncAttempt is one attempt served by a goroutine.
type asyncAttempt struct {
	cancel context.CancelFunc
	chunk  []byte        // body bytes posted to the loop, not yet relayed
	next   chan struct{} // the loop took the chunk: the goroutine reads on
	taken  bool          // next was signalled for the chunk in hand
	eof    bool          // the body ended after chunk
	broken bool          // the body failed after chunk
	ended  bool          // the last chunk is out to the front
	// up carries what the client sends after a 101 (an upgrade) to the
	// goroutine that writes it to the target.
	up      *bodyPipe
	trailer http.Header
}

// startAsync starts the attempt on t through the group's transport; the
// exchange waits for the response head (stResp).
func (x *evExchange) startAsync(g *TargetGroup, t *Target) {
	if c, ok := x.front.(*evConn); ok {
		c.shared = true // the attempt's goroutine posts back to it
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(bytes.Clone(x.rq.up))))
	if err != nil {
		x.async = &asyncAttempt{cancel: func() {}}
		x.attemptFailed(outcomeFailed, false, 500)
		return
	}
	req.RequestURI = ""
	if x.reqBody != nil {
		req.Body, req.TransferEncoding = x.reqBody, nil
		req.Header.Del("Transfer-Encoding")
		req.ContentLength = max(x.rq.req.flags.contentLength, -1)
	}
	req.URL.Scheme, req.URL.Host = "https", t.Addr
	if g.TLS == nil {
		req.URL.Scheme = "http"
	}
	if g.Version == GRPC {
		req.Header.Set("Te", "trailers") // gRPC servers look for it
	}
	a := &asyncAttempt{next: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	x.async, x.bc = a, nil
	if x.upgrade {
		a.up = newBodyPipe(nil, func(p *bodyPipe, _ int) {
			if p.size() >= uploadAhead/2 {
				return
			}
			x.lp.do(func() {
				if x.async == a && x.state == stTunnel {
					x.front.(evTunneler).tunnel()
				}
			})
		})
	}
	x.state = stResp
	x.deadline = x.sent.Add(x.lp.srv.DialTimeout + x.idleTimeout())
	lp, rt := x.lp, x.lp.srv.roundTripper(g)
	go func() {
		resp, err := rt.RoundTrip(req.WithContext(ctx))
		lp.do(func() {
			if x.async != a {
				if resp != nil {
					resp.Body.Close()
				}
				return
			}
			x.asyncResponse(resp, err)
		})
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == 101 && a.up != nil {
			// A tunnel: the client's bytes go to the target from the pipe,
			// and both stop when the attempt ends.
			go io.Copy(rwc, a.up)
			go func() {
				<-ctx.Done()
				a.up.abort()
				rwc.Close()
			}()
		}
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf) // what is there: a stream goes on as it comes
			if n == 0 && err == nil {
				continue
			}
			chunk := bytes.Clone(buf[:n])
			var trailer http.Header
			if err == io.EOF {
				trailer = resp.Trailer.Clone()
			}
			lp.do(func() {
				if x.async == a {
					x.asyncBody(chunk, err, trailer)
				}
			})
			if err != nil {
				return
			}
			select {
			case <-a.next:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// asyncResponse handles the response head (or the failure to get one).
func (x *evExchange) asyncResponse(resp *http.Response, err error) {
	if err != nil {
		var op *net.OpError
		dialed := errors.As(err, &op) && op.Op == "dial" // nothing was sent
		x.attemptFailed(outcomeRetry, dialed, 502)
		return
	}
	x.t.latency.observe(x.lp.now.Sub(x.sent))
	// The head as HTTP/1.1 text, parsed as a target's head is: the fronts
	// frame it from there.
	b := append(x.head[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(resp.StatusCode), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(resp.StatusCode)...)
	b = append(b, "\r\n"...)
	for k, vs := range resp.Header {
		if k == "Content-Length" || k == "Transfer-Encoding" {
			continue // the framing is written below
		}
		for _, v := range vs {
			b = appendField(b, k, v)
		}
	}
	switch {
	case resp.StatusCode == 101: // bytes both ways follow, not a body
	case resp.ContentLength >= 0:
		b = appendContentLength(b, resp.ContentLength)
	case !x.isHead && resp.StatusCode != 204 && resp.StatusCode != 304:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = append(b, "\r\n"...)
	x.head = b
	r := &x.rq.resp
	if parseResponseHead(x.head, r) != nil {
		x.attemptFailed(outcomeFailed, false, 502)
		return
	}
	if r.status == 101 {
		x.switchProtocols(r, 0)
		return
	}
	fr, _ := responseFraming(x.isHead, r)
	if resp.ContentLength == 0 {
		// Nothing follows: the head ends the response (a gRPC
		// "trailers-only" answer must stay one HEADERS frame).
		fr = frameNone
	}
	if !x.beginResponse(r, fr, 0) {
		return
	}
	x.deadline = x.lp.now.Add(x.idleTimeout())
	if fr == frameNone {
		x.asyncDone()
	}
}

// asyncBody takes a chunk of the body from the goroutine.
func (x *evExchange) asyncBody(chunk []byte, err error, trailer http.Header) {
	a := x.async
	a.chunk, a.taken = chunk, false
	a.eof = err == io.EOF
	a.broken = err != nil && !a.eof
	a.trailer = trailer
	x.deadline = x.lp.now.Add(x.idleTimeout())
	if x.state == stTunnel {
		x.front.(evTunneler).tunnel()
		return
	}
	x.relayAsync()
}

// relayAsync moves the posted chunk to the client as it takes it.
func (x *evExchange) relayAsync() {
	a, f := x.async, x.front
	if x.state != stBody {
		return
	}
	for len(a.chunk) > 0 {
		room := f.room()
		if room <= 0 {
			f.flush()
			return // the front resumes the exchange when it takes more
		}
		n := min(room, len(a.chunk))
		out := f.bodyOut()
		if x.chunked && !x.dataOnly {
			out = strconv.AppendInt(out, int64(n), 16)
			out = append(out, crlf...)
			out = append(out, a.chunk[:n]...)
			out = append(out, crlf...)
		} else {
			out = append(out, a.chunk[:n]...)
		}
		f.bodyIn(out)
		a.chunk = a.chunk[n:]
		if !x.chunked {
			x.left -= int64(n)
		}
	}
	if !f.flush() || f.gone() {
		return
	}
	switch {
	case a.broken || a.eof && !x.chunked && x.left != 0:
		x.cut()
	case a.eof:
		x.asyncDone()
	case !a.taken:
		// Once per chunk: a relay that finds nothing new to do (a stream
		// resumed for its window) must not let a second chunk overwrite
		// one not yet relayed.
		a.taken = true
		select {
		case a.next <- struct{}{}: // room for one: the goroutine waits for each
		default:
		}
	}
}

// appendField writes a header field line.
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, crlf...)
}

// asyncDone finishes the response: the last chunk (and the trailer
// fields) go out, and once the client has taken everything the exchange
// ends (a client that takes it later resumes the relay, which comes back
// here).
func (x *evExchange) asyncDone() {
	a := x.async
	if x.chunked && !a.ended {
		a.ended = true
		x.sc.trailers = x.sc.trailers[:0]
		for k, vs := range a.trailer {
			for _, v := range vs {
				x.sc.trailers = appendField(x.sc.trailers, k, v)
			}
		}
		if !x.dataOnly {
			out := append(x.front.bodyOut(), "0\r\n"...)
			out = append(append(out, x.sc.trailers...), crlf...)
			x.front.bodyIn(out)
		}
	}
	if !x.front.flush() || x.front.gone() {
		a.eof = true
		return
	}
	x.finish()
}

// bodyPipe carries a request body from the loop, as its DATA frames
// arrive, to an async attempt's goroutine. The stream's flow-control
// window bounds what it holds: the client gets window back as the
// goroutine takes bytes (read).
type bodyPipe struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte
	ended   bool // the client's body is complete
	aborted bool
	read    func(p *bodyPipe, n int)
}

func newBodyPipe(first []byte, read func(*bodyPipe, int)) *bodyPipe {
	p := &bodyPipe{buf: bytes.Clone(first), read: read}
	p.cond.L = &p.mu
	return p
}

// write adds body bytes (from the loop); end says the body is complete.
func (p *bodyPipe) write(b []byte, end bool) {
	p.mu.Lock()
	p.buf = append(p.buf, b...)
	p.ended = p.ended || end
	p.mu.Unlock()
	p.cond.Signal()
}

// size is how many body bytes wait for the goroutine.
func (p *bodyPipe) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf)
}

// abort ends the body with an error (the stream went away).
func (p *bodyPipe) abort() {
	p.mu.Lock()
	p.aborted = true
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *bodyPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	for len(p.buf) == 0 && !p.ended && !p.aborted {
		p.cond.Wait()
	}
	if p.aborted {
		p.mu.Unlock()
		return 0, errBodyAborted
	}
	if len(p.buf) == 0 {
		p.mu.Unlock()
		return 0, io.EOF
	}
	n := copy(b, p.buf)
	p.buf = p.buf[:copy(p.buf, p.buf[n:])]
	p.mu.Unlock()
	p.read(p, n)
	return n, nil
}

func (p *bodyPipe) Close() error {
	p.abort()
	return nil
}

var errBodyAborted = errors.New("the client's request body was cut off")
