package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type rec struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestBoltPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx Tx) error {
		if err := PutJSON(tx, "things", "b", rec{"b", 2}); err != nil {
			return err
		}
		return PutJSON(tx, "things", "a", rec{"a", 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []*rec
	s.View(func(tx Tx) error {
		got, err = ListJSON[rec](tx, "things")
		return err
	})
	if len(got) != 2 || got[0].Name != "a" || got[1].N != 2 {
		t.Fatalf("after reopen: %+v", got)
	}
	s.View(func(tx Tx) error {
		_, err = tx.Get("things", "zzz")
		return nil
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get missing: %v", err)
	}
}

func TestBoltFailedUpdateRollsBack(t *testing.T) {
	s, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boom := errors.New("boom")
	err = s.Update(func(tx Tx) error {
		PutJSON(tx, "things", "a", rec{"a", 1})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	s.View(func(tx Tx) error {
		kvs, _ := tx.List("things")
		if len(kvs) != 0 {
			t.Errorf("rolled-back write is visible: %v", kvs)
		}
		return nil
	})
	if s.Revision() != 0 {
		t.Errorf("revision moved on a failed update")
	}
}

func TestBoltLockedAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenBolt(dir)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("second open: %v", err)
	}
	s.Close()

	bad := t.TempDir()
	junk := []byte(strings.Repeat("not a bolt file ", 1000))
	if err := os.WriteFile(filepath.Join(bad, FileName), junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenBolt(bad)
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt open: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(bad, FileName))
	if string(after) != string(junk) {
		t.Errorf("a corrupt store was modified")
	}
}

func TestBoltWatchCoalesces(t *testing.T) {
	s, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Watch(ctx)
	for i := 0; i < 5; i++ {
		s.Update(func(tx Tx) error { return PutJSON(tx, "k", "x", rec{N: i}) })
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	cancel()
	for range ch { // drains and ends when the context is done
	}
}

func TestBoltWatchByKind(t *testing.T) {
	s, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	targets := s.Watch(ctx, "targets", "listeners")
	all := s.Watch(ctx)
	put := func(kind string) {
		t.Helper()
		if err := s.Update(func(tx Tx) error { return PutJSON(tx, kind, "x", rec{}) }); err != nil {
			t.Fatal(err)
		}
	}
	// A commit's notification is pending on the channel when Update
	// returns, so a receive that would block means none was sent.
	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	put("launchtemplates")
	if woken(targets) {
		t.Error("a launch template commit woke a watcher of targets and listeners")
	}
	if !woken(all) {
		t.Error("a launch template commit did not wake a watcher of every kind")
	}
	put("listeners")
	if !woken(targets) {
		t.Error("a listener commit did not wake a watcher of targets and listeners")
	}
	woken(all)

	// Deleting a record that is not there changes nothing.
	s.Update(func(tx Tx) error { return tx.Delete("targets", "missing") })
	if woken(targets) {
		t.Error("deleting a missing target woke a watcher of targets")
	}
	woken(all)
	s.Update(func(tx Tx) error { return tx.Delete("listeners", "x") })
	if !woken(targets) {
		t.Error("deleting a listener did not wake a watcher of listeners")
	}
}

func TestBoltScan(t *testing.T) {
	s, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := []string{"g/a|1", "g/a|2", "g/ab|1", "g/b|1", "h|1"}
	err = s.Update(func(tx Tx) error {
		for i, k := range keys {
			if err := PutJSON(tx, "targets", k, rec{Name: k, N: i}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(func(tx Tx) error {
		for prefix, want := range map[string]string{
			"g/a|": "g/a|1 g/a|2",
			"g/a":  "g/ab|1 g/a|1 g/a|2", // 'b' sorts before '|'
			"g/":   "g/ab|1 g/a|1 g/a|2 g/b|1",
			"":     "g/ab|1 g/a|1 g/a|2 g/b|1 h|1",
			"i":    "",
			"g/c":  "",
		} {
			rs, err := ScanJSON[rec](tx, "targets", prefix)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.Name)
			}
			if g := strings.Join(got, " "); g != want {
				t.Errorf("Scan(%q) = %q, want %q", prefix, g, want)
			}
		}
		if kvs, err := tx.Scan("nothing", ""); err != nil || len(kvs) != 0 {
			t.Errorf("Scan of a missing kind = %v, %v", kvs, err)
		}
		return nil
	})
}
