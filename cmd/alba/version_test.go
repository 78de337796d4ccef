package main

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestVersionFlagAndCommandAgree(t *testing.T) {
	bin := t.TempDir() + "/alba"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	flag, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(flag) != string(cmd) {
		t.Errorf("alba --version says %q, alba version %q", flag, cmd)
	}
	if s := string(cmd); !strings.HasPrefix(s, "alba ") || !strings.Contains(s, "commit ") || !strings.Contains(s, runtime.Version()) {
		t.Errorf("version %q does not name the version, the commit and %s", s, runtime.Version())
	}
}
