package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/smuggling"
)

// The smuggling and conformance suite side by side: the real alba binary,
// HAProxy and NGINX from Debian, each in front of the same recording
// target. Alba answers each case as the suite says, and is never the
// laxer one: a case both others refuse, Alba refuses too. With
// ALBA_SMUGGLING_TABLE set, the table (case → Alba → HAProxy → NGINX) is
// written there (docs/smuggling.md).
func TestSmugglingSideBySide(t *testing.T) {
	// Each proxy has a recording target of its own, so the three run at once.
	newTarget := func() *smuggling.Target {
		target, err := smuggling.NewTarget()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { target.Close() })
		return target
	}
	dir := t.TempDir()
	target := newTarget()
	_, tport, _ := net.SplitHostPort(target.Addr())

	type proxy struct {
		name, addr string
		target     *smuggling.Target
	}
	var proxies []proxy
	// Alba.
	aport := freePort(t)
	file := filepath.Join(dir, "alba.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`load_balancers:
  - name: suite
    listeners:
      - {protocol: HTTP, port: %d, address: 127.0.0.1, default_action: {forward: suite}}
target_groups:
  - name: suite
    port: %s
    target_type: ip
    health_check: {path: /status, interval_seconds: 10}
    targets: [{id: 127.0.0.1, port: %s}]
`, aport, tport, tport)), 0o644)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "up", "-f", file, "--data-dir", filepath.Join(dir, "data"), "--admin", admin)
	alba := fmt.Sprintf("127.0.0.1:%d", aport)
	waitFor(t, 20*time.Second, func() bool { return get("http://"+alba+"/a") == 200 })
	proxies = append(proxies, proxy{"Alba", alba, target})
	// HAProxy and NGINX, where installed (CI installs them).
	if bin, err := exec.LookPath("haproxy"); err == nil {
		port, target := freePort(t), newTarget()
		cfg := filepath.Join(dir, "haproxy.cfg")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    server t %s
`, port, target.Addr())), 0o644)
		p := exec.Command(bin, "-f", cfg, "-db")
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Process.Kill(); p.Wait() })
		proxies = append(proxies, proxy{"HAProxy", fmt.Sprintf("127.0.0.1:%d", port), target})
	} else if os.Getenv("CI") == "true" {
		t.Fatal("haproxy is not installed (apt-get install haproxy)")
	}
	if bin, err := exec.LookPath("nginx"); err == nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
			bin = "/usr/sbin/nginx"
		}
		port, target := freePort(t), newTarget()
		cfg := filepath.Join(dir, "nginx.conf")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`daemon off;
master_process off;
pid %s/nginx.pid;
error_log %s/nginx-error.log;
events {}
http {
    access_log off;
    client_body_temp_path %s;
    proxy_temp_path %s;
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://%s;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`, dir, dir, dir, dir, port, target.Addr())), 0o644)
		p := exec.Command(bin, "-c", cfg, "-p", dir)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Process.Kill(); p.Wait() })
		proxies = append(proxies, proxy{"NGINX", fmt.Sprintf("127.0.0.1:%d", port), target})
	} else if os.Getenv("CI") == "true" {
		t.Fatal("nginx is not installed (apt-get install nginx)")
	}
	for _, p := range proxies {
		waitFor(t, 10*time.Second, func() bool { return get("http://"+p.addr+"/a") == 200 })
		p.target.TakeQuiet(100 * time.Millisecond)
	}

	// result is what one proxy did with a case.
	type result struct {
		status    int
		forwarded int
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| case | expected |")
	for _, p := range proxies {
		fmt.Fprintf(&table, " %s |", p.name)
	}
	table.WriteString("\n|---|---|" + strings.Repeat("---|", len(proxies)) + "\n")
	cell := func(r result) string {
		if r.status == 0 {
			return fmt.Sprintf("no answer, %d forwarded", r.forwarded)
		}
		return fmt.Sprintf("%d, %d forwarded", r.status, r.forwarded)
	}
	results := make([][]result, len(proxies)) // [proxy][case]
	var wg sync.WaitGroup
	for i, p := range proxies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range smuggling.Cases {
				st, _ := smuggling.Send(p.addr, nil, c.Raw, 250*time.Millisecond)
				r := result{forwarded: len(p.target.TakeQuiet(100 * time.Millisecond))}
				if len(st) > 0 {
					r.status = st[0]
				}
				results[i] = append(results[i], r)
			}
		}()
	}
	wg.Wait()
	for ci, c := range smuggling.Cases {
		var rs []result
		for i := range proxies {
			rs = append(rs, results[i][ci])
		}
		if rs[0].status != c.Status || rs[0].forwarded != c.Forwarded {
			t.Errorf("%s: Alba %s, want %d and %d forwarded", c.Name, cell(rs[0]), c.Status, c.Forwarded)
		}
		if len(rs) == 3 && rs[1].forwarded == 0 && rs[2].forwarded == 0 && rs[0].forwarded > 0 {
			t.Errorf("%s: HAProxy and NGINX refuse it, Alba forwards it", c.Name)
		}
		fmt.Fprintf(&table, "| %s | %d, %d forwarded |", c.Name, c.Status, c.Forwarded)
		for _, r := range rs {
			fmt.Fprintf(&table, " %s |", cell(r))
		}
		table.WriteString("\n")
	}
	if path := os.Getenv("ALBA_SMUGGLING_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(table.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("\n%s", table.String())
}
