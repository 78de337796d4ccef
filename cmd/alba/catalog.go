package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/catalog"
)

func catalogCmd() *cobra.Command {
	var (
		listen  string
		cpuCost time.Duration
		id      string
	)
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Run the movie catalog service, the tutorial's workload",
		Long: `Run the movie catalog service: GET /, GET /status, GET /discover,
POST /updatePopularity and GET /metrics, as the tutorial's service has them.
Every response names the instance in X-Instance-Id ($ALBA_INSTANCE_ID, else
the hostname).

--cpu-cost adds that much real CPU work (a busy loop, not a sleep) to every
/discover request, to model a heavier application so that modest load
crosses an auto scaling CPU target.

SIGUSR1 toggles /status between 200 OK and 500, to watch a load balancer's
health checks take an instance out (and an auto scaling group replace it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if env := os.Getenv("CATALOG_CPU_COST"); env != "" && !cmd.Flags().Changed("cpu-cost") {
				d, err := time.ParseDuration(env)
				if err != nil {
					return fmt.Errorf("CATALOG_CPU_COST=%q is not a duration such as 2ms", env)
				}
				cpuCost = d
			}
			if cpuCost < 0 {
				return errors.New("--cpu-cost must not be negative")
			}
			if id == "" {
				id = catalog.DefaultInstanceID()
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("cannot listen on %s: %w", listen, err)
			}
			cat := catalog.NewServer(catalog.Options{InstanceID: id, CPUCost: cpuCost})
			srv := &http.Server{
				Handler:           cat,
				ReadHeaderTimeout: 10 * time.Second,
				// Longer than a load balancer's idle timeout, so the load
				// balancer, not the target, closes idle connections.
				IdleTimeout: 120 * time.Second,
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
			}()
			usr1 := make(chan os.Signal, 1)
			signal.Notify(usr1, syscall.SIGUSR1)
			defer signal.Stop(usr1)
			go func() {
				for range usr1 {
					cat.SetFailing(!cat.Failing())
					fmt.Fprintf(cmd.OutOrStdout(), "/status now answers %s\n", map[bool]string{true: "500", false: "200 OK"}[cat.Failing()])
				}
			}()
			fmt.Fprintf(cmd.OutOrStdout(), "movie catalog %s listening on %s\n", id, ln.Addr())
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	// The defaults come from the environment, so that a container image
	// (whose command is fixed) is configured by the launch template's
	// environment: PORT is the port its instance serves on.
	defListen := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		defListen = ":" + p
	}
	f.StringVar(&listen, "listen", defListen, "address to listen on (default :$PORT, else :8080)")
	f.DurationVar(&cpuCost, "cpu-cost", 0, "real CPU work per /discover request, e.g. 2ms (default $CATALOG_CPU_COST)")
	f.StringVar(&id, "instance-id", "", "instance id for X-Instance-Id (default $ALBA_INSTANCE_ID, else the hostname)")
	return cmd
}
