package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ErrUnavailable wraps the errors of a store that cannot answer now: an
// etcd cluster without quorum, or out of reach. An Update that fails
// with it wrote nothing, unless its commit was cut off at the end of its
// time, when it may yet apply (once).
var ErrUnavailable = errors.New("the store is unavailable")

// ErrConflict is returned when an update lost every retry to concurrent
// writers of the same kinds.
var ErrConflict = errors.New("the store is too busy: the update lost every retry to concurrent writers")

// EtcdOptions configures OpenEtcd.
type EtcdOptions struct {
	// Endpoints are the etcd members' client URLs.
	Endpoints []string
	// Cluster names the Alba cluster: its records live under
	// /alba/<Cluster>/, so one etcd can hold several.
	Cluster string
	// TLS, when set, is the client's TLS configuration (CA, client
	// certificate).
	TLS *tls.Config
	// Username and Password authenticate to etcd, when it requires it.
	Username, Password string
	// Timeout bounds each View and Update (default 5s): requests failing
	// for want of a leader are retried within it (an election takes about
	// a second), and past it the store answers ErrUnavailable rather than
	// wait on for a quorum.
	Timeout time.Duration
	// Node names this client's commit marker, /alba/<cluster>/c/<node>
	// (default: a random name). A node restarting under the same name
	// reuses its marker rather than leave one behind.
	Node string
}

// Etcd is the cluster store: records under /alba/<cluster>/r/<kind>/<key>
// in etcd. A transaction reads one etcd revision (a snapshot) and commits
// as one etcd Txn that compares, for every kind it read or wrote, the
// mod revision of that kind's head key (/alba/<cluster>/k/<kind>) with its
// snapshot, and bumps the heads of the kinds it writes: optimistic
// concurrency, retried on conflict. Watches follow the head keys.
//
// Update's fn may run more than once (each retry re-reads), so it must
// only act through the transaction.
type Etcd struct {
	cli     *clientv3.Client
	prefix  string // /alba/<cluster>/
	timeout time.Duration
	rev     atomic.Int64 // the highest etcd revision seen

	// mu serializes this node's updates: they cannot conflict with each
	// other, only with other nodes'. It guards the marker too.
	mu sync.Mutex
	// marker is this node's commit marker key; every commit writes a
	// fresh id to it and compares its mod revision with markRev, the last
	// one known. A commit whose outcome was lost (a timeout during an
	// election) is then settled by reading the marker: it holds that
	// commit's id if and only if it applied, and no later commit can
	// apply on top of a stale markRev. Updates apply exactly once.
	marker  string
	markRev int64
	// ownMarker: the marker's name is random, so Close removes it.
	ownMarker bool

	watchers watchers
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// OpenEtcd connects to etcd and checks that it answers.
func OpenEtcd(o EtcdOptions) (*Etcd, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("no etcd endpoints")
	}
	if o.Cluster == "" || strings.ContainsAny(o.Cluster, "/ ") {
		return nil, fmt.Errorf("cluster name %q: want a non-empty name without slashes or spaces", o.Cluster)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: o.Timeout,
		TLS:         o.TLS,
		Username:    o.Username,
		Password:    o.Password,
		Logger:      zap.NewNop(),
		// Keepalives notice a dead member so the client fails over.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	e := &Etcd{cli: cli, prefix: "/alba/" + o.Cluster + "/", timeout: o.Timeout}
	if o.Node == "" {
		o.Node, e.ownMarker = fmt.Sprintf("%016x", rand.Uint64()), true
	}
	e.marker = e.prefix + "c/" + o.Node
	e.ctx, e.cancel = context.WithCancel(context.Background())
	var resp *clientv3.GetResponse
	err = e.retry(time.Now().Add(o.Timeout), func(ctx context.Context) (err error) {
		resp, err = cli.Get(ctx, e.marker)
		return err
	})
	if err != nil {
		cli.Close()
		if why := diagnoseTLS(o); why != nil {
			return nil, fmt.Errorf("etcd %s refused this client's TLS: %v (check --etcd-cacert, --etcd-cert and --etcd-key)", strings.Join(o.Endpoints, ","), why)
		}
		return nil, fmt.Errorf("etcd %s does not answer within %v (is it running, with a quorum of its members?): %w", strings.Join(o.Endpoints, ","), o.Timeout, err)
	}
	if len(resp.Kvs) > 0 {
		e.markRev = resp.Kvs[0].ModRevision
	}
	e.seen(resp.Header.Revision)
	e.wg.Add(1)
	go e.follow(resp.Header.Revision)
	return e, nil
}

// Client is the etcd client, for what the cluster layer builds on it
// (leases, elections).
func (e *Etcd) Client() *clientv3.Client { return e.cli }

// Prefix is the cluster's key prefix, /alba/<cluster>/.
func (e *Etcd) Prefix() string { return e.prefix }

// try is the time one request gets: long enough for a healthy cluster,
// short enough that one lost in an election leaves time to try again.
func (e *Etcd) try() time.Duration { return max(e.timeout/4, 500*time.Millisecond) }

// retry runs req until it succeeds, fails for a reason other than
// etcd's unavailability, or deadline passes. Each try gets a part of the
// time left, so a request lost in an election is tried again; a member
// cut off from the leader answers nothing, rather than something stale.
func (e *Etcd) retry(deadline time.Time, req func(ctx context.Context) error) error {
	for {
		ctx, cancel := context.WithTimeout(e.ctx, min(e.try(), max(time.Until(deadline), 0)))
		err := req(clientv3.WithRequireLeader(ctx))
		cancel()
		err = FromEtcd(err)
		if err == nil || !errors.Is(err, ErrUnavailable) || e.ctx.Err() != nil {
			return err
		}
		if time.Until(deadline) < 100*time.Millisecond {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *Etcd) seen(rev int64) {
	for {
		cur := e.rev.Load()
		if rev <= cur || e.rev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// FromEtcd wraps an etcd client's error, as ErrUnavailable when it means
// etcd cannot answer now (no leader, no quorum, out of reach).
func FromEtcd(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, rpctypes.ErrNoLeader),
		errors.Is(err, rpctypes.ErrLeaderChanged), errors.Is(err, rpctypes.ErrTimeout),
		errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail), errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost),
		errors.Is(err, rpctypes.ErrGRPCNoLeader), errors.Is(err, rpctypes.ErrGRPCTimeout),
		clientv3.IsConnCanceled(err), isUnavailableStatus(err):
		return fmt.Errorf("%w: etcd: %v", ErrUnavailable, err)
	}
	return fmt.Errorf("etcd: %w", err)
}

// isUnavailableStatus is true for gRPC's Unavailable and DeadlineExceeded
// (no member reachable), and for a member's own context running out while
// it waited for a quorum (it answers Unknown with the deadline's text).
func isUnavailableStatus(err error) bool {
	s := err.Error()
	return strings.Contains(s, "code = Unavailable") || strings.Contains(s, "code = DeadlineExceeded") ||
		strings.Contains(s, "desc = context deadline exceeded")
}

func (e *Etcd) recordKey(kind, key string) string { return e.prefix + "r/" + kind + "/" + key }
func (e *Etcd) headKey(kind string) string        { return e.prefix + "k/" + kind }

// View runs fn on one snapshot of the store.
func (e *Etcd) View(fn func(Tx) error) error {
	return fn(&etcdTx{e: e, deadline: time.Now().Add(e.timeout)})
}

// maxAttempts bounds the retries of a conflicting update.
const maxAttempts = 20

// Update runs fn and commits its writes in one Txn, retrying fn on a
// conflict with another node's commit.
func (e *Etcd) Update(fn func(Tx) error) error { return e.update(fn, nil) }

// Fence names a leader's key: a store fenced by it commits only while the
// key exists with that creation revision, so a deposed leader, whatever
// it believes, writes nothing.
type Fence struct {
	Key string
	Rev int64
}

// ErrNotLeader is a fenced update refused because the fence's key is gone
// or belongs to another leader.
var ErrNotLeader = errors.New("this node no longer leads the cluster: its write was refused")

// Fenced returns the store with every Update fenced by f (its Close does
// nothing: the store stays the node's).
func (e *Etcd) Fenced(f Fence) Store { return &fenced{Etcd: e, f: f} }

type fenced struct {
	*Etcd
	f Fence
}

func (s *fenced) Update(fn func(Tx) error) error { return s.update(fn, &s.f) }
func (s *fenced) Close() error                   { return nil }

func (e *Etcd) update(fn func(Tx) error, fence *Fence) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	deadline := time.Now().Add(e.timeout)
	var unsettled []string // ids of this update's commits whose outcome was lost
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t := &etcdTx{e: e, deadline: deadline, writes: map[string]map[string][]byte{}, used: map[string]bool{}}
		if err := fn(t); err != nil {
			return err
		}
		if t.err != nil {
			return t.err
		}
		if len(t.writes) == 0 {
			return nil
		}
		applied := func() error {
			e.watchers.notify(slices.Collect(maps.Keys(t.writes)))
			return nil
		}
		id := fmt.Sprintf("%016x", rand.Uint64())
		resp, err := e.commit(t, id, deadline, fence)
		if err != nil {
			if !errors.Is(err, ErrUnavailable) {
				return err
			}
			unsettled = append(unsettled, id)
			if time.Until(deadline) <= 0 {
				return err
			}
			// Settle it: the marker's value says whether it applied.
			var got *clientv3.GetResponse
			if err := e.retry(deadline, func(ctx context.Context) (err error) {
				got, err = e.cli.Get(ctx, e.marker)
				return err
			}); err != nil {
				return err
			}
			if e.settled(got.Kvs, unsettled) {
				return applied()
			}
			continue
		}
		if resp.Succeeded {
			e.markRev = resp.Header.Revision
			e.seen(resp.Header.Revision)
			return applied()
		}
		// A kind this update read changed, the marker moved or the fence
		// fell: the Else branch read the marker and the fence.
		if fence != nil {
			kvs := resp.Responses[1].GetResponseRange().Kvs
			if len(kvs) == 0 || kvs[0].CreateRevision != fence.Rev {
				return ErrNotLeader
			}
		}
		if e.settled(resp.Responses[0].GetResponseRange().Kvs, unsettled) {
			return applied()
		}
		time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6))))
	}
	return ErrConflict
}

// settled learns the marker's state from kvs (its current value): true
// when it holds one of the ids of commits whose outcome was lost, which
// then applied.
func (e *Etcd) settled(kvs []*mvccpb.KeyValue, unsettled []string) bool {
	e.markRev = 0
	if len(kvs) == 0 {
		return false
	}
	e.markRev = kvs[0].ModRevision
	e.seen(kvs[0].ModRevision)
	return slices.Contains(unsettled, string(kvs[0].Value))
}

func (e *Etcd) commit(t *etcdTx, id string, deadline time.Time, fence *Fence) (*clientv3.TxnResponse, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(e.marker), "=", e.markRev)}
	orElse := []clientv3.Op{clientv3.OpGet(e.marker)}
	if fence != nil {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(fence.Key), "=", fence.Rev))
		orElse = append(orElse, clientv3.OpGet(fence.Key))
	}
	if t.rev != 0 {
		for kind := range t.used {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(e.headKey(kind)), "<", t.rev+1))
		}
	}
	var ops []clientv3.Op
	for _, kind := range slices.Sorted(maps.Keys(t.writes)) {
		for key, v := range t.writes[kind] {
			if v == nil {
				ops = append(ops, clientv3.OpDelete(e.recordKey(kind, key)))
			} else {
				ops = append(ops, clientv3.OpPut(e.recordKey(kind, key), string(v)))
			}
		}
		ops = append(ops, clientv3.OpPut(e.headKey(kind), ""))
	}
	ops = append(ops, clientv3.OpPut(e.marker, id))
	// One try: a commit is not simply sent again (the caller settles it).
	ctx, cancel := context.WithTimeout(e.ctx, min(e.try(), max(time.Until(deadline), 0)))
	defer cancel()
	resp, err := e.cli.Txn(clientv3.WithRequireLeader(ctx)).If(cmps...).Then(ops...).Else(orElse...).Commit()
	if err != nil {
		if errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrGRPCTooManyOps) {
			return nil, fmt.Errorf("etcd refused a transaction of %d operations: raise etcd's --max-txn-ops (default 128) to at least %d", len(ops), len(ops))
		}
		if errors.Is(err, rpctypes.ErrRequestTooLarge) || errors.Is(err, rpctypes.ErrGRPCRequestTooLarge) {
			return nil, fmt.Errorf("etcd refused a transaction as too large: raise etcd's --max-request-bytes (default 1.5 MiB)")
		}
		return nil, FromEtcd(err)
	}
	return resp, nil
}

// Revision is the highest etcd revision this node has seen; it only grows.
func (e *Etcd) Revision() uint64 { return uint64(e.rev.Load()) }

// Watch returns a coalescing notification channel for commits, on any
// node, that wrote one of kinds (any commit with none).
func (e *Etcd) Watch(ctx context.Context, kinds ...string) <-chan struct{} {
	return e.watchers.add(ctx, e.ctx.Done(), kinds)
}

// follow watches the head keys from rev on, for every node's commits. A
// broken watch resumes from the last revision seen; a compacted one
// cannot say what changed, so everyone hears "everything" and reads anew.
func (e *Etcd) follow(rev int64) {
	defer e.wg.Done()
	heads := e.prefix + "k/"
	for e.ctx.Err() == nil {
		ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(e.ctx))
		wch := e.cli.Watch(ctx, heads, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for resp := range wch {
			if resp.CompactRevision != 0 {
				rev = resp.CompactRevision - 1
				e.watchers.notify(nil)
				break
			}
			if err := resp.Err(); err != nil {
				break
			}
			var kinds []string
			for _, ev := range resp.Events {
				kinds = append(kinds, strings.TrimPrefix(string(ev.Kv.Key), heads))
			}
			if resp.Header.Revision > rev {
				rev = resp.Header.Revision
			}
			e.seen(rev)
			if len(kinds) > 0 {
				e.watchers.notify(kinds)
			}
		}
		cancel()
		select {
		case <-e.ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close stops the watches and closes the client.
func (e *Etcd) Close() error {
	if e.ownMarker {
		ctx, cancel := context.WithTimeout(e.ctx, time.Second)
		e.cli.Delete(ctx, e.marker)
		cancel()
	}
	e.cancel()
	e.wg.Wait()
	return e.cli.Close()
}

// etcdTx reads one etcd revision (fixed by its first read) and, in an
// update, buffers writes (nil: a delete) that its own reads see.
type etcdTx struct {
	e        *Etcd
	deadline time.Time
	rev      int64
	writes   map[string]map[string][]byte // nil in a View
	used     map[string]bool              // kinds read or written
	err      error                        // a failed read the caller may have ignored
}

func (t *etcdTx) get(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if t.rev != 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	var resp *clientv3.GetResponse
	err := t.e.retry(t.deadline, func(ctx context.Context) (err error) {
		resp, err = t.e.cli.Get(ctx, key, opts...)
		return err
	})
	if err != nil {
		if t.err == nil {
			t.err = err
		}
		return nil, err
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
		t.e.seen(t.rev)
	}
	return resp, nil
}

func (t *etcdTx) use(kind string) {
	if t.used != nil {
		t.used[kind] = true
	}
}

func (t *etcdTx) Get(kind, key string) ([]byte, error) {
	t.use(kind)
	if v, ok := t.writes[kind][key]; ok {
		if v == nil {
			return nil, ErrNotFound
		}
		return slices.Clone(v), nil
	}
	resp, err := t.get(t.e.recordKey(kind, key))
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	return resp.Kvs[0].Value, nil
}

func (t *etcdTx) Put(kind, key string, value []byte) error {
	if t.writes == nil {
		return errors.New("store: Put in a read-only transaction")
	}
	t.use(kind)
	if t.writes[kind] == nil {
		t.writes[kind] = map[string][]byte{}
	}
	t.writes[kind][key] = slices.Clone(value)
	if t.writes[kind][key] == nil {
		t.writes[kind][key] = []byte{}
	}
	return nil
}

func (t *etcdTx) Delete(kind, key string) error {
	if t.writes == nil {
		return errors.New("store: Delete in a read-only transaction")
	}
	// Deleting what is not there changes nothing: no commit, no watcher
	// woken, as in the bbolt store.
	if _, err := t.Get(kind, key); errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if t.writes[kind] == nil {
		t.writes[kind] = map[string][]byte{}
	}
	t.writes[kind][key] = nil
	return nil
}

func (t *etcdTx) List(kind string) ([]KV, error) { return t.Scan(kind, "") }

func (t *etcdTx) Scan(kind, prefix string) ([]KV, error) {
	t.use(kind)
	base := t.e.recordKey(kind, "")
	resp, err := t.get(base+prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	recs := map[string][]byte{}
	for _, kv := range resp.Kvs {
		recs[strings.TrimPrefix(string(kv.Key), base)] = kv.Value
	}
	for key, v := range t.writes[kind] {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		if v == nil {
			delete(recs, key)
		} else {
			recs[key] = slices.Clone(v)
		}
	}
	out := make([]KV, 0, len(recs))
	for _, key := range slices.Sorted(maps.Keys(recs)) {
		out = append(out, KV{Key: key, Value: recs[key]})
	}
	return out, nil
}

// diagnoseTLS says why a TLS handshake with the first https endpoint
// fails, if it does: the etcd client reports only a timeout then.
func diagnoseTLS(o EtcdOptions) error {
	u, err := url.Parse(o.Endpoints[0])
	if err != nil || u.Scheme != "https" {
		return nil
	}
	cfg := &tls.Config{}
	if o.TLS != nil {
		cfg = o.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", u.Host, cfg)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil // not a TLS matter
		}
		return err
	}
	defer c.Close()
	// TLS 1.3 servers refuse a missing client certificate after the
	// handshake: a read shows it (a timeout means it took the client).
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil && strings.Contains(err.Error(), "tls:") {
		return err
	}
	return nil
}
