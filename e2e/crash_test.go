package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// lbState is what the store may hold of a load balancer.
type lbState int

const (
	lbThere    lbState = iota // acknowledged created
	lbGone                    // acknowledged deleted
	lbDeleting                // a delete was sent, not acknowledged: either
)

// acked is what the API acknowledged before a kill: what the store must
// hold after it. The writer's goroutine fills it and has returned (its
// count received) before check reads it.
type acked struct {
	groups    map[string]string // name -> ARN
	targets   map[string][]int  // group ARN -> registered ports
	lbs       map[string]lbState
	listeners map[string]string // listener ARN -> its load balancer's ARN
}

var (
	lbARNRe       = regexp.MustCompile(`<LoadBalancerArn>([^<]+)</LoadBalancerArn>`)
	tgARNRe       = regexp.MustCompile(`<TargetGroupArn>([^<]+)</TargetGroupArn>`)
	listenerARNRe = regexp.MustCompile(`<ListenerArn>([^<]+)</ListenerArn>`)
)

// kill -9 of Alba at random moments during a stream of API writes, 50
// times: the store always opens, every acknowledged write is in it, and
// nothing is half-applied (a listener without its load balancer or its
// default action, a rule without its listener).
func TestKillDuringAPIWritesLosesNothing(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { killInstances(dataDir) })
	a := &acked{groups: map[string]string{}, targets: map[string][]int{}, lbs: map[string]lbState{}, listeners: map[string]string{}}
	client := &http.Client{Timeout: 5 * time.Second}
	total := 0
	defer func() { t.Logf("%d acknowledged writes across 50 kills", total) }()
	// One admin port for every run: a free port picked later could be a
	// listener's of the store by then.
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for i := range 50 {
		first := "--from-store"
		if i == 0 {
			first = "--empty"
		}
		p := start(t, "up", first, "--data-dir", dataDir, "--admin", admin, "--listen-host", "127.0.0.1")
		waitFor(t, 15*time.Second, func() bool { return get("http://"+admin+"/healthz") == 200 })
		stop := make(chan struct{})
		wrote := make(chan int)
		go func() { wrote <- a.write(t, client, admin, i, stop) }()
		time.Sleep(time.Duration(20+rand.IntN(300)) * time.Millisecond) // a random moment
		p.cmd.Process.Kill()
		<-p.done
		close(stop)
		n := <-wrote
		total += n
		a.check(t, dataDir, i, n)
		if t.Failed() {
			return
		}
	}
}

// write sends API writes until stop or a failure (the kill), recording
// what is acknowledged; it returns how many were.
func (a *acked) write(t *testing.T, c *http.Client, admin string, i int, stop chan struct{}) int {
	do := func(form string) (string, bool) {
		resp, err := c.Post("http://"+admin+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			return "", false
		}
		return string(b), true
	}
	n := 0
	for k := 0; ; k++ {
		select {
		case <-stop:
			return n
		default:
		}
		name := fmt.Sprintf("tg-%d-%d", i, k)
		out, ok := do("Version=2015-12-01&Action=CreateTargetGroup&Protocol=HTTP&Port=80&TargetType=ip&Name=" + name)
		if !ok {
			return n
		}
		tg := tgARNRe.FindStringSubmatch(out)[1]
		a.groups[name] = tg
		n++
		port := 10000 + k
		if _, ok := do(fmt.Sprintf("Version=2015-12-01&Action=RegisterTargets&TargetGroupArn=%s&Targets.member.1.Id=127.0.0.9&Targets.member.1.Port=%d", url.QueryEscape(tg), port)); !ok {
			return n
		}
		a.targets[tg] = append(a.targets[tg], port)
		n++
		out, ok = do(fmt.Sprintf("Version=2015-12-01&Action=CreateLoadBalancer&Name=lb-%d-%d&Subnets.member.1=a&Subnets.member.2=b", i, k))
		if !ok {
			return n
		}
		lb := lbARNRe.FindStringSubmatch(out)[1]
		a.lbs[lb] = lbThere
		n++
		out, ok = do(fmt.Sprintf("Version=2015-12-01&Action=CreateListener&LoadBalancerArn=%s&Protocol=HTTP&Port=%d&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn=%s",
			url.QueryEscape(lb), freePort(t), url.QueryEscape(tg)))
		if !ok {
			return n
		}
		listener := listenerARNRe.FindStringSubmatch(out)[1]
		a.listeners[listener] = lb
		n++
		if _, ok := do(fmt.Sprintf("Version=2015-12-01&Action=CreateRule&ListenerArn=%s&Priority=1&Conditions.member.1.Field=path-pattern&Conditions.member.1.Values.member.1=/x&Actions.member.1.Type=forward&Actions.member.1.TargetGroupArn=%s",
			url.QueryEscape(listener), url.QueryEscape(tg))); !ok {
			return n
		}
		n++
		// Every other load balancer goes again, with its listener and
		// rules: the store must never keep a part of it.
		if k%2 == 1 {
			a.lbs[lb] = lbDeleting
			if _, ok := do("Version=2015-12-01&Action=DeleteLoadBalancer&LoadBalancerArn=" + url.QueryEscape(lb)); !ok {
				return n
			}
			a.lbs[lb] = lbGone
			n++
		}
	}
}

// check opens the store a killed Alba left and holds it to what was
// acknowledged.
func (a *acked) check(t *testing.T, dataDir string, i, n int) {
	t.Helper()
	st, err := store.OpenBolt(dataDir)
	if err != nil {
		t.Fatalf("kill %d (after %d acknowledged writes): the store does not open: %v", i, n, err)
	}
	defer st.Close()
	err = st.View(func(tx store.Tx) error {
		for name, arn := range a.groups {
			g, err := elb.TargetGroupByName(tx, name)
			if err != nil || g == nil || g.ARN != arn {
				t.Errorf("kill %d: acknowledged target group %s is missing (%v)", i, name, err)
				continue
			}
			ts, _ := elb.TargetsOf(tx, arn)
			for _, port := range a.targets[arn] {
				if !hasTarget(ts, port) {
					t.Errorf("kill %d: acknowledged target 127.0.0.9:%d of %s is missing", i, port, name)
				}
			}
		}
		for arn, want := range a.lbs {
			lb, err := elb.LoadBalancer(tx, arn)
			got := err == nil && lb != nil
			if want == lbThere && !got || want == lbGone && got {
				t.Errorf("kill %d: load balancer %s there=%v after an acknowledged %s", i, arn, got, map[lbState]string{lbThere: "create", lbGone: "delete"}[want])
			}
		}
		ls, err := elb.Listeners(tx)
		if err != nil {
			return err
		}
		byARN := map[string]bool{}
		for _, l := range ls {
			byARN[l.ARN] = true
			if lb, err := elb.LoadBalancer(tx, l.LoadBalancerARN); err != nil || lb == nil {
				t.Errorf("kill %d: listener %s outlived its load balancer", i, l.ARN)
			}
			if len(l.DefaultActions) == 0 {
				t.Errorf("kill %d: listener %s has no default action", i, l.ARN)
			}
		}
		rules, err := elb.Rules(tx, "")
		if err != nil {
			return err
		}
		for _, r := range rules {
			if !byARN[r.ListenerARN] {
				t.Errorf("kill %d: rule %s outlived its listener", i, r.ARN)
			}
		}
		for arn, lb := range a.listeners {
			if a.lbs[lb] == lbThere && !byARN[arn] {
				t.Errorf("kill %d: acknowledged listener %s is missing", i, arn)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kill %d: reading the store: %v", i, err)
	}
}

func hasTarget(ts []*model.Target, port int) bool {
	for _, tg := range ts {
		if tg.Port == port {
			return true
		}
	}
	return false
}
