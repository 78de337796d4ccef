package dataplane

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"time"
)

// Sticky sessions, as ALB has them. A cookie names a target (or, for
// AWSALBTG, a target group) inside an AES-GCM sealed value with an expiry,
// so a client can neither read it nor forge one that picks a target of its
// choosing; a tampered or expired cookie is ignored and rewritten.

// StickyType is a target group's stickiness.
type StickyType int

// Stickiness types.
const (
	StickyNone StickyType = iota
	StickyLBCookie
	StickyAppCookie
)

// StickyConfig is a target group's stickiness attributes.
type StickyConfig struct {
	Type StickyType
	// Duration of a session (lb_cookie or app_cookie duration).
	Duration time.Duration
	// AppCookie is the application's cookie name (app_cookie).
	AppCookie string
}

// Cookie names ALB uses.
const (
	cookieLB     = "AWSALB"
	cookieLBCORS = "AWSALBCORS"
	cookieApp    = "AWSALBAPP-0"
	cookieTG     = "AWSALBTG"
	cookieTGCORS = "AWSALBTGCORS"
)

// cookieLifetime is the Expires of ALB's cookies: fixed at 7 days; the
// session duration is enforced inside the sealed value.
const cookieLifetime = 7 * 24 * time.Hour

// CookieSealer seals and opens sticky cookie values.
type CookieSealer struct {
	aead cipher.AEAD
}

// NewCookieSealer makes a sealer from a 32-byte key (kept in the store so
// sessions survive restarts and are shared by a cluster's nodes).
func NewCookieSealer(key []byte) (*CookieSealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &CookieSealer{aead: aead}, nil
}

// stickyID is the 16-byte identity a cookie carries.
type stickyID [16]byte

func makeStickyID(parts ...string) stickyID {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var id stickyID
	copy(id[:], h.Sum(nil))
	return id
}

const sealedLen = 12 + 1 + 8 + 16 + 16 // nonce, version, expiry, id, tag

// appendSealed appends the cookie value for id, valid until expiry.
func (s *CookieSealer) appendSealed(dst []byte, name string, id stickyID, expiry time.Time) []byte {
	var buf [sealedLen]byte
	binary.LittleEndian.PutUint64(buf[0:8], rand.Uint64())
	binary.LittleEndian.PutUint32(buf[8:12], rand.Uint32())
	var plain [1 + 8 + 16]byte
	plain[0] = 1
	binary.BigEndian.PutUint64(plain[1:9], uint64(expiry.Unix()))
	copy(plain[9:], id[:])
	s.aead.Seal(buf[12:12], buf[:12], plain[:], []byte(name))
	return base64.RawURLEncoding.AppendEncode(dst, buf[:])
}

// open returns the id a cookie value names when it is authentic and not
// expired.
func (s *CookieSealer) open(name string, value []byte, now time.Time) (stickyID, bool) {
	var raw [sealedLen + 3]byte
	if base64.RawURLEncoding.DecodedLen(len(value)) != sealedLen {
		return stickyID{}, false
	}
	n, err := base64.RawURLEncoding.Decode(raw[:], value)
	if err != nil || n != sealedLen {
		return stickyID{}, false
	}
	var plain [1 + 8 + 16]byte
	out, err := s.aead.Open(plain[:0], raw[:12], raw[12:sealedLen], []byte(name))
	if err != nil || len(out) != len(plain) || plain[0] != 1 {
		return stickyID{}, false
	}
	if int64(binary.BigEndian.Uint64(plain[1:9])) < now.Unix() {
		return stickyID{}, false
	}
	var id stickyID
	copy(id[:], plain[9:])
	return id, true
}

// cookieValue finds a cookie's value in the request's Cookie fields.
func cookieValue(hs []header, name string) ([]byte, bool) {
	for i := range hs {
		if !asciiEqualFold(hs[i].name, "cookie") {
			continue
		}
		v := hs[i].value
		for len(v) > 0 {
			var part []byte
			if j := bytes.IndexByte(v, ';'); j >= 0 {
				part, v = v[:j], v[j+1:]
			} else {
				part, v = v, nil
			}
			part = trimOWS(part)
			if len(part) > len(name) && part[len(name)] == '=' && string(part[:len(name)]) == name {
				return part[len(name)+1:], true
			}
		}
	}
	return nil, false
}

// stickyTarget returns the routable target the request's cookie names in g.
func (c *request) stickyTarget(g *TargetGroup, hs []header) (*Target, bool) {
	sealer := c.so.srv.Sealer
	if sealer == nil {
		return nil, false
	}
	name := cookieLB
	if g.Sticky.Type == StickyAppCookie {
		name = cookieApp
	}
	v, ok := cookieValue(hs, name)
	if !ok {
		return nil, false
	}
	id, ok := sealer.open(name, v, c.now)
	if !ok {
		return nil, true // present but not valid: rewrite it
	}
	for _, t := range g.Targets {
		if t.sticky == id {
			if t.routable() {
				return t, false
			}
			return nil, true
		}
	}
	return nil, true
}

// appendStickyCookies writes the Set-Cookie fields that keep the client on
// target t of group g. For app_cookie the load balancer's cookie follows
// the application's: it is set when the application sets its cookie or the
// session moved to another target.
func (c *request) appendStickyCookies(dst []byte, g *TargetGroup, t *Target, resp []header, moved bool) []byte {
	sealer := c.so.srv.Sealer
	if sealer == nil || g.Sticky.Type == StickyNone {
		return dst
	}
	until := c.now.Add(g.Sticky.Duration)
	switch g.Sticky.Type {
	case StickyLBCookie:
		dst = c.appendCookie(dst, cookieLB, cookieLB, t.sticky, until, false)
		dst = c.appendCookie(dst, cookieLBCORS, cookieLB, t.sticky, until, true)
	case StickyAppCookie:
		if moved || setsCookie(resp, g.Sticky.AppCookie) {
			dst = c.appendCookie(dst, cookieApp, cookieApp, t.sticky, until, false)
		}
	}
	return dst
}

// appendCookie writes one Set-Cookie field whose value names id until the
// session ends; sealName binds the value to its cookie family, so the CORS
// twin carries the same value. Expires is ALB's fixed 7 days.
func (c *request) appendCookie(dst []byte, name, sealName string, id stickyID, until time.Time, cors bool) []byte {
	dst = append(dst, "Set-Cookie: "...)
	dst = append(dst, name...)
	dst = append(dst, '=')
	dst = c.so.srv.Sealer.appendSealed(dst, sealName, id, until)
	dst = append(dst, "; Expires="...)
	dst = c.now.Add(cookieLifetime).UTC().AppendFormat(dst, http.TimeFormat)
	dst = append(dst, "; Path=/"...)
	if cors {
		dst = append(dst, "; SameSite=None; Secure"...)
	}
	return append(dst, "\r\n"...)
}

func setsCookie(hs []header, name string) bool {
	for i := range hs {
		v := hs[i].value
		if asciiEqualFold(hs[i].name, "set-cookie") && len(v) > len(name) && v[len(name)] == '=' && string(v[:len(name)]) == name {
			return true
		}
	}
	return false
}

// pickStickyGroup chooses the target group of a weighted forward, honoring
// an AWSALBTG cookie when group stickiness is on. It reports whether the
// cookie must be (re)written.
func (c *request) pickStickyGroup(a *Action, hs []header) (*TargetGroup, bool) {
	sealer := c.so.srv.Sealer
	if a.GroupStickiness <= 0 || sealer == nil || len(a.Groups) < 2 {
		return pickGroup(a.Groups), false
	}
	if v, ok := cookieValue(hs, cookieTG); ok {
		if id, ok := sealer.open(cookieTG, v, c.now); ok {
			for _, wg := range a.Groups {
				if wg.Group.state.sticky == id && wg.Weight > 0 {
					return wg.Group, true
				}
			}
		}
	}
	return pickGroup(a.Groups), true
}

func (c *request) appendGroupCookies(dst []byte, a *Action, g *TargetGroup) []byte {
	until := c.now.Add(a.GroupStickiness)
	dst = c.appendCookie(dst, cookieTG, cookieTG, g.state.sticky, until, false)
	return c.appendCookie(dst, cookieTGCORS, cookieTG, g.state.sticky, until, true)
}

// route chooses the target group of a forward action and the target the
// request's sticky cookie names, if any (rewrite: a cookie was present but
// no longer names a routable target).
func (c *request) route(a *Action, hs []header) (g *TargetGroup, writeTG bool, sticky *Target, rewrite bool) {
	g, writeTG = c.pickStickyGroup(a, hs)
	if g.Sticky.Type != StickyNone {
		sticky, rewrite = c.stickyTarget(g, hs)
	}
	return g, writeTG, sticky, rewrite
}

// choose returns the sticky target on a first attempt, else the
// algorithm's pick among the rest.
func (g *TargetGroup) choose(sticky, exclude *Target, now time.Time) *Target {
	if sticky != nil && exclude == nil {
		return sticky
	}
	return g.pick(exclude, now)
}
