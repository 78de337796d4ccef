package cluster

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/store"
)

// A View is one node's health view: target ("group id:port") → state.
type View map[string]string

func viewsKey(prefix string) string { return prefix + "h/" }

// ShareHealth publishes the node's health view under its lease whenever
// it changes (looked at every interval), so that any node can show how
// every node sees every target. It returns when ctx ends.
func (m *Member) ShareHealth(ctx context.Context, clk clock.Clock, every time.Duration, view func() View) {
	var last View
	var lastLease clientv3.LeaseID
	for {
		if sess := m.sess.Load(); sess != nil {
			v := view()
			// A new lease (registered again) drops what the old one held.
			if !maps.Equal(v, last) || sess.Lease() != lastLease {
				b, _ := json.Marshal(v)
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := m.st.Client().Put(clientv3.WithRequireLeader(rctx), viewsKey(m.prefix())+m.node.ID, string(b), clientv3.WithLease(sess.Lease()))
				cancel()
				if err == nil {
					last, lastLease = v, sess.Lease()
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(every):
		}
	}
}

// Views returns every registered node's health view, by node id.
func Views(ctx context.Context, st *store.Etcd) (map[string]View, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := st.Client().Get(clientv3.WithRequireLeader(ctx), viewsKey(st.Prefix()), clientv3.WithPrefix())
	if err != nil {
		return nil, store.FromEtcd(err)
	}
	out := map[string]View{}
	for _, kv := range resp.Kvs {
		var v View
		if json.Unmarshal(kv.Value, &v) == nil {
			out[strings.TrimPrefix(string(kv.Key), viewsKey(st.Prefix()))] = v
		}
	}
	return out, nil
}
