package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/etcdtest"
)

// node is one `alba up --etcd` of a cluster, listening on its own
// loopback address.
type node struct {
	*lb
	id, host string
	args     []string // alba up's flags beyond lb.run's
}

type nodeRow struct {
	ID     string `json:"id"`
	Admin  string `json:"admin"`
	Leader bool   `json:"leader"`
}

// cluster starts n nodes on the etcd members, all on cfg (its listener
// naming no address: each node binds its own 127.0.0.N).
func cluster(t testing.TB, etcd *etcdtest.Cluster, cfg string, n int, extra ...string) []*node {
	t.Helper()
	eps := make([][]string, n)
	for i := range eps {
		eps[i] = etcd.Endpoints()
	}
	return clusterVia(t, cfg, eps, extra...)
}

// clusterVia starts a node for each list of etcd endpoints, in order.
func clusterVia(t testing.TB, cfg string, endpoints [][]string, extra ...string) []*node {
	t.Helper()
	nodes := newNodes(t, cfg, endpoints, extra...)
	for _, nd := range nodes {
		nd.run(t, nd.args...)
	}
	return nodes
}

// newNodes makes (without starting them) a node for each list of etcd
// endpoints, all on one file holding cfg.
func newNodes(t testing.TB, cfg string, endpoints [][]string, extra ...string) []*node {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "alba.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var nodes []*node
	for i, eps := range endpoints {
		nd := &node{id: fmt.Sprintf("node%d", i+1), host: fmt.Sprintf("127.0.0.%d", i+1),
			lb: &lb{dataDir: filepath.Join(dir, fmt.Sprintf("data%d", i+1)), file: file, admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}}
		nd.args = append([]string{"--etcd", strings.Join(eps, ","), "--cluster", "e2e",
			"--node-id", nd.id, "--listen-host", nd.host}, extra...)
		t.Cleanup(func() { killInstances(nd.dataDir) })
		nodes = append(nodes, nd)
	}
	return nodes
}

// clusterConfig is asgConfig with group on lport, for nodes.
func clusterConfig(lport int, group string) string { return anyAddress(asgConfig(lport, "0s", group)) }

// anyAddress drops the listener's address from a file: each node binds
// its own --listen-host.
func anyAddress(cfg string) string {
	return strings.Replace(cfg, "        address: 127.0.0.1\n", "", 1)
}

// checkLoads waits for the loads on nodes (one each) and wants every
// request of each to have succeeded.
func checkLoads(t *testing.T, nodes []*node, loads []*load) {
	t.Helper()
	for i, ld := range loads {
		ld.wait()
		if ld.failed.Load() != 0 || ld.ok.Load() == 0 {
			t.Errorf("load on %s: %d ok, %d failed: %v", nodes[i].host, ld.ok.Load(), ld.failed.Load(), ld.errs)
		}
	}
}

func (l *lb) nodes(t testing.TB) []nodeRow {
	t.Helper()
	var ns []nodeRow
	l.apiGet(t, "/api/nodes", &ns)
	return ns
}

func leaderOf(ns []nodeRow) string {
	for _, n := range ns {
		if n.Leader {
			return n.ID
		}
	}
	return ""
}

// liveInstances counts the instance processes running under the nodes'
// data directories, whoever launched them.
func liveInstances(nodes []*node) int {
	n := 0
	for _, nd := range nodes {
		pids, _ := filepath.Glob(filepath.Join(nd.dataDir, "instances", "*", "pid"))
		for _, f := range pids {
			b, _ := os.ReadFile(f)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && syscall.Kill(pid, 0) == nil {
				n++
			}
		}
	}
	return n
}

// Three nodes on a three-member etcd: every node serves the listener; the
// leader is killed with SIGKILL under load on the other two and while a
// scale-out is pending; no request fails, another node leads within 10 s
// and finishes the scale-out, and no instance is doubled or left over.
func TestClusterLeaderKilledUnderLoad(t *testing.T) {
	etcd := etcdtest.New(t, 3)
	lport := freePort(t)
	cfg := clusterConfig(lport, "    min_size: 2\n    max_size: 3\n")
	nodes := cluster(t, etcd, cfg, 3)
	for _, nd := range nodes {
		waitFor(t, 30*time.Second, func() bool { return len(nd.inService(t)) == 2 })
	}
	ns := nodes[0].nodes(t)
	leader := leaderOf(ns)
	if len(ns) != 3 || leader == "" {
		t.Fatalf("nodes %+v", ns)
	}
	var dead *node
	var alive []*node
	for _, nd := range nodes {
		if nd.id == leader {
			dead = nd
		} else {
			alive = append(alive, nd)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var loads []*load
	for _, nd := range alive {
		loads = append(loads, startLoad(ctx, fmt.Sprintf("http://%s:%d/status", nd.host, lport), 2))
	}
	query(t, alive[0].admin, "Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=movie-catalog&DesiredCapacity=3")
	dead.kill()
	killedAt := time.Now()
	var next string
	waitFor(t, 15*time.Second, func() bool {
		next = leaderOf(alive[0].nodes(t))
		return next != "" && next != leader
	})
	if d := time.Since(killedAt); d > 10*time.Second {
		t.Errorf("a new leader after %v, want within 10s", d)
	}
	t.Logf("%s led; %s leads %v after the kill", leader, next, time.Since(killedAt).Round(100*time.Millisecond))
	for _, nd := range alive {
		waitFor(t, 30*time.Second, func() bool { return len(nd.inService(t)) == 3 })
	}
	time.Sleep(2 * time.Second) // the load goes on over the new instance
	cancel()
	checkLoads(t, alive, loads)
	// Every node checks every target itself; any node shows all views.
	waitFor(t, 20*time.Second, func() bool {
		stdout, _, code := runAlba(t, 10*time.Second, "targets", "--nodes", "--admin", alive[0].admin)
		return code == 0 && strings.Count(stdout, "healthy") == 3*len(alive) && strings.Count(stdout, " yes") == 3 &&
			strings.Contains(stdout, strings.ToUpper(alive[0].id)) && strings.Contains(stdout, strings.ToUpper(alive[1].id))
	})
	if g := alive[1].group(t); g.Desired != 3 || len(g.Instances) != 3 {
		t.Errorf("group after failover: desired %d, %d instances", g.Desired, len(g.Instances))
	}
	if n := liveInstances(nodes); n != 3 {
		t.Errorf("%d instance processes run, want 3 (none doubled, none orphaned)", n)
	}
}

// post sends an unsigned AWS Query request and returns the status and body.
func post(admin, form string) (int, string) {
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Post("http://"+admin+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// etcd members fail under a running cluster: one member down changes
// nothing; without quorum the nodes serve on with what they had, API
// writes fail with ServiceUnavailable; quorum back, everything resumes
// with no restart.
func TestClusterEtcdFailures(t *testing.T) {
	etcd := etcdtest.New(t, 3)
	lport := freePort(t)
	cfg := clusterConfig(lport, "    min_size: 1\n    max_size: 3\n")
	nodes := cluster(t, etcd, cfg, 2)
	for _, nd := range nodes {
		waitFor(t, 30*time.Second, func() bool { return len(nd.inService(t)) == 1 })
	}
	setDesired := func(n int) (int, string) {
		return post(nodes[1].admin, fmt.Sprintf("Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=movie-catalog&DesiredCapacity=%d", n))
	}

	etcd.Kill(etcd.Leader())
	if code, body := setDesired(2); code != 200 {
		t.Fatalf("a write with one etcd member down: %d %s", code, body)
	}
	for _, nd := range nodes {
		waitFor(t, 30*time.Second, func() bool { return len(nd.inService(t)) == 2 })
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var loads []*load
	for _, nd := range nodes {
		loads = append(loads, startLoad(ctx, fmt.Sprintf("http://%s:%d/status", nd.host, lport), 2))
	}
	// One member of three left: no quorum.
	etcd.Kill(0)
	etcd.Kill(1)
	etcd.Kill(2)
	etcd.Restart(2)
	code, body := setDesired(3)
	if code != 503 || !strings.Contains(body, "<Code>ServiceUnavailable</Code>") {
		t.Errorf("a write without quorum: %d %s, want 503 ServiceUnavailable", code, body)
	}
	// Past every node's lease, nobody leads; the nodes serve on with the
	// routing table and health they had (static stability).
	for _, nd := range nodes {
		waitFor(t, 30*time.Second, func() bool { return strings.Contains(nd.out.String(), "lost the cluster lease") })
	}
	for _, nd := range nodes {
		if n := len(nd.targets(t)); n != 2 {
			t.Errorf("node %s without quorum shows %d targets, want the 2 it had", nd.id, n)
		}
	}

	etcd.Restart(0)
	waitFor(t, 60*time.Second, func() bool { code, _ := setDesired(3); return code == 200 })
	for _, nd := range nodes {
		waitFor(t, 60*time.Second, func() bool { return len(nd.inService(t)) == 3 })
	}
	cancel()
	checkLoads(t, nodes, loads)
	if n := liveInstances(nodes); n != 3 {
		t.Errorf("%d instance processes run, want 3", n)
	}
}

// spreadLoad runs closed-loop GETs over the nodes' addresses, as clients
// of a load balancer's DNS name do: a node whose connection fails to open
// (it is restarting; refused, or reset during the handshake by a closing
// listener) is skipped for the next address, as another DNS answer would
// be; anything else that fails — an error once connected, a 5xx — counts
// as failed.
func spreadLoad(ctx context.Context, urls []string, workers int) *load {
	return runLoad(ctx, loadSpec{urls: urls, workers: workers, skipUnopened: true})
}

// Every node restarted in turn (SIGTERM, start again) under a load spread
// over the nodes: no request fails, the instances stay the same ones.
func TestClusterRollingRestart(t *testing.T) {
	etcd := etcdtest.New(t, 3)
	lport := freePort(t)
	cfg := clusterConfig(lport, "    min_size: 2\n    max_size: 2\n")
	nodes := cluster(t, etcd, cfg, 3)
	for _, nd := range nodes {
		waitFor(t, 30*time.Second, func() bool { return len(nd.inService(t)) == 2 })
	}
	before := nodes[0].inService(t)
	var urls []string
	for _, nd := range nodes {
		urls = append(urls, fmt.Sprintf("http://%s:%d/status", nd.host, lport))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	ld := spreadLoad(ctx, urls, 6)
	for _, nd := range nodes {
		nd.signal(syscall.SIGTERM)
		if code := nd.wait(t, 40*time.Second); code != 0 {
			t.Fatalf("node %s exited %d:\n%s", nd.id, code, nd.out.String())
		}
		nd.run(t, nd.args...)
		waitFor(t, 30*time.Second, func() bool { return len(nd.inService(t)) == 2 })
	}
	waitFor(t, 15*time.Second, func() bool { return leaderOf(nodes[0].nodes(t)) != "" })
	okBefore := ld.ok.Load()
	waitFor(t, 10*time.Second, func() bool { return ld.ok.Load() > okBefore+100 })
	cancel()
	ld.wait()
	t.Logf("%d requests over the rolling restart", ld.ok.Load())
	if n := ld.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during the rolling restart: %v", n, n+ld.ok.Load(), ld.errs)
	}
	if after := nodes[2].inService(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("instances %v after the restarts, were %v", after, before)
	}
	if n := liveInstances(nodes); n != 2 {
		t.Errorf("%d instance processes run, want 2", n)
	}
	// Whoever leads now runs auto scaling.
	query(t, nodes[1].admin, "Action=UpdateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=movie-catalog&MaxSize=3&DesiredCapacity=3")
	waitFor(t, 30*time.Second, func() bool { return len(nodes[0].inService(t)) == 3 })
}

// cuttable relays TCP to an etcd member until cut: then it closes every
// connection and every new one, as a network partition would.
type cuttable struct {
	URL   string
	cut   atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func newCuttable(t *testing.T, target string) *cuttable {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r := &cuttable{URL: "http://" + l.Addr().String()}
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			if r.cut.Load() {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", strings.TrimPrefix(target, "http://"))
			if err != nil {
				in.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, in, out)
			r.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return r
}

func (r *cuttable) partition() {
	r.cut.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

func (r *cuttable) heal() { r.cut.Store(false) }

func (l *lb) self(t *testing.T) nodeRow {
	t.Helper()
	var n nodeRow
	l.apiGet(t, "/api/node", &n)
	return n
}

// The leader cut off from etcd steps down before its lease can run out,
// so at no moment do two nodes lead; its API writes are refused; it serves
// on, and registers again once the network heals.
func TestClusterLeaderCutOffFromEtcd(t *testing.T) {
	etcd := etcdtest.New(t, 3)
	lport := freePort(t)
	cfg := clusterConfig(lport, "    min_size: 1\n    max_size: 2\n")
	var relays []*cuttable
	var via []string
	for _, ep := range etcd.Endpoints() {
		r := newCuttable(t, ep)
		relays = append(relays, r)
		via = append(via, r.URL)
	}
	// node1, started first, leads; it reaches etcd only through the relays.
	nodes := clusterVia(t, cfg, [][]string{via, etcd.Endpoints()})
	one, two := nodes[0], nodes[1]
	waitFor(t, 30*time.Second, func() bool { return len(two.inService(t)) == 1 })
	if !one.self(t).Leader || leaderOf(two.nodes(t)) != "node1" {
		t.Fatalf("node1 does not lead: %+v", two.nodes(t))
	}
	// node1's own table has the instance too (node2 seeing it in service
	// says nothing of node1's): what it serves on with once cut off.
	waitFor(t, 30*time.Second, func() bool { return get(fmt.Sprintf("http://%s:%d/status", one.host, lport)) == 200 })
	for _, r := range relays {
		r.partition()
	}
	cutAt := time.Now()
	// Read node2 first: if it leads while node1, read after, still claims
	// to, two nodes led at once.
	waitFor(t, 20*time.Second, func() bool {
		twoLeads := two.self(t).Leader
		if oneLeads := one.self(t).Leader; twoLeads && oneLeads {
			t.Fatalf("node1 and node2 both lead %v after the cut", time.Since(cutAt))
		}
		return twoLeads
	})
	t.Logf("node2 leads %v after node1 was cut off", time.Since(cutAt).Round(100*time.Millisecond))
	if !strings.Contains(one.out.String(), "stepping down before it can run out") {
		t.Errorf("node1 did not step down on its own:\n%s", one.out.String())
	}
	// Cut off, node1 serves on with what it had, but takes no write.
	if code := get(fmt.Sprintf("http://%s:%d/status", one.host, lport)); code != 200 {
		t.Errorf("node1 cut off answers %d", code)
	}
	if code, body := post(one.admin, "Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=movie-catalog&DesiredCapacity=2"); code != 503 {
		t.Errorf("a write on the cut-off node: %d %s", code, body)
	}
	for _, r := range relays {
		r.heal()
	}
	waitFor(t, 30*time.Second, func() bool {
		ns := two.nodes(t)
		return len(ns) == 2 && leaderOf(ns) == "node2"
	})
	if n := liveInstances(nodes); n != 1 {
		t.Errorf("%d instance processes run, want 1", n)
	}
}

// Bad cluster flags are refused with a sentence, before anything starts.
func TestClusterFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--etcd", "localhost:2379"}, "want client URLs like http://127.0.0.1:2379"},
		{[]string{"--etcd", "http://127.0.0.1:2379", "--cluster", "a/b"}, "without slashes or spaces"},
		{[]string{"--node-id", "n1"}, "give --etcd too"},
		{[]string{"--etcd-cacert", "ca.pem"}, "give --etcd too"},
		{[]string{"--etcd", "http://127.0.0.1:2379", "--etcd-cert", "c.pem"}, "--etcd-cert and --etcd-key go together"},
		{[]string{"--instance-address", "0.0.0.0"}, "want one IP address of this machine"},
		{[]string{"--etcd", fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}, "does not answer within"},
	} {
		args := append([]string{"up", "--empty", "--data-dir", dir, "--admin", "127.0.0.1:0"}, c.args...)
		_, stderr, code := runAlba(t, 30*time.Second, args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want a failure saying %q", c.args, code, stderr, c.want)
		}
	}
}

// One node outgrows its machine: stopped with its instances left running,
// its data directory moved into etcd with alba migrate, it starts again
// as a cluster node on the same data directory and adopts the same
// instances; nothing is lost, and a second node serves the same system.
func TestClusterMigrateFromOneNode(t *testing.T) {
	lport := freePort(t)
	cfg := clusterConfig(lport, "    min_size: 2\n    max_size: 2\n")
	single := up(t, cfg, "--listen-host", "127.0.0.1", "--keep-instances")
	waitFor(t, 30*time.Second, func() bool { return len(single.inService(t)) == 2 })
	ids := single.inService(t)
	acts := len(single.activities(t))
	single.signal(syscall.SIGTERM)
	if code := single.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("alba up exited %d", code)
	}

	etcd := etcdtest.New(t, 3)
	eps := strings.Join(etcd.Endpoints(), ",")
	stdout, stderr, code := runAlba(t, 30*time.Second, "migrate", "--data-dir", single.dataDir, "--etcd", eps, "--cluster", "moved")
	if code != 0 || !strings.Contains(stdout, "copied ") {
		t.Fatalf("alba migrate: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := runAlba(t, 30*time.Second, "migrate", "--data-dir", single.dataDir, "--etcd", eps, "--cluster", "moved"); code == 0 || !strings.Contains(stderr, "already holds state") {
		t.Errorf("a second migrate into the same cluster: exit %d, %s", code, stderr)
	}

	one := single.restart(t, "--etcd", eps, "--cluster", "moved", "--listen-host", "127.0.0.1")
	waitFor(t, 30*time.Second, func() bool { return len(one.inService(t)) == 2 })
	if got := one.inService(t); fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("in service after the move %v, were %v", got, ids)
	}
	if !strings.Contains(one.out.String(), "adopted instance") {
		t.Errorf("the cluster node adopted nothing:\n%s", one.out.String())
	}
	if n := len(one.activities(t)); n < acts {
		t.Errorf("%d activities after the move, were %d", n, acts)
	}
	two := &lb{dataDir: t.TempDir(), file: single.file, admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	two.run(t, "--etcd", eps, "--cluster", "moved", "--listen-host", "127.0.0.2")
	waitFor(t, 30*time.Second, func() bool { return len(two.inService(t)) == 2 })
	if code := get(fmt.Sprintf("http://127.0.0.2:%d/status", lport)); code != 200 {
		t.Errorf("the second node answers %d", code)
	}
	if n := liveInstances([]*node{{lb: one}, {lb: two}}); n != 2 {
		t.Errorf("%d instance processes run, want the 2 there were", n)
	}
}

// A node reaches an etcd that requires TLS client certificates with the
// --etcd-cacert/--etcd-cert/--etcd-key flags; without a certificate it
// is refused and says so.
func TestClusterOverTLS(t *testing.T) {
	etcd := etcdtest.NewTLS(t, 1)
	lport := freePort(t)
	cfg := clusterConfig(lport, "    min_size: 1\n    max_size: 1\n")
	tlsFlags := []string{"--etcd-cacert", etcd.TLS.CA, "--etcd-cert", etcd.TLS.Cert, "--etcd-key", etcd.TLS.Key}
	nd := cluster(t, etcd, cfg, 1, tlsFlags...)[0]
	waitFor(t, 30*time.Second, func() bool { return len(nd.inService(t)) == 1 })
	if ns := nd.nodes(t); len(ns) != 1 || !ns[0].Leader {
		t.Errorf("nodes %+v", ns)
	}
	_, stderr, code := runAlba(t, 30*time.Second, "up", "--empty", "--data-dir", t.TempDir(), "--admin", "127.0.0.1:0",
		"--etcd", etcd.Endpoints()[0], "--etcd-cacert", etcd.TLS.CA)
	if code == 0 || !strings.Contains(stderr, "refused this client's TLS") {
		t.Errorf("without a client certificate: exit %d, %s", code, stderr)
	}
	t.Logf("without a client certificate: %s", strings.TrimSpace(stderr))
}

// Three nodes started at once with the same file apply it once: one
// group, one launch template version, the group's creation recorded once.
func TestClusterFileAppliedOnceWhoeverStartsFirst(t *testing.T) {
	etcd := etcdtest.New(t, 3)
	lport := freePort(t)
	eps := etcd.Endpoints()
	nodes := newNodes(t, clusterConfig(lport, "    min_size: 2\n    max_size: 2\n"), [][]string{eps, eps, eps})
	for _, nd := range nodes {
		nd.launch(t, nd.args...)
	}
	for _, nd := range nodes {
		nd.waitUp(t)
	}
	for _, nd := range nodes {
		waitFor(t, 30*time.Second, func() bool { return len(nd.inService(t)) == 2 })
	}
	created := 0
	for _, a := range nodes[2].activities(t) {
		if strings.Contains(a.Cause, "a user request created an AutoScalingGroup") {
			created++
		}
	}
	// Two launches, each naming the group's creation as its cause.
	if created != 2 {
		t.Errorf("%d launches caused by the group's creation, want 2: %+v", created, nodes[2].activities(t))
	}
	body := query(t, nodes[1].admin, "Action=DescribeLaunchTemplateVersions&Version=2016-11-15&LaunchTemplateName=movie-catalog")
	if n := strings.Count(body, "<versionNumber>"); n != 1 {
		t.Errorf("%d launch template versions, want 1:\n%s", n, body)
	}
	if n := liveInstances(nodes); n != 2 {
		t.Errorf("%d instance processes run, want 2", n)
	}
}
