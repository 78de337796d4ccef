package dataplane

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

func newSealer(t *testing.T) *CookieSealer {
	s, err := NewCookieSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealedCookieRoundTrip(t *testing.T) {
	s := newSealer(t)
	now := time.Unix(1_700_000_000, 0)
	id := makeStickyID("g", "i-1", "80")
	v := s.appendSealed(nil, cookieLB, id, now.Add(time.Hour))
	if got, ok := s.open(cookieLB, v, now); !ok || got != id {
		t.Fatalf("open: %v %v", got, ok)
	}
	if _, ok := s.open(cookieLB, v, now.Add(2*time.Hour)); ok {
		t.Error("an expired session was accepted")
	}
	if _, ok := s.open(cookieTG, v, now); ok {
		t.Error("a cookie was accepted under another name")
	}
	bad := append([]byte(nil), v...)
	bad[10] ^= 1
	if _, ok := s.open(cookieLB, bad, now); ok {
		t.Error("a tampered cookie was accepted")
	}
	if _, ok := s.open(cookieLB, []byte("garbage"), now); ok {
		t.Error("garbage accepted")
	}
}

func get(t *testing.T, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestLBCookieStickiness(t *testing.T) {
	a := backend(t, "a", nil)
	b := backend(t, "b", nil)
	f := newFixture(t, RoundRobin, hostport(a), hostport(b))
	f.srv.Sealer = newSealer(t)
	f.group.Sticky = StickyConfig{Type: StickyLBCookie, Duration: time.Hour}
	f.apply(t)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	first := get(t, client, f.url("/"))
	id := first.Header.Get("X-Instance-Id")
	var names []string
	for _, c := range first.Cookies() {
		names = append(names, c.Name)
		if c.Name == "AWSALBCORS" && (!c.Secure || c.SameSite != http.SameSiteNoneMode) {
			t.Errorf("AWSALBCORS must be SameSite=None; Secure: %+v", c)
		}
		if d := time.Until(c.Expires); d < 6*24*time.Hour {
			t.Errorf("cookie %s expires in %v, want 7 days", c.Name, d)
		}
	}
	if strings.Join(names, ",") != "AWSALB,AWSALBCORS" {
		t.Fatalf("cookies %v", names)
	}
	for i := 0; i < 100; i++ {
		if got := get(t, client, f.url("/")).Header.Get("X-Instance-Id"); got != id {
			t.Fatalf("request %d went to %s, session is on %s", i, got, id)
		}
	}
	// The sticky target dies: the client moves once and stays moved.
	for _, tg := range f.group.Targets {
		if tg.sticky == makeStickyID("tg", map[string]string{"a": "t0", "b": "t1"}[id], "0") {
			tg.SetHealthy(false)
		}
	}
	moved := get(t, client, f.url("/")).Header.Get("X-Instance-Id")
	if moved == id {
		t.Fatalf("still on the unhealthy target %s", id)
	}
	for _, tg := range f.group.Targets {
		tg.SetHealthy(true)
	}
	for i := 0; i < 20; i++ {
		if got := get(t, client, f.url("/")).Header.Get("X-Instance-Id"); got != moved {
			t.Fatalf("after the move, request %d went to %s, want %s", i, got, moved)
		}
	}
	// A client without the cookie is balanced as usual.
	seen := map[string]bool{}
	for i := 0; i < 10; i++ {
		seen[get(t, http.DefaultClient, f.url("/")).Header.Get("X-Instance-Id")] = true
	}
	if len(seen) != 2 {
		t.Errorf("clients without cookies saw %v", seen)
	}
}

func TestAppCookieStickiness(t *testing.T) {
	setCookie := func(id string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if _, err := r.Cookie("SESSION"); err != nil {
				http.SetCookie(w, &http.Cookie{Name: "SESSION", Value: id, Path: "/"})
			}
		}
	}
	a := backend(t, "a", setCookie("a"))
	b := backend(t, "b", setCookie("b"))
	f := newFixture(t, RoundRobin, hostport(a), hostport(b))
	f.srv.Sealer = newSealer(t)
	f.group.Sticky = StickyConfig{Type: StickyAppCookie, Duration: time.Hour, AppCookie: "SESSION"}
	f.apply(t)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	first := get(t, client, f.url("/"))
	var names []string
	for _, c := range first.Cookies() {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "SESSION,AWSALBAPP-0" {
		t.Fatalf("cookies %v: the app set its cookie, the LB must add AWSALBAPP-0", names)
	}
	id := first.Header.Get("X-Instance-Id")
	for i := 0; i < 30; i++ {
		if got := get(t, client, f.url("/")).Header.Get("X-Instance-Id"); got != id {
			t.Fatalf("request %d reached %s, session on %s", i, got, id)
		}
	}
}

func TestTargetGroupStickiness(t *testing.T) {
	a := backend(t, "a", nil)
	b := backend(t, "b", nil)
	f := newFixture(t, RoundRobin, hostport(a))
	f.srv.Sealer = newSealer(t)
	tb := f.reg.Get("tg2", "b", 0, hostport(b), "z")
	tb.SetHealthy(true)
	g2 := NewTargetGroup("arn:tg2", "tg2", []*Target{tb}, RoundRobin, 0, nil)
	_, port, _ := strings.Cut(f.addr, ":")
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	l := &Listener{Addr: f.addr, Port: p, Protocol: "HTTP", LoadBalancer: f.lb,
		Rules: []*Rule{{Action: Action{Type: ActionForward, GroupStickiness: time.Hour,
			Groups: []WeightedGroup{{Group: f.group, Weight: 50}, {Group: g2, Weight: 50}}}}}}
	if err := f.srv.Apply(&Table{Listeners: map[string]*Listener{f.addr: l}}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	first := get(t, client, f.url("/"))
	id := first.Header.Get("X-Instance-Id")
	hasTG := false
	for _, c := range first.Cookies() {
		hasTG = hasTG || c.Name == "AWSALBTG"
	}
	if !hasTG {
		t.Fatal("no AWSALBTG cookie")
	}
	for i := 0; i < 40; i++ {
		if got := get(t, client, f.url("/")).Header.Get("X-Instance-Id"); got != id {
			t.Fatalf("request %d switched group: %s, want %s", i, got, id)
		}
	}
}
