// Package app assembles a running Alba node for `alba up`: the store, the
// configuration file, the controller, the data plane and the admin address.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alba-lb/alba/internal/asgcontroller"
	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/cluster"
	"github.com/alba-lb/alba/internal/config"
	"github.com/alba-lb/alba/internal/console"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/handover"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/lbcontroller"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/provider"
	"github.com/alba-lb/alba/internal/provider/docker"
	"github.com/alba-lb/alba/internal/provider/process"
	"github.com/alba-lb/alba/internal/store"
)

// Options configure a node.
type Options struct {
	// DataDir holds the store.
	DataDir string
	// ConfigFile, if set, is applied at start and on Reload.
	ConfigFile string
	// DefaultConfig is applied when there is no ConfigFile (the tutorial's
	// system); nil starts with whatever the store holds.
	DefaultConfig []byte
	// Empty applies a configuration of no resources instead: what a file
	// (or the built-in configuration) declared before is removed, what the
	// API made stays.
	Empty bool
	// AdminAddr serves the admin API, console and metrics. Without
	// credentials it must be a loopback address unless InsecureAdmin.
	AdminAddr string
	// InsecureAdmin accepts an admin address other machines reach with no
	// credentials set: anyone there could change the load balancers and
	// launch processes.
	InsecureAdmin bool
	// ListenHost is where listeners bind when they name no address.
	ListenHost string
	// ShutdownTimeout bounds the wait for in-flight requests on stop.
	ShutdownTimeout time.Duration
	// SampleInterval, ScaleOutWindow and ScaleInWindow tune target
	// tracking (zero keeps the defaults: 5 s, 10 s, 5 min).
	SampleInterval, ScaleOutWindow, ScaleInWindow time.Duration
	// DockerZones maps zones to the Docker engines their instances run on
	// (every other zone runs on the engine DOCKER_HOST names, else the
	// local one).
	DockerZones map[string]docker.Engine
	// OrphanGrace is how old a container of this store that the store does
	// not know must be before it is removed (zero keeps a minute).
	OrphanGrace time.Duration
	// AccessKeyID and SecretAccessKey, when set, make the AWS API require
	// SigV4 signatures made with them.
	AccessKeyID, SecretAccessKey string
	// KeepInstances leaves instances running on a graceful stop, for the
	// next run to adopt.
	KeepInstances bool
	// Replace takes over from the Alba running on the data directory: its
	// listening sockets, its store, its instances (see handover.go).
	Replace bool
	// Etcd, when set, keeps the state in etcd instead of the data
	// directory's bbolt file, and runs this node as a member of the Alba
	// cluster there: every node serves every listener and the API, the
	// leader runs auto scaling.
	Etcd *store.EtcdOptions
	// NodeID names this node in its cluster (default: an id made once and
	// kept in the data directory). NodeZone is its availability zone.
	NodeID, NodeZone string
	// InstanceAddress, when set, is the address process instances listen
	// on, each on a port of its own: one the other nodes of a cluster
	// reach (unset: a loopback address of their own each).
	InstanceAddress string
	// Engine is how listeners serve connections, and CoalesceWait how
	// long a busy event loop lets events gather (see dataplane.Server).
	Engine       dataplane.Engine
	CoalesceWait time.Duration
	// Version is reported in the cluster's node registry.
	Version string
	// Out receives the event stream shown in the terminal.
	Out io.Writer
	// Logger receives errors.
	Logger *slog.Logger
}

// Node is a running Alba.
type Node struct {
	opts       Options
	Store      store.Store
	Server     *dataplane.Server
	Health     *health.Monitor
	Controller *lbcontroller.Controller
	// AutoScaling runs the auto scaling groups.
	AutoScaling *asgcontroller.Controller
	// History is the metrics history the CloudWatch API, the console and
	// target tracking read.
	History *metrics.History
	// markers are the health transitions the console's timeline marks.
	markers *console.Markers
	admin   *http.Server
	adminLn net.Listener
	docker  *docker.Provider
	// etcd and member are set in a cluster.
	etcd   *store.Etcd
	member *cluster.Member
	outMu  sync.Mutex
	// offer serves a successor the listening sockets; handedOver is set
	// once one holds them.
	offer      *handover.Offer
	handedOver atomic.Bool
}

// Start opens the store, applies the configuration, binds the admin address
// and the listeners. Errors here are the user's to read: a bad file, a
// locked store, a port in use.
func Start(ctx context.Context, opts Options) (*Node, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	if err := checkAdminExposure(opts); err != nil {
		return nil, err
	}
	n := &Node{opts: opts}
	// Check the file before touching anything.
	var file *config.File
	var raw []byte
	var err error
	switch {
	case opts.ConfigFile != "":
		raw, err = os.ReadFile(opts.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read config file: %w", err)
		}
		file, err = config.Parse(opts.ConfigFile, raw)
	case opts.DefaultConfig != nil:
		raw = opts.DefaultConfig
		file, err = config.Parse(elb.BuiltIn, raw)
	}
	if err != nil {
		return nil, err
	}
	var taken map[string]net.Listener
	started := false
	if opts.Replace {
		if taken, err = n.takeOver(); err != nil {
			return nil, err
		}
		defer func() {
			if !started { // serve them or close them: never leak a queue
				for _, ln := range taken {
					ln.Close()
				}
			}
		}()
	}
	st, err := n.openStore(taken != nil)
	if err != nil {
		return nil, err
	}
	n.Store = st
	if err := st.Update(autoscaling.UpgradeStore); err != nil {
		st.Close()
		return nil, fmt.Errorf("cannot upgrade the store in %s: %w", opts.DataDir, err)
	}
	n.Event(restored(st, n.where()))
	source := opts.ConfigFile
	switch {
	case opts.Empty:
		file, raw, source = config.Empty(), nil, elb.Empty
	case opts.ConfigFile != "":
		source = fileSource(opts.ConfigFile)
	case file != nil:
		source = elb.BuiltIn
		if err := builtInMayReplace(st, opts.DataDir); err != nil {
			st.Close()
			return nil, err
		}
	}
	if file != nil {
		if err := n.applyFile(file, raw, source, opts.Empty); err != nil {
			st.Close()
			return nil, err
		}
		if opts.Empty {
			left := "nothing"
			if c := counts(st); c != "" {
				left = c + ", made through the API"
			}
			n.Event("--empty: removed what a file or the built-in configuration declared; running " + left)
		}
	}
	if n.adminLn = takeAdmin(taken, opts.AdminAddr); n.adminLn == nil {
		n.adminLn, err = net.Listen("tcp", opts.AdminAddr)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("cannot listen on the admin address %s: %w", opts.AdminAddr, err)
	}
	n.Server = dataplane.NewServer(opts.Logger)
	n.Server.Engine, n.Server.CoalesceWait = opts.Engine, opts.CoalesceWait
	n.Server.Inherit(maps.Clone(taken))
	if n.Server.Sealer, err = cookieSealer(st); err != nil {
		n.adminLn.Close()
		st.Close()
		return nil, err
	}
	n.Health = health.NewMonitor()
	n.Controller = lbcontroller.New(st, n.Server, n.Health)
	n.Controller.Logger = opts.Logger
	n.Controller.ListenHost = opts.ListenHost
	if n.etcd != nil {
		n.Controller.Leads = func() bool { return n.member != nil && n.member.Leading() }
	}
	n.Controller.Events = n.Event
	n.markers = console.NewMarkers(0)
	n.Controller.HealthChanges = func(tg string, ch health.Change, line string) {
		short := "✓"
		if ch.New.State != health.StateHealthy {
			short = "✗"
		}
		n.markers.Add(console.Marker{Time: time.Now(), Kind: "health", Short: short, Text: line, Group: tg})
	}
	prov, err := process.New(filepath.Join(opts.DataDir, "instances"))
	if err != nil {
		n.adminLn.Close()
		st.Close()
		return nil, err
	}
	prov.Address = opts.InstanceAddress
	// Instances run `alba catalog` from a copy in the data directory: the
	// running binary may be go run's temporary build.
	if bin, err := process.StableBinary(filepath.Join(opts.DataDir, "bin")); err == nil {
		prov.BinDir = bin
	} else {
		n.Event("cannot copy the alba binary into the data directory (" + err.Error() + "); instances run the one at " + prov.BinDir)
	}
	mux := &provider.Mux{Process: prov}
	if d, err := dockerProvider(st, opts.DockerZones); err != nil {
		if len(opts.DockerZones) > 0 {
			n.adminLn.Close()
			st.Close()
			return nil, err
		}
		n.Event("Docker instances are off: " + err.Error())
	} else {
		mux.Docker, n.docker = d, d
		if len(opts.DockerZones) > 0 {
			n.Event("Docker instances: " + d.Describe())
		}
	}
	n.AutoScaling = asgcontroller.NewController(st, mux, lbView{n})
	n.AutoScaling.Logger = opts.Logger
	n.History = n.AutoScaling.History
	n.AutoScaling.Events = n.Event
	if opts.SampleInterval > 0 {
		n.AutoScaling.SampleInterval = opts.SampleInterval
	}
	if opts.ScaleOutWindow > 0 {
		n.AutoScaling.ScaleOutWindow = opts.ScaleOutWindow
	}
	if opts.OrphanGrace > 0 {
		n.AutoScaling.ReapGrace = opts.OrphanGrace
		n.AutoScaling.ReapInterval = min(n.AutoScaling.ReapInterval, opts.OrphanGrace)
	}
	if opts.ScaleInWindow > 0 {
		n.AutoScaling.Tracking.ScaleInWindow = opts.ScaleInWindow
	}
	if err := n.Controller.Reconcile(ctx); err != nil {
		n.adminLn.Close()
		n.Server.Shutdown(context.Background())
		n.Health.Stop()
		st.Close()
		return nil, err
	}
	if n.etcd != nil {
		if err := n.join(ctx); err != nil {
			n.adminLn.Close()
			n.Server.Shutdown(context.Background())
			n.Health.Stop()
			st.Close()
			return nil, err
		}
	}
	started = true
	for _, addr := range n.Server.CloseInherited() {
		n.Event("--replace: closed the taken socket " + addr + ": no listener of this configuration uses it")
	}
	n.admin = &http.Server{Handler: n.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
	go n.admin.Serve(n.adminLn)
	n.offerHandover()
	n.Event(fmt.Sprintf("console http://%s/ (AWS API: aws --endpoint-url http://%s; targets: /api/targets; metrics: /metrics)", n.adminLn.Addr(), n.adminLn.Addr()))
	if opts.AccessKeyID == "" {
		n.Event("AWS API: no credentials configured (ALBA_ACCESS_KEY_ID, ALBA_SECRET_ACCESS_KEY): any signature is accepted")
	} else {
		n.Event("AWS API: requests must be signed (SigV4) with access key " + opts.AccessKeyID)
	}
	return n, nil
}

// dockerProvider is the Docker provider for launch templates whose image
// is a Docker image, on the engines zones name and the one DOCKER_HOST
// names (else the local one) for the others; it does not contact the
// engines, so machines without Docker run process instances as before and
// a Docker launch fails with a sentence.
func dockerProvider(st store.Store, zones map[string]docker.Engine) (*docker.Provider, error) {
	var id string
	if err := st.Update(func(tx store.Tx) (err error) {
		id, err = elb.StoreID(tx)
		return err
	}); err != nil {
		return nil, err
	}
	return docker.New(docker.Options{Store: id, Zones: zones})
}

// restored says what the store held when Alba started, so that nobody
// wonders where resources came from.
func restored(st store.Store, where string) string {
	if c := counts(st); c != "" {
		return where + ": restored " + c
	}
	return where + ": empty, nothing restored"
}

// counts lists how many resources of each kind the store holds ("" for
// none).
func counts(st store.Store) string {
	var out []string
	st.View(func(tx store.Tx) error {
		lbs, _ := elb.LoadBalancers(tx)
		tgs, _ := elb.TargetGroups(tx)
		gs, _ := autoscaling.Groups(tx)
		is, _ := autoscaling.Instances(tx)
		for _, c := range []struct {
			n    int
			what string
		}{{len(lbs), "load balancer"}, {len(tgs), "target group"}, {len(gs), "auto scaling group"}, {len(is), "instance"}} {
			if c.n > 0 {
				out = append(out, plural(c.n, c.what))
			}
		}
		return nil
	})
	return strings.Join(out, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// checkAdminExposure refuses an admin address that other machines reach
// when no credentials protect it: the AWS API there creates launch
// templates whose user data Alba runs.
func checkAdminExposure(opts Options) error {
	if opts.AccessKeyID != "" || opts.InsecureAdmin {
		return nil
	}
	host, _, err := net.SplitHostPort(opts.AdminAddr)
	if err != nil {
		return nil // the listen below says what is wrong with it
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("the admin address %s is reachable from other machines and no credentials are set: "+
		"anyone who reaches it could change the load balancers and run processes through launch templates. "+
		"Set ALBA_ACCESS_KEY_ID and ALBA_SECRET_ACCESS_KEY (API requests must then be signed with them), "+
		"bind it to 127.0.0.1, or pass --insecure-admin to accept the risk", opts.AdminAddr)
}

// AdminAddr is the bound admin address.
func (n *Node) AdminAddr() net.Addr { return n.adminLn.Addr() }

// Event prints one line of the terminal's event stream.
func (n *Node) Event(msg string) {
	n.outMu.Lock()
	defer n.outMu.Unlock()
	fmt.Fprintf(n.opts.Out, "%s %s\n", time.Now().Format("15:04:05"), msg)
}

// applyFile applies the file unless it is the one last applied (force:
// always): a restart with the same file leaves the store, and what the API
// changed in it, as it is.
func (n *Node) applyFile(f *config.File, raw []byte, source string, force bool) error {
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])
	return n.Store.Update(func(tx store.Tx) error {
		if !force {
			if old, _, err := elb.AppliedFile(tx); err != nil || old == hash {
				return err
			}
		}
		if err := f.Apply(tx, time.Now()); err != nil {
			return err
		}
		return elb.SetAppliedFile(tx, hash, source)
	})
}

// fileSource is how a configuration file is recorded as the source of
// what was applied: its absolute path, so that a later start can say it.
func fileSource(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// builtInMayReplace refuses to apply the built-in system over a data
// directory a user's file was last applied to: that would remove the
// file's resources, which is never what plain `alba up` means.
func builtInMayReplace(st store.Store, dir string) error {
	var source string
	st.View(func(tx store.Tx) (err error) {
		_, source, err = elb.AppliedFile(tx)
		return err
	})
	if source == "" || source == elb.BuiltIn || source == elb.Empty {
		return nil
	}
	return fmt.Errorf("the data directory %s was last run with -f %s; the built-in system would replace that file's resources: "+
		"run alba up -f %s, or alba up --from-store to run what the data directory holds, or give another --data-dir", dir, source, source)
}

// Reload re-reads the configuration file and applies it. A bad file is
// reported and changes nothing.
func (n *Node) Reload() error {
	if n.opts.ConfigFile == "" {
		return errors.New("no configuration file to reload (alba up -f FILE)")
	}
	raw, err := os.ReadFile(n.opts.ConfigFile)
	if err != nil {
		return fmt.Errorf("cannot read config file: %w", err)
	}
	f, err := config.Parse(n.opts.ConfigFile, raw)
	if err != nil {
		return err
	}
	if err := n.applyFile(f, raw, fileSource(n.opts.ConfigFile), true); err != nil {
		return err
	}
	n.Event("configuration reloaded from " + n.opts.ConfigFile)
	return nil
}

// Run runs the controller until ctx ends, then stops gracefully: listeners
// stop accepting, in-flight requests finish (up to ShutdownTimeout).
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	offered := make(chan struct{})
	go func() {
		n.serveHandover(ctx, cancel)
		close(offered)
	}()
	asDone := make(chan error, 1)
	if n.member != nil {
		go n.member.ShareHealth(ctx, clock.Real{}, time.Second, n.healthView)
		// Only the leader runs auto scaling, through the fenced store.
		go func() {
			n.member.Run(ctx, func(lctx context.Context, fenced store.Store) {
				n.AutoScaling.Store = fenced
				if err := n.AutoScaling.Run(lctx); err != nil && lctx.Err() == nil {
					n.opts.Logger.Error("auto scaling", "err", err)
				}
			})
			asDone <- nil
		}()
	} else {
		go func() { asDone <- n.AutoScaling.Run(ctx) }()
	}
	sampler := &metrics.Sampler{History: n.History, Sources: []metrics.Source{n.sampleTraffic, n.sampleGroups}}
	go sampler.Run(ctx)
	err := n.Controller.Run(ctx)
	if aerr := <-asDone; err == nil {
		err = aerr
	}
	cancel()
	<-offered // a successor in the middle of taking over decides how this run ends
	sctx, scancel := context.WithTimeout(context.Background(), n.opts.ShutdownTimeout)
	defer scancel()
	if n.handedOver.Load() {
		return n.handOver(sctx, err)
	}
	n.closeOffer()
	n.Event("stopping: finishing in-flight requests")
	serr := n.Server.Shutdown(sctx)
	n.admin.Shutdown(sctx)
	n.Health.Stop()
	switch {
	case n.member != nil && !n.lastNode(sctx):
		n.Event("left the cluster; instances keep running for the cluster's next leader")
	case n.opts.KeepInstances:
		n.Event("leaving instances running for the next run to adopt")
	default:
		// The last node out stops the instances, as a single node does
		// (through the store itself: its leader's fence is gone).
		n.AutoScaling.Store = n.Store
		n.AutoScaling.StopAll(sctx)
	}
	n.Store.Close()
	if n.docker != nil {
		n.docker.Close()
	}
	if serr != nil {
		n.Event("shutdown timeout: closed connections still in flight")
	}
	return err
}

// cookieSealer loads the sticky-cookie key from the store, making one on
// first start: sessions survive restarts, and a cluster shares the key.
func cookieSealer(st store.Store) (*dataplane.CookieSealer, error) {
	var key []byte
	err := st.Update(func(tx store.Tx) (err error) {
		key, err = elb.CookieKey(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot set up sticky-session cookies: %w", err)
	}
	return dataplane.NewCookieSealer(key)
}
