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
