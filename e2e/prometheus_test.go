package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Real Prometheus (Debian's) scrapes Alba every second; its rate() of the
// load balancer's requests is the rate the load generator sent, and
// promtool finds nothing to say about /metrics.
func TestPrometheusScrapesTheRateSent(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (apt-get install prometheus)")
	}
	_, port := catalog(t, "prom-a")
	lport := freePort(t)
	l := up(t, config(lport, []int{port}, fastHealth))
	l.waitHealthy(t, port)

	exposition := func() []byte {
		resp, err := http.Get("http://" + l.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.Bytes()
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(exposition())
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: alba
    static_configs: [{targets: ["%s"]}]
`, l.admin)), 0o600)
	web := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	var plog syncBuffer
	p.Stdout, p.Stderr = &plog, &plog
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Process.Kill(); p.Wait() })
	query := func(q string, at time.Time) (float64, bool) {
		resp, err := http.Get("http://" + web + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode())
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	// Prometheus has scraped Alba once it knows the series.
	waitFor(t, 30*time.Second, func() bool {
		_, ok := query(`alba_load_balancer_requests_total{load_balancer="web"}`, time.Now())
		return ok
	})

	const rate = 100
	began := time.Now()
	stdout, stderr, code := runAlba(t, 60*time.Second, "loadtest", "--target", fmt.Sprintf("http://127.0.0.1:%d", lport),
		"--paths", "/status", "--rate", strconv.Itoa(rate), "-d", "20s", "--fail-on-error")
	if code != 0 {
		t.Fatalf("alba loadtest exited %d\n%s\n%s", code, stdout, stderr)
	}
	// Ten seconds of scrapes in the middle of the run, past its ramp-up.
	mid := began.Add(15 * time.Second)
	for _, q := range []string{
		`rate(alba_load_balancer_requests_total{load_balancer="web"}[10s])`,
		`sum(rate(alba_target_responses_total{target_group="web",code="2xx"}[10s]))`,
		`sum(rate(alba_target_response_time_seconds_count{target_group="web"}[10s]))`,
	} {
		v, ok := query(q, mid)
		if !ok || v < rate*0.95 || v > rate*1.05 {
			t.Errorf("%s = %.1f (answered: %v), the load generator sent %d/s\nprometheus:\n%s", q, v, ok, rate, tail(plog.String(), 2000))
		} else {
			t.Logf("%s = %.1f, sent %d/s", q, v, rate)
		}
	}
	if v, ok := query(`histogram_quantile(0.99, sum by (le) (rate(alba_target_response_time_seconds_bucket{target_group="web"}[10s])))`, mid); !ok || v <= 0 || v > 1 {
		t.Errorf("p99 of the response time from the histogram: %v %v", v, ok)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
