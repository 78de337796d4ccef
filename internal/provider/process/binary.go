package process

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// StableBinary copies the running executable to dir/alba (when it is not
// that file already, or differs in size or is older) and returns dir: user
// data that runs `alba catalog` then finds a binary that outlives the
// temporary build `go run` deletes when it exits. The copy is written
// aside and renamed, so running instances keep the file they started.
func StableBinary(dir string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "alba")
	if exe == dst {
		return dir, nil
	}
	src, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer src.Close()
	si, err := src.Stat()
	if err != nil {
		return "", err
	}
	if di, err := os.Stat(dst); err == nil && di.Size() == si.Size() && !di.ModTime().Before(si.ModTime()) {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".alba-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("copying %s: %w", exe, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return dir, os.Rename(tmp.Name(), dst)
}
