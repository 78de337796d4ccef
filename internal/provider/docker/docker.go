// Package docker runs instances as Docker containers, one container per
// instance, through the Docker Engine API.
//
// A container is named alba-<instance id> and labelled with what finds it
// again (the instance id, its zone and type, and the identity of the Alba
// store it belongs to), so a restarted Alba adopts its containers and finds
// those a crash left without an instance record. The target group's port
// inside the container is published on a host address (127.0.0.1 by
// default) at a port the engine picks; that address and port are where the
// load balancer reaches the instance.
//
// The launch template's environment reaches the container as environment
// variables, with ALBA_INSTANCE_ID, ALBA_ZONE, ALBA_INSTANCE_TYPE,
// ALBA_VCPUS, ALBA_IMAGE_ID and PORT (the port inside the container) added.
// User data reaches it as EC2 leaves it on an instance: the file
// /var/lib/cloud/instance/user-data.txt (UserDataPath), copied in before the
// container starts. Nothing runs it: the image's command is the program, and
// Alba never runs user data on the host for a Docker instance.
//
// Images are looked up on the engine only, never pulled: build one with
// `alba image build`.
package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/provider"
)

// Labels Alba puts on its containers.
const (
	// LabelStore holds the identity of the Alba store (data directory) the
	// container belongs to: two Alba stores may share an engine.
	LabelStore = "alba.store"
	// LabelInstanceID holds the instance id.
	LabelInstanceID = "alba.instance-id"
	// LabelZone and LabelInstanceType hold the instance's zone and type.
	LabelZone         = "alba.zone"
	LabelInstanceType = "alba.instance-type"
	// LabelGroup, LabelLaunchTemplateID and LabelLaunchTemplateVersion
	// say where the instance comes from (set when the launch spec says).
	LabelGroup                 = "alba.group"
	LabelLaunchTemplateID      = "alba.launch-template-id"
	LabelLaunchTemplateVersion = "alba.launch-template-version"
)

// UserDataPath is where an instance finds its user data, as cloud-init
// leaves it on an EC2 instance.
const UserDataPath = "/var/lib/cloud/instance/user-data.txt"

// DefaultPort is the port inside the container when the launch spec names
// none and the image exposes no single TCP port.
const DefaultPort = 8080

// callTimeout bounds the engine calls of the methods that take no context
// (Adopt, Alive, CPUTime), so a hung engine cannot hang the controller.
const callTimeout = 10 * time.Second

// Options configure a Provider.
type Options struct {
	// Host is the engine's endpoint as DOCKER_HOST spells it
	// (unix:///var/run/docker.sock, tcp://host:2375); empty means
	// DOCKER_HOST (and DOCKER_CERT_PATH, DOCKER_TLS_VERIFY), else the local
	// engine.
	Host string
	// HostIP is the host address published ports bind to and instances are
	// reached on; empty means 127.0.0.1.
	HostIP string
	// Store identifies the Alba store the containers belong to (required).
	Store string
}

var _ provider.Provider = (*Provider)(nil)

// Provider starts instances as Docker containers.
type Provider struct {
	cli    *client.Client
	host   string
	hostIP netip.Addr
	store  string
}

// NewClient returns an Engine API client for host (empty: DOCKER_HOST, else
// the local engine) that negotiates the API version with the engine on its
// first call. It does not contact the engine.
func NewClient(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		// An explicit host wins over DOCKER_HOST, even a malformed one.
		opts = []client.Opt{client.WithTLSClientConfigFromEnv(), client.WithAPIVersionFromEnv(), client.WithHost(host)}
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot use the Docker engine at %q (%v): name it as DOCKER_HOST does, e.g. unix:///var/run/docker.sock or tcp://127.0.0.1:2375", host, err)
	}
	// The client accepts any scheme and fails only on the first call; an
	// ssh:// host (which the docker CLI handles itself) would never work.
	switch scheme, _, _ := strings.Cut(cli.DaemonHost(), "://"); scheme {
	case "unix", "tcp", "http", "https", "npipe":
	default:
		cli.Close()
		return nil, fmt.Errorf("cannot use the Docker engine at %s: Alba reaches engines over unix:// sockets and tcp:// only", cli.DaemonHost())
	}
	return cli, nil
}

// New returns a provider for the engine opts names. It does not contact the
// engine: an engine that is down makes Launch fail, not Alba's start.
func New(opts Options) (*Provider, error) {
	if opts.Store == "" {
		return nil, errors.New("the Docker provider needs a store identity to label its containers with")
	}
	ipText := opts.HostIP
	if ipText == "" {
		ipText = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(ipText)
	if err != nil {
		return nil, fmt.Errorf("the host address %q for published ports is not an IP address", ipText)
	}
	cli, err := NewClient(opts.Host)
	if err != nil {
		return nil, err
	}
	return &Provider{cli: cli, host: cli.DaemonHost(), hostIP: ip, store: opts.Store}, nil
}

// Close releases the client's connections.
func (p *Provider) Close() error { return p.cli.Close() }

// Client is the Engine API client, for callers that need more of the API.
func (p *Provider) Client() *client.Client { return p.cli }

// Name is "docker".
func (p *Provider) Name() string { return "docker" }

// ContainerName is the name of an instance's container.
func ContainerName(instanceID string) string { return "alba-" + instanceID }

// engineError turns an engine error into a sentence a user can act on.
func (p *Provider) engineError(err error, doing string) error {
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("the Docker engine at %s does not answer, so Alba cannot %s: start it, or point DOCKER_HOST at one that runs (%w)", p.host, doing, err)
	}
	return fmt.Errorf("the Docker engine at %s failed to %s: %w", p.host, doing, err)
}

// Launch creates the instance's container from the image, copies the user
// data in, starts it and reads back the host port the engine published the
// container port on.
func (p *Provider) Launch(ctx context.Context, spec provider.LaunchSpec) (provider.Launched, error) {
	if err := checkImageID(spec.ImageID); err != nil {
		return provider.Launched{}, err
	}
	img, err := p.cli.ImageInspect(ctx, spec.ImageID)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return provider.Launched{}, fmt.Errorf("image %s not found on the Docker engine at %s: build it with `alba image build` (Alba never pulls images)", spec.ImageID, p.host)
		}
		return provider.Launched{}, p.engineError(err, "look up image "+spec.ImageID)
	}
	cport := spec.Port
	if cport == 0 && img.Config != nil {
		exposed := network.PortSet{}
		for s := range img.Config.ExposedPorts {
			if port, err := network.ParsePort(s); err == nil {
				exposed[port] = struct{}{}
			}
		}
		cport = singleTCPPort(exposed)
	}
	if cport == 0 {
		cport = DefaultPort
	}
	port, ok := network.PortFrom(uint16(cport), network.TCP)
	if !ok || cport < 1 || cport > 65535 {
		return provider.Launched{}, fmt.Errorf("port %d is not a TCP port", cport)
	}
	cfg := &container.Config{
		Image:        spec.ImageID,
		Env:          containerEnv(spec, cport),
		Labels:       p.labels(spec),
		ExposedPorts: network.PortSet{port: {}},
	}
	hc := &container.HostConfig{
		// An empty host port: the engine picks a free one, so instances
		// never race each other for ports.
		PortBindings:  network.PortMap{port: {{HostIP: p.hostIP}}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Resources:     resources(spec.Size),
	}
	created, err := p.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc, Name: ContainerName(spec.InstanceID)})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return provider.Launched{}, fmt.Errorf("a container named %s already exists on the Docker engine at %s: an earlier launch of %s left it; remove it (Alba removes such orphans itself)", ContainerName(spec.InstanceID), p.host, spec.InstanceID)
		}
		return provider.Launched{}, p.engineError(err, "create the container of "+spec.InstanceID)
	}
	fail := func(err error) (provider.Launched, error) {
		p.remove(ctx, created.ID)
		return provider.Launched{}, err
	}
	if spec.UserData != "" {
		content, err := userDataArchive(spec.UserData)
		if err != nil {
			return fail(err)
		}
		if _, err := p.cli.CopyToContainer(ctx, created.ID, client.CopyToContainerOptions{DestinationPath: "/", Content: content}); err != nil {
			return fail(p.engineError(err, "copy the user data into the container of "+spec.InstanceID))
		}
	}
	if _, err := p.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return fail(p.engineError(err, "start the container of "+spec.InstanceID))
	}
	insp, err := p.cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		return fail(p.engineError(err, "inspect the container of "+spec.InstanceID))
	}
	ip, hostPort, err := publishedPort(insp.Container, port, p.hostIP)
	if err != nil {
		return fail(fmt.Errorf("the container of %s: %w", spec.InstanceID, err))
	}
	waitListening(ctx, insp.Container, cport, launchReadyTimeout)
	return provider.Launched{PrivateIP: ip, Port: hostPort,
		Runtime: model.InstanceRuntime{Provider: "docker", ContainerID: created.ID}}, nil
}

// launchReadyTimeout bounds how long a launch waits for the application in
// the container to listen.
const launchReadyTimeout = 15 * time.Second

// waitListening waits, up to timeout, until the application inside the
// container accepts connections on port at the container's own address.
// The engine's published port accepts (and resets) connections before the
// application listens, so without this wait the instance's first health
// checks, and requests the load balancer retries on it, fail at once. An
// application that never listens is left to the health checks, as on AWS.
func waitListening(ctx context.Context, c container.InspectResponse, port int, timeout time.Duration) {
	if c.NetworkSettings == nil {
		return
	}
	var addrs []string
	for _, n := range c.NetworkSettings.Networks {
		if n != nil && n.IPAddress.IsValid() {
			addrs = append(addrs, net.JoinHostPort(n.IPAddress.String(), strconv.Itoa(port)))
		}
	}
	if len(addrs) == 0 {
		return // no address of its own to try (host networking, say)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		for _, a := range addrs {
			dctx, dcancel := context.WithTimeout(ctx, time.Second)
			conn, err := d.DialContext(dctx, "tcp", a)
			dcancel()
			if err == nil {
				conn.Close()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// singleTCPPort is the image's one exposed TCP port, or 0.
func singleTCPPort(ports network.PortSet) int {
	found := 0
	for p := range ports {
		if p.Proto() != network.TCP {
			continue
		}
		if found != 0 {
			return 0
		}
		found = int(p.Num())
	}
	return found
}

// publishedPort reads the host address and port the engine bound the
// container port to.
func publishedPort(c container.InspectResponse, port network.Port, want netip.Addr) (string, int, error) {
	if c.NetworkSettings == nil {
		return "", 0, errors.New("the engine reports no network settings")
	}
	for _, b := range c.NetworkSettings.Ports[port] {
		n, err := strconv.Atoi(b.HostPort)
		if err != nil || n == 0 {
			continue
		}
		ip := want
		if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
			ip = b.HostIP
		}
		return ip.String(), n, nil
	}
	return "", 0, fmt.Errorf("the engine published no host port for %s", port)
}

// resources limits the container to its instance type's size; an unknown
// (zero) size leaves it unlimited.
func resources(size model.InstanceType) container.Resources {
	var r container.Resources
	if size.VCPUs > 0 {
		r.NanoCPUs = int64(math.Round(size.VCPUs * 1e9))
	}
	if size.MemoryMB > 0 {
		r.Memory = int64(size.MemoryMB) << 20
		// No swap on top, as an EC2 instance has none (the engine ignores
		// this where the kernel does not account swap).
		r.MemorySwap = r.Memory
	}
	return r
}

// containerEnv is the template's environment with Alba's variables over
// it: PORT must be the port Alba publishes, whatever the template says.
func containerEnv(spec provider.LaunchSpec, port int) []string {
	env := map[string]string{}
	for k, v := range spec.Env {
		env[k] = v
	}
	env["ALBA_INSTANCE_ID"] = spec.InstanceID
	env["ALBA_ZONE"] = spec.Zone
	env["ALBA_INSTANCE_TYPE"] = spec.InstanceType
	env["ALBA_VCPUS"] = strconv.FormatFloat(spec.Size.VCPUs, 'f', -1, 64)
	env["ALBA_IMAGE_ID"] = spec.ImageID
	env["PORT"] = strconv.Itoa(port)
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// labels are what finds the container again.
func (p *Provider) labels(spec provider.LaunchSpec) map[string]string {
	l := map[string]string{
		LabelStore:        p.store,
		LabelInstanceID:   spec.InstanceID,
		LabelZone:         spec.Zone,
		LabelInstanceType: spec.InstanceType,
	}
	for label, v := range map[string]string{LabelGroup: spec.Group, LabelLaunchTemplateID: spec.LaunchTemplateID, LabelLaunchTemplateVersion: spec.LaunchTemplateVersion} {
		if v != "" {
			l[label] = v
		}
	}
	return l
}

// userDataArchive is a tar, to extract at /, holding the user data at
// UserDataPath with its parent directories (a scratch image has none).
// The file is world-readable: on EC2 any process of the instance can read
// the user data from the instance metadata service.
func userDataArchive(userData string) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	dir := ""
	parts := strings.Split(strings.TrimPrefix(UserDataPath, "/"), "/")
	for _, d := range parts[:len(parts)-1] {
		dir += d + "/"
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: now}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(UserDataPath, "/"), Mode: 0o444, Size: int64(len(userData)), ModTime: now}); err != nil {
		return nil, err
	}
	if _, err := tw.Write([]byte(userData)); err != nil {
		return nil, err
	}
	return &buf, tw.Close()
}

// inspect finds an instance's container by its recorded id.
func (p *Provider) inspect(rt model.InstanceRuntime) (container.InspectResponse, error) {
	if rt.ContainerID == "" {
		return container.InspectResponse{}, errors.New("no container recorded for the instance")
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	r, err := p.cli.ContainerInspect(ctx, rt.ContainerID, client.ContainerInspectOptions{})
	return r.Container, err
}

// running reports whether the container runs (a paused one counts: it
// holds its resources and resumes where it was).
func running(c container.InspectResponse) bool {
	return c.State != nil && c.State.Running && !c.State.Restarting
}

// Alive reports whether the instance's container exists and runs.
func (p *Provider) Alive(rt model.InstanceRuntime) bool {
	c, err := p.inspect(rt)
	return err == nil && running(c)
}

// Adopt takes over a container a previous run of Alba started: it must
// run, belong to this store and to the instance. It finds the container by
// the recorded id, else by the instance's container name, and fills in the
// runtime and address when the record lacks them (a launch cut short
// between starting the container and writing the record).
func (p *Provider) Adopt(inst *model.Instance) bool {
	rt := inst.Runtime
	if rt.ContainerID == "" {
		rt.ContainerID = ContainerName(inst.ID)
	}
	c, err := p.inspect(rt)
	if err != nil || !running(c) || c.Config == nil ||
		c.Config.Labels[LabelStore] != p.store || c.Config.Labels[LabelInstanceID] != inst.ID {
		return false
	}
	inst.Runtime.Provider, inst.Runtime.ContainerID = "docker", c.ID
	if inst.PrivateIP == "" || inst.Port == 0 {
		for port := range c.Config.ExposedPorts {
			if ip, n, err := publishedPort(c, port, p.hostIP); err == nil {
				inst.PrivateIP, inst.Port = ip, n
				break
			}
		}
	}
	return true
}

// Stop sends SIGTERM, lets the engine kill the container after grace, and
// removes it, so no container with Alba's labels remains. A cancelled ctx
// cuts the grace short; the container is removed all the same.
func (p *Provider) Stop(ctx context.Context, rt model.InstanceRuntime, grace time.Duration) error {
	if rt.ContainerID == "" {
		return nil
	}
	// The engine counts the grace in whole seconds; round up, never cut it.
	secs := int(math.Ceil(grace.Seconds()))
	_, err := p.cli.ContainerStop(ctx, rt.ContainerID, client.ContainerStopOptions{Signal: "SIGTERM", Timeout: &secs})
	if err != nil && cerrdefs.IsNotFound(err) {
		return nil
	}
	// Whatever stopping did (a cancelled ctx, an engine error), removing
	// with force kills what still runs.
	if rerr := p.remove(ctx, rt.ContainerID); rerr != nil {
		return rerr
	}
	return nil
}

// remove removes a container with force, outliving a cancelled ctx: a
// container left behind would hold its port and show up as an orphan.
func (p *Provider) remove(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := p.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return p.engineError(err, "remove container "+id)
	}
	return nil
}

// CPUTime is the CPU time the container has used, from the engine's
// one-shot stats (cpu_stats.cpu_usage.total_usage, in nanoseconds).
func (p *Provider) CPUTime(rt model.InstanceRuntime) (time.Duration, error) {
	if rt.ContainerID == "" {
		return 0, errors.New("no container recorded for the instance")
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	res, err := p.cli.ContainerStats(ctx, rt.ContainerID, client.ContainerStatsOptions{})
	if err != nil {
		return 0, p.engineError(err, "read the stats of container "+rt.ContainerID)
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("reading the stats of container %s: %w", rt.ContainerID, err)
	}
	// A container that is not running reports zeros, not its last usage.
	if st.Read.IsZero() && st.CPUStats.CPUUsage.TotalUsage == 0 {
		return 0, fmt.Errorf("container %s is not running", rt.ContainerID)
	}
	return time.Duration(st.CPUStats.CPUUsage.TotalUsage), nil
}

// Orphan is a container of this store whose instance the store does not
// know: a launch cut short by a crash between creating the container and
// recording the instance.
type Orphan struct {
	ContainerID string
	InstanceID  string
	// Created lets the caller spare containers younger than a grace
	// period: their launch may still be under way.
	Created time.Time
}

// Orphans lists this store's containers whose instance known does not
// know, oldest first.
func (p *Provider) Orphans(ctx context.Context, known func(instanceID string) bool) ([]Orphan, error) {
	res, err := p.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelStore+"="+p.store)})
	if err != nil {
		return nil, p.engineError(err, "list Alba's containers")
	}
	var out []Orphan
	for _, c := range res.Items {
		id := c.Labels[LabelInstanceID]
		if id != "" && known(id) {
			continue
		}
		out = append(out, Orphan{ContainerID: c.ID, InstanceID: id, Created: time.Unix(c.Created, 0)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// RemoveOrphans removes the orphans' containers with force, and reports
// the first failure after trying every one.
func (p *Provider) RemoveOrphans(ctx context.Context, orphans []Orphan) error {
	var first error
	for _, o := range orphans {
		if err := p.remove(ctx, o.ContainerID); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Reap removes this store's containers created before before whose
// instance known does not know (provider.Reaper). An engine that does not
// answer holds nothing Alba can reach: that is no error here (a machine
// without Docker runs process instances), launches on it say so.
func (p *Provider) Reap(ctx context.Context, known func(id string) bool, before time.Time) ([]string, error) {
	orphans, err := p.Orphans(ctx, known)
	if client.IsErrConnectionFailed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var due []Orphan
	var ids []string
	for _, o := range orphans {
		if o.Created.Before(before) {
			due = append(due, o)
			ids = append(ids, o.InstanceID)
		}
	}
	return ids, p.RemoveOrphans(ctx, due)
}
