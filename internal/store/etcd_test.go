package store_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/alba-lb/alba/internal/etcdtest"
	"github.com/alba-lb/alba/internal/store"
)

func counter(tx store.Tx) (int, error) {
	v, err := tx.Get("counters", "n")
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// Two nodes incrementing one record concurrently lose no increment: the
// loser of each race reads again and retries.
func TestEtcdConcurrentNodesLoseNoUpdate(t *testing.T) {
	c := etcdtest.New(t, 1)
	nodes := []*store.Etcd{openEtcd(t, c.Endpoints(), "race"), openEtcd(t, c.Endpoints(), "race")}
	const each = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, s := range nodes {
		for range 2 { // two goroutines a node: local updates serialize
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each / 2 {
					errs <- s.Update(func(tx store.Tx) error {
						n, err := counter(tx)
						if err != nil {
							return err
						}
						return tx.Put("counters", "n", []byte(strconv.Itoa(n+1)))
					})
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	nodes[1].View(func(tx store.Tx) (err error) { n, err = counter(tx); return err })
	if n != 2*each {
		t.Errorf("counter %d after %d increments", n, 2*each)
	}
}

// Killing the etcd leader in the middle of a stream of increments loses
// none: requests lost in the election are tried again within the timeout.
func TestEtcdLeaderKilledLosesNoUpdate(t *testing.T) {
	c := etcdtest.New(t, 3)
	// Time enough for an election on a loaded machine.
	s, err := store.OpenEtcd(store.EtcdOptions{Endpoints: c.Endpoints(), Cluster: "once", Timeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const total = 150
	var ok, failed int
	for i := range total {
		if i == 50 {
			leader := c.Leader()
			if leader < 0 {
				t.Fatal("no leader")
			}
			c.Kill(leader)
		}
		err := s.Update(func(tx store.Tx) error {
			n, err := counter(tx)
			if err != nil {
				return err
			}
			return tx.Put("counters", "n", []byte(strconv.Itoa(n+1)))
		})
		if err != nil {
			t.Logf("increment %d: %v", i, err)
			failed++
		} else {
			ok++
		}
	}
	var n int
	if err := s.View(func(tx store.Tx) (err error) { n, err = counter(tx); return err }); err != nil {
		t.Fatal(err)
	}
	if failed > 0 || n != ok {
		t.Errorf("counter %d after %d increments succeeded and %d failed", n, ok, failed)
	}
}

// A commit that etcd applies but whose answer never arrives (the
// connection cut after the request went through) applies once: the node
// reads its marker instead of sending the update again.
func TestEtcdLostAnswerAppliesOnce(t *testing.T) {
	c := etcdtest.New(t, 1)
	relay := newCutter(t, strings.TrimPrefix(c.Endpoints()[0], "http://"))
	s := openEtcd(t, []string{"http://" + relay.addr}, "lost")
	if err := s.Update(func(tx store.Tx) error { return tx.Put("counters", "warm", nil) }); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	err := s.Update(func(tx store.Tx) error {
		n, err := counter(tx)
		if err != nil {
			return err
		}
		once.Do(relay.arm) // the next request is the commit
		return tx.Put("counters", "n", []byte(strconv.Itoa(n+1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if !relay.cut.Load() {
		t.Fatal("the relay cut no connection")
	}
	var n int
	s.View(func(tx store.Tx) (err error) { n, err = counter(tx); return err })
	if n != 1 {
		t.Errorf("counter %d after one increment whose answer was lost", n)
	}
}

// cutter relays TCP to an etcd member; armed, it passes the client's
// bytes on for 300ms but drops the member's answers, then cuts the
// connection.
type cutter struct {
	addr  string
	armed atomic.Bool
	cut   atomic.Bool
}

func newCutter(t *testing.T, target string) *cutter {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r := &cutter{addr: l.Addr().String()}
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			var dropping atomic.Bool
			go func() { // member -> client
				buf := make([]byte, 32<<10)
				for {
					n, err := out.Read(buf)
					if n > 0 && !dropping.Load() {
						in.Write(buf[:n])
					}
					if err != nil {
						in.Close()
						return
					}
				}
			}()
			go func() { // client -> member
				buf := make([]byte, 32<<10)
				for {
					n, err := in.Read(buf)
					if n > 0 {
						out.Write(buf[:n])
						if r.armed.CompareAndSwap(true, false) {
							// The member gets this request whole and applies
							// it; its answer is dropped, then the line cut.
							dropping.Store(true)
							time.AfterFunc(300*time.Millisecond, func() {
								r.cut.Store(true)
								in.Close()
								out.Close()
							})
						}
					}
					if err != nil {
						out.Close()
						return
					}
				}
			}()
		}
	}()
	return r
}

func (r *cutter) arm() { r.armed.Store(true) }

// A commit on one node wakes the other node's watchers of that kind only;
// another cluster's records on the same etcd are invisible.
func TestEtcdWatchAcrossNodesAndClusters(t *testing.T) {
	c := etcdtest.New(t, 1)
	a, b, other := openEtcd(t, c.Endpoints(), "one"), openEtcd(t, c.Endpoints(), "one"), openEtcd(t, c.Endpoints(), "two")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	things, rules, elsewhere := b.Watch(ctx, "things"), b.Watch(ctx, "rules"), other.Watch(ctx)
	if err := a.Update(func(tx store.Tx) error { return tx.Put("things", "x", []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-things:
	case <-time.After(5 * time.Second):
		t.Fatal("node b not told of node a's commit")
	}
	select {
	case <-rules:
		t.Error("watch of rules woken by a commit of things")
	case <-elsewhere:
		t.Error("cluster two woken by cluster one's commit")
	case <-time.After(300 * time.Millisecond):
	}
	var got []byte
	b.View(func(tx store.Tx) (err error) { got, err = tx.Get("things", "x"); return err })
	other.View(func(tx store.Tx) error {
		if kvs, _ := tx.List("things"); len(kvs) != 0 {
			t.Errorf("cluster two sees %v", kvs)
		}
		return nil
	})
	if string(got) != "1" {
		t.Errorf("node b reads %q", got)
	}
	if b.Revision() < a.Revision() {
		t.Errorf("node b at revision %d after seeing node a's commit at %d", b.Revision(), a.Revision())
	}
}

// A node whose etcd member was down resumes its watch from the last
// revision it saw; when that revision is compacted meanwhile, its
// watchers hear of a change all the same and read anew.
func TestEtcdWatchResumesAndSurvivesCompaction(t *testing.T) {
	for _, compact := range []bool{false, true} {
		name := "resume"
		if compact {
			name = "compacted"
		}
		t.Run(name, func(t *testing.T) {
			c := etcdtest.New(t, 3)
			eps := c.Endpoints()
			writer, reader := openEtcd(t, eps[1:2], "w"), openEtcd(t, eps[0:1], "w")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := reader.Watch(ctx, "things")
			c.Kill(0)
			for i := range 3 {
				if err := writer.Update(func(tx store.Tx) error { return tx.Put("things", strconv.Itoa(i), nil) }); err != nil {
					t.Fatal(err)
				}
			}
			if compact {
				cli := writer.Client()
				resp, err := cli.Get(context.Background(), "x")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := cli.Compact(context.Background(), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-ch:
				t.Fatal("notified while its member was down")
			default:
			}
			c.Restart(0)
			select {
			case <-ch:
			case <-time.After(20 * time.Second):
				t.Fatal("watch did not resume after the member came back")
			}
			var n int
			reader.View(func(tx store.Tx) error { kvs, _ := tx.List("things"); n = len(kvs); return nil })
			if n != 3 {
				t.Errorf("reader sees %d records, want 3", n)
			}
		})
	}
}

// Without a quorum the store answers ErrUnavailable within its timeout,
// writes nothing, and works again, with no reopen, once quorum is back.
func TestEtcdQuorumLost(t *testing.T) {
	c := etcdtest.New(t, 3)
	s := openEtcd(t, c.Endpoints()[:1], "q")
	put := func(v string) error {
		return s.Update(func(tx store.Tx) error { return tx.Put("things", "k", []byte(v)) })
	}
	if err := put("before"); err != nil {
		t.Fatal(err)
	}
	c.Kill(1)
	if err := put("one down"); err != nil {
		t.Fatalf("write with one member of three down: %v", err)
	}
	c.Kill(2)
	start := time.Now()
	err := put("no quorum")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write without quorum: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("write without quorum took %v to fail", d)
	}
	if err := s.View(func(tx store.Tx) error { _, err := tx.Get("things", "k"); return err }); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("read without quorum: %v, want ErrUnavailable (nothing stale)", err)
	}
	c.Restart(2)
	deadline := time.Now().Add(30 * time.Second)
	for put("after") != nil {
		if time.Now().After(deadline) {
			t.Fatal("store did not recover with quorum back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var got []byte
	s.View(func(tx store.Tx) (err error) { got, err = tx.Get("things", "k"); return err })
	if string(got) != "after" {
		t.Errorf("after recovery the record is %q", got)
	}
}

func TestOpenEtcdErrors(t *testing.T) {
	for _, o := range []store.EtcdOptions{
		{Cluster: "x"},
		{Endpoints: []string{"http://127.0.0.1:1"}, Cluster: "a/b"},
		{Endpoints: []string{"http://127.0.0.1:1"}, Cluster: "x", Timeout: 500 * time.Millisecond},
	} {
		if s, err := store.OpenEtcd(o); err == nil {
			s.Close()
			t.Errorf("OpenEtcd(%+v) succeeded", o)
		}
	}
}

// A data directory's records move into etcd whole; a cluster that holds
// records already is refused, with nothing copied.
func TestMigrateBoltIntoEtcd(t *testing.T) {
	src, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	const n = 250 // more than one etcd transaction's worth
	if err := src.Update(func(tx store.Tx) error {
		for i := range n {
			if err := tx.Put("targets", strconv.Itoa(i), []byte(strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return tx.Put("loadbalancers", "web", []byte(`{"name":"web"}`))
	}); err != nil {
		t.Fatal(err)
	}
	c := etcdtest.New(t, 1)
	dst := openEtcd(t, c.Endpoints(), "moved")
	copied, err := store.Migrate(src, dst, 100)
	if err != nil || copied != n+1 {
		t.Fatalf("Migrate: %d copied, %v", copied, err)
	}
	dst.View(func(tx store.Tx) error {
		ts, _ := tx.List("targets")
		lb, err := tx.Get("loadbalancers", "web")
		if len(ts) != n || string(ts[7].Value) != ts[7].Key || string(lb) != `{"name":"web"}` || err != nil {
			t.Errorf("in etcd: %d targets, load balancer %q %v", len(ts), lb, err)
		}
		return nil
	})
	if copied, err := store.Migrate(src, dst, 100); !errors.Is(err, store.ErrNotEmpty) || copied != 0 {
		t.Errorf("Migrate into a cluster with records: %d copied, %v", copied, err)
	}
}
