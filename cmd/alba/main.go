// Command alba is a self-hosted Application Load Balancer with Auto Scaling
// groups, in one binary.
package main

import (
	"fmt"
	"os"

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
	}
	root.AddCommand(upCmd(), catalogCmd(), targetsCmd(), loadtestCmd(), versionCmd(), certCmd())
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
			fmt.Fprintln(cmd.OutOrStdout(), "alba", version)
		},
	}
}
