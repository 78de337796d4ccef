package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sign-in and cross-site request forgery. With credentials configured the
// console asks for the access key id and secret the AWS API checks, and
// keeps the answer in a signed, HttpOnly, SameSite=Strict cookie for
// sessionTTL. Every state-changing request carries a token bound to the
// browser's own cookie (the double-submit pattern, signed so that a
// cookie planted from a sibling origin is worthless), and the admin
// address rejects cross-origin POSTs outright (net/http's
// CrossOriginProtection, in app).

const (
	sessionCookie = "alba_console"
	csrfCookie    = "alba_csrf"
	csrfField     = "csrf"
	sessionTTL    = 12 * time.Hour
)

func randomKey() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func (c *Console) sign(parts ...string) string {
	m := hmac.New(sha256.New, c.sessionKey)
	m.Write([]byte(strings.Join(parts, "|")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// authorized reports whether r may see the console: always when no
// credentials are configured.
func (c *Console) authorized(r *http.Request) bool {
	if c.opts.AccessKeyID == "" {
		return true
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	exp, mac, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || c.opts.Clock.Now().Unix() > unix {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(c.sign("session", c.opts.AccessKeyID, exp)))
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.opts.AccessKeyID == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Form: map[string]string{"next": r.URL.Query().Get("next")}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.checkCSRF(w, r) {
		return
	}
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		next = "/"
	}
	id, secret := r.PostFormValue("access_key_id"), r.PostFormValue("secret_access_key")
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(c.opts.AccessKeyID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(c.opts.SecretAccessKey)) == 1
	if c.opts.AccessKeyID == "" || !okID || !okSecret {
		c.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", Field: "secret_access_key",
			Error: formError("InvalidClientTokenId", "The access key id and secret access key do not match the ones Alba was started with (ALBA_ACCESS_KEY_ID, ALBA_SECRET_ACCESS_KEY)."),
			Form:  map[string]string{"next": next, "access_key_id": id}})
		return
	}
	exp := strconv.FormatInt(c.opts.Clock.Now().Add(sessionTTL).Unix(), 10)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: exp + "." + c.sign("session", c.opts.AccessKeyID, exp), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !c.checkCSRF(w, r) {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// csrfToken returns the token for r's browser, setting its cookie on the
// first page it sees.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request) string {
	id := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 16 && len(ck.Value) <= 64 {
		id = ck.Value
	} else {
		id = base64.RawURLEncoding.EncodeToString(randomKey()[:18])
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	return c.sign("csrf", id)
}

// checkCSRF answers 403 unless r carries the token its cookie calls for.
func (c *Console) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	got := r.PostFormValue(csrfField)
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	if err != nil || got == "" || !hmac.Equal([]byte(got), []byte(c.sign("csrf", ck.Value))) {
		http.Error(w, "this form is stale or came from another site (no valid CSRF token): reload the page and try again", http.StatusForbidden)
		return false
	}
	return true
}

func pathEscape(s string) string { return url.QueryEscape(s) }
