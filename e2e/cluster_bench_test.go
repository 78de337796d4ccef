package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/etcdtest"
)

// median of ds, in milliseconds.
func medianMS(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2]) / float64(time.Millisecond)
}

// A target registered through one node's API is live on every node (in
// its /api/targets) within: the median of 20. The goal is under 1 s.
func BenchmarkClusterChangeLive(b *testing.B) {
	etcd := etcdtest.New(b, 3)
	cfg := anyAddress(config(freePort(b), nil, ""))
	nodes := cluster(b, etcd, cfg, 3)
	var ds []time.Duration
	for i := range 20 {
		port := 20000 + i
		start := time.Now()
		query(b, nodes[0].admin, fmt.Sprintf("Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=%s&Targets.member.1.Id=127.0.0.9&Targets.member.1.Port=%d", tgARN(b, nodes[0].admin), port))
		for _, nd := range nodes {
			for !hasTargetPort(nd.admin, port) {
				if time.Since(start) > 30*time.Second {
					b.Fatalf("target %d not live on %s within 30s", port, nd.id)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		ds = append(ds, time.Since(start))
	}
	b.ReportMetric(medianMS(ds), "ms-to-every-node")
}

// The time from kill -9 of the leader to another node leading: the median
// of 10.
func BenchmarkClusterFailover(b *testing.B) {
	etcd := etcdtest.New(b, 3)
	cfg := anyAddress(config(freePort(b), nil, ""))
	nodes := cluster(b, etcd, cfg, 3)
	var ds []time.Duration
	for range 10 {
		var leader string
		waitFor(b, 30*time.Second, func() bool { leader = leaderOfAdmin(nodes[0].admin); return leader != "" })
		var dead, other *node
		for _, nd := range nodes {
			if nd.id == leader {
				dead = nd
			} else {
				other = nd
			}
		}
		dead.kill()
		start := time.Now()
		waitFor(b, 30*time.Second, func() bool { l := leaderOfAdmin(other.admin); return l != "" && l != leader })
		ds = append(ds, time.Since(start))
		dead.run(b, dead.args...)
	}
	b.ReportMetric(medianMS(ds), "ms-failover")
}

// tgARN is the ARN of the target group web.
func tgARN(b testing.TB, admin string) string {
	body := query(b, admin, "Action=DescribeTargetGroups&Version=2015-12-01&Names.member.1=web")
	i := strings.Index(body, "<TargetGroupArn>")
	j := strings.Index(body, "</TargetGroupArn>")
	if i < 0 || j < i {
		b.Fatalf("no target group web: %s", body)
	}
	return body[i+len("<TargetGroupArn>") : j]
}

func hasTargetPort(admin string, port int) bool {
	resp, err := http.Get("http://" + admin + "/api/targets")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var ts []targetHealth
	if json.NewDecoder(resp.Body).Decode(&ts) != nil {
		return false
	}
	for _, th := range ts {
		if th.Port == port {
			return true
		}
	}
	return false
}

func leaderOfAdmin(admin string) string {
	resp, err := http.Get("http://" + admin + "/api/nodes")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var ns []nodeRow
	if json.NewDecoder(resp.Body).Decode(&ns) != nil {
		return ""
	}
	return leaderOf(ns)
}
