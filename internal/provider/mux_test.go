package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/model"
)

// fake records which provider was asked.
type fake struct {
	name  string
	calls []string
}

func (f *fake) Name() string { return f.name }
func (f *fake) Launch(ctx context.Context, spec LaunchSpec) (Launched, error) {
	f.calls = append(f.calls, "launch "+spec.ImageID)
	return Launched{Runtime: model.InstanceRuntime{Provider: f.name}}, nil
}
func (f *fake) Adopt(inst *model.Instance) bool { f.calls = append(f.calls, "adopt"); return true }
func (f *fake) Alive(rt model.InstanceRuntime) bool {
	f.calls = append(f.calls, "alive")
	return true
}
func (f *fake) Stop(ctx context.Context, rt model.InstanceRuntime, grace time.Duration) error {
	f.calls = append(f.calls, "stop")
	return nil
}
func (f *fake) CPUTime(rt model.InstanceRuntime) (time.Duration, error) {
	f.calls = append(f.calls, "cpu")
	return time.Second, nil
}

func TestIsDockerImage(t *testing.T) {
	for image, docker := range map[string]bool{
		"":                          false,
		"ami-0123456789abcdef0":     false,
		"ami-0alba0movie0catalog":   false,
		"movie-catalog":             true,
		"movie-catalog:latest":      true,
		"registry.local/app:v1":     true,
		"alpine@sha256:0123abcd":    true,
		"ami-with-dashes/and-slash": false,
		"Bad Name!!":                true, // the Docker provider says why it cannot run it
	} {
		if got := IsDockerImage(image); got != docker {
			t.Errorf("IsDockerImage(%q) = %v, want %v", image, got, docker)
		}
	}
}

func TestMuxSendsEachInstanceToItsProvider(t *testing.T) {
	proc, dock := &fake{name: "process"}, &fake{name: "docker"}
	m := &Mux{Process: proc, Docker: dock}
	ctx := context.Background()
	m.Launch(ctx, LaunchSpec{ImageID: "ami-0123"})
	m.Launch(ctx, LaunchSpec{ImageID: "movie-catalog:latest"})
	d := model.InstanceRuntime{Provider: "docker"}
	p := model.InstanceRuntime{Provider: "process"}
	m.Alive(d)
	m.CPUTime(p)
	m.Stop(ctx, d, 0)
	m.Adopt(&model.Instance{Runtime: p})
	if got := strings.Join(proc.calls, ","); got != "launch ami-0123,cpu,adopt" {
		t.Errorf("process provider calls %q", got)
	}
	if got := strings.Join(dock.calls, ","); got != "launch movie-catalog:latest,alive,stop" {
		t.Errorf("docker provider calls %q", got)
	}
	// Without an engine, a Docker image is a launch error in words, and
	// the process provider still serves.
	m = &Mux{Process: proc}
	if _, err := m.Launch(ctx, LaunchSpec{ImageID: "movie-catalog:latest"}); err == nil || !strings.Contains(err.Error(), "no Docker engine") {
		t.Errorf("launch without an engine: %v", err)
	}
	if m.Alive(d) {
		t.Error("a Docker instance is alive with no engine")
	}
	if _, err := m.Launch(ctx, LaunchSpec{ImageID: "ami-1"}); err != nil {
		t.Error(err)
	}
}
