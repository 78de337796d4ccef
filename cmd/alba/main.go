// Command alba is a self-hosted Application Load Balancer with Auto Scaling
// groups, in one binary.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "alba",
		Short:         "Alba: an application load balancer with auto scaling groups, in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(upCmd(), catalogCmd(), targetsCmd(), nodesCmd(), migrateCmd(), loadtestCmd(), versionCmd(), certCmd(), imageCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "alba:", err)
		os.Exit(1)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Alba's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), versionString())
		},
	}
}

// versionString is the version, the commit it was built from (from the Go
// toolchain's build information; "+dirty" for uncommitted changes) and the
// Go version.
func versionString() string {
	commit, modified := "unknown", false
	goVersion := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		commit += "+dirty"
	}
	return fmt.Sprintf("alba %s (commit %s, %s)", version, commit, goVersion)
}
