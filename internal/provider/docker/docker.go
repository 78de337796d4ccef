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
	"sort"
	"strconv"
	"strings"
	"sync"
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
	// Engine runs the instances of every zone Zones does not name (by
	// default the engine DOCKER_HOST names, else the local one, reached
	// on 127.0.0.1).
	Engine
	// Zones maps a zone to the engine its instances run on, so that one
	// group spreads over several machines.
	Zones map[string]Engine
	// Store identifies the Alba store the containers belong to (required).
	Store string
}

var _ provider.Provider = (*Provider)(nil)

// Provider starts instances as Docker containers, each on its zone's
// engine.
type Provider struct {
	store string
	def   *engine
	zones map[string]*engine

	mu sync.Mutex
	// recorded are the engines instance records name that are neither
	// the default nor a zone's any more (a zone moved to another engine:
	// its earlier instances still run on the old one).
	recorded map[string]*engine
}

// New returns a provider for the engines opts names. It does not contact
// them: an engine that is down makes Launch fail, not Alba's start.
func New(opts Options) (*Provider, error) {
	if opts.Store == "" {
		return nil, errors.New("the Docker provider needs a store identity to label its containers with")
	}
	def, err := opts.Engine.dial()
	if err != nil {
		return nil, err
	}
	p := &Provider{store: opts.Store, def: def, zones: map[string]*engine{}, recorded: map[string]*engine{}}
	for zone, e := range opts.Zones {
		z, err := e.dial()
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("zone %s: %w", zone, err)
		}
		p.zones[zone] = z
	}
	return p, nil
}

// Close releases the clients' connections.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.all() {
		e.cli.Close()
	}
	return nil
}

// Describe says which engine runs which zone, for Alba's start-up lines.
func (p *Provider) Describe() string {
	zones := make([]string, 0, len(p.zones))
	for z := range p.zones {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	var b strings.Builder
	for _, z := range zones {
		e := p.zones[z]
		fmt.Fprintf(&b, "zone %s on %s (published on %s), ", z, e.host, e.address)
	}
	if len(zones) == 0 {
		fmt.Fprintf(&b, "every zone on %s (published on %s)", p.def.host, p.def.address)
	} else {
		fmt.Fprintf(&b, "other zones on %s (published on %s)", p.def.host, p.def.address)
	}
	return b.String()
}

// all is every engine the provider has a client of; p.mu is held.
func (p *Provider) all() []*engine {
	out := []*engine{p.def}
	for _, e := range p.zones {
		out = append(out, e)
	}
	for _, e := range p.recorded {
		out = append(out, e)
	}
	return out
}

// engines is every engine the provider knows, one per endpoint: where
// its containers may be.
func (p *Provider) engines() []*engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	var out []*engine
	for _, e := range p.all() {
		if !seen[e.host] {
			seen[e.host] = true
			out = append(out, e)
		}
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].host < out[1+j].host })
	return out
}

// zoneEngine is the engine a zone's instances launch on.
func (p *Provider) zoneEngine(zone string) *engine {
	if e, ok := p.zones[zone]; ok {
		return e
	}
	return p.def
}

// engineOf is the engine an instance runs on: the one its record names
// (records from before zones had engines name none: the default).
func (p *Provider) engineOf(rt model.InstanceRuntime) (*engine, error) {
	if rt.DockerHost == "" || rt.DockerHost == p.def.host {
		return p.def, nil
	}
	for _, e := range p.zones {
		if e.host == rt.DockerHost {
			return e, nil
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.recorded[rt.DockerHost]; ok {
		return e, nil
	}
	e, err := Engine{Host: rt.DockerHost, Address: p.def.address.String()}.dial()
	if err != nil {
		return nil, err
	}
	p.recorded[rt.DockerHost] = e
	return e, nil
}

// Name is "docker".
func (p *Provider) Name() string { return "docker" }

// ContainerName is the name of an instance's container.
func ContainerName(instanceID string) string { return "alba-" + instanceID }

// fail turns an engine error into a sentence a user can act on.
func (e *engine) fail(err error, doing string) error {
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("the Docker engine at %s does not answer, so Alba cannot %s: start it, or point DOCKER_HOST (or the zone's --docker-zone) at one that runs (%w)", e.host, doing, err)
	}
	return fmt.Errorf("the Docker engine at %s failed to %s: %w", e.host, doing, err)
}

// Launch creates the instance's container from the image, copies the user
// data in, starts it and reads back the host port the engine published the
// container port on.
func (p *Provider) Launch(ctx context.Context, spec provider.LaunchSpec) (provider.Launched, error) {
	if err := checkImageID(spec.ImageID); err != nil {
		return provider.Launched{}, err
	}
	e := p.zoneEngine(spec.Zone)
	img, err := e.cli.ImageInspect(ctx, spec.ImageID)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return provider.Launched{}, fmt.Errorf("image %s not found on the Docker engine at %s: build it with `alba image build` (Alba never pulls images)", spec.ImageID, e.host)
		}
		return provider.Launched{}, e.fail(err, "look up image "+spec.ImageID)
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
		PortBindings:  network.PortMap{port: {{HostIP: e.bind}}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Resources:     resources(spec.Size),
	}
	created, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc, Name: ContainerName(spec.InstanceID)})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return provider.Launched{}, fmt.Errorf("a container named %s already exists on the Docker engine at %s: an earlier launch of %s left it; remove it (Alba removes such orphans itself)", ContainerName(spec.InstanceID), e.host, spec.InstanceID)
		}
		return provider.Launched{}, e.fail(err, "create the container of "+spec.InstanceID)
	}
	fail := func(err error) (provider.Launched, error) {
		e.remove(ctx, created.ID)
		return provider.Launched{}, err
	}
	if spec.UserData != "" {
		content, err := userDataArchive(spec.UserData)
		if err != nil {
			return fail(err)
		}
		if _, err := e.cli.CopyToContainer(ctx, created.ID, client.CopyToContainerOptions{DestinationPath: "/", Content: content}); err != nil {
			return fail(e.fail(err, "copy the user data into the container of "+spec.InstanceID))
		}
	}
	if _, err := e.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return fail(e.fail(err, "start the container of "+spec.InstanceID))
	}
	insp, err := e.cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		return fail(e.fail(err, "inspect the container of "+spec.InstanceID))
	}
	hostPort, err := publishedPort(insp.Container, port)
	if err != nil {
		return fail(fmt.Errorf("the container of %s: %w", spec.InstanceID, err))
	}
	e.waitReady(ctx, insp.Container, cport, hostPort, launchReadyTimeout)
	return provider.Launched{PrivateIP: e.address.String(), Port: hostPort,
		Runtime: model.InstanceRuntime{Provider: "docker", ContainerID: created.ID, DockerHost: e.host}}, nil
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

// publishedPort reads the host port the engine bound the container port
// to.
func publishedPort(c container.InspectResponse, port network.Port) (int, error) {
	if c.NetworkSettings == nil {
		return 0, errors.New("the engine reports no network settings")
	}
	for _, b := range c.NetworkSettings.Ports[port] {
		if n, err := strconv.Atoi(b.HostPort); err == nil && n != 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("the engine published no host port for %s", port)
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

// labels are the instance's tags, as a container's tags are its labels,
// and what finds the container again. Tags in Alba's alba.* namespace are
// dropped: they would mislabel the container.
func (p *Provider) labels(spec provider.LaunchSpec) map[string]string {
	l := map[string]string{}
	for _, t := range spec.Tags {
		if !strings.HasPrefix(t.Key, "alba.") {
			l[t.Key] = t.Value
		}
	}
	for k, v := range map[string]string{
		LabelStore:        p.store,
		LabelInstanceID:   spec.InstanceID,
		LabelZone:         spec.Zone,
		LabelInstanceType: spec.InstanceType,
	} {
		l[k] = v
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

// inspect finds an instance's container by its recorded id on its engine.
func (p *Provider) inspect(rt model.InstanceRuntime) (*engine, container.InspectResponse, error) {
	if rt.ContainerID == "" {
		return nil, container.InspectResponse{}, errors.New("no container recorded for the instance")
	}
	e, err := p.engineOf(rt)
	if err != nil {
		return nil, container.InspectResponse{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	r, err := e.cli.ContainerInspect(ctx, rt.ContainerID, client.ContainerInspectOptions{})
	return e, r.Container, err
}

// running reports whether the container runs (a paused one counts: it
// holds its resources and resumes where it was).
func running(c container.InspectResponse) bool {
	return c.State != nil && c.State.Running && !c.State.Restarting
}

// Alive reports whether the instance's container exists and runs.
func (p *Provider) Alive(rt model.InstanceRuntime) bool {
	_, c, err := p.inspect(rt)
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
	if rt.DockerHost == "" {
		rt.DockerHost = p.zoneEngine(inst.Zone).host
	}
	e, c, err := p.inspect(rt)
	if err != nil || !running(c) || c.Config == nil ||
		c.Config.Labels[LabelStore] != p.store || c.Config.Labels[LabelInstanceID] != inst.ID {
		return false
	}
	inst.Runtime.Provider, inst.Runtime.ContainerID, inst.Runtime.DockerHost = "docker", c.ID, e.host
	if inst.PrivateIP == "" || inst.Port == 0 {
		for port := range c.Config.ExposedPorts {
			if n, err := publishedPort(c, port); err == nil {
				inst.PrivateIP, inst.Port = e.address.String(), n
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
	e, err := p.engineOf(rt)
	if err != nil {
		return err
	}
	// The engine counts the grace in whole seconds; round up, never cut it.
	secs := int(math.Ceil(grace.Seconds()))
	_, err = e.cli.ContainerStop(ctx, rt.ContainerID, client.ContainerStopOptions{Signal: "SIGTERM", Timeout: &secs})
	if err != nil && cerrdefs.IsNotFound(err) {
		return nil
	}
	// Whatever stopping did (a cancelled ctx, an engine error), removing
	// with force kills what still runs.
	return e.remove(ctx, rt.ContainerID)
}

// remove removes a container with force, outliving a cancelled ctx: a
// container left behind would hold its port and show up as an orphan.
func (e *engine) remove(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return e.fail(err, "remove container "+id)
	}
	return nil
}

// CPUTime is the CPU time the container has used, from the engine's
// one-shot stats (cpu_stats.cpu_usage.total_usage, in nanoseconds).
func (p *Provider) CPUTime(rt model.InstanceRuntime) (time.Duration, error) {
	if rt.ContainerID == "" {
		return 0, errors.New("no container recorded for the instance")
	}
	e, err := p.engineOf(rt)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	res, err := e.cli.ContainerStats(ctx, rt.ContainerID, client.ContainerStatsOptions{})
	if err != nil {
		return 0, e.fail(err, "read the stats of container "+rt.ContainerID)
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

	engine *engine
}

// Orphans lists this store's containers whose instance known does not
// know, on every engine, oldest first. An engine that fails to answer
// makes an error after the others are listed.
func (p *Provider) Orphans(ctx context.Context, known func(instanceID string) bool) ([]Orphan, error) {
	return p.orphans(ctx, known, false)
}

// orphans lists the orphans on every engine, oldest first, skipping the
// engines that do not answer when skipDown says so.
func (p *Provider) orphans(ctx context.Context, known func(instanceID string) bool, skipDown bool) ([]Orphan, error) {
	var out []Orphan
	var errs []error
	for _, e := range p.engines() {
		o, err := e.orphans(ctx, p.store, known)
		out = append(out, o...)
		if err != nil && !(skipDown && client.IsErrConnectionFailed(err)) {
			errs = append(errs, err)
		}
	}
	out = distinct(out)
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, errors.Join(errs...)
}

// orphans lists store's containers on e whose instance known does not know.
func (e *engine) orphans(ctx context.Context, store string, known func(instanceID string) bool) ([]Orphan, error) {
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelStore+"="+store)})
	if err != nil {
		return nil, e.fail(err, "list Alba's containers")
	}
	var out []Orphan
	for _, c := range res.Items {
		id := c.Labels[LabelInstanceID]
		if id != "" && known(id) {
			continue
		}
		out = append(out, Orphan{ContainerID: c.ID, InstanceID: id, Created: time.Unix(c.Created, 0), engine: e})
	}
	return out, nil
}

// RemoveOrphans removes the orphans' containers with force, and reports
// the first failure after trying every one.
func (p *Provider) RemoveOrphans(ctx context.Context, orphans []Orphan) error {
	var first error
	for _, o := range orphans {
		e := o.engine
		if e == nil {
			e = p.def
		}
		if err := e.remove(ctx, o.ContainerID); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Reap removes this store's containers created before before whose
// instance known does not know (provider.Reaper), on every engine. An
// engine that does not answer holds nothing Alba can reach: that is no
// error here (a machine without Docker runs process instances), launches
// on it say so.
func (p *Provider) Reap(ctx context.Context, known func(id string) bool, before time.Time) ([]string, error) {
	orphans, err := p.orphans(ctx, known, true)
	var due []Orphan
	var ids []string
	for _, o := range orphans {
		if o.Created.Before(before) {
			due = append(due, o)
			ids = append(ids, o.InstanceID)
		}
	}
	return ids, errors.Join(err, p.RemoveOrphans(ctx, due))
}

// distinct drops the orphans listed twice: two endpoints (two zones) may
// reach one engine.
func distinct(orphans []Orphan) []Orphan {
	seen := map[string]bool{}
	out := orphans[:0]
	for _, o := range orphans {
		if !seen[o.ContainerID] {
			seen[o.ContainerID] = true
			out = append(out, o)
		}
	}
	return out
}
