package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HTTP/2 from clients (negotiated with ALPN on HTTPS listeners) is served
// by the standard library's HTTP/2 server; each request is routed with the
// same rules, balancer, stickiness and health as HTTP/1.1, and sent to the
// target over HTTP/1.1, as ALB does with HTTP1 target groups.

type h2State struct {
	once  sync.Once
	srv   *http.Server
	ln    *chanListener
	conns sync.Map // *tls.Conn -> *h2Conn
	tr    *http.Transport
}

type h2Conn struct {
	so     *socket
	remote netip.Addr
	stats  *LoadBalancerStats // of the connection (its bytes are counted under the TLS)
	done   chan struct{}
}

type ctxKey struct{}

// chanListener hands connections to http.Server.Serve.
type chanListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func (s *Server) h2() *h2State {
	st := &s.h2state
	st.once.Do(func() {
		st.ln = &chanListener{ch: make(chan net.Conn), closed: make(chan struct{})}
		st.tr = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: s.DialTimeout}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		}
		st.srv = &http.Server{
			Handler:           &h2Handler{s: s},
			ReadHeaderTimeout: 30 * time.Second,
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				if v, ok := st.conns.Load(c); ok {
					return context.WithValue(ctx, ctxKey{}, v)
				}
				return ctx
			},
			ConnState: func(c net.Conn, cs http.ConnState) {
				if cs == http.StateClosed || cs == http.StateHijacked {
					if v, ok := st.conns.LoadAndDelete(c); ok {
						close(v.(*h2Conn).done)
					}
				}
			},
		}
		go st.srv.Serve(st.ln)
	})
	return st
}

// serveH2 serves an HTTP/2 connection and returns when it closes; its
// requests count in stats.
func (s *Server) serveH2(so *socket, tc *tls.Conn, stats *LoadBalancerStats) {
	st := s.h2()
	hc := &h2Conn{so: so, stats: stats, done: make(chan struct{})}
	if ap, err := netip.ParseAddrPort(tc.RemoteAddr().String()); err == nil {
		hc.remote = ap.Addr().Unmap()
	}
	st.conns.Store(tc, hc)
	select {
	case st.ln.ch <- tc:
		<-hc.done
	case <-st.ln.closed:
		st.conns.Delete(tc)
	}
}

// shutdownH2 ends HTTP/2 connections gracefully (GOAWAY) with the rest.
func (s *Server) shutdownH2(ctx context.Context) {
	st := &s.h2state
	if st.srv != nil {
		st.srv.Shutdown(ctx)
		st.tr.CloseIdleConnections()
	}
}

type h2Handler struct{ s *Server }

// hopByHop fields are not forwarded (RFC 9110 §7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (h *h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hc, _ := r.Context().Value(ctxKey{}).(*h2Conn)
	if hc == nil {
		http.Error(w, "no listener", http.StatusInternalServerError)
		return
	}
	l := hc.so.cfg.Load()
	if refusedMethod([]byte(r.Method)) {
		writeStatus(w, hc.stats, 405)
		return
	}
	c := &conn{request: request{so: hc.so, remote: hc.remote, now: time.Now(), stats: hc.stats}}
	view := reqView{method: []byte(r.Method), target: []byte(r.URL.RequestURI()), host: []byte(r.Host), remote: hc.remote}
	for k, vs := range r.Header {
		for _, v := range vs {
			view.headers = append(view.headers, header{[]byte(k), []byte(v)})
		}
	}
	rule := match(l, &view)
	if rule == nil {
		writeStatus(w, hc.stats, 404)
		return
	}
	switch rule.Action.Type {
	case ActionFixedResponse:
		a := &rule.Action
		hc.stats.fixedResponse(a.FixedStatus)
		if a.FixedContentType != "" {
			w.Header().Set("Content-Type", a.FixedContentType)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(a.FixedBody)))
		w.WriteHeader(a.FixedStatus)
		io.WriteString(w, a.FixedBody)
		return
	case ActionRedirect:
		hc.stats.redirect()
		w.Header().Set("Location", string(appendRedirect(nil, rule.Action.Redirect, l, &view)))
		w.WriteHeader(rule.Action.Redirect.StatusCode)
		return
	}
	h.forward(w, r, c, l, &rule.Action, &view)
}

// writeStatus answers with the load balancer's own error page for code,
// counted in st.
func writeStatus(w http.ResponseWriter, st *LoadBalancerStats, code int) {
	st.elbResponse(code)
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	w.Write(errorBody(code))
}

func (h *h2Handler) forward(w http.ResponseWriter, r *http.Request, c *conn, l *Listener, a *Action, view *reqView) {
	g, writeTG, sticky, rewrite := c.route(a, view.headers)
	g.state.requests.Add(1)
	// The head sent to the target, built once.
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	for _, k := range hopByHop {
		out.Header.Del(k)
	}
	if !l.LoadBalancer.PreserveHost {
		host := string(hostWithoutPort([]byte(r.Host)))
		if l.Port != 443 && l.Port != 80 {
			host += ":" + strconv.Itoa(l.Port)
		}
		out.Host = host
	}
	ip := c.remote.String()
	switch l.LoadBalancer.XFFMode {
	case "remove":
		out.Header.Del("X-Forwarded-For")
	case "preserve":
	default:
		if prior := out.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			out.Header.Set("X-Forwarded-For", strings.Join(prior, ", ")+", "+ip)
		} else {
			out.Header.Set("X-Forwarded-For", ip)
		}
	}
	out.Header.Set("X-Forwarded-Proto", "https")
	out.Header.Set("X-Forwarded-Port", strconv.Itoa(l.Port))
	out.Header.Set("X-Amzn-Trace-Id", string(appendTraceID(nil, []byte(r.Header.Get("X-Amzn-Trace-Id")), c.now)))
	replayable := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	if replayable {
		out.Body = nil
	}
	var exclude *Target
	status := 503
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t := g.choose(sticky, exclude, c.now)
		if t == nil {
			break
		}
		out.URL.Scheme, out.URL.Host = "http", t.Addr
		var rt http.RoundTripper = h.s.h2().tr
		if g.async() {
			rt = h.s.roundTripper(g) // TLS or HTTP/2 to the targets
			if g.TLS != nil {
				out.URL.Scheme = "https"
			}
			if g.Version == GRPC {
				out.Header.Set("Te", "trailers")
			}
		}
		t.inflight.Add(1)
		t.Requests.Add(1)
		ctx, cancel := context.WithTimeout(r.Context(), l.LoadBalancer.IdleTimeout)
		resp, err := rt.RoundTrip(out.WithContext(ctx))
		if err != nil {
			t.inflight.Add(-1)
			cancel()
			if r.Context().Err() != nil {
				return // the client went away
			}
			if errors.Is(err, context.DeadlineExceeded) {
				status = 504
				break
			}
			t.markConnFailure()
			status = 502
			if replayable {
				exclude = t
				continue
			}
			break
		}
		t.observeStatus(resp.StatusCode)
		for _, k := range hopByHop {
			resp.Header.Del(k)
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		var extra []byte
		if writeTG {
			extra = c.appendGroupCookies(extra, a, g)
		}
		if g.Sticky.Type != StickyNone {
			var rh []header
			for _, v := range resp.Header.Values("Set-Cookie") {
				rh = append(rh, header{[]byte("Set-Cookie"), []byte(v)})
			}
			extra = c.appendStickyCookies(extra, g, t, rh, rewrite || sticky != nil && t != sticky)
		}
		for _, line := range strings.Split(string(extra), "\r\n") {
			if v, ok := strings.CutPrefix(line, "Set-Cookie: "); ok {
				w.Header().Add("Set-Cookie", v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		copyFlushing(w, resp.Body)
		resp.Body.Close()
		for k, vs := range resp.Trailer { // known once the body is read
			w.Header()[http.TrailerPrefix+k] = vs
		}
		t.inflight.Add(-1)
		cancel()
		return
	}
	writeStatus(w, c.stats, status)
}

// copyFlushing streams a response body, flushing as data arrives.
func copyFlushing(w http.ResponseWriter, body io.Reader) {
	buf := make([]byte, 32<<10)
	f, _ := w.(http.Flusher)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}
