// Package store keeps Alba's desired state and instance records. The Store
// interface is small (transactions over kinds of JSON records, and a watch)
// so that the embedded bbolt store and a cluster's etcd store can both
// implement it.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Store is a transactional collection of records grouped by kind.
type Store interface {
	// View runs fn in a read-only transaction.
	View(fn func(Tx) error) error
	// Update runs fn in a read-write transaction. Its changes commit
	// atomically when fn returns nil and are discarded otherwise; watchers
	// hear of a commit after it is durable.
	Update(fn func(Tx) error) error
	// Watch returns a channel that receives a value after commits that
	// wrote (put or deleted) a record of one of kinds; with no kinds, after
	// every commit. Bursts are coalesced: a receiver learns "something
	// changed", then reads. The channel closes when ctx ends.
	Watch(ctx context.Context, kinds ...string) <-chan struct{}
	// Revision counts committed updates; it only grows.
	Revision() uint64
	// Close releases the store.
	Close() error
}

// Tx reads and writes records inside a transaction.
type Tx interface {
	// Get returns the record of kind at key, or ErrNotFound.
	Get(kind, key string) ([]byte, error)
	// Put writes a record (read-write transactions only).
	Put(kind, key string, value []byte) error
	// Delete removes a record; removing a missing record is not an error.
	Delete(kind, key string) error
	// List returns the records of a kind in key order.
	List(kind string) ([]KV, error)
	// Scan returns the records of a kind whose keys begin with prefix, in
	// key order. Keys name their parents (a target's key begins with its
	// group's ARN, a rule's ARN with its listener's), so a scan finds a
	// resource's children, or a resource by name, without reading the
	// whole kind.
	Scan(kind, prefix string) ([]KV, error)
}

// KV is one record.
type KV struct {
	Key   string
	Value []byte
}

// ErrNotFound is returned by Get for a missing record.
var ErrNotFound = errors.New("record not found")

// GetJSON reads and decodes a record.
func GetJSON[T any](tx Tx, kind, key string) (*T, error) {
	b, err := tx.Get(kind, key)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("record %s/%s is corrupt: %w", kind, key, err)
	}
	return v, nil
}

// PutJSON encodes and writes a record.
func PutJSON(tx Tx, kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(kind, key, b)
}

// ListJSON decodes every record of a kind, in key order.
func ListJSON[T any](tx Tx, kind string) ([]*T, error) {
	kvs, err := tx.List(kind)
	if err != nil {
		return nil, err
	}
	return decodeAll[T](kind, kvs)
}

// ScanJSON decodes the records of a kind whose keys begin with prefix, in
// key order.
func ScanJSON[T any](tx Tx, kind, prefix string) ([]*T, error) {
	kvs, err := tx.Scan(kind, prefix)
	if err != nil {
		return nil, err
	}
	return decodeAll[T](kind, kvs)
}

func decodeAll[T any](kind string, kvs []KV) ([]*T, error) {
	out := make([]*T, 0, len(kvs))
	for _, kv := range kvs {
		v := new(T)
		if err := json.Unmarshal(kv.Value, v); err != nil {
			return nil, fmt.Errorf("record %s/%s is corrupt: %w", kind, kv.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}
