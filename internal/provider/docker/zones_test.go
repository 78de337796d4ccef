package docker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/provider"
)

// engineProxy is a second real path to this machine's engine: these
// machines run one Docker Engine, so the tests reach it once directly and
// once over TCP through this proxy, which records every API call it
// forwards — what a zone's own engine would have been asked.
type engineProxy struct {
	URL string
	mu  sync.Mutex
	log []string
}

// newEngineProxy serves the engine cli talks to on a TCP port of ip.
func newEngineProxy(t *testing.T, cli *client.Client, ip string) *engineProxy {
	t.Helper()
	u, err := url.Parse(cli.DaemonHost())
	if err != nil {
		t.Fatal(err)
	}
	network, addr := "tcp", u.Host
	if u.Scheme == "unix" {
		network, addr = "unix", u.Path
	}
	ep := &engineProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
			ep.mu.Lock()
			ep.log = append(ep.log, r.In.Method+" "+r.In.URL.RequestURI())
			ep.mu.Unlock()
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}},
		FlushInterval: -1, // the event stream flows as it comes
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: rp}}
	srv.Start()
	t.Cleanup(srv.Close)
	ep.URL = "tcp://" + srv.Listener.Addr().String()
	return ep
}

// saw reports whether the proxy forwarded a call with method whose path
// and query contain part.
func (ep *engineProxy) saw(method, part string) bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return slices.ContainsFunc(ep.log, func(l string) bool {
		m, rest, _ := strings.Cut(l, " ")
		return m == method && strings.Contains(rest, part)
	})
}

func zoneSpec(image, zone string) provider.LaunchSpec {
	return provider.LaunchSpec{InstanceID: instanceID(), Zone: zone, InstanceType: "t2.micro",
		Size: model.InstanceTypes["t2.micro"], ImageID: image, Port: 8080}
}

// One provider, two zones on two endpoints: each instance is created,
// inspected, measured, adopted and removed through its zone's engine, and
// reached on that zone's host address.
func TestZonesOnTwoEngines(t *testing.T) {
	cli := localEngine(t)
	image := testImage(t, cli)
	ep := newEngineProxy(t, cli, "127.0.0.1")
	store := "test-zones-" + randomHex(4)
	opts := Options{Store: store, Zones: map[string]Engine{"zone-b": {Host: ep.URL, Address: "127.0.0.2"}}}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeStore(t, cli, store); p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	a := zoneSpec(image, "zone-a")
	b := zoneSpec(image, "zone-b")
	la := launch(t, ctx, p, a)
	lb := launch(t, ctx, p, b)
	if la.PrivateIP != "127.0.0.1" || la.Runtime.DockerHost != cli.DaemonHost() {
		t.Errorf("zone-a instance at %s on %s, want 127.0.0.1 on %s", la.PrivateIP, la.Runtime.DockerHost, cli.DaemonHost())
	}
	if lb.PrivateIP != "127.0.0.2" || lb.Runtime.DockerHost != ep.URL {
		t.Errorf("zone-b instance at %s on %s, want 127.0.0.2 on %s", lb.PrivateIP, lb.Runtime.DockerHost, ep.URL)
	}
	for _, l := range []provider.Launched{la, lb} {
		waitStatus(t, net.JoinHostPort(l.PrivateIP, strconv.Itoa(l.Port)))
	}
	if !ep.saw("POST", "/containers/create?name="+ContainerName(b.InstanceID)) {
		t.Errorf("zone-b's container was not created through its engine's endpoint: %q", ep.log)
	}
	if ep.saw("POST", ContainerName(a.InstanceID)) {
		t.Errorf("zone-a's container was created through zone-b's endpoint")
	}
	insp, err := cli.ContainerInspect(ctx, lb.Runtime.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range insp.Container.HostConfig.PortBindings {
		for _, b := range bs {
			if b.HostIP.String() != "127.0.0.2" {
				t.Errorf("zone-b's port published on %s, want 127.0.0.2", b.HostIP)
			}
		}
	}

	if _, err := p.CPUTime(lb.Runtime); err != nil || !ep.saw("GET", "/containers/"+lb.Runtime.ContainerID+"/stats") {
		t.Errorf("zone-b's CPU not read through its engine: %v", err)
	}

	// A restarted Alba adopts each instance on its zone's engine, also
	// from a record that names no engine (written before zones had one).
	p2, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	old := &model.Instance{ID: b.InstanceID, Zone: "zone-b", Runtime: model.InstanceRuntime{Provider: "docker", ContainerID: lb.Runtime.ContainerID}}
	if !p2.Adopt(old) || old.Runtime.DockerHost != ep.URL {
		t.Errorf("zone-b instance from an old record: adopted on %q, want %s", old.Runtime.DockerHost, ep.URL)
	}
	if !p2.Adopt(&model.Instance{ID: a.InstanceID, Zone: "zone-a", Runtime: la.Runtime}) {
		t.Error("zone-a instance not adopted")
	}

	if err := p2.Stop(ctx, lb.Runtime, time.Second); err != nil {
		t.Fatal(err)
	}
	if !ep.saw("DELETE", "/containers/"+lb.Runtime.ContainerID) {
		t.Error("zone-b's container was not removed through its engine")
	}
	if p2.Alive(lb.Runtime) || !p2.Alive(la.Runtime) {
		t.Error("after stopping zone-b's instance: want it gone and zone-a's running")
	}
}

// With the default engine down, a zone on a working engine still
// launches, hears its containers die and reaps its orphans; the zone on
// the dead engine fails its launches with a sentence. The zone's endpoint
// is on this machine's first non-loopback address, so Alba treats the
// engine as remote: it waits for the application through the published
// port, not at the container's own address.
func TestZoneEngineAlone(t *testing.T) {
	cli := localEngine(t)
	image := testImage(t, cli)
	ep := newEngineProxy(t, cli, outwardIP(t))
	if isLocal(ep.URL) {
		t.Fatalf("%s counts as a local engine", ep.URL)
	}
	store := "test-zones-" + randomHex(4)
	dead := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	p, err := New(Options{Store: store, Engine: Engine{Host: dead}, Zones: map[string]Engine{"zone-b": {Host: ep.URL, Address: "127.0.0.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeStore(t, cli, store); p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if _, err := p.Launch(ctx, zoneSpec(image, "zone-a")); err == nil || !strings.Contains(err.Error(), "the Docker engine at "+dead+" does not answer") {
		t.Errorf("launch on the dead engine: %v", err)
	}
	ended := p.Ended(ctx)
	kept := launch(t, ctx, p, zoneSpec(image, "zone-b"))
	orphanSpec := zoneSpec(image, "zone-b")
	orphan := launch(t, ctx, p, orphanSpec)
	waitStatus(t, net.JoinHostPort(kept.PrivateIP, strconv.Itoa(kept.Port)))

	if _, err := cli.ContainerKill(ctx, kept.Runtime.ContainerID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("no end heard from zone-b's engine within 30 s of docker kill")
	}

	known := func(id string) bool { return id != orphanSpec.InstanceID }
	ids, err := p.Reap(ctx, known, time.Now().Add(time.Second))
	if err != nil {
		t.Fatalf("reap with the default engine down: %v", err)
	}
	if len(ids) != 1 || ids[0] != orphanSpec.InstanceID {
		t.Errorf("reaped %q, want the orphan %s alone", ids, orphanSpec.InstanceID)
	}
	if p.Alive(orphan.Runtime) {
		t.Error("the orphan still runs")
	}
}

func TestParseZone(t *testing.T) {
	for _, tc := range []struct {
		in   string
		zone string
		want Engine
		err  string
	}{
		{in: "zone-b=tcp://10.0.0.2:2375", zone: "zone-b", want: Engine{Host: "tcp://10.0.0.2:2375"}},
		{in: "zone-b=tcp://10.0.0.2:2375,address=192.0.2.7,bind=0.0.0.0", zone: "zone-b",
			want: Engine{Host: "tcp://10.0.0.2:2375", Address: "192.0.2.7", Bind: "0.0.0.0"}},
		{in: "zone-a=unix:///run/docker.sock", zone: "zone-a", want: Engine{Host: "unix:///run/docker.sock"}},
		{in: "zone-b", err: "write ZONE=ENDPOINT"},
		{in: "=tcp://10.0.0.2:2375", err: "write ZONE=ENDPOINT"},
		{in: "zone-b=,address=10.0.0.2", err: "names no engine endpoint"},
		{in: "zone-b=ssh://me@host", err: "unix:// sockets and tcp:// only"},
		{in: "zone-b=tcp://10.0.0.2:2375,adress=10.0.0.2", err: "unknown option adress"},
		{in: "zone-b=tcp://10.0.0.2:2375,address", err: "is not KEY=VALUE"},
		{in: "zone-b=tcp://10.0.0.2:2375,address=1.2.3.4,address=1.2.3.5", err: "address is given twice"},
		{in: "zone-b=tcp://docker.example:2375", err: "say which IP address"},
		{in: "zone-b=tcp://docker.example:2375,address=10.0.0.2", zone: "zone-b", want: Engine{Host: "tcp://docker.example:2375", Address: "10.0.0.2"}},
		{in: "zone-b=tcp://10.0.0.2:2375,address=0.0.0.0", err: "not an IP address Alba can reach"},
		{in: "zone-b=tcp://10.0.0.2:2375,bind=eth0", err: "bind address"},
		{in: "zone-b=tcp://10.0.0.2:2376,cert-path=/nonexistent", err: "cannot use the Docker engine"},
	} {
		zone, e, err := ParseZone(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseZone(%q) error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || zone != tc.zone || e != tc.want {
			t.Errorf("ParseZone(%q) = %q, %+v, %v; want %q, %+v", tc.in, zone, e, err, tc.zone, tc.want)
		}
	}
}

func TestEngineDefaults(t *testing.T) {
	for _, tc := range []struct {
		e             Engine
		address, bind string
	}{
		{Engine{Host: "unix:///var/run/docker.sock"}, "127.0.0.1", "127.0.0.1"},
		{Engine{Host: "tcp://10.0.0.2:2375"}, "10.0.0.2", "10.0.0.2"},
		{Engine{Host: "tcp://10.0.0.2:2375", Address: "192.0.2.7", Bind: "0.0.0.0"}, "192.0.2.7", "0.0.0.0"},
		{Engine{Host: "tcp://0.0.0.0:2375"}, "127.0.0.1", "127.0.0.1"},
	} {
		d, err := tc.e.dial()
		if err != nil {
			t.Errorf("%+v: %v", tc.e, err)
			continue
		}
		d.cli.Close()
		if d.address.String() != tc.address || d.bind.String() != tc.bind {
			t.Errorf("%+v: address %s bind %s, want %s %s", tc.e, d.address, d.bind, tc.address, tc.bind)
		}
	}
}

// outwardIP is an IPv4 address of this machine that is not a loopback
// one; the test is skipped on a machine with none.
func outwardIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no address but loopback ones")
	return ""
}
