package lbcontroller

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// decoded keeps a kind's records decoded, with the bytes each came from:
// a reconcile after one change decodes that record only, and unchanged
// records keep their pointers, which lets compile reuse what it built from
// them. The records are shared by successive snapshots, so nothing may
// modify them.
type decoded[T any] struct {
	recs []decodedRecord[T] // in key order
}

type decodedRecord[T any] struct {
	key string
	raw []byte
	v   *T
}

// list returns the kind's records in key order, decoding the new and the
// changed ones. The store lists in key order, so the last list is walked
// alongside rather than looked up.
func (d *decoded[T]) list(tx store.Tx, kind string) ([]*T, error) {
	kvs, err := tx.List(kind)
	if err != nil {
		return nil, err
	}
	next := make([]decodedRecord[T], 0, len(kvs))
	out := make([]*T, 0, len(kvs))
	old := d.recs
	for _, kv := range kvs {
		for len(old) > 0 && old[0].key < kv.Key {
			old = old[1:]
		}
		var r decodedRecord[T]
		if len(old) > 0 && old[0].key == kv.Key && bytes.Equal(old[0].raw, kv.Value) {
			r = old[0]
		} else {
			v := new(T)
			if err := json.Unmarshal(kv.Value, v); err != nil {
				return nil, fmt.Errorf("record %s/%s is corrupt: %w", kind, kv.Key, err)
			}
			r = decodedRecord[T]{key: kv.Key, raw: kv.Value, v: v}
		}
		next = append(next, r)
		out = append(out, r.v)
	}
	d.recs = next
	return out, nil
}

// records holds the decoded records of every kind the controller compiles.
type records struct {
	lbs       decoded[model.LoadBalancer]
	listeners decoded[model.Listener]
	groups    decoded[model.TargetGroup]
	targets   decoded[model.Target]
	rules     decoded[model.Rule]
	certs     decoded[model.Certificate]
}

// compiledGroup is what compile built for a target group, kept for the
// next compile: when the group's record, its registrations and whether it
// is in use are the same, the group is not built again.
type compiledGroup struct {
	group    *model.TargetGroup
	regs     []*model.Target
	inUse    bool
	dg       *dataplane.TargetGroup
	view     GroupView
	watched  []health.Watched
	draining []drainChange
}

// same reports whether c was built from these inputs (records compare by
// pointer: decoded keeps the pointer of an unchanged record).
func (c *compiledGroup) same(g *model.TargetGroup, regs []*model.Target, inUse bool) bool {
	if c.group != g || c.inUse != inUse || len(c.regs) != len(regs) {
		return false
	}
	for i, r := range regs {
		if c.regs[i] != r {
			return false
		}
	}
	return true
}
