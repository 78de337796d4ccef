package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"
	"unicode/utf8"
)

// maxErrorText bounds the fallback error text so that the Errors map stays
// readable.
const maxErrorText = 80

// maxDistinct bounds the distinct keys kept per counted map (error texts,
// values of one header) so that a header like X-Request-Id, unique on every
// response, cannot grow the report without limit.
const maxDistinct = 1000

// otherKey collects the keys beyond maxDistinct.
const otherKey = "(other)"

// classifyError shortens a transport error to a stable text: the raw error
// names the URL and the local port, which would give every request its own
// key in Report.Errors.
func classifyError(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.As(err, &dnsErr):
		return "dns: " + dnsErr.Err
	case errors.As(err, &certErr):
		return "tls: certificate verification failed"
	}
	// Strip the wrappers that carry the URL and addresses.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		err = opErr.Err
	}
	return truncate(err.Error(), maxErrorText)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// countKey adds one to m[key], folding new keys into otherKey once m holds
// maxDistinct keys.
func countKey(m map[string]int64, key string) {
	if _, ok := m[key]; !ok && len(m) >= maxDistinct {
		key = otherKey
	}
	m[key]++
}
