package awsapi

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A request signed by nobody who holds the secret is refused, whatever
// its Authorization, X-Amz-Date and query hold: an error, never a pass
// and never a panic.
func FuzzSigV4(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
		"20261207T010000Z", "Action=DescribeLoadBalancers&Version=2015-12-01")
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=, Signature=", "2026", "%zz=%")
	f.Add("Bearer x", "", "a=b&a=c&%2F=%2f")
	h := NewHandler(Options{AccessKeyID: "AKID", SecretAccessKey: "secret"}).(*handler)
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, auth, date, query string) {
		r := &http.Request{Method: "POST", Host: "127.0.0.1:9080", Header: http.Header{},
			URL: &url.URL{Path: "/", RawQuery: query}}
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		if err := h.authenticate(r, []byte(query), now); err == nil {
			t.Fatalf("accepted a forged signature: %q %q", auth, date)
		}
		canonicalQuery(query)
		uriEncode(query, true)
	})
}
