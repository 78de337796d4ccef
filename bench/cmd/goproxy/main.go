// Command goproxy is the plain Go candidate of the benchmark: the standard
// library's httputil.ReverseProxy doing round robin over the backends, with a
// Transport tuned to keep enough idle connections, on a plain HTTP listener
// and an HTTPS one.
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18040", "plain HTTP address")
	listenTLS := flag.String("listen-tls", "", "HTTPS address (needs -cert and -key)")
	cert := flag.String("cert", "", "certificate file (PEM)")
	key := flag.String("key", "", "private key file (PEM)")
	backends := flag.String("backends", "127.0.0.1:18001,127.0.0.1:18002", "comma-separated backend addresses")
	flag.Parse()

	var targets []*url.URL
	for _, b := range strings.Split(*backends, ",") {
		u, err := url.Parse("http://" + strings.TrimSpace(b))
		if err != nil {
			log.Fatalf("backend %q: %v", b, err)
		}
		targets = append(targets, u)
	}
	if len(targets) == 0 {
		log.Fatal("no backends")
	}

	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			t := targets[(next.Add(1)-1)%uint64(len(targets))]
			r.SetURL(t)
			r.SetXForwarded()
			r.Out.Host = r.In.Host
		},
		Transport: transport,
		ErrorLog:  log.New(io.Discard, "", 0),
	}

	serve := func(addr string, tls bool) {
		srv := &http.Server{
			Addr:              addr,
			Handler:           proxy,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          log.New(io.Discard, "", 0),
		}
		var err error
		if tls {
			err = srv.ListenAndServeTLS(*cert, *key)
		} else {
			err = srv.ListenAndServe()
		}
		log.Fatalf("%s: %v", addr, err)
	}
	if *listenTLS != "" {
		if *cert == "" || *key == "" {
			log.Fatal("-listen-tls needs -cert and -key")
		}
		go serve(*listenTLS, true)
	}
	log.Printf("goproxy listening on %s (tls %q) for %s", *listen, *listenTLS, *backends)
	serve(*listen, false)
}
