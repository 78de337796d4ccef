package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/store"
)

func migrateCmd() *cobra.Command {
	var (
		dataDir string
		etcd    etcdFlags
	)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move a single node's state (its data directory) into etcd, to run it as a cluster",
		Long: `Copy every record of a data directory's store into the Alba cluster
--cluster on the etcd --etcd names: load balancers, listeners, rules,
target groups, targets, certificates, launch templates, groups, policies,
instances and activities. Stop the node first (the store is locked while
it runs). The data directory is left as it was; the cluster must not
hold records yet.

Then start the nodes with alba up --etcd … --cluster … --from-store; the
first one started with the old data directory adopts its instances.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := etcd.options()
			if err != nil {
				return err
			}
			if o == nil {
				return errors.New("give --etcd: the etcd to move the state into")
			}
			src, err := store.OpenBolt(dataDir)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := store.OpenEtcd(*o)
			if err != nil {
				return err
			}
			defer dst.Close()
			n, err := store.Migrate(src, dst, 100)
			if errors.Is(err, store.ErrNotEmpty) {
				return fmt.Errorf("cluster %s on etcd already holds state (%v): nothing copied; give another --cluster", o.Cluster, err)
			}
			if err != nil {
				return fmt.Errorf("copied %d records, then: %w", n, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %d records from %s into cluster %s on etcd %s\nstart the nodes with: alba up --etcd %s --cluster %s --from-store\n",
				n, dataDir, o.Cluster, strings.Join(o.Endpoints, ","), strings.Join(o.Endpoints, ","), o.Cluster)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "the data directory whose state moves")
	etcd.add(cmd.Flags())
	return cmd
}
