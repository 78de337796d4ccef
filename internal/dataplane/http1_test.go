package dataplane

import "testing"

// Request heads the parser refuses, each with ALB's status: what the
// differential fuzzing against net/http found, and their neighbours.
func TestParseRequestHeadRefuses(t *testing.T) {
	cases := []struct {
		name, head string
		status     int
	}{
		{"a target in none of the four forms", "GET 0 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"asterisk-form for GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"absolute-form of another scheme", "GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"an absolute-form authority with a bad escape", "GET http://0%0/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"userinfo in the authority", "GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"a bad escape in the path", "GET /0%0 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"a bad escape at the end of the path", "GET /a% HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"an absolute-form port that is not a number", "GET http://:A/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"an absolute-form port and no host", "GET http://:80/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"a Host port that is not a number", "GET / HTTP/1.1\r\nHost: x:8o\r\n\r\n", 400},
		{"a Host with two colons", "GET / HTTP/1.1\r\nHost: a:b:80\r\n\r\n", 400},
		{"a Host IP literal unclosed", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
		{"a Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"a Host with a bad escape", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400},
		{"a Host with an escape", "GET / HTTP/1.1\r\nHost: a%2Dz\r\n\r\n", 400},
		{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	}
	for _, tc := range cases {
		var h requestHead
		err := parseRequestHead([]byte(tc.head), &h)
		pe, ok := err.(*parseError)
		if !ok || pe.status != tc.status {
			t.Errorf("%s: %v, want a %d", tc.name, err, tc.status)
		}
	}
	for _, ok := range []string{
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", // parsed, then refused with 405
		"GET http://x:8080/a?b HTTP/1.1\r\nHost: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: my_host.example-x\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x:\r\n\r\n", // an empty port, as RFC 3986 allows
		"GET http://[fe80::1]/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a%20b?q=%zz HTTP/1.1\r\nHost: x\r\n\r\n", // the query is not the path
	} {
		var h requestHead
		if err := parseRequestHead([]byte(ok), &h); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}
