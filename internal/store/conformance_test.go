package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/etcdtest"
	"github.com/alba-lb/alba/internal/store"
)

// Every Store behaves alike: these run on bbolt and on a real etcd.
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"bolt", func(t *testing.T) store.Store {
		s, err := store.OpenBolt(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"etcd", func(t *testing.T) store.Store {
		c := etcdtest.New(t, 1)
		return openEtcd(t, c.Endpoints(), "test")
	}},
}

func openEtcd(t *testing.T, endpoints []string, cluster string) *store.Etcd {
	t.Helper()
	s, err := store.OpenEtcd(store.EtcdOptions{Endpoints: endpoints, Cluster: cluster, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func keys(kvs []store.KV) string {
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.Key+"="+string(kv.Value))
	}
	return fmt.Sprint(out)
}

func TestStoreReadsWritesAndRollsBack(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			rev := s.Revision()
			err := s.Update(func(tx store.Tx) error {
				for _, k := range []string{"b/2", "a/1", "b/1", "c"} {
					if err := tx.Put("things", k, []byte(k)); err != nil {
						return err
					}
				}
				// A transaction reads its own writes, deletes included.
				if err := tx.Delete("things", "c"); err != nil {
					return err
				}
				if _, err := tx.Get("things", "c"); !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("Get of a key deleted in the transaction: %v", err)
				}
				kvs, err := tx.Scan("things", "b/")
				if err != nil || keys(kvs) != "[b/1=b/1 b/2=b/2]" {
					return fmt.Errorf("Scan inside the transaction: %s %v", keys(kvs), err)
				}
				return tx.Put("other", "x", nil)
			})
			if err != nil {
				t.Fatal(err)
			}
			if s.Revision() <= rev {
				t.Errorf("revision %d after a commit, was %d", s.Revision(), rev)
			}
			err = s.Update(func(tx store.Tx) error {
				tx.Put("things", "a/1", []byte("changed"))
				tx.Delete("things", "b/1")
				return errors.New("no")
			})
			if err == nil || err.Error() != "no" {
				t.Fatalf("failed update returned %v", err)
			}
			s.View(func(tx store.Tx) error {
				all, err := tx.List("things")
				if err != nil || keys(all) != "[a/1=a/1 b/1=b/1 b/2=b/2]" {
					t.Errorf("after a failed update: %s %v", keys(all), err)
				}
				if v, err := tx.Get("other", "x"); err != nil || len(v) != 0 {
					t.Errorf("empty record: %q %v", v, err)
				}
				if _, err := tx.Get("things", "zzz"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Get missing: %v", err)
				}
				if kvs, err := tx.List("nothing"); err != nil || len(kvs) != 0 {
					t.Errorf("List of an empty kind: %v %v", kvs, err)
				}
				return nil
			})
			if err := s.View(func(tx store.Tx) error { return tx.Put("things", "a", nil) }); err == nil {
				t.Error("Put in a View succeeded")
			}
		})
	}
}

func TestStoreWatchByKind(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			ctx, cancel := context.WithCancel(context.Background())
			things, other, all := s.Watch(ctx, "things"), s.Watch(ctx, "other"), s.Watch(ctx)
			for i := 0; i < 5; i++ {
				if err := s.Update(func(tx store.Tx) error { return tx.Put("things", fmt.Sprint(i), nil) }); err != nil {
					t.Fatal(err)
				}
			}
			// Once Update returns, its notification is pending.
			for name, ch := range map[string]<-chan struct{}{"things": things, "all": all} {
				select {
				case <-ch:
				default:
					t.Errorf("watch of %s not notified after the commit", name)
				}
			}
			// A delete of a missing record writes nothing and wakes nobody.
			s.Update(func(tx store.Tx) error { return tx.Delete("other", "missing") })
			select {
			case <-other:
				t.Error("watch of other woken by a no-op delete")
			case <-time.After(300 * time.Millisecond):
			}
			cancel()
			for _, ch := range []<-chan struct{}{things, other, all} {
				for range ch {
				}
			}
		})
	}
}
