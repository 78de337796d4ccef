package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a small tmpfs at dir (root only: skips otherwise).
func mountTmpfs(t *testing.T, dir string, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

// A data directory that fills up under a running Alba refuses API writes
// with a sentence (503: nothing was written) while traffic flows on; once
// there is room again writes work, and a restart finds every acknowledged
// one. Starting on a read-only directory is a clear error.
func TestDataDirectoryFullOrReadOnly(t *testing.T) {
	_, cport := catalog(t, "i-full")
	lport := freePort(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	mountTmpfs(t, dataDir, "2m")
	file := filepath.Join(dir, "alba.yaml")
	if err := os.WriteFile(file, []byte(config(lport, []int{cport}, fastHealth)), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &lb{dataDir: dataDir, file: file, admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	l.run(t)
	l.waitHealthy(t, cport)

	var acked []string
	create := func(name string) (int, string) {
		code, body := post(l.admin, "Version=2015-12-01&Action=CreateTargetGroup&Protocol=HTTP&Port=80&TargetType=ip&Name="+name)
		if code == 200 {
			acked = append(acked, name)
		}
		return code, body
	}
	if code, body := create("before-full"); code != 200 {
		t.Fatalf("a write before the disk filled: %d %s", code, body)
	}

	// Fill the file system, then write until the store needs room it
	// cannot get (it first reuses its free pages).
	filler := filepath.Join(dataDir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	refused := ""
	for i := 0; i < 500 && refused == ""; i++ {
		code, body := create(fmt.Sprintf("full-%d-%s", i, strings.Repeat("x", 20)))
		switch {
		case code == 503 && strings.Contains(body, "ServiceUnavailable") && strings.Contains(body, "is full"):
			refused = body
		case code != 200:
			t.Fatalf("a write on a full disk: %d %s", code, body)
		}
	}
	if refused == "" {
		t.Fatal("500 writes on a full disk all succeeded")
	}
	t.Logf("refused on a full disk: %s", refused)
	if code := get(l.url(lport, "/status")); code != 200 {
		t.Errorf("traffic on a full disk: %d", code)
	}
	os.Remove(filler)
	if code, body := create("after-full"); code != 200 {
		t.Fatalf("a write once there is room again: %d %s", code, body)
	}

	l.signal(syscall.SIGTERM)
	l.wait(t, 30*time.Second)

	// A read-only data directory (the kernel refuses to remount one that
	// has a file open for writing, so Alba meets it at start).
	if out, err := exec.Command("mount", "-o", "remount,ro", dataDir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}
	// Starting on it: a sentence, and an exit.
	p := start(t, "up", "-f", file, "--data-dir", dataDir, "--admin", l.admin)
	if code := p.wait(t, 30*time.Second); code == 0 {
		t.Fatal("alba up ran on a read-only data directory")
	}
	if out := p.out.String(); !strings.Contains(out, "read-only file system") {
		t.Errorf("starting on a read-only data directory says:\n%s", out)
	}

	if out, err := exec.Command("mount", "-o", "remount,rw", dataDir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-write: %v %s", err, out)
	}
	l2 := l.restart(t)
	for _, name := range acked {
		if _, body := post(l2.admin, "Version=2015-12-01&Action=DescribeTargetGroups&Names.member.1="+name); !strings.Contains(body, "<TargetGroupName>"+name+"</TargetGroupName>") {
			t.Errorf("acknowledged target group %s is gone after the restart", name)
		}
	}
	t.Logf("%d acknowledged writes all there after the restart", len(acked))
}
