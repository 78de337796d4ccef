package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/app"
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/provider/docker"
)

// defaultDataDir is $ALBA_DATA_DIR, else $XDG_DATA_HOME/alba, else
// ~/.local/share/alba.
func defaultDataDir() string {
	if d := os.Getenv("ALBA_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "alba")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "alba")
	}
	return "alba-data"
}

func upCmd() *cobra.Command {
	var (
		file          string
		dataDir       string
		admin         string
		insecureAdmin bool
		listenHost    string
		printConfig   bool
		empty         bool
		fromStore     bool
		shutdown      time.Duration
		keep          bool
		replace       bool
		sample        time.Duration
		outWindow     time.Duration
		inWindow      time.Duration
		orphanGrace   time.Duration
		dockerZones   []string
		etcdFlags     etcdFlags
		nodeID        string
		nodeZone      string
		instAddr      string
		engine        string
		coalesce      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run Alba: the tutorial's load balancer and auto scaling group, or the resources of a YAML file",
		Long: `Run Alba in the foreground.

With no file, Alba runs the tutorial's system: an HTTP listener on :8080
forwarding to the target group movie-catalog (health checked on /status),
whose instances come from the auto scaling group movie-catalog (min 1,
desired 1, max 2, two zones, ELB health checks, target tracking on 50%
average CPU) launched from the launch template movie-catalog (t2.micro,
user data running the bundled movie catalog as a local process).
With --etcd, the node keeps its state in etcd and joins the Alba cluster
there (--cluster): every node serves every listener and the API, one
leads auto scaling (see docs/cluster.md).
With -f, it runs the resources the YAML file declares; with --empty, none
(build them with the AWS API); with --from-store, what the data directory
holds. State lives in the data directory and survives restarts.

The admin address serves the AWS API (aws --endpoint-url http://ADDR …),
the metrics (/metrics) and the admin API (/api/…). With ALBA_ACCESS_KEY_ID
and ALBA_SECRET_ACCESS_KEY set, API requests must be signed with them; an
admin address other machines reach needs them (or --insecure-admin).

Signals: SIGHUP reloads the file; SIGTERM or Ctrl-C stops accepting new
connections, lets requests in flight finish, and exits.

To upgrade or restart without refusing a connection, start the new alba
with the same flags and --replace: it takes the running one's listening
sockets and instances, and the running one finishes its requests and
exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if printConfig {
				_, err := cmd.OutOrStdout().Write(defaultConfig)
				return err
			}
			opts := app.Options{
				DataDir:         dataDir,
				ConfigFile:      file,
				AdminAddr:       admin,
				InsecureAdmin:   insecureAdmin,
				ListenHost:      listenHost,
				ShutdownTimeout: shutdown,
				KeepInstances:   keep,
				Replace:         replace,
				AccessKeyID:     os.Getenv("ALBA_ACCESS_KEY_ID"),
				SecretAccessKey: os.Getenv("ALBA_SECRET_ACCESS_KEY"),
				SampleInterval:  sample,
				ScaleOutWindow:  outWindow,
				ScaleInWindow:   inWindow,
				OrphanGrace:     orphanGrace,
				NodeID:          nodeID,
				NodeZone:        nodeZone,
				InstanceAddress: instAddr,
				CoalesceWait:    coalesce,
				Version:         versionString(),
				Out:             cmd.OutOrStdout(),
			}
			var err error
			if opts.Etcd, err = etcdFlags.options(); err != nil {
				return err
			}
			if opts.Engine, err = dataplane.ParseEngine(engine); err != nil {
				return fmt.Errorf("--engine: %w", err)
			}
			if coalesce < 0 || coalesce > 10*time.Millisecond {
				return fmt.Errorf("--loop-coalesce %v: want a wait from 0 (off) to 10ms", coalesce)
			}
			if coalesce == 0 {
				opts.CoalesceWait = -1 // off
			}
			if instAddr != "" {
				if ip, err := netip.ParseAddr(instAddr); err != nil || ip.IsUnspecified() {
					return fmt.Errorf("--instance-address %q: want one IP address of this machine that the other nodes reach, like 10.0.0.5", instAddr)
				}
			}
			if opts.Etcd == nil && (nodeID != "" || nodeZone != "") {
				return fmt.Errorf("--node-id and --node-zone name a node of a cluster: give --etcd too")
			}
			for _, z := range dockerZones {
				zone, e, err := docker.ParseZone(z)
				if err != nil {
					return err
				}
				if _, dup := opts.DockerZones[zone]; dup {
					return fmt.Errorf("--docker-zone names zone %s twice: give each zone one engine", zone)
				}
				if opts.DockerZones == nil {
					opts.DockerZones = map[string]docker.Engine{}
				}
				opts.DockerZones[zone] = e
			}
			if (opts.AccessKeyID == "") != (opts.SecretAccessKey == "") {
				return fmt.Errorf("set both ALBA_ACCESS_KEY_ID and ALBA_SECRET_ACCESS_KEY, or neither")
			}
			if sample < 0 || outWindow < 0 || inWindow < 0 || orphanGrace < 0 {
				return fmt.Errorf("--sample-interval, --scale-out-window, --scale-in-window and --orphan-grace must not be negative")
			}
			given := 0
			for _, b := range []bool{file != "", empty, fromStore} {
				if b {
					given++
				}
			}
			switch {
			case given > 1:
				return fmt.Errorf("-f, --empty and --from-store each say what to run: give one of them")
			case empty:
				opts.Empty = true
			case file == "" && !fromStore:
				opts.DefaultConfig = defaultConfig
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			node, err := app.Start(ctx, opts)
			if err != nil {
				return err
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					if err := node.Reload(); err != nil {
						node.Event("reload failed, configuration unchanged: " + err.Error())
					}
				}
			}()
			if err := node.Run(ctx); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "alba stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "YAML file of resources to run (see alba up --print-config)")
	f.StringVar(&dataDir, "data-dir", defaultDataDir(), "directory of Alba's state")
	f.StringVar(&admin, "admin", "127.0.0.1:9080", "admin address: API, console and metrics (another than loopback needs ALBA_ACCESS_KEY_ID and ALBA_SECRET_ACCESS_KEY, or --insecure-admin)")
	f.BoolVar(&insecureAdmin, "insecure-admin", false, "accept an admin address other machines reach with no credentials set")
	f.StringVar(&listenHost, "listen-host", "", "host listeners bind when they name no address (default all interfaces)")
	f.BoolVar(&fromStore, "from-store", false, "apply no configuration: run what the data directory holds, as the last run left it")
	f.BoolVar(&printConfig, "print-config", false, "print the built-in configuration as YAML and exit")
	f.BoolVar(&empty, "empty", false, "run no resources of a file or the built-in configuration (those a file declared before are removed; those made through the API stay)")
	f.DurationVar(&shutdown, "shutdown-timeout", 30*time.Second, "how long to wait for requests in flight when stopping")
	f.BoolVar(&keep, "keep-instances", false, "leave instances running when stopping, for the next run to adopt")
	f.BoolVar(&replace, "replace", false, "take over from the alba running on this data directory (a binary upgrade, a restart): its listening sockets, with the connections queued on them, and its instances; it finishes its requests in flight and exits")
	f.DurationVar(&sample, "sample-interval", 5*time.Second, "how often instance CPU and request counts are sampled and scaling policies evaluated")
	f.DurationVar(&outWindow, "scale-out-window", 10*time.Second, "how long a metric must stay above its target before scaling out")
	f.DurationVar(&orphanGrace, "orphan-grace", time.Minute, "how old a container of this data directory that it does not know (a launch cut short by a crash) must be before it is removed")
	f.StringArrayVar(&dockerZones, "docker-zone", nil, "ZONE=ENDPOINT[,address=IP][,bind=IP][,cert-path=DIR]: run the Docker instances of ZONE on the engine at ENDPOINT (unix:///… or tcp://HOST:PORT, as DOCKER_HOST), reached on address (default the tcp:// host, else 127.0.0.1); repeat for each zone")
	etcdFlags.add(f)
	f.StringVar(&nodeID, "node-id", "", "this node's id in its cluster (default: one made once and kept in the data directory)")
	f.StringVar(&instAddr, "instance-address", "", "IP address process instances listen on, each on a port of its own: one the other nodes of a cluster reach (default: a loopback address of their own each)")
	f.StringVar(&nodeZone, "node-zone", "", "this node's availability zone, as the cluster's node list shows it")
	f.DurationVar(&inWindow, "scale-in-window", 5*time.Minute, "how long every policy must agree before scaling in (stabilization window)")
	f.StringVar(&engine, "engine", "loops", "how listeners wait for their sockets: loops (an event loop per CPU on its own epoll set, Linux) or goroutines (the same loops, woken by goroutines waiting in Go's netpoller)")
	f.DurationVar(&coalesce, "loop-coalesce", 50*time.Microsecond, "how long a busy event loop lets events gather before taking them in one batch (0 turns it off)")
	return cmd
}
