package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4: AWS Signature Version 4, as the CLI and the SDKs sign requests.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html

const sigAlgorithm = "AWS4-HMAC-SHA256"

// MaxSkew is how far a request's X-Amz-Date may be from the clock.
const MaxSkew = 15 * time.Minute

// authorization is a parsed Authorization header.
type authorization struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// scope is the credential scope: date/region/service/aws4_request.
func (a *authorization) scope() string {
	return a.date + "/" + a.region + "/" + a.service + "/aws4_request"
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex".
func parseAuthorization(h string) (*authorization, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != sigAlgorithm {
		return nil, apiErrorf("IncompleteSignature", "Authorization header requires the %s algorithm with Credential, SignedHeaders and Signature", sigAlgorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		fields[k] = v
	}
	cred, sh, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if cred == "" || sh == "" || sig == "" {
		return nil, apiErrorf("IncompleteSignature", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return nil, apiErrorf("IncompleteSignature", "Credential must have the form <access key>/<date>/<region>/<service>/aws4_request; got '%s'", cred)
	}
	a := &authorization{accessKey: parts[0], date: parts[1], region: parts[2], service: parts[3], signature: sig}
	a.signedHeaders = strings.Split(sh, ";")
	return a, nil
}

// authenticate checks the request's signature when credentials are
// configured.
func (h *handler) authenticate(r *http.Request, body []byte, now time.Time) error {
	if h.opts.AccessKeyID == "" {
		return nil
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		return apiErrorf("MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	a, err := parseAuthorization(header)
	if err != nil {
		return err
	}
	if a.accessKey != h.opts.AccessKeyID {
		return apiErrorf("InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return apiErrorf("IncompleteSignature", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header")
	}
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return apiErrorf("IncompleteSignature", "X-Amz-Date '%s' is not of the form yyyyMMddTHHmmssZ", amzDate)
	}
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return apiErrorf("SignatureDoesNotMatch", "Signature expired: %s is now earlier than %s or later than %s", amzDate,
			now.Add(-MaxSkew).UTC().Format("20060102T150405Z"), now.Add(MaxSkew).UTC().Format("20060102T150405Z"))
	}
	if a.date != amzDate[:8] {
		return apiErrorf("SignatureDoesNotMatch", "Credential should be scoped to a valid date: '%s' does not match the request date %s", a.date, amzDate[:8])
	}
	signed := map[string]bool{}
	for _, name := range a.signedHeaders {
		signed[name] = true
	}
	if !signed["host"] {
		return apiErrorf("SignatureDoesNotMatch", "'Host' must be a signed header")
	}
	want := signature(h.opts.SecretAccessKey, a, amzDate, canonicalRequest(r, a.signedHeaders, body))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(a.signature))) {
		return apiErrorf("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

// canonicalRequest builds SigV4's canonical request.
func canonicalRequest(r *http.Request, signedHeaders []string, body []byte) string {
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload != "UNSIGNED-PAYLOAD" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// headerValue is a header's canonical value: values joined with commas,
// spaces trimmed and runs of spaces collapsed.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		if r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

// canonicalURI encodes the path as services other than S3 do: each segment
// URI-encoded again.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

// canonicalQuery sorts the query's parameters and encodes them.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	vals, _ := url.ParseQuery(raw)
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), vals[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	return strings.Join(parts, "&")
}

// uriEncode is SigV4's URI encoding: unreserved characters as they are,
// everything else %XX; '/' kept unless encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signature computes the hex signature of a canonical request.
func signature(secret string, a *authorization, amzDate, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + a.scope() + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+secret), a.date)
	k = hmacSHA256(k, a.region)
	k = hmacSHA256(k, a.service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}
