package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
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
	resp, err := checkClient.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return Result{Reason: ReasonTimeout, Description: "Request timed out"}
		}
		return Result{Reason: ReasonFailedHealthChecks, Description: "Health checks failed"}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if !spec.Matcher.Match(resp.StatusCode) {
		return Result{Reason: ReasonResponseCodeMismatch, Description: fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode)}
	}
	return Result{OK: true}
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
