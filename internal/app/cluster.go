package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/cluster"
	"github.com/alba-lb/alba/internal/store"
)

// openStore opens the data directory's bbolt file, or etcd in a cluster.
func (n *Node) openStore(replacing bool) (store.Store, error) {
	if n.opts.Etcd == nil {
		if replacing { // the running alba lets go of it once it stopped accepting
			return store.OpenBoltWithin(n.opts.DataDir, handoverWait)
		}
		st, err := store.OpenBolt(n.opts.DataDir)
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%w (to take its place without refusing a connection: alba up --replace with the same flags)", err)
		}
		return st, err
	}
	id, err := n.nodeID()
	if err != nil {
		return nil, err
	}
	o := *n.opts.Etcd
	o.Node = id
	e, err := store.OpenEtcd(o)
	if err != nil {
		return nil, err
	}
	n.etcd, n.opts.NodeID = e, id
	return e, nil
}

// where names the store for the start-up line.
func (n *Node) where() string {
	if n.etcd != nil {
		return fmt.Sprintf("cluster %s on etcd %s", n.opts.Etcd.Cluster, strings.Join(n.opts.Etcd.Endpoints, ","))
	}
	return "data directory " + n.opts.DataDir
}

// nodeIDFile keeps a node's id in its data directory, so a restarted node
// is the same node.
const nodeIDFile = "node-id"

func (n *Node) nodeID() (string, error) {
	if n.opts.NodeID != "" {
		return n.opts.NodeID, nil
	}
	path := filepath.Join(n.opts.DataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("cannot read the node id: %w", err)
	}
	host, _ := os.Hostname()
	var r [4]byte
	rand.Read(r[:])
	id := strings.ToLower(host) + "-" + hex.EncodeToString(r[:])
	if err := os.MkdirAll(n.opts.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("cannot create data directory %s: %w", n.opts.DataDir, err)
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cannot keep the node id: %w", err)
	}
	return id, nil
}

// join registers the node in its cluster.
func (n *Node) join(ctx context.Context) error {
	m, err := cluster.Join(ctx, n.etcd, cluster.Node{
		ID: n.opts.NodeID, Admin: n.adminLn.Addr().String(), ListenHost: n.opts.ListenHost,
		Zone: n.opts.NodeZone, Version: n.opts.Version, Started: time.Now().UTC(),
	}, cluster.Options{Logger: n.opts.Logger, Events: n.Event})
	if err != nil {
		return err
	}
	n.member = m
	n.Event(fmt.Sprintf("node %s joined cluster %s", n.opts.NodeID, n.opts.Etcd.Cluster))
	return nil
}

// Nodes lists the cluster's nodes (nil outside a cluster).
func (n *Node) Nodes(ctx context.Context) ([]cluster.Node, error) {
	if n.etcd == nil {
		return nil, nil
	}
	return cluster.Nodes(ctx, n.etcd)
}

// Self is this node's registration as it sees it now, Leader meaning it
// leads by its own account.
func (n *Node) Self() cluster.Node {
	return n.member.Self()
}

// lastNode reports whether no other node is registered in the cluster
// (this one has left it): the last node out stops the instances. Unknown
// (etcd out of reach) counts as not last: instances keep running.
func (n *Node) lastNode(ctx context.Context) bool {
	ns, err := cluster.Nodes(ctx, n.etcd)
	if err != nil {
		return false
	}
	for _, o := range ns {
		if o.ID != n.opts.NodeID {
			return false
		}
	}
	return true
}

// healthView is this node's health view as the cluster shares it.
func (n *Node) healthView() cluster.View {
	v := cluster.View{}
	for _, th := range n.TargetHealth() {
		v[fmt.Sprintf("%s %s:%d", th.TargetGroup, th.ID, th.Port)] = string(th.Health.State)
	}
	return v
}

// TargetViews is how each node of the cluster sees each target.
type TargetViews struct {
	// Nodes are the nodes whose views are known, in order.
	Nodes []string `json:"nodes"`
	// Targets are the targets any node checks, in order.
	Targets []TargetView `json:"targets"`
}

// TargetView is one target in every node's view.
type TargetView struct {
	// Target is "target-group id:port".
	Target string `json:"target"`
	// States maps node ids to the target's state there ("" where the node
	// does not check it).
	States map[string]string `json:"states"`
	// Agree is false when two nodes see the target differently.
	Agree bool `json:"agree"`
}

// TargetViews gathers every node's shared health view.
func (n *Node) TargetViews(ctx context.Context) (*TargetViews, error) {
	views, err := cluster.Views(ctx, n.etcd)
	if err != nil {
		return nil, err
	}
	out := &TargetViews{Nodes: slices.Sorted(maps.Keys(views)), Targets: []TargetView{}}
	targets := map[string]bool{}
	for _, v := range views {
		for t := range v {
			targets[t] = true
		}
	}
	for _, t := range slices.Sorted(maps.Keys(targets)) {
		tv := TargetView{Target: t, States: map[string]string{}, Agree: true}
		for _, node := range out.Nodes {
			tv.States[node] = views[node][t]
			if tv.States[node] != tv.States[out.Nodes[0]] {
				tv.Agree = false
			}
		}
		out.Targets = append(out.Targets, tv)
	}
	return out, nil
}
