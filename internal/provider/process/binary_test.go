package process

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestStableBinaryCopiesTheRunningExecutable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	got, err := StableBinary(dir)
	if err != nil || got != dir {
		t.Fatalf("StableBinary = %q, %v", got, err)
	}
	exe, _ := os.Executable()
	want, _ := os.ReadFile(exe)
	copied, err := os.ReadFile(filepath.Join(dir, "alba"))
	if err != nil || !bytes.Equal(copied, want) {
		t.Fatalf("dir/alba is not the running executable (%d bytes, %v)", len(copied), err)
	}
	st, _ := os.Stat(filepath.Join(dir, "alba"))
	if st.Mode()&0o111 == 0 {
		t.Errorf("dir/alba is not executable: %v", st.Mode())
	}
	// A second call keeps the copy (same size, not older).
	if _, err := StableBinary(dir); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(filepath.Join(dir, "alba"))
	if !os.SameFile(st, st2) {
		t.Error("an up-to-date copy was replaced")
	}
}
