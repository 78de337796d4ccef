package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Bolt is the embedded store: one bbolt file in the data directory, a
// bucket per kind. bbolt syncs every commit, so state survives a crash.
type Bolt struct {
	db       *bolt.DB
	dir      string
	rev      atomic.Uint64
	watchers watchers
}

// FileName is the store's file inside the data directory.
const FileName = "alba.db"

// ErrLocked reports a store another process holds.
var ErrLocked = errors.New("the store is locked")

// lockedError says which store is locked and by what; it is ErrLocked.
type lockedError string

func (e lockedError) Error() string        { return string(e) }
func (e lockedError) Is(target error) bool { return target == ErrLocked }

// OpenBolt opens (or creates) the store in dir. A store another process
// holds, or a file that is not a valid store, is an error: never silently
// replaced.
func OpenBolt(dir string) (*Bolt, error) { return OpenBoltWithin(dir, time.Second) }

// OpenBoltWithin is OpenBolt waiting up to wait for another process to
// let go of the store (an Alba handing over to this one).
func OpenBoltWithin(dir string, wait time.Duration) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: wait})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, lockedError(fmt.Sprintf("the store %s is locked: another alba process is using the data directory %s", path, dir))
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
			return nil, fmt.Errorf("the store %s is corrupt (%v); it was left untouched: move it aside to start empty, or restore a backup", path, err)
		}
		if d := diskTrouble(dir, err); d != nil {
			return nil, fmt.Errorf("cannot open the store %s: %s", path, d.why)
		}
		return nil, fmt.Errorf("cannot open the store %s: %w", path, err)
	}
	b := &Bolt{db: db, dir: dir}
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
	return b.db.View(func(tx *bolt.Tx) error { return fn(&boltTx{tx: tx}) })
}

// Update runs fn in a read-write transaction and notifies the watchers of
// the kinds it wrote after the commit.
func (b *Bolt) Update(fn func(Tx) error) error {
	t := &boltTx{touched: map[string]bool{}}
	if err := b.db.Update(func(tx *bolt.Tx) error {
		t.tx = tx
		return fn(t)
	}); err != nil {
		if d := diskTrouble(b.dir, err); d != nil {
			return d
		}
		return err
	}
	b.rev.Add(1)
	// Not nil, even when nothing was written: nil would mean every kind.
	b.watchers.notify(append([]string{}, slices.Collect(maps.Keys(t.touched))...))
	return nil
}

// Revision counts committed updates since the store was opened.
func (b *Bolt) Revision() uint64 { return b.rev.Load() }

// Watch returns a coalescing change notification channel for commits that
// wrote one of kinds (any commit with none).
func (b *Bolt) Watch(ctx context.Context, kinds ...string) <-chan struct{} {
	return b.watchers.add(ctx, nil, kinds)
}

// Close closes the file.
func (b *Bolt) Close() error { return b.db.Close() }

// boltTx is a transaction; touched collects the kinds a read-write one
// writes, for the watchers (nil in a read-only one).
type boltTx struct {
	tx      *bolt.Tx
	touched map[string]bool
}

func (t *boltTx) Get(kind, key string) ([]byte, error) {
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

func (t *boltTx) Put(kind, key string, value []byte) error {
	bk, err := t.tx.CreateBucketIfNotExists([]byte(kind))
	if err != nil {
		return err
	}
	if err := bk.Put([]byte(key), value); err != nil {
		return err
	}
	t.touch(kind)
	return nil
}

func (t *boltTx) Delete(kind, key string) error {
	bk := t.tx.Bucket([]byte(kind))
	if bk == nil {
		return nil
	}
	if bk.Get([]byte(key)) == nil {
		return nil // nothing changes: no watcher needs to hear of it
	}
	if err := bk.Delete([]byte(key)); err != nil {
		return err
	}
	t.touch(kind)
	return nil
}

func (t *boltTx) touch(kind string) {
	if t.touched != nil {
		t.touched[kind] = true
	}
}

func (t *boltTx) Scan(kind, prefix string) ([]KV, error) {
	bk := t.tx.Bucket([]byte(kind))
	if bk == nil {
		return nil, nil
	}
	var out []KV
	p := []byte(prefix)
	c := bk.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		out = append(out, KV{Key: string(k), Value: append([]byte(nil), v...)})
	}
	return out, nil
}

func (t *boltTx) List(kind string) ([]KV, error) { return t.Scan(kind, "") }

// diskError is a write the data directory's file system refused: the
// transaction rolled back whole, and the store stays as it was. It is
// ErrUnavailable (the API answers 503: try again once there is room).
type diskError struct {
	why string
	err error
}

func (e *diskError) Error() string { return e.why }

func (e *diskError) Is(target error) bool { return target == ErrUnavailable }

func (e *diskError) Unwrap() error { return e.err }

// diskTrouble explains err when the file system refused a write: full,
// over quota, read-only; nil otherwise.
func diskTrouble(dir string, err error) *diskError {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &diskError{why: fmt.Sprintf("the data directory %s is full (%v): nothing was written; free some space", dir, err), err: err}
	case errors.Is(err, syscall.EROFS):
		return &diskError{why: fmt.Sprintf("the data directory %s is on a read-only file system: nothing was written; give a writable --data-dir", dir), err: err}
	}
	return nil
}
