package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/certs"
)

// echoBackend answers with the request's headers as JSON and switches
// protocols for WebSocket-style upgrades, then echoes bytes.
func echoBackend(t *testing.T, id string) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Instance-Id", id)
		if r.Header.Get("Upgrade") == "websocket" {
			hj := w.(http.Hijacker)
			c, brw, err := hj.Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			io.Copy(c, brw)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"headers": r.Header, "host": r.Host, "proto": r.Proto})
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// writeCert makes a self-signed certificate for names in dir.
func writeCert(t *testing.T, dir, name string, keyType string, names ...string) (string, string) {
	t.Helper()
	c, k, err := certs.Generate(certs.GenerateOptions{CommonName: names[0], DNSNames: names, Days: 30, KeyType: keyType})
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(cf, c, 0o644)
	os.WriteFile(kf, k, 0o600)
	return cf, kf
}

func peerCN(t *testing.T, addr, serverName string, cfg *tls.Config) (string, error) {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	cfg.ServerName = serverName
	cfg.InsecureSkipVerify = true
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

func TestHTTPSListener(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "default", "rsa2048", "localhost")
	writeCert(t, dir, "a", "ecdsa-p256", "a.example.test")
	writeCert(t, dir, "wild", "rsa2048", "*.b.example.test")
	backend := echoBackend(t, "echo")
	hport, sport := freePort(t), freePort(t)
	yaml := fmt.Sprintf(`certificates:
  - {name: default, certificate_file: %[1]s/default.crt, private_key_file: %[1]s/default.key}
  - {name: a, certificate_file: %[1]s/a.crt, private_key_file: %[1]s/a.key}
  - {name: wild, certificate_file: %[1]s/wild.crt, private_key_file: %[1]s/wild.key}
load_balancers:
  - name: web
    listeners:
      - protocol: HTTP
        port: %[2]d
        address: 127.0.0.1
        default_action:
          redirect: {protocol: HTTPS, port: "%[3]d", status_code: 301}
      - protocol: HTTPS
        port: %[3]d
        address: 127.0.0.1
        certificates: [default, a, wild]
        default_action: {forward: web}
        rules:
          - priority: 10
            conditions: {path: ["/health"]}
            action: {fixed_response: {status_code: 200, content_type: text/plain, body: "alba ok"}}
target_groups:
  - name: web
    port: %[4]d
    target_type: ip
%[5]s    targets:
      - {id: 127.0.0.1, port: %[4]d}
`, dir, hport, sport, backend, fastHealth)
	l := up(t, yaml)
	l.waitHealthy(t, backend)
	saddr := fmt.Sprintf("127.0.0.1:%d", sport)

	t.Run("SNI picks the certificate", func(t *testing.T) {
		for _, tc := range []struct{ sni, want string }{
			{"a.example.test", "a.example.test"},
			{"x.b.example.test", "*.b.example.test"},
			{"b.example.test", "localhost"}, // *.b does not match b
			{"", "localhost"},
			{"other.test", "localhost"},
		} {
			cn, err := peerCN(t, saddr, tc.sni, nil)
			if err != nil || cn != tc.want {
				t.Errorf("SNI %q: %q %v, want %q", tc.sni, cn, err, tc.want)
			}
		}
	})

	t.Run("default policy refuses TLS 1.1", func(t *testing.T) {
		if _, err := peerCN(t, saddr, "localhost", &tls.Config{MaxVersion: tls.VersionTLS11}); err == nil {
			t.Error("a TLS 1.1 handshake succeeded under ELBSecurityPolicy-TLS13-1-2-2021-06")
		}
		if _, err := peerCN(t, saddr, "localhost", &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}); err != nil {
			t.Errorf("TLS 1.2: %v", err)
		}
	})

	t.Run("HTTP/2 and forwarded headers", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
		resp, err := client.Get("https://" + saddr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Headers http.Header
			Host    string
			Proto   string
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.Proto != "HTTP/2.0" {
			t.Errorf("client protocol %s, want HTTP/2.0", resp.Proto)
		}
		if got.Proto != "HTTP/1.1" {
			t.Errorf("target saw %s, want HTTP/1.1", got.Proto)
		}
		if got.Headers.Get("X-Forwarded-Proto") != "https" || got.Headers.Get("X-Forwarded-Port") != fmt.Sprint(sport) || got.Headers.Get("X-Forwarded-For") != "127.0.0.1" {
			t.Errorf("forwarded headers over h2: %v", got.Headers)
		}
		// HTTP/1.1 over TLS too.
		c1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
		resp, err = c1.Get("https://" + saddr + "/y")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.Proto != "HTTP/1.1" || got.Headers.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("h1 over TLS: %s %v", resp.Proto, got.Headers)
		}
		// Rules apply on HTTPS.
		resp, err = client.Get("https://" + saddr + "/health")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "alba ok" {
			t.Errorf("fixed response rule: %d %q", resp.StatusCode, b)
		}
	})

	t.Run("HTTP redirects to HTTPS", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(fmt.Sprintf("http://localhost:%d/a/b?c=1", hport))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := fmt.Sprintf("https://localhost:%d/a/b?c=1", sport)
		if resp.StatusCode != 301 || resp.Header.Get("Location") != want {
			t.Errorf("redirect %d %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
	})

	t.Run("WebSocket over HTTPS", func(t *testing.T) {
		c, err := tls.Dial("tcp", saddr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		io.WriteString(c, "hello")
		buf := make([]byte, 5)
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "hello" {
			t.Errorf("echo %q %v", buf, err)
		}
	})

	t.Run("real clients: curl and openssl", func(t *testing.T) {
		if curl, err := exec.LookPath("curl"); err == nil {
			out, err := exec.Command(curl, "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version}", "https://"+saddr+"/").CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "2" {
				t.Errorf("curl --http2: %q %v", out, err)
			}
		} else if os.Getenv("CI") == "true" {
			t.Error("curl is not installed")
		}
		if openssl, err := exec.LookPath("openssl"); err == nil {
			cmd := exec.Command(openssl, "s_client", "-connect", saddr, "-servername", "a.example.test")
			cmd.Stdin = strings.NewReader("")
			out, _ := cmd.CombinedOutput()
			if !strings.Contains(string(out), "CN = a.example.test") && !strings.Contains(string(out), "CN=a.example.test") {
				t.Errorf("openssl s_client with SNI a.example.test:\n%s", out)
			}
			cmd = exec.Command(openssl, "s_client", "-connect", saddr, "-tls1_1")
			cmd.Stdin = strings.NewReader("")
			if out, err := cmd.CombinedOutput(); err == nil && strings.Contains(string(out), "Protocol  : TLSv1.1") {
				t.Errorf("openssl negotiated TLS 1.1:\n%s", out)
			}
		} else if os.Getenv("CI") == "true" {
			t.Error("openssl is not installed")
		}
	})

	t.Run("certificate rotation keeps open connections", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		client := &http.Client{Transport: tr}
		resp, err := client.Get("https://" + saddr + "/before")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		writeCert(t, dir, "default", "rsa2048", "rotated.test")
		l.signal(syscall.SIGHUP)
		waitFor(t, 10*time.Second, func() bool {
			cn, err := peerCN(t, saddr, "", nil)
			return err == nil && cn == "rotated.test"
		})
		// The connection opened before the rotation still works.
		resp, err = client.Get("https://" + saddr + "/after")
		if err != nil {
			t.Fatalf("open connection broke on rotation: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.TLS.PeerCertificates[0].Subject.CommonName != "localhost" {
			t.Errorf("the reused connection should keep its handshake's certificate")
		}
	})
}

func TestStickySessionsAndSecurityGroup(t *testing.T) {
	var ports []int
	procs := map[string]*proc{}
	for _, id := range []string{"a", "b", "c"} {
		p, port := catalog(t, id)
		ports = append(ports, port)
		procs[id] = p
	}
	lport := freePort(t)
	cfg := strings.Replace(config(lport, ports, fastHealth+"    attributes: {stickiness.enabled: true, stickiness.type: lb_cookie, stickiness.lb_cookie.duration_seconds: 120}\n"),
		"    attributes:\n      idle_timeout.timeout_seconds: 10\n", "    security_groups: [{cidr: 127.0.0.1/32}]\n    attributes:\n      idle_timeout.timeout_seconds: 10\n", 1)
	l := up(t, cfg)
	l.waitHealthy(t, ports...)
	url := fmt.Sprintf("http://127.0.0.1:%d/status", lport)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	first, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	id := first.Header.Get("X-Instance-Id")
	for _, c := range first.Cookies() {
		if d := time.Until(c.Expires); d < 6*24*time.Hour || d > 8*24*time.Hour {
			t.Errorf("cookie %s expires in %v, want 7 days", c.Name, d)
		}
	}
	for i := 0; i < 100; i++ {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Instance-Id"); got != id {
			t.Fatalf("request %d reached %s, the session is on %s", i, got, id)
		}
	}
	// A tampered cookie is ignored, not trusted: requests are balanced.
	seen := map[string]bool{}
	for i := 0; i < 12; i++ {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Cookie", "AWSALB=AAAAtamperedAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[resp.Header.Get("X-Instance-Id")] = true
	}
	if len(seen) < 2 {
		t.Errorf("a tampered cookie pinned the client: %v", seen)
	}
	// Kill the sticky instance: the client moves once and stays moved.
	procs[id].cmd.Process.Kill()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	moved := resp.Header.Get("X-Instance-Id")
	if moved == id || resp.StatusCode != 200 {
		t.Fatalf("after the kill: %d from %s", resp.StatusCode, moved)
	}
	for i := 0; i < 30; i++ {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Instance-Id"); got != moved {
			t.Fatalf("request %d after the move reached %s, want %s", i, got, moved)
		}
	}

	// Security group: 127.0.0.1 may connect, 127.0.0.2 may not.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	other := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 3 * time.Second}
	if resp, err := other.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("a client from 127.0.0.2 was served (%d)", resp.StatusCode)
	}
	c, err := d.DialContext(context.Background(), "tcp", fmt.Sprintf("127.0.0.1:%d", lport))
	if err == nil {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
		n, _ := c.Read(make([]byte, 1))
		c.Close()
		if n > 0 {
			t.Errorf("a refused client read a response byte")
		}
	}
}

func TestWeightedForwardSplits(t *testing.T) {
	_, a := catalog(t, "a")
	_, b := catalog(t, "b")
	lport := freePort(t)
	yaml := fmt.Sprintf(`load_balancers:
  - name: web
    listeners:
      - protocol: HTTP
        port: %d
        address: 127.0.0.1
        default_action:
          forward_weighted:
            - {target_group: blue, weight: 80}
            - {target_group: green, weight: 20}
        rules:
          - priority: 5
            conditions: {headers: [{name: X-Canary, values: ["yes"]}]}
            action: {forward: green}
          - priority: 10
            conditions: {path: ["/static/*"], method: [GET]}
            action: {fixed_response: {status_code: 404, content_type: text/plain, body: "no static here"}}
target_groups:
  - name: blue
    port: %d
    target_type: ip
%s    targets: [{id: 127.0.0.1, port: %d}]
  - name: green
    port: %d
    target_type: ip
%s    targets: [{id: 127.0.0.1, port: %d}]
`, lport, a, fastHealth, a, b, fastHealth, b)
	l := up(t, yaml)
	l.waitHealthy(t, a, b)
	base := fmt.Sprintf("http://127.0.0.1:%d", lport)
	counts := map[string]int{}
	client := &http.Client{}
	for i := 0; i < 5000; i++ {
		resp, err := client.Get(base + "/status")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		counts[resp.Header.Get("X-Instance-Id")]++
	}
	if counts["a"] < 3750 || counts["a"] > 4250 {
		t.Errorf("80/20 split over 5000 requests: %v", counts)
	}
	req, _ := http.NewRequest("GET", base+"/status", nil)
	req.Header.Set("X-Canary", "YES")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Instance-Id") != "b" {
		t.Errorf("header rule (priority 5) not applied: %s", resp.Header.Get("X-Instance-Id"))
	}
	resp, err = client.Get(base + "/static/x.png")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || string(body) != "no static here" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("fixed response: %d %q", resp.StatusCode, body)
	}
	resp, err = client.Post(base+"/static/x.png", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Instance-Id") == "" {
		t.Errorf("method condition ignored: POST matched a GET rule")
	}
}
