package docker

import (
	"context"
	"strings"
	"testing"

	"github.com/alba-lb/alba/internal/provider"
)

func TestCheckImageID(t *testing.T) {
	for id, want := range map[string]bool{
		"movie-catalog:latest":             true,
		"movie-catalog":                    true,
		"registry.example:5000/team/app:1": true,
		"app@sha256:" + sixtyFourHex:       true,
		sixtyFourHex:                       true,
		"ami-0example":                     false,
		"ami-0123456789abcdef0":            false,
		"":                                 false,
		"Bad Name!!":                       false,
		"UPPER:latest":                     false,
	} {
		if err := checkImageID(id); (err == nil) != want {
			t.Errorf("checkImageID(%q) = %v, want it to accept: %v", id, err, want)
		}
	}
}

const sixtyFourHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestLaunchOfAnAMIAsksForAnImage(t *testing.T) {
	// Refused before the engine is asked: this one does not exist.
	p, err := New(Options{Engine: Engine{Host: "unix:///nonexistent/docker.sock"}, Store: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Launch(context.Background(), provider.LaunchSpec{InstanceID: "i-1", ImageID: "ami-0example"})
	if want := "image_id ami-0example is an AMI id, which the Docker provider cannot run"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}
