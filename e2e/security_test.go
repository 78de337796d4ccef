package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An admin address other machines reach, with no credentials set, is
// refused at start with a sentence that says why and how to go on, before
// anything is written (internal/app's test covers credentials and the
// flag that let it start).
func TestUpRefusesAnExposedAdminWithoutCredentials(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	_, stderr, code := runAlba(t, 30*time.Second, "up", "--empty", "--data-dir", dataDir, "--admin", "0.0.0.0:0")
	if code == 0 || !strings.Contains(stderr, "reachable from other machines and no credentials are set") ||
		!strings.Contains(stderr, "--insecure-admin") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Error("the data directory was made before the refusal")
	}
}
