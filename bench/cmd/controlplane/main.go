// Command controlplane measures how the control plane's cost grows with the
// number of resources (issue 11): the time from `alba up -f FILE` to the
// listener accepting, for a file of ip target groups of 20 targets each and
// a listener with rules; then, on a store of that size, how long one
// RegisterTargets and one SetDesiredCapacity (AWS Query API on the admin
// address) take to be live in the data plane; and the memory Alba holds.
//
//	go run ./bench/cmd/controlplane                       # 50, 100, 200 groups; 500 groups with 100 rules
//	go run ./bench/cmd/controlplane -cases 500x100 -n 10  # one size, 10 samples of each change
//
// Each case runs in a fresh child process (the program re-executes itself)
// so that RSS is that of one node of that size.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/app"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/lbcontroller"
	"github.com/alba-lb/alba/internal/store"
)

func main() {
	cases := flag.String("cases", "50x0,100x0,200x0,500x100", "comma-separated GROUPSxRULES cases")
	perGroup := flag.Int("targets", 20, "targets per group")
	samples := flag.Int("n", 5, "samples of RegisterTargets and SetDesiredCapacity per case")
	one := flag.String("one", "", "run one GROUPSxRULES case in this process (used by the parent)")
	flag.BoolVar(&verbose, "v", false, "print every sample to stderr")
	flag.DurationVar(&settle, "settle", time.Second, "wait this long after the listener accepts before the changes: the first health check of every target starts at once")
	flag.StringVar(&profile, "cpuprofile", "", "with -one: write CPU profiles of the apply and of the changes to FILE.apply and FILE.changes")
	flag.Parse()
	if *one != "" {
		g, r, err := parseCase(*one)
		if err == nil {
			err = runCase(g, r, *perGroup, *samples)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "controlplane:", err)
			os.Exit(1)
		}
		return
	}
	fmt.Printf("| groups | rules | targets | apply → listener accepts | RegisterTargets live (median / max) | SetDesiredCapacity live (median / max) | reload, same file | Go heap after GC | RSS |\n")
	fmt.Printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range strings.Split(*cases, ",") {
		cmd := exec.Command(os.Args[0], "-one", c, "-targets", strconv.Itoa(*perGroup), "-n", strconv.Itoa(*samples), "-v="+strconv.FormatBool(verbose), "-settle", settle.String())
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "controlplane: case %s: %v\n", c, err)
			os.Exit(1)
		}
		fmt.Print(string(out))
	}
}

var (
	profile string
	verbose bool
	settle  time.Duration
)

// startProfile profiles until the returned function is called (nothing
// without -cpuprofile).
func startProfile(suffix string) func() {
	if profile == "" {
		return func() {}
	}
	f, err := os.Create(profile + "." + suffix)
	if err != nil {
		panic(err)
	}
	pprof.StartCPUProfile(f)
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func parseCase(s string) (groups, rules int, err error) {
	a, b, ok := strings.Cut(s, "x")
	if !ok {
		return 0, 0, fmt.Errorf("case %q is not GROUPSxRULES", s)
	}
	if groups, err = strconv.Atoi(a); err != nil {
		return
	}
	rules, err = strconv.Atoi(b)
	if rules >= groups {
		err = fmt.Errorf("case %q: rules must be fewer than groups (rule i forwards to group i)", s)
	}
	return
}

// config writes the file: groups g0000… (ip, 20 loopback targets on a
// closed port, so health checks fail fast and cheaply), one load balancer
// with one HTTP listener forwarding to g0000 by default and rule i to
// group i, and an auto scaling group of `sleep` processes (desired 0)
// registered in its own instance target group.
func config(groups, rules, perGroup, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "load_balancers:\n  - name: scale\n    listeners:\n      - protocol: HTTP\n        port: %d\n        address: 127.0.0.1\n        default_action: {forward: g0000}\n", port)
	if rules > 0 {
		b.WriteString("        rules:\n")
		for i := 1; i <= rules; i++ {
			fmt.Fprintf(&b, "          - priority: %d\n            conditions: {path: [\"/r%d/*\"]}\n            action: {forward: g%04d}\n", i, i, i)
		}
	}
	b.WriteString("target_groups:\n")
	for g := 0; g < groups; g++ {
		fmt.Fprintf(&b, "  - name: g%04d\n    protocol: HTTP\n    port: 9\n    target_type: ip\n    health_check: {path: /, interval_seconds: 30, timeout_seconds: 5}\n    targets:\n", g)
		for t := 0; t < perGroup; t++ {
			fmt.Fprintf(&b, "      - {id: 127.%d.%d.%d, port: 9}\n", 1+g/250, g%250, t+1)
		}
	}
	b.WriteString(`  - name: asg
    protocol: HTTP
    port: 9
    target_type: instance
    health_check: {path: /, interval_seconds: 30, timeout_seconds: 5}
launch_templates:
  - name: sleeper
    versions:
      - user_data: |
          #!/bin/bash
          exec sleep 3600
auto_scaling_groups:
  - name: asg
    launch_template: {name: sleeper, version: $Default}
    min_size: 0
    desired_capacity: 0
    max_size: 100
    zones: [zone-a]
    target_groups: [asg]
    health_check_type: EC2
`)
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func runCase(groups, rules, perGroup, samples int) error {
	dir, err := os.MkdirTemp("", "alba-controlplane-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return err
	}
	file := filepath.Join(dir, "alba.yaml")
	if err := os.WriteFile(file, []byte(config(groups, rules, perGroup, port)), 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	stop := startProfile("apply")
	start := time.Now()
	node, err := app.Start(ctx, app.Options{DataDir: filepath.Join(dir, "data"), ConfigFile: file, AdminAddr: "127.0.0.1:0",
		ListenHost: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("listener not accepting after %v: %v", time.Since(start), err)
		}
		time.Sleep(time.Millisecond)
	}
	applied := time.Since(start)
	stop()
	runDone := make(chan error, 1)
	go func() { runDone <- node.Run(ctx) }()

	var g0, asg string
	node.Store.View(func(tx store.Tx) error {
		if g, err := elb.TargetGroupByName(tx, "g0000"); err == nil && g != nil {
			g0 = g.ARN
		}
		if g, err := elb.TargetGroupByName(tx, "asg"); err == nil && g != nil {
			asg = g.ARN
		}
		return nil
	})
	api := "http://" + node.AdminAddr().String() + "/"
	time.Sleep(settle)

	stop = startProfile("changes")
	var reg []time.Duration
	for i := 0; i < samples; i++ {
		id := fmt.Sprintf("127.250.0.%d", i+1)
		t0 := time.Now()
		if err := call(api, url.Values{"Action": {"RegisterTargets"}, "Version": {"2015-12-01"}, "TargetGroupArn": {g0},
			"Targets.member.1.Id": {id}, "Targets.member.1.Port": {"9"}}); err != nil {
			return err
		}
		if err := waitFor(node.Controller, func(s *lbcontroller.Snapshot) bool { return liveTarget(s, g0, id) }); err != nil {
			return fmt.Errorf("RegisterTargets: %w", err)
		}
		reg = append(reg, time.Since(t0))
	}
	var asc []time.Duration
	for i := 1; i <= samples; i++ {
		t0 := time.Now()
		if err := call(api, url.Values{"Action": {"SetDesiredCapacity"}, "Version": {"2011-01-01"}, "AutoScalingGroupName": {"asg"},
			"DesiredCapacity": {strconv.Itoa(i)}}); err != nil {
			return err
		}
		if err := waitFor(node.Controller, func(s *lbcontroller.Snapshot) bool { return groupSize(s, asg) >= i }); err != nil {
			return fmt.Errorf("SetDesiredCapacity: %w", err)
		}
		asc = append(asc, time.Since(t0))
	}
	// A reload of the same file: every resource is applied again and
	// compiled, none changes.
	t0 := time.Now()
	if err := node.Reload(); err != nil {
		return err
	}
	rev := node.Store.Revision()
	if err := waitFor(node.Controller, func(s *lbcontroller.Snapshot) bool { return s.Revision >= rev }); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	reload := time.Since(t0)
	stop()
	if verbose {
		fmt.Fprintf(os.Stderr, "%dx%d RegisterTargets %v\n%dx%d SetDesiredCapacity %v\n", groups, rules, reg, groups, rules, asc)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := rssBytes()
	fmt.Printf("| %d | %d | %d | %s | %s / %s | %s / %s | %s | %.0f MiB | %.0f MiB |\n", groups, rules, groups*perGroup,
		round(applied), round(median(reg)), round(maxOf(reg)), round(median(asc)), round(maxOf(asc)), round(reload),
		float64(ms.HeapAlloc)/(1<<20), float64(rss)/(1<<20))
	cancel()
	return <-runDone
}

func call(api string, v url.Values) error {
	resp, err := http.PostForm(api, v)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s: %s", v.Get("Action"), resp.Status, body)
	}
	return nil
}

// waitFor waits for a compiled snapshot that satisfies ok.
func waitFor(c *lbcontroller.Controller, ok func(*lbcontroller.Snapshot) bool) error {
	deadline := time.After(time.Minute)
	for {
		next := c.Compiled()
		if s := c.Snapshot(); s != nil && ok(s) {
			return nil
		}
		select {
		case <-next:
		case <-deadline:
			return fmt.Errorf("not live after a minute")
		}
	}
}

// liveTarget reports whether the routing table forwards to id in group arn.
func liveTarget(s *lbcontroller.Snapshot, arn, id string) bool {
	g := s.Table.Group(arn)
	if g == nil {
		return false
	}
	for _, t := range g.Targets {
		if t.ID == id {
			return true
		}
	}
	return false
}

// groupSize counts the group's compiled targets that are not draining.
func groupSize(s *lbcontroller.Snapshot, arn string) int {
	for _, g := range s.Groups {
		if g.Group.ARN == arn {
			n := 0
			for _, t := range g.Targets {
				if t.Registration.DrainingSince == nil && t.Registration.Source == "autoscaling" {
					n++
				}
			}
			return n
		}
	}
	return 0
}

func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
}
