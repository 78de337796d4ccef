package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/loadtest"
)

// runLoadtest is loadtest.Run; tests replace it to check what the command
// would run without sending any load.
var runLoadtest = loadtest.Run

func loadtestCmd() *cobra.Command {
	var (
		target       string
		paths        string
		concurrency  int
		rate         float64
		duration     time.Duration
		requests     int64
		timeout      time.Duration
		insecure     bool
		cookies      bool
		countHeaders []string
		failOnError  bool
	)
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Send HTTP load to a local load balancer and report throughput, latency and failures",
		Long: `Send HTTP load to a load balancer on this machine and report what it did:
requests, failures, throughput, latency percentiles, status codes, errors,
and how many responses each instance served (by X-Instance-Id).

By default each worker goes round robin over what the movie catalog's web
frontend requests per page view (eight GET /discover calls) and GET /status,
as fast as the target answers (closed loop). --rate sends a fixed number of
requests per second instead (open loop), measuring latency from when each
request was due. A failure is a transport error, a timeout or a 5xx status.

The run is always bounded by --duration, and by --requests if given. A
progress line goes to standard error every second; the report goes to
standard output. Ctrl-C ends the run early and still prints the report.

alba loadtest only sends load to this machine: the target's host must be a
loopback address (127.0.0.0/8, ::1) or localhost.`,
		Example: `  alba loadtest --target http://127.0.0.1:8080 -d 30s
  alba loadtest --target http://127.0.0.1:8080 --rate 200 -d 1m --fail-on-error
  alba loadtest --target http://localhost:8080 --paths /status,/discover?type=tv -c 32`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTarget(target); err != nil {
				return err
			}
			pathList, err := splitPaths(paths)
			if err != nil {
				return err
			}
			switch {
			case duration <= 0:
				return fmt.Errorf("--duration must be positive, e.g. 30s (got %s)", duration)
			case concurrency < 1 || concurrency > loadtest.MaxConcurrency:
				return fmt.Errorf("--concurrency must be between 1 and %d (got %d)", loadtest.MaxConcurrency, concurrency)
			case rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0):
				return fmt.Errorf("--rate must be a non-negative number; 0 means as fast as the target answers (got %g)", rate)
			case requests < 0:
				return fmt.Errorf("--requests must not be negative; 0 means no limit (got %d)", requests)
			case timeout < 0:
				return fmt.Errorf("--timeout must not be negative (got %s)", timeout)
			}
			var headers []string
			for _, h := range countHeaders {
				h = strings.TrimSpace(h)
				if h == "" { // --count-header "" counts none
					continue
				}
				if strings.ContainsAny(h, " \t\r\n:") {
					return fmt.Errorf("--count-header: bad header name %q", h)
				}
				headers = append(headers, h)
			}

			stderr := cmd.ErrOrStderr()
			cfg := loadtest.Config{
				Target:             target,
				Paths:              pathList,
				Concurrency:        concurrency,
				Rate:               rate,
				Duration:           duration,
				MaxRequests:        requests,
				Timeout:            timeout,
				InsecureSkipVerify: insecure,
				KeepCookies:        cookies,
				CountHeaders:       headers,
				Progress:           func(s loadtest.Snapshot) { writeProgress(stderr, s) },
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			mode := "as fast as it answers"
			if rate > 0 {
				mode = fmt.Sprintf("at %g req/s", rate)
			}
			fmt.Fprintf(stderr, "loadtest: %s, %d connections, %s, for %s\n", target, concurrency, mode, duration)
			rep, err := runLoadtest(ctx, cfg)
			if err != nil {
				if errors.Is(err, loadtest.ErrInvalidConfig) {
					// Turn "loadtest: invalid config: x" into a sentence.
					return errors.New(strings.TrimPrefix(err.Error(), loadtest.ErrInvalidConfig.Error()+": "))
				}
				return err
			}
			if ctx.Err() != nil && cmd.Context().Err() == nil {
				fmt.Fprintln(stderr, "loadtest: interrupted; the report covers the run so far")
			}
			if err := rep.WriteText(cmd.OutOrStdout()); err != nil {
				return err
			}
			if failOnError && rep.Failures > 0 {
				return fmt.Errorf("%d of %d requests failed (--fail-on-error)", rep.Failures, rep.Requests)
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%v (see alba loadtest --help)", err)
	})
	f := cmd.Flags()
	f.StringVar(&target, "target", "http://127.0.0.1:8080", "base URL of the load balancer listener; its host must be a loopback address or localhost")
	f.StringVar(&paths, "paths", strings.Join(loadtest.DefaultPaths(), ","), "comma-separated paths to request, round robin")
	f.IntVarP(&concurrency, "concurrency", "c", loadtest.DefaultConcurrency, "number of workers, each with its own keep-alive connection")
	f.Float64Var(&rate, "rate", 0, "requests per second in total (open loop); 0 sends as fast as the target answers")
	f.DurationVarP(&duration, "duration", "d", 30*time.Second, "how long to run (required to be positive)")
	f.Int64VarP(&requests, "requests", "n", 0, "stop after this many requests; 0 means no limit")
	f.DurationVar(&timeout, "timeout", loadtest.DefaultTimeout, "timeout of each request, body included")
	f.BoolVar(&insecure, "insecure", false, "accept any certificate from an https target (self-signed listeners)")
	f.BoolVar(&cookies, "cookies", false, "keep cookies per worker, like one browser each (to test sticky sessions)")
	f.StringArrayVar(&countHeaders, "count-header", []string{"X-Instance-Id"}, "response header whose values to count (repeatable; \"\" counts none)")
	f.BoolVar(&failOnError, "fail-on-error", false, "exit non-zero if any request failed")
	return cmd
}

// checkTarget refuses a target that is not a URL with a loopback host, so
// that the command cannot be pointed at someone else's service. Names other
// than localhost are refused rather than resolved: what a name resolves to
// can change between the check and the load.
func checkTarget(target string) error {
	if !strings.Contains(target, "://") {
		return fmt.Errorf("--target %q must be a URL starting with http:// or https://, e.g. http://127.0.0.1:8080", target)
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("--target %q is not a valid URL", target)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("--target %q must start with http:// or https://", target)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("--target %q has no host", target)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("--target %q must not have a query or fragment; put paths and queries in --paths", target)
	}
	if !loadtest.IsLoopbackHost(host) {
		return fmt.Errorf("alba loadtest only sends load to this machine (loopback addresses: 127.0.0.0/8, ::1 or localhost); %s is not one", host)
	}
	return nil
}

// splitPaths splits the --paths value on commas, dropping blanks.
func splitPaths(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("--paths: every path must start with /, but %q does not", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("--paths must name at least one path, e.g. /status")
	}
	return out, nil
}

// writeProgress prints one line of progress.
func writeProgress(w io.Writer, s loadtest.Snapshot) {
	fmt.Fprintf(w, "%6.1fs  %9d requests  %8.1f req/s  %6d failures  p50 %-8s  p99 %s\n",
		s.Elapsed.Seconds(), s.Requests, s.RPS, s.Failures, loadtest.FormatDuration(s.P50), loadtest.FormatDuration(s.P99))
}
