package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
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
			client := &http.Client{Timeout: 10 * time.Second}
			resp, err := client.Get("http://" + admin + "/api/nodes")
			if err != nil {
				return fmt.Errorf("cannot reach Alba's admin address %s (is `alba up` running?): %w", admin, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
				return fmt.Errorf("admin address %s answered %s: %s", admin, resp.Status, strings.TrimSpace(string(msg)))
			}
			var ns []cluster.Node
			if err := json.NewDecoder(resp.Body).Decode(&ns); err != nil {
				return fmt.Errorf("unexpected answer from %s: %w", admin, err)
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
