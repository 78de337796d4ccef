package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Bolt is the embedded store: one bbolt file in the data directory, a
// bucket per kind. bbolt syncs every commit, so state survives a crash.
type Bolt struct {
	db  *bolt.DB
	rev atomic.Uint64

	mu       sync.Mutex
	watchers map[chan struct{}]struct{}
}

// FileName is the store's file inside the data directory.
const FileName = "alba.db"

// OpenBolt opens (or creates) the store in dir. A store another process
// holds, or a file that is not a valid store, is an error: never silently
// replaced.
func OpenBolt(dir string) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("the store %s is locked: another alba process is using the data directory %s", path, dir)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
			return nil, fmt.Errorf("the store %s is corrupt (%v); it was left untouched: move it aside to start empty, or restore a backup", path, err)
		}
		return nil, fmt.Errorf("cannot open the store %s: %w", path, err)
	}
	b := &Bolt{db: db, watchers: map[chan struct{}]struct{}{}}
	// Catch corruption inside the file now rather than on first use.
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			return bk.ForEach(func(k, v []byte) error { return nil })
		})
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("the store %s is corrupt (%v); it was left untouched", path, err)
	}
	return b, nil
}

// View runs fn in a read-only transaction.
func (b *Bolt) View(fn func(Tx) error) error {
	return b.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Update runs fn in a read-write transaction and notifies watchers after
// the commit.
func (b *Bolt) Update(fn func(Tx) error) error {
	if err := b.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) }); err != nil {
		return err
	}
	b.rev.Add(1)
	b.notify()
	return nil
}

// Revision counts committed updates since the store was opened.
func (b *Bolt) Revision() uint64 { return b.rev.Load() }

// Watch returns a coalescing change notification channel.
func (b *Bolt) Watch(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.watchers[ch] = struct{}{}
	b.mu.Unlock()
	out := make(chan struct{})
	go func() {
		defer close(out)
		defer func() {
			b.mu.Lock()
			delete(b.watchers, ch)
			b.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func (b *Bolt) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.watchers {
		select {
		case ch <- struct{}{}:
		default: // a notification is already pending
		}
	}
}

// Close closes the file.
func (b *Bolt) Close() error { return b.db.Close() }

type boltTx struct{ tx *bolt.Tx }

func (t boltTx) Get(kind, key string) ([]byte, error) {
	bk := t.tx.Bucket([]byte(kind))
	if bk == nil {
		return nil, ErrNotFound
	}
	v := bk.Get([]byte(key))
	if v == nil {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (t boltTx) Put(kind, key string, value []byte) error {
	bk, err := t.tx.CreateBucketIfNotExists([]byte(kind))
	if err != nil {
		return err
	}
	return bk.Put([]byte(key), value)
}

func (t boltTx) Delete(kind, key string) error {
	bk := t.tx.Bucket([]byte(kind))
	if bk == nil {
		return nil
	}
	return bk.Delete([]byte(key))
}

func (t boltTx) List(kind string) ([]KV, error) {
	bk := t.tx.Bucket([]byte(kind))
	if bk == nil {
		return nil, nil
	}
	var out []KV
	err := bk.ForEach(func(k, v []byte) error {
		out = append(out, KV{Key: string(k), Value: append([]byte(nil), v...)})
		return nil
	})
	return out, err
}
