package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A container image's command is fixed, so alba catalog takes its port
// and CPU cost from the environment a launch template gives it.
func TestCatalogTakesPortAndCostFromTheEnvironment(t *testing.T) {
	bin := t.TempDir() + "/alba"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	bad := exec.Command(bin, "catalog")
	bad.Env = append(os.Environ(), "CATALOG_CPU_COST=lots")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "CATALOG_CPU_COST") {
		t.Errorf("a bad CATALOG_CPU_COST: %v %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, "catalog")
	cmd.Env = append(os.Environ(), "PORT="+port, "CATALOG_CPU_COST=1ms")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if !strings.Contains(s, ":"+port) {
			t.Errorf("catalog says %q, want it listening on :%s", s, port)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("catalog did not start")
	}
}
