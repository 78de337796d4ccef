package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// DefaultImageTag is the tag `alba image build` gives the catalog image.
const DefaultImageTag = "movie-catalog:latest"

// DefaultImageCmd is what the catalog image runs, after /alba.
var DefaultImageCmd = []string{"catalog", "--listen", ":8080"}

// BuildOptions say what image BuildImage builds.
type BuildOptions struct {
	// Tag names the image; empty means DefaultImageTag.
	Tag string
	// Binary is a static Linux alba binary; empty means the running one.
	Binary string
	// Cmd follows /alba in the image's command; nil means DefaultImageCmd.
	Cmd []string
	// Labels are put on the image.
	Labels map[string]string
	// Progress receives the engine's build output; nil discards it.
	Progress io.Writer
}

// CheckStatic reports, as a sentence a user can act on, why the file at
// path cannot run in a FROM scratch image: not a Linux ELF executable, or
// linked dynamically (a PT_INTERP program header names the loader, which a
// scratch image does not have).
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable (%v): build one with `CGO_ENABLED=0 GOOS=linux go build -o alba ./cmd/alba`, then run `alba image build --binary ./alba`", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is linked dynamically (cgo), and a FROM scratch image has no dynamic loader: build a static binary with `CGO_ENABLED=0 go build -o alba ./cmd/alba`, then run `alba image build --binary ./alba`", path)
		}
	}
	return nil
}

// BuildImage builds, on the engine cli talks to, a FROM scratch image that
// holds the static alba binary as /alba, exposes 8080 and runs /alba with
// opts.Cmd. It returns the image's id.
func BuildImage(ctx context.Context, cli *client.Client, opts BuildOptions) (string, error) {
	if opts.Tag == "" {
		opts.Tag = DefaultImageTag
	}
	if opts.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("cannot find the running alba binary (%v): name one with --binary", err)
		}
		opts.Binary = exe
	}
	if opts.Cmd == nil {
		opts.Cmd = DefaultImageCmd
	}
	if err := CheckStatic(opts.Binary); err != nil {
		return "", err
	}
	buildCtx, err := buildContext(opts.Binary, opts.Cmd)
	if err != nil {
		return "", err
	}
	res, err := cli.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{
		Tags: []string{opts.Tag}, Labels: opts.Labels, Dockerfile: "Dockerfile",
		Remove: true, ForceRemove: true,
	})
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			return "", fmt.Errorf("the Docker engine at %s does not answer, so Alba cannot build the image: start it, or point DOCKER_HOST at one that runs (%v)", cli.DaemonHost(), err)
		}
		return "", fmt.Errorf("the Docker engine at %s refused to build %s: %w", cli.DaemonHost(), opts.Tag, err)
	}
	defer res.Body.Close()
	id, err := readBuildOutput(res.Body, opts.Progress)
	if err != nil {
		return "", fmt.Errorf("building %s on the Docker engine at %s: %w", opts.Tag, cli.DaemonHost(), err)
	}
	return id, nil
}

// dockerfile is the image: the binary alone, as /alba.
func dockerfile(cmd []string) ([]byte, error) {
	c, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	return []byte("FROM scratch\nCOPY alba /alba\nEXPOSE 8080\nENTRYPOINT [\"/alba\"]\nCMD " + string(c) + "\n"), nil
}

// buildContext is a tar of the Dockerfile and the binary.
func buildContext(binary string, cmd []string) (io.Reader, error) {
	df, err := dockerfile(cmd)
	if err != nil {
		return nil, err
	}
	bin, err := os.Open(binary)
	if err != nil {
		return nil, err
	}
	defer bin.Close()
	fi, err := bin.Stat()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df)), ModTime: now}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(df); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "alba", Mode: 0o755, Size: fi.Size(), ModTime: now}); err != nil {
		return nil, err
	}
	if _, err := io.Copy(tw, bin); err != nil {
		return nil, fmt.Errorf("reading %s: %w", binary, err)
	}
	return &buf, tw.Close()
}

// readBuildOutput copies the build's stream to progress and returns the
// image id from its aux message, or the error the build reported.
func readBuildOutput(r io.Reader, progress io.Writer) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	dec := json.NewDecoder(r)
	id := ""
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("reading the build output: %w", err)
		}
		if m.Error != nil {
			return "", errors.New(strings.TrimSpace(m.Error.Message))
		}
		if m.Stream != "" {
			io.WriteString(progress, m.Stream)
		}
		if m.Aux != nil {
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
	if id == "" {
		return "", errors.New("the engine reported no image id")
	}
	return id, nil
}
