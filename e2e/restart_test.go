package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// alba up --replace takes over a running Alba under load, twice: no
// request fails (keep-alive clients and a new connection per request),
// the old process finishes and exits, and the new one adopts the
// instances rather than launching others.
func TestReplaceUnderLoadDropsNothing(t *testing.T) {
	lport := freePort(t)
	l := up(t, asgConfig(lport, "0s", "    min_size: 2\n    max_size: 2\n"), fastScaling...)
	waitFor(t, 30*time.Second, func() bool { return len(l.inService(t)) == 2 })
	before := l.inService(t)
	slices.Sort(before)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url := l.url(lport, "/discover?type=movie")
	keepAlive := runLoad(ctx, loadSpec{urls: []string{url}, workers: 4})
	fresh := runLoad(ctx, loadSpec{urls: []string{url}, workers: 4, newConns: true})
	served := func() int64 { return keepAlive.ok.Load() + fresh.ok.Load() }
	waitFor(t, 10*time.Second, func() bool { return served() > 200 })

	cur := l
	for round := range 2 {
		next := &lb{dataDir: l.dataDir, file: l.file, admin: l.admin}
		next.launch(t, append([]string{"--replace"}, fastScaling...)...)
		if code := cur.proc.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("round %d: the replaced alba exited with %d", round, code)
		}
		if out := cur.out.String(); !strings.Contains(out, "handed over to the new alba") {
			t.Errorf("round %d: the replaced alba did not say it handed over:\n%s", round, out)
		}
		next.waitUp(t)
		if out := next.out.String(); !strings.Contains(out, "took over the listening sockets") {
			t.Errorf("round %d: the new alba did not say it took over:\n%s", round, out)
		}
		// Load reaches the new process alone now.
		n := served()
		waitFor(t, 20*time.Second, func() bool { return served() > n+200 })
		cur = next
	}
	cancel()
	keepAlive.wait()
	fresh.wait()
	for name, ld := range map[string]*load{"keep-alive": keepAlive, "new connection per request": fresh} {
		if f := ld.failed.Load(); f > 0 {
			t.Errorf("%s: %d of %d requests failed across the replacements: %v", name, f, f+ld.ok.Load(), ld.errs)
		}
	}
	t.Logf("served %d keep-alive and %d new-connection requests across two replacements", keepAlive.ok.Load(), fresh.ok.Load())

	after := cur.inService(t)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Errorf("instances before %v, after %v: want the same ones adopted", before, after)
	}
	launches := 0
	for _, a := range cur.activities(t) {
		if strings.Contains(a.Description, "Launching a new EC2 instance") {
			launches++
		}
	}
	if launches != 2 {
		t.Errorf("%d launch activities, want the first run's 2: %+v", launches, cur.activities(t))
	}
}

// --replace with nobody running starts afresh, and says so.
func TestReplaceWithNobodyRunning(t *testing.T) {
	lport := freePort(t)
	l := up(t, config(lport, nil, ""), "--replace")
	waitFor(t, 10*time.Second, func() bool {
		return strings.Contains(l.out.String(), "no alba runs on data directory")
	})
}
