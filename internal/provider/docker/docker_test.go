package docker

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/provider"
)

// Every container and image the tests make carries this label, so a
// forgotten one is easy to find (docker ps -a --filter label=alba.test).
const testLabel = "alba.test"

var (
	buildOnce sync.Once
	buildDir  string // holds the static alba the tests build
	buildErr  error
	binary    string

	imageOnce sync.Once
	imageTag  string
	imageErr  error
	imageCli  *client.Client
)

func TestMain(m *testing.M) {
	code := m.Run()
	// The image and binary are shared by the tests, so they go at the end.
	if imageTag != "" && imageCli != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		imageCli.ImageRemove(ctx, imageTag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		cancel()
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// localEngine returns a client of the engine DOCKER_HOST names (else the local
// one); the test is skipped when none answers, and fails under CI=true.
func localEngine(t testing.TB) *client.Client {
	t.Helper()
	cli, err := NewClient("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		msg := fmt.Sprintf("no Docker engine answers at %s (%v): these tests need one", cli.DaemonHost(), err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return cli
}

// staticAlba builds alba with cgo off, once for all tests.
func staticAlba(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "alba-docker-test-")
		if buildErr != nil {
			return
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binary = filepath.Join(buildDir, "alba")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, gobin, "build", "-o", binary, "./cmd/alba")
		cmd.Dir = filepath.Join("..", "..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// testImage builds, once, the catalog image with the code `alba image
// build` runs, under a tag unique to this test run.
func testImage(t testing.TB, cli *client.Client) string {
	t.Helper()
	bin := staticAlba(t)
	imageOnce.Do(func() {
		imageCli = cli
		tag := fmt.Sprintf("alba-test-%d-%s:latest", os.Getpid(), randomHex(4))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// A client of its own: cli is closed when the first test ends.
		imageCli, imageErr = NewClient("")
		if imageErr != nil {
			return
		}
		if _, imageErr = BuildImage(ctx, imageCli, BuildOptions{Tag: tag, Binary: bin, Labels: map[string]string{testLabel: "1"}}); imageErr == nil {
			imageTag = tag
		}
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageTag
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// instanceID is an EC2-like id: i- and 17 hex digits.
func instanceID() string { return "i-" + randomHex(9)[:17] }

// newProvider returns a provider for a store unique to the test and
// removes, at the end of the test, every container of that store.
func newProvider(t testing.TB, cli *client.Client) *Provider {
	t.Helper()
	store := fmt.Sprintf("test-%d-%s", os.Getpid(), randomHex(4))
	p, err := New(Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removeStore(t, cli, store)
		p.Close()
	})
	return p
}

func removeStore(t testing.TB, cli *client.Client, store string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelStore+"="+store)})
	if err != nil {
		t.Errorf("listing the test's containers: %v", err)
		return
	}
	for _, c := range res.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing container %s: %v", c.ID, err)
		}
	}
}

// launch starts an instance of the test image and stops it at the end of
// the test.
func launch(t testing.TB, ctx context.Context, p *Provider, spec provider.LaunchSpec) provider.Launched {
	t.Helper()
	l, err := p.Launch(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() { // what became of the container, for a failure to be read
			if cli, err := NewClient(""); err == nil {
				if insp, err := cli.ContainerInspect(context.Background(), l.Runtime.ContainerID, client.ContainerInspectOptions{}); err == nil {
					t.Logf("container %s of %s: state %+v", l.Runtime.ContainerID, spec.InstanceID, insp.Container.State)
				} else {
					t.Logf("container %s of %s: %v", l.Runtime.ContainerID, spec.InstanceID, err)
				}
				cli.Close()
			}
		}
		p.Stop(context.Background(), l.Runtime, 0)
	})
	return l
}

// waitStatus waits, up to a deadline, for the catalog at addr to answer
// GET /status with 200, and returns the response's X-Instance-Id.
func waitStatus(t testing.TB, addr string) string {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get("http://" + addr + "/status")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return resp.Header.Get("X-Instance-Id")
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog at %s never answered /status with 200 (last: %v)", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLaunchServesAndStops(t *testing.T) {
	cli := localEngine(t)
	image := testImage(t, cli)
	p := newProvider(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	id := instanceID()
	userData := "#!/bin/bash\necho hello from user data\n"
	spec := provider.LaunchSpec{InstanceID: id, Zone: "zone-a", InstanceType: "t2.micro", Size: model.InstanceTypes["t2.micro"],
		ImageID: image, UserData: userData, Port: 8080,
		Group: "web", LaunchTemplateID: "lt-0abc", LaunchTemplateVersion: "3",
		Env:  map[string]string{"GREETING": "hi", "PORT": "9999"},
		Tags: []model.Tag{{Key: "Name", Value: "movie-catalog"}, {Key: "aws:autoscaling:groupName", Value: "web"}, {Key: LabelGroup, Value: "spoof"}}}
	l := launch(t, ctx, p, spec)
	if l.PrivateIP != "127.0.0.1" || l.Port == 0 || l.Runtime.Provider != "docker" || l.Runtime.ContainerID == "" {
		t.Fatalf("launched %+v", l)
	}
	addr := net.JoinHostPort(l.PrivateIP, strconv.Itoa(l.Port))
	if got := waitStatus(t, addr); got != id {
		t.Errorf("X-Instance-Id %q, want %q (ALBA_INSTANCE_ID)", got, id)
	}

	// What `docker inspect` shows: name, size, restart policy, labels, env.
	insp, err := cli.ContainerInspect(ctx, l.Runtime.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := insp.Container
	if c.Name != "/"+ContainerName(id) {
		t.Errorf("name %q", c.Name)
	}
	if c.HostConfig.NanoCPUs != 1e9 || c.HostConfig.Memory != 1024<<20 {
		t.Errorf("NanoCpus %d, Memory %d; want t2.micro's 1 vCPU and 1024 MiB", c.HostConfig.NanoCPUs, c.HostConfig.Memory)
	}
	if !c.HostConfig.RestartPolicy.IsNone() {
		t.Errorf("restart policy %q", c.HostConfig.RestartPolicy.Name)
	}
	wantLabels := map[string]string{LabelStore: p.store, LabelInstanceID: id, LabelZone: "zone-a", LabelInstanceType: "t2.micro",
		LabelGroup: "web", LabelLaunchTemplateID: "lt-0abc", LabelLaunchTemplateVersion: "3",
		"Name": "movie-catalog", "aws:autoscaling:groupName": "web"}
	for k, v := range wantLabels {
		if c.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Config.Labels[k], v)
		}
	}
	for _, kv := range []string{"ALBA_INSTANCE_ID=" + id, "ALBA_ZONE=zone-a", "ALBA_INSTANCE_TYPE=t2.micro", "PORT=8080", "GREETING=hi"} {
		if !slices.Contains(c.Config.Env, kv) {
			t.Errorf("env lacks %s: %q", kv, c.Config.Env)
		}
	}

	// The user data is in the container, read-only, where cloud-init
	// leaves it.
	cp, err := cli.CopyFromContainer(ctx, l.Runtime.ContainerID, client.CopyFromContainerOptions{SourcePath: UserDataPath})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(cp.Content)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(tr)
	cp.Content.Close()
	if string(got) != userData || hdr.FileInfo().Mode().Perm() != 0o444 {
		t.Errorf("user data %q mode %v, want %q 0444", got, hdr.FileInfo().Mode().Perm(), userData)
	}

	// CPU time grows while the catalog serves requests.
	cpu0, err := p.CPUTime(l.Runtime)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	cpu := cpu0
	deadline := time.Now().Add(30 * time.Second)
	for n := 0; n < 5000 && cpu-cpu0 < 20*time.Millisecond && time.Now().Before(deadline); n++ {
		resp, err := hc.Get("http://" + addr + "/discover")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n%50 == 49 {
			if cpu, err = p.CPUTime(l.Runtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("CPU time %v -> %v under load", cpu0, cpu)
	if cpu-cpu0 < 20*time.Millisecond {
		t.Errorf("CPU time went from %v to %v under load, want 20ms more", cpu0, cpu)
	}

	// A restarted Alba adopts it, even from a record the launch could not
	// complete; another store's Alba does not.
	p2, err := New(Options{Store: p.store})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	inst := &model.Instance{ID: id}
	if !p2.Adopt(inst) {
		t.Fatal("a running container was not adopted")
	}
	if inst.Runtime.ContainerID != l.Runtime.ContainerID || inst.PrivateIP != l.PrivateIP || inst.Port != l.Port {
		t.Errorf("adopted %+v, launched %+v", inst, l)
	}
	other, err := New(Options{Store: p.store + "-other"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.Adopt(&model.Instance{ID: id, Runtime: l.Runtime}) {
		t.Error("another store adopted the container")
	}

	// A killed container is not alive.
	if _, err := cli.ContainerKill(ctx, l.Runtime.ContainerID, client.ContainerKillOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); p.Alive(l.Runtime); {
		if time.Now().After(deadline) {
			t.Fatal("still alive after docker kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p.Adopt(&model.Instance{ID: id, Runtime: l.Runtime}) {
		t.Error("a dead container was adopted")
	}
	if d, err := p.CPUTime(l.Runtime); err == nil {
		t.Errorf("CPU time %v of a dead container, want an error", d)
	}

	// Stop removes it; stopping again is no error.
	if err := p.Stop(ctx, l.Runtime, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(ctx, l.Runtime.ContainerID, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container still there after Stop: %v", err)
	}
	if err := p.Stop(ctx, l.Runtime, time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStopRemovesARunningContainer(t *testing.T) {
	cli := localEngine(t)
	image := testImage(t, cli)
	p := newProvider(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := launch(t, ctx, p, provider.LaunchSpec{InstanceID: instanceID(), InstanceType: "t3.micro", Size: model.InstanceTypes["t3.micro"], ImageID: image, Port: 8080})
	waitStatus(t, net.JoinHostPort(l.PrivateIP, strconv.Itoa(l.Port)))
	if !p.Alive(l.Runtime) {
		t.Fatal("not alive")
	}
	// The catalog exits on SIGTERM, well within the grace.
	if err := p.Stop(ctx, l.Runtime, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Alive(l.Runtime) {
		t.Error("alive after Stop")
	}
	if _, err := cli.ContainerInspect(ctx, l.Runtime.ContainerID, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container still there after Stop: %v", err)
	}
}

func TestOrphans(t *testing.T) {
	cli := localEngine(t)
	image := testImage(t, cli)
	p := newProvider(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	known, lost := instanceID(), instanceID()
	lk := launch(t, ctx, p, provider.LaunchSpec{InstanceID: known, ImageID: image, Port: 8080})
	ll := launch(t, ctx, p, provider.LaunchSpec{InstanceID: lost, ImageID: image, Port: 8080})
	// Another store's container is none of this store's business.
	q := newProvider(t, cli)
	launch(t, ctx, q, provider.LaunchSpec{InstanceID: instanceID(), ImageID: image, Port: 8080})

	orphans, err := p.Orphans(ctx, func(id string) bool { return id == known })
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].InstanceID != lost || orphans[0].ContainerID != ll.Runtime.ContainerID || orphans[0].Created.IsZero() {
		t.Fatalf("orphans %+v, want only %s", orphans, lost)
	}
	if err := p.RemoveOrphans(ctx, orphans); err != nil {
		t.Fatal(err)
	}
	if orphans, err = p.Orphans(ctx, func(id string) bool { return id == known }); err != nil || len(orphans) != 0 {
		t.Errorf("orphans after removal %+v, %v", orphans, err)
	}
	if !p.Alive(lk.Runtime) {
		t.Error("the known instance's container went with the orphans")
	}
}

func TestLaunchOfAMissingImage(t *testing.T) {
	cli := localEngine(t)
	p := newProvider(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	image := fmt.Sprintf("alba-no-such-image-%s:latest", randomHex(4))
	id := instanceID()
	_, err := p.Launch(ctx, provider.LaunchSpec{InstanceID: id, ImageID: image, Port: 8080})
	want := "image " + image + " not found on the Docker engine at " + cli.DaemonHost() + ": build it with `alba image build`"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	if _, err := cli.ContainerInspect(ctx, ContainerName(id), client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("a container was left behind: %v", err)
	}
}

func TestLaunchThatCannotStartLeavesNothing(t *testing.T) {
	cli := localEngine(t)
	p := newProvider(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// An empty image whose command does not exist: created, never started.
	tag := fmt.Sprintf("alba-test-%d-%s:broken", os.Getpid(), randomHex(4))
	var empty strings.Builder
	tar.NewWriter(&empty).Close()
	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: strings.NewReader(empty.String()), SourceName: "-"}, tag,
		client.ImageImportOptions{Changes: []string{`CMD ["/no-such-program"]`, "LABEL " + testLabel + "=1"}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res)
	res.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true})
	})
	id := instanceID()
	if _, err := p.Launch(ctx, provider.LaunchSpec{InstanceID: id, ImageID: tag, Port: 8080, UserData: "x"}); err == nil || !strings.Contains(err.Error(), "start the container of "+id) {
		t.Fatalf("error %v, want one about starting", err)
	}
	if _, err := cli.ContainerInspect(ctx, ContainerName(id), client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("the container was left behind: %v", err)
	}
}

func TestUnreachableEngine(t *testing.T) {
	// No engine listens on this socket: every call fails with a sentence.
	host := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	p, err := New(Options{Engine: Engine{Host: host}, Store: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = p.Launch(ctx, provider.LaunchSpec{InstanceID: instanceID(), ImageID: "movie-catalog:latest"})
	want := "the Docker engine at " + host + " does not answer"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	rt := model.InstanceRuntime{Provider: "docker", ContainerID: "abc"}
	if p.Alive(rt) || p.Adopt(&model.Instance{ID: "i-x", Runtime: rt}) {
		t.Error("alive or adopted without an engine")
	}
	if _, err := p.CPUTime(rt); err == nil {
		t.Error("CPU time without an engine")
	}
	if _, err := p.Orphans(ctx, func(string) bool { return false }); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("orphans: %v", err)
	}
	// The controller reaps every minute: without an engine there is
	// nothing to reap, and nothing to log about it.
	if ids, err := p.Reap(ctx, func(string) bool { return false }, time.Now()); err != nil || len(ids) != 0 {
		t.Errorf("reap without an engine: %v, %v; want nothing and no error", ids, err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no store identity accepted")
	}
	if _, err := New(Options{Store: "s", Engine: Engine{Address: "localhost"}}); err == nil {
		t.Error("a host name accepted as the host address")
	}
	for _, host := range []string{"no-scheme", "ssh://user@host"} {
		if _, err := New(Options{Store: "s", Engine: Engine{Host: host}}); err == nil {
			t.Errorf("engine endpoint %q accepted", host)
		}
	}
}

func TestContainerEnvAndResources(t *testing.T) {
	spec := provider.LaunchSpec{InstanceID: "i-1", Zone: "z", InstanceType: "c5.xlarge", Size: model.InstanceTypes["c5.xlarge"], ImageID: "img",
		Env: map[string]string{"PORT": "1", "ALBA_INSTANCE_ID": "spoof", "A": "b"}}
	env := containerEnv(spec, 8080)
	for _, kv := range []string{"A=b", "PORT=8080", "ALBA_INSTANCE_ID=i-1", "ALBA_VCPUS=4", "ALBA_IMAGE_ID=img", "ALBA_ZONE=z"} {
		if !slices.Contains(env, kv) {
			t.Errorf("env lacks %s: %q", kv, env)
		}
	}
	r := resources(spec.Size)
	if r.NanoCPUs != 4e9 || r.Memory != 8192<<20 {
		t.Errorf("resources %d %d", r.NanoCPUs, r.Memory)
	}
	if r := resources(model.InstanceType{}); r.NanoCPUs != 0 || r.Memory != 0 {
		t.Errorf("an unknown size limited: %+v", r)
	}
}

func TestCheckStatic(t *testing.T) {
	if err := CheckStatic(staticAlba(t)); err != nil {
		t.Errorf("a CGO_ENABLED=0 build refused: %v", err)
	}
	text := filepath.Join(t.TempDir(), "script")
	os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755)
	if err := CheckStatic(text); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("a script: %v", err)
	}
	// Any dynamically linked system binary will do.
	for _, dyn := range []string{"/bin/sh", "/bin/ls", "/usr/bin/env"} {
		if !hasInterp(dyn) {
			continue
		}
		err := CheckStatic(dyn)
		if err == nil || !strings.Contains(err.Error(), "linked dynamically") || !strings.Contains(err.Error(), "alba image build --binary ./alba") {
			t.Errorf("%s: %v", dyn, err)
		}
		return
	}
	t.Log("no dynamically linked system binary found to check")
}

// hasInterp reports whether path is an ELF file that names a dynamic
// loader, to pick a system binary CheckStatic must refuse.
func hasInterp(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
}
