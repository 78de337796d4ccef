// Package provider defines how instances of an auto scaling group are
// started and stopped: as local processes (package process, the embedded
// default) or as Docker containers.
package provider

import (
	"context"
	"time"

	"github.com/alba-lb/alba/internal/model"
)

// LaunchSpec is everything a provider needs to start an instance.
type LaunchSpec struct {
	// InstanceID names the instance (i-…).
	InstanceID string
	// Group, LaunchTemplateID and LaunchTemplateVersion say where the
	// instance comes from, for a provider to label it with.
	Group, LaunchTemplateID, LaunchTemplateVersion string
	// Zone the instance is in.
	Zone string
	// InstanceType and its size.
	InstanceType string
	Size         model.InstanceType
	// ImageID is a Docker image for the Docker provider.
	ImageID string
	// UserData is the decoded boot script.
	UserData string
	// Env is extra environment from the launch template.
	Env map[string]string
	// Tags are the instance's tags (the template's, the group's that
	// propagate, aws:autoscaling:groupName).
	Tags []model.Tag
	// Port is the port the instance should serve on when the provider lets
	// it choose (the target group's port); a provider may assign another.
	Port int
}

// Launched is where a started instance serves and how to find it again.
type Launched struct {
	PrivateIP string
	Port      int
	Runtime   model.InstanceRuntime
}

// Provider starts, watches and stops instances.
type Provider interface {
	// Name is "process" or "docker".
	Name() string
	// Launch starts an instance.
	Launch(ctx context.Context, spec LaunchSpec) (Launched, error)
	// Adopt takes over an instance started before Alba restarted; it
	// reports false when the instance is gone.
	Adopt(inst *model.Instance) bool
	// Alive reports whether the instance is still running.
	Alive(rt model.InstanceRuntime) bool
	// Stop stops the instance: politely, then by force after grace.
	Stop(ctx context.Context, rt model.InstanceRuntime, grace time.Duration) error
	// CPUTime is the CPU time the instance has used since it started.
	CPUTime(rt model.InstanceRuntime) (time.Duration, error)
}

// Reaper is a provider that can find the instances it started for this
// store that the store no longer knows — a launch cut short by a crash of
// Alba, a record removed while its container started — and remove them,
// so that nothing leaks.
type Reaper interface {
	// Reap removes the instances created before before whose ids known
	// does not know, and returns their ids.
	Reap(ctx context.Context, known func(id string) bool, before time.Time) ([]string, error)
}

// Watcher is a provider that hears of its instances ending (a container
// that exits or is killed), so that the auto scaling controller acts at
// once rather than at its next poll of Alive.
type Watcher interface {
	// Ended returns a channel that receives a value soon after an
	// instance of this provider ends; bursts may be coalesced. It closes
	// when ctx ends.
	Ended(ctx context.Context) <-chan struct{}
}
