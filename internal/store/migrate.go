package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Kinds lists the kinds the bbolt store holds records of.
func (b *Bolt) Kinds() ([]string, error) {
	var out []string
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			if bk.Stats().KeyN > 0 {
				out = append(out, string(name))
			}
			return nil
		})
	})
	return out, err
}

// ErrNotEmpty is Migrate refusing a destination that holds records.
var ErrNotEmpty = errors.New("the destination already holds records")

// Migrate copies every record of src into dst, which must hold none of
// src's kinds, in updates of at most batch records (etcd bounds the
// operations of a transaction: --max-txn-ops, 128 by default). It returns
// how many records it copied. A failure part-way leaves src untouched; run
// it again once the destination is emptied.
func Migrate(src *Bolt, dst Store, batch int) (int, error) {
	if batch <= 0 {
		batch = 100
	}
	kinds, err := src.Kinds()
	if err != nil {
		return 0, err
	}
	if err := dst.View(func(tx Tx) error {
		for _, kind := range kinds {
			kvs, err := tx.List(kind)
			if err != nil {
				return err
			}
			if len(kvs) > 0 {
				return fmt.Errorf("%w: %d %s", ErrNotEmpty, len(kvs), kind)
			}
		}
		return nil
	}); err != nil {
		return 0, err
	}
	copied := 0
	for _, kind := range kinds {
		var kvs []KV
		if err := src.View(func(tx Tx) (err error) { kvs, err = tx.List(kind); return err }); err != nil {
			return copied, err
		}
		for len(kvs) > 0 {
			part := kvs[:min(batch, len(kvs))]
			kvs = kvs[len(part):]
			if err := dst.Update(func(tx Tx) error {
				for _, kv := range part {
					if err := tx.Put(kind, kv.Key, kv.Value); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return copied, fmt.Errorf("copying %s: %w", kind, err)
			}
			copied += len(part)
		}
	}
	return copied, nil
}
