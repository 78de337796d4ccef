package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/model"
)

// IsDockerImage reports whether a launch template's image id names a
// Docker image: anything but an AMI-style id. An id that starts with ami-
// (as EC2 writes them, and as Alba's own templates do) runs on the process
// provider, whose instances run the user data; any other image id is a
// Docker image reference (movie-catalog:latest, name@sha256:…), which the
// Docker provider checks.
func IsDockerImage(imageID string) bool {
	return imageID != "" && !strings.HasPrefix(imageID, "ami-")
}

// Mux is the provider the auto scaling controller uses: it launches an
// instance on the Docker provider when its template's image is a Docker
// image and on the process provider otherwise, and sends everything else
// about an instance to the provider that started it (its runtime says).
type Mux struct {
	// Process runs AMI-style templates (the embedded default).
	Process Provider
	// Docker runs Docker images; nil when no engine is configured, and
	// then such launches fail with a sentence saying so.
	Docker Provider
}

// Name is "mux".
func (m *Mux) Name() string { return "mux" }

func (m *Mux) byName(name string) (Provider, error) {
	switch name {
	case "", "process":
		return m.Process, nil
	case "docker":
		if m.Docker == nil {
			return nil, fmt.Errorf("the instance runs on Docker, and no Docker engine is configured")
		}
		return m.Docker, nil
	}
	return nil, fmt.Errorf("unknown instance provider %q", name)
}

// Launch starts the instance on the provider its image asks for.
func (m *Mux) Launch(ctx context.Context, spec LaunchSpec) (Launched, error) {
	if !IsDockerImage(spec.ImageID) {
		return m.Process.Launch(ctx, spec)
	}
	if m.Docker == nil {
		return Launched{}, fmt.Errorf("image %s is a Docker image, and Alba has no Docker engine to run it on (is the engine running? DOCKER_HOST?)", model.Quote(spec.ImageID))
	}
	return m.Docker.Launch(ctx, spec)
}

// Adopt asks the instance's provider.
func (m *Mux) Adopt(inst *model.Instance) bool {
	p, err := m.byName(inst.Runtime.Provider)
	return err == nil && p.Adopt(inst)
}

// Alive asks the instance's provider.
func (m *Mux) Alive(rt model.InstanceRuntime) bool {
	p, err := m.byName(rt.Provider)
	return err == nil && p.Alive(rt)
}

// Stop asks the instance's provider.
func (m *Mux) Stop(ctx context.Context, rt model.InstanceRuntime, grace time.Duration) error {
	p, err := m.byName(rt.Provider)
	if err != nil {
		return err
	}
	return p.Stop(ctx, rt, grace)
}

// CPUTime asks the instance's provider.
func (m *Mux) CPUTime(rt model.InstanceRuntime) (time.Duration, error) {
	p, err := m.byName(rt.Provider)
	if err != nil {
		return 0, err
	}
	return p.CPUTime(rt)
}

// Reap asks each provider that can reap.
func (m *Mux) Reap(ctx context.Context, known func(id string) bool, before time.Time) ([]string, error) {
	var out []string
	for _, p := range []Provider{m.Process, m.Docker} {
		if r, ok := p.(Reaper); ok {
			ids, err := r.Reap(ctx, known, before)
			out = append(out, ids...)
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// Ended merges the providers that watch their instances (nil when none
// does).
func (m *Mux) Ended(ctx context.Context) <-chan struct{} {
	var ins []<-chan struct{}
	for _, p := range []Provider{m.Process, m.Docker} {
		if w, ok := p.(Watcher); ok {
			ins = append(ins, w.Ended(ctx))
		}
	}
	if len(ins) == 0 {
		return nil
	}
	out := make(chan struct{}, 1)
	for _, in := range ins {
		go func() {
			for range in {
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}()
	}
	return out
}
