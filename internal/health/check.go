package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"golang.org/x/net/http2"
)

// checkTransport makes one connection per check and closes it after, as
// ALB does; HTTPS checks do not verify the target's certificate.
var checkTransport = &http.Transport{
	DisableKeepAlives:  true,
	DisableCompression: true,
	TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
	Proxy:              nil,
}

var checkClient = &http.Client{
	Transport: checkTransport,
	// A redirect is a response code like any other to the matcher.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// HTTPCheck requests spec.Path with GET and matches the status code.
func HTTPCheck(ctx context.Context, spec Spec, addr string) Result {
	scheme := "http"
	if spec.Protocol == "HTTPS" {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+spec.Path, nil)
	if err != nil {
		return Result{Reason: ReasonFailedHealthChecks, Description: "Health check request could not be built"}
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	client := checkClient
	if spec.Version == "HTTP2" || spec.Version == "GRPC" {
		h2 := h2CheckTransport(spec.Protocol == "HTTPS")
		defer h2.CloseIdleConnections() // one connection per check, as ALB
		client = &http.Client{Transport: h2, CheckRedirect: checkClient.CheckRedirect}
	}
	if spec.Version == "GRPC" {
		return grpcCheck(ctx, client, req, spec)
	}
	resp, err := client.Do(req)
	if err != nil {
		return transportFailure(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if !spec.Matcher.Match(resp.StatusCode) {
		return Result{Reason: ReasonResponseCodeMismatch, Description: fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode)}
	}
	return Result{OK: true}
}

// h2CheckTransport speaks HTTP/2 to a target: over TLS by ALPN, or
// cleartext with prior knowledge (h2c), as the group's traffic does.
func h2CheckTransport(useTLS bool) *http2.Transport {
	if useTLS {
		return &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}}
	}
	return &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// grpcCheck makes a unary gRPC call of spec.Path with an empty message, as
// ALB's gRPC health checks do, and matches its grpc-status: 12
// (UNIMPLEMENTED, ALB's default) says the target answers gRPC.
func grpcCheck(ctx context.Context, client *http.Client, req *http.Request, spec Spec) Result {
	req.Method = http.MethodPost
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Body = io.NopCloser(bytes.NewReader(make([]byte, 5))) // no compression, length 0
	req.ContentLength = 5
	resp, err := client.Do(req)
	if err != nil {
		return transportFailure(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	status := resp.Trailer.Get("Grpc-Status")
	if status == "" {
		status = resp.Header.Get("Grpc-Status") // a trailers-only answer
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		return Result{Reason: ReasonResponseCodeMismatch, Description: fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode)}
	}
	if !spec.GrpcMatcher.Match(code) {
		return Result{Reason: ReasonResponseCodeMismatch, Description: fmt.Sprintf("Health checks failed with these codes: [%d]", code)}
	}
	return Result{OK: true}
}

// transportFailure is the result of a check that got no answer.
func transportFailure(err error) Result {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return Result{Reason: ReasonTimeout, Description: "Request timed out"}
	}
	return Result{Reason: ReasonFailedHealthChecks, Description: "Health checks failed"}
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
