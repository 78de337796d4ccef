package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/provider/docker"
)

func imageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build Docker images for auto scaling groups that run containers",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(imageBuildCmd())
	return cmd
}

func imageBuildCmd() *cobra.Command {
	var opts docker.BuildOptions
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the movie catalog image (FROM scratch, holding this alba binary)",
		Long: `Build, on the Docker engine DOCKER_HOST names (else the local one), an image
FROM scratch that holds a static alba binary as /alba and runs
"alba catalog --listen :8080" (EXPOSE 8080). A launch template whose image_id
is the tag (movie-catalog:latest by default) runs it as a container. Alba
never pulls images: the engine must have it.

The binary is the running alba unless --binary names another. It must be
static, as a scratch image has no dynamic loader; a cgo build is not. Make
one with:

  CGO_ENABLED=0 go build -o alba ./cmd/alba
  alba image build --binary ./alba`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cli, err := docker.NewClient("")
			if err != nil {
				return err
			}
			defer cli.Close()
			opts.Progress = cmd.ErrOrStderr()
			id, err := docker.BuildImage(ctx, cli, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %s (%s)\n", opts.Tag, id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Tag, "tag", docker.DefaultImageTag, "name:tag of the image")
	f.StringVar(&opts.Binary, "binary", "", "static Linux alba binary to put in the image (default: the running alba)")
	return cmd
}
