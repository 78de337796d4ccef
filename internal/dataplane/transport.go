package dataplane

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// transports holds the round trippers of async groups, by TLS
// configuration and protocol version (recompiled groups share them).
var transports sync.Map // transportKey -> http.RoundTripper

type transportKey struct {
	tls     *tls.Config
	version ProtocolVersion
}

// roundTripper returns the transport a group's requests take: HTTP/1.1
// over TLS, or HTTP/2 (over TLS by ALPN, or cleartext with prior
// knowledge for an HTTP target group, as ALB's HTTP2 and GRPC groups).
func (s *Server) roundTripper(g *TargetGroup) http.RoundTripper {
	key := transportKey{g.TLS, g.Version}
	if v, ok := transports.Load(key); ok {
		return v.(http.RoundTripper)
	}
	dialer := &net.Dialer{Timeout: s.DialTimeout}
	var rt http.RoundTripper
	if g.Version == HTTP1 {
		rt = &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     g.TLS,
			TLSHandshakeTimeout: s.DialTimeout,
			MaxIdleConnsPerHost: maxIdlePerTarget,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		}
	} else {
		h2 := &http2.Transport{DisableCompression: true, IdleConnTimeout: time.Minute}
		if g.TLS != nil {
			cfg := g.TLS.Clone()
			cfg.NextProtos = []string{"h2"}
			h2.TLSClientConfig = cfg
		} else {
			h2.AllowHTTP = true // h2c: the target knows HTTP/2 is coming
			h2.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			}
		}
		rt = h2
	}
	v, _ := transports.LoadOrStore(key, rt)
	return v.(http.RoundTripper)
}
