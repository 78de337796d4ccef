package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/etcdtest"
	"github.com/alba-lb/alba/internal/store"
)

func openStore(t *testing.T, eps []string) *store.Etcd {
	t.Helper()
	s, err := store.OpenEtcd(store.EtcdOptions{Endpoints: eps, Cluster: "c", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// node is one member running in the test, with what its terms received.
type node struct {
	m      *Member
	st     *store.Etcd
	cancel context.CancelFunc
	done   chan struct{}
	terms  chan store.Store
}

func start(t *testing.T, eps []string, id string) *node {
	st := openStore(t, eps)
	m, err := Join(context.Background(), st, Node{ID: id, Admin: "127.0.0.1:1", Version: "test", Started: time.Now()}, Options{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{m: m, st: st, cancel: cancel, done: make(chan struct{}), terms: make(chan store.Store, 10)}
	go func() {
		defer close(n.done)
		m.Run(ctx, func(ctx context.Context, fst store.Store) {
			n.terms <- fst
			<-ctx.Done()
		})
	}()
	t.Cleanup(func() { cancel(); <-n.done })
	return n
}

func leaders(t *testing.T, st *store.Etcd) (ids []string, leader string) {
	t.Helper()
	ns, err := Nodes(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		ids = append(ids, n.ID)
		if n.Leader {
			leader = n.ID
		}
	}
	return ids, leader
}

func waitTerm(t *testing.T, n *node, within time.Duration) store.Store {
	t.Helper()
	select {
	case fst := <-n.terms:
		return fst
	case <-time.After(within):
		t.Fatalf("node %s did not lead within %v", n.m.node.ID, within)
		return nil
	}
}

func put(st store.Store, v string) error {
	return st.Update(func(tx store.Tx) error { return tx.Put("things", "k", []byte(v)) })
}

// One node leads; when it stops, the other leads; the registry says so.
func TestOneLeaderAndFailover(t *testing.T) {
	c := etcdtest.New(t, 1)
	a := start(t, c.Endpoints(), "a")
	waitTerm(t, a, 10*time.Second)
	b := start(t, c.Endpoints(), "b")
	ids, leader := leaders(t, b.st)
	if len(ids) != 2 || leader != "a" || !a.m.Leading() || b.m.Leading() {
		t.Fatalf("nodes %v, leader %q (a leading %v, b %v)", ids, leader, a.m.Leading(), b.m.Leading())
	}
	a.cancel()
	<-a.done
	waitTerm(t, b, 10*time.Second)
	if ids, leader := leaders(t, b.st); len(ids) != 1 || leader != "b" {
		t.Errorf("after a left: nodes %v, leader %q", ids, leader)
	}
}

// A leader whose lease ends (as when it is cut off from etcd) is deposed:
// its fenced writes are refused while the new leader's go through.
func TestDeposedLeaderCannotWrite(t *testing.T) {
	c := etcdtest.New(t, 1)
	a := start(t, c.Endpoints(), "a")
	fa := waitTerm(t, a, 10*time.Second)
	b := start(t, c.Endpoints(), "b")
	if err := put(fa, "a leads"); err != nil {
		t.Fatalf("the leader's write: %v", err)
	}
	if err := put(b.st.Fenced(store.Fence{Key: leaderKey(b.st.Prefix()) + "/x", Rev: 1}), "b pretends"); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("a write fenced by a key that is not the leader's: %v", err)
	}
	// The lease runs out as if a were cut off; a's term has not noticed yet
	// when it writes.
	if _, err := a.st.Client().Revoke(context.Background(), a.m.sess.Load().Lease()); err != nil {
		t.Fatal(err)
	}
	fb := waitTerm(t, b, 10*time.Second)
	if err := put(fa, "a late"); !errors.Is(err, store.ErrNotLeader) {
		t.Errorf("the deposed leader's write: %v, want ErrNotLeader", err)
	}
	if err := put(fb, "b leads"); err != nil {
		t.Errorf("the new leader's write: %v", err)
	}
	var got []byte
	b.st.View(func(tx store.Tx) (err error) { got, err = tx.Get("things", "k"); return err })
	if string(got) != "b leads" {
		t.Errorf("record %q", got)
	}
	// a notices, registers again and stands as a candidate behind b.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, leader := leaders(t, b.st)
		if len(ids) == 2 && leader == "b" && !a.m.Leading() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a did not register again: nodes %v, leader %q", ids, leader)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Each node's health view reaches every node; a node that leaves takes
// its view with it.
func TestHealthViewsShared(t *testing.T) {
	c := etcdtest.New(t, 1)
	a, b := start(t, c.Endpoints(), "a"), start(t, c.Endpoints(), "b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	viewA := View{"web i-1:8080": "healthy"}
	go a.m.ShareHealth(ctx, clock.Real{}, 20*time.Millisecond, func() View { mu.Lock(); defer mu.Unlock(); return maps.Clone(viewA) })
	go b.m.ShareHealth(ctx, clock.Real{}, 20*time.Millisecond, func() View { return View{"web i-1:8080": "unhealthy"} })
	waitViews := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			vs, err := Views(context.Background(), b.st)
			if err == nil && fmt.Sprint(vs) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("views %v, want %s", vs, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitViews("map[a:map[web i-1:8080:healthy] b:map[web i-1:8080:unhealthy]]")
	mu.Lock()
	viewA["web i-1:8080"] = "draining"
	mu.Unlock()
	waitViews("map[a:map[web i-1:8080:draining] b:map[web i-1:8080:unhealthy]]")
	a.cancel()
	<-a.done
	waitViews("map[b:map[web i-1:8080:unhealthy]]")
}
