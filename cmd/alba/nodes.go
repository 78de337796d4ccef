package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/cluster"
)

func nodesCmd() *cobra.Command {
	var admin string
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List the nodes of the cluster a running Alba belongs to, and which one leads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ns []cluster.Node
			if err := adminGet(admin, "/api/nodes", &ns); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tADMIN\tLISTEN\tZONE\tVERSION\tSTARTED\tLEADER")
			for _, n := range ns {
				leader := ""
				if n.Leader {
					leader = "leader"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Admin, dash(n.ListenHost), dash(n.Zone), n.Version, n.Started.Local().Format(time.DateTime), dash(leader))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&admin, "admin", "127.0.0.1:9080", "admin address of a running node")
	return cmd
}
