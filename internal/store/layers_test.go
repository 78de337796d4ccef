package store

import (
	"os/exec"
	"strings"
	"testing"
)

// The fronts translate; they neither reach into the data plane nor into
// the health checker (target health is a model type they share). This
// keeps a front testable without either, and the arrows of the layers one
// way: fronts → service layer → store.
func TestFrontsDoNotImportTheDataPlane(t *testing.T) {
	fronts := []string{"internal/config", "internal/awsapi"}
	forbidden := []string{"internal/dataplane", "internal/health", "internal/lbcontroller", "internal/asgcontroller"}
	for _, front := range fronts {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/alba-lb/alba/"+front).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", front, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list %s listed %d packages", front, len(deps))
		}
		for _, d := range deps {
			for _, f := range forbidden {
				if d == "github.com/alba-lb/alba/"+f {
					t.Errorf("%s depends on %s", front, f)
				}
			}
		}
	}
}
