// Package cluster makes Alba nodes sharing one etcd store a cluster: each
// node registers itself under a lease, and one of them, elected with
// etcd's concurrency.Election, leads — runs what must happen once (the
// auto scaling reconciler, launches, terminations, drain timers) through
// a store fenced by its leader key, so that a deposed leader writes
// nothing.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/store"
)

// Node is what a node says of itself in the registry.
type Node struct {
	// ID names the node; it stays the same across restarts.
	ID string `json:"id"`
	// Admin is the node's admin address (AWS API, admin API, metrics).
	Admin string `json:"admin"`
	// ListenHost is the address its listeners bind ("" for all).
	ListenHost string `json:"listen_host,omitempty"`
	// Zone is the node's availability zone, if it was given one.
	Zone string `json:"zone,omitempty"`
	// Version is the node's Alba version.
	Version string `json:"version"`
	// Started is when the node started.
	Started time.Time `json:"started"`
	// Leader is true for the node that leads (set by Nodes).
	Leader bool `json:"leader"`
}

// Member is this node's membership: its registration and its candidacy.
type Member struct {
	st      *store.Etcd
	node    Node
	ttl     int
	logger  *slog.Logger
	events  func(string)
	clk     clock.Clock
	sess    atomic.Pointer[concurrency.Session]
	leading atomic.Bool
	// lastAck is when etcd last renewed the lease (unix nanoseconds). A
	// leader that has heard nothing for stepDown steps down: etcd may
	// expire the lease soon after, and another node may lead then; the
	// margin covers a renewal's round trip and the lessor's own check.
	lastAck  atomic.Int64
	stepDown time.Duration
}

// Options configure Join.
type Options struct {
	// TTL is the lease of the node's registration and leadership (default
	// 3s): a node cut off from etcd stops leading within it.
	TTL time.Duration
	// Logger receives errors; Events the lines of the terminal's stream.
	Logger *slog.Logger
	Events func(string)
	// Clock times the step-down watch and the retries (default the real
	// one); the lease itself runs on etcd's time.
	Clock clock.Clock
}

func (m *Member) prefix() string { return m.st.Prefix() }

func nodesKey(prefix string) string  { return prefix + "n/" }
func leaderKey(prefix string) string { return prefix + "leader" }

// Join registers node under a lease; the registration lasts while the node
// runs (Run keeps it, and renews it after a lost lease).
func Join(ctx context.Context, st *store.Etcd, node Node, o Options) (*Member, error) {
	if node.ID == "" {
		return nil, errors.New("a cluster node needs an id")
	}
	if o.TTL <= 0 {
		o.TTL = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	m := &Member{st: st, node: node, ttl: max(int(o.TTL.Round(time.Second)/time.Second), 1), logger: o.Logger, events: o.Events, clk: o.Clock}
	m.stepDown = time.Duration(m.ttl)*time.Second - min(time.Second, time.Duration(m.ttl)*time.Second/3)
	if err := m.register(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// register opens a session (a lease kept alive) and writes the node's
// record under it, replacing one a crashed run of the node left.
func (m *Member) register(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lease, err := m.st.Client().Grant(clientv3.WithRequireLeader(rctx), int64(m.ttl))
	if err != nil {
		return fmt.Errorf("cannot join the cluster: %w", err)
	}
	// The session outlives ctx: its Close, as the node leaves, revokes the
	// lease with the session's context, which must still be live then.
	sess, err := concurrency.NewSession(m.st.Client(), concurrency.WithTTL(m.ttl), concurrency.WithLease(lease.ID),
		concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return fmt.Errorf("cannot join the cluster: %w", err)
	}
	// Hear the lease's renewals too (the session keeps its own channel).
	acks, err := m.st.Client().KeepAlive(sess.Ctx(), lease.ID)
	if err != nil {
		sess.Close()
		return fmt.Errorf("cannot join the cluster: %w", err)
	}
	m.lastAck.Store(m.clk.Now().UnixNano())
	go func() {
		for range acks {
			m.lastAck.Store(m.clk.Now().UnixNano())
		}
	}()
	b, _ := json.Marshal(m.node)
	if _, err := m.st.Client().Put(clientv3.WithRequireLeader(rctx), nodesKey(m.prefix())+m.node.ID, string(b), clientv3.WithLease(sess.Lease())); err != nil {
		sess.Close()
		return fmt.Errorf("cannot register node %s in the cluster: %w", m.node.ID, err)
	}
	m.sess.Store(sess)
	return nil
}

// Self is the node's registration, Leader meaning it leads now.
func (m *Member) Self() Node {
	n := m.node
	n.Leader = m.Leading()
	return n
}

// Leading reports whether this node leads now.
func (m *Member) Leading() bool { return m.leading.Load() }

// Run campaigns for leadership until ctx ends; while this node leads, it
// runs lead with a context that ends when leadership does and a store
// fenced by the leader key. A lost lease (etcd out of reach for longer
// than the TTL) ends leadership and the registration; Run registers again
// once etcd answers. On return the node has resigned and left.
func (m *Member) Run(ctx context.Context, lead func(ctx context.Context, st store.Store)) {
	defer func() {
		if s := m.sess.Load(); s != nil {
			s.Close() // revokes the lease: registration and candidacy go
		}
	}()
	for ctx.Err() == nil {
		sess := m.sess.Load()
		if sess == nil {
			if err := m.register(ctx); err != nil {
				if ctx.Err() == nil {
					m.logger.Error("cluster", "err", err)
					m.sleep(ctx, time.Second)
				}
				continue
			}
			m.event("registered again in the cluster")
			sess = m.sess.Load()
		}
		stale := m.term(ctx, sess, lead)
		select {
		case <-sess.Done():
			m.sess.Store(nil)
			sess.Close()
			if ctx.Err() == nil {
				m.event("lost the cluster lease (etcd out of reach): not leading, registering again")
			}
		default:
			if stale {
				m.sess.Store(nil)
				sess.Close()
			}
		}
	}
}

// term campaigns once and, if elected, leads until the session or ctx
// ends, or until etcd has not renewed the lease for stepDown (then stale:
// the session is not to be trusted any more).
func (m *Member) term(ctx context.Context, sess *concurrency.Session, lead func(ctx context.Context, st store.Store)) (stale bool) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	el := concurrency.NewElection(sess, leaderKey(m.prefix()))
	// A cancelled Campaign resigns with the client's own context, which
	// waits for a quorum however long that takes: it runs on its own so
	// that losing the lease ends the term at once.
	campaign := make(chan error, 1)
	go func() { campaign <- el.Campaign(cctx, m.node.ID) }()
	var err error
	select {
	case err = <-campaign:
	case <-cctx.Done():
		err = cctx.Err()
	}
	if err != nil {
		if cctx.Err() == nil {
			m.logger.Error("cluster: campaigning for leadership", "err", err)
			m.sleep(cctx, time.Second)
		}
		return false
	}
	m.leading.Store(true)
	m.event("leading the cluster")
	var silent atomic.Bool
	go func() {
		for {
			select {
			case <-cctx.Done():
				return
			case <-m.clk.After(100 * time.Millisecond):
				if d := m.clk.Now().Sub(time.Unix(0, m.lastAck.Load())); d > m.stepDown {
					silent.Store(true)
					m.leading.Store(false)
					m.event(fmt.Sprintf("etcd has not renewed the lease for %v: stepping down before it can run out", d.Round(100*time.Millisecond)))
					cancel()
					return
				}
			}
		}
	}()
	lead(cctx, m.st.Fenced(store.Fence{Key: el.Key(), Rev: el.Rev()}))
	m.leading.Store(false)
	cancel()
	if sess.Lease() != 0 {
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		el.Resign(rctx)
		rcancel()
	}
	if ctx.Err() == nil {
		m.event("no longer leading the cluster")
	}
	return silent.Load()
}

func (m *Member) event(msg string) {
	if m.events != nil {
		m.events(msg)
	}
}

func (m *Member) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-m.clk.After(d):
	}
}

// Nodes lists the registered nodes, marking the leader.
func Nodes(ctx context.Context, st *store.Etcd) ([]Node, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ctx = clientv3.WithRequireLeader(ctx)
	resp, err := st.Client().Get(ctx, nodesKey(st.Prefix()), clientv3.WithPrefix())
	if err != nil {
		return nil, store.FromEtcd(err)
	}
	// The leader is the candidate whose key was created first.
	lr, err := st.Client().Get(ctx, leaderKey(st.Prefix())+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return nil, store.FromEtcd(err)
	}
	var leader string
	if len(lr.Kvs) > 0 {
		leader = string(lr.Kvs[0].Value)
	}
	var out []Node
	for _, kv := range resp.Kvs {
		var n Node
		if json.Unmarshal(kv.Value, &n) != nil {
			continue
		}
		n.Leader = n.ID == leader
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func unavailableErr(err error) error { return fmt.Errorf("%w: etcd: %v", store.ErrUnavailable, err) }
