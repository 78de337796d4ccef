package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageBuildRefusesANonStaticBinary(t *testing.T) {
	// A script is no ELF executable; the refusal comes before the engine
	// is asked anything, so this needs no engine.
	script := filepath.Join(t.TempDir(), "alba")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := imageCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"build", "--binary", script, "--tag", "alba-never-built:test"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") || !strings.Contains(err.Error(), "alba image build --binary ./alba") {
		t.Fatalf("error %v, want how to build a static binary", err)
	}
}

func TestImageBuildHelpSaysHowToGetAStaticBinary(t *testing.T) {
	cmd := imageBuildCmd()
	if !strings.Contains(cmd.Long, "CGO_ENABLED=0 go build -o alba ./cmd/alba") || cmd.Flags().Lookup("tag").DefValue != "movie-catalog:latest" {
		t.Errorf("help %q", cmd.Long)
	}
}
