package docker

import (
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
)

// Engine is a Docker Engine instances run on and where their published
// ports are reached: the local engine, or one per zone on other machines.
type Engine struct {
	// Host is the engine's endpoint as DOCKER_HOST spells it
	// (unix:///var/run/docker.sock, tcp://10.0.0.2:2376); empty means
	// DOCKER_HOST (with DOCKER_CERT_PATH and DOCKER_TLS_VERIFY), else the
	// local engine.
	Host string
	// Address is the host address the load balancer reaches the published
	// ports on: the engine's machine as Alba sees it. Empty means the
	// host of a tcp:// endpoint given as an IP address, else 127.0.0.1.
	Address string
	// Bind is the address on the engine's machine that published ports
	// bind to; empty means Address (0.0.0.0 when Address is not an
	// address of that machine, behind NAT say).
	Bind string
	// CertPath is a directory holding ca.pem, cert.pem and key.pem for a
	// TLS endpoint, as DOCKER_CERT_PATH does; empty means plain TCP (or
	// DOCKER_CERT_PATH for the engine DOCKER_HOST names).
	CertPath string
}

// engine is an Engine with its client.
type engine struct {
	cli *client.Client
	// host is the endpoint the client dials, as instance records keep it.
	host string
	// address is where published ports are reached, bind where they bind.
	address, bind netip.Addr
	// local is an engine on this machine, whose containers' own addresses
	// Alba reaches.
	local bool
}

// dial makes the client of e, resolving its defaults.
func (e Engine) dial() (*engine, error) {
	address := e.Address
	if address == "" {
		address = "127.0.0.1"
		if u, err := url.Parse(e.Host); err == nil && u.Scheme == "tcp" && u.Hostname() != "localhost" {
			ip, err := netip.ParseAddr(u.Hostname())
			if err != nil {
				return nil, fmt.Errorf("the Docker engine at %s is named by a host name: say which IP address its published ports are reached on (address=IP)", e.Host)
			}
			if !ip.IsUnspecified() {
				address = ip.String()
			}
		}
	}
	addr, err := netip.ParseAddr(address)
	if err != nil || addr.IsUnspecified() {
		return nil, fmt.Errorf("the host address %q for published ports is not an IP address Alba can reach instances on", address)
	}
	bind := addr
	if e.Bind != "" {
		if bind, err = netip.ParseAddr(e.Bind); err != nil {
			return nil, fmt.Errorf("the bind address %q for published ports is not an IP address", e.Bind)
		}
	}
	cli, err := newClient(e.Host, e.CertPath)
	if err != nil {
		return nil, err
	}
	return &engine{cli: cli, host: cli.DaemonHost(), address: addr, bind: bind, local: isLocal(cli.DaemonHost())}, nil
}

// isLocal reports whether the engine at host runs on this machine: a
// socket, or TCP to a loopback address.
func isLocal(host string) bool {
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "unix", "npipe":
		return true
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err == nil && ip.IsLoopback()
}

// NewClient returns an Engine API client for host (empty: DOCKER_HOST, else
// the local engine) that negotiates the API version with the engine on its
// first call. It does not contact the engine.
func NewClient(host string) (*client.Client, error) { return newClient(host, "") }

func newClient(host, certPath string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		// An explicit host wins over DOCKER_HOST, even a malformed one.
		tls := client.WithTLSClientConfigFromEnv()
		if certPath != "" {
			tls = client.WithTLSClientConfig(filepath.Join(certPath, "ca.pem"), filepath.Join(certPath, "cert.pem"), filepath.Join(certPath, "key.pem"))
		}
		opts = []client.Opt{tls, client.WithAPIVersionFromEnv(), client.WithHost(host)}
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

// ParseZone reads the --docker-zone flag's value,
// ZONE=ENDPOINT[,address=IP][,bind=IP][,cert-path=DIR]: the zone whose
// instances run on the engine at ENDPOINT (as DOCKER_HOST spells it).
func ParseZone(s string) (string, Engine, error) {
	zone, rest, ok := strings.Cut(s, "=")
	zone = strings.TrimSpace(zone)
	if !ok || zone == "" || rest == "" {
		return "", Engine{}, fmt.Errorf("--docker-zone %q: write ZONE=ENDPOINT[,address=IP][,bind=IP][,cert-path=DIR], e.g. zone-b=tcp://10.0.0.2:2375", s)
	}
	parts := strings.Split(rest, ",")
	e := Engine{Host: strings.TrimSpace(parts[0])}
	if e.Host == "" {
		return "", Engine{}, fmt.Errorf("--docker-zone %q: zone %s names no engine endpoint", s, zone)
	}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || v == "" {
			return "", Engine{}, fmt.Errorf("--docker-zone %q: %q is not KEY=VALUE (address, bind or cert-path)", s, p)
		}
		if seen[k] {
			return "", Engine{}, fmt.Errorf("--docker-zone %q: %s is given twice", s, k)
		}
		seen[k] = true
		switch k {
		case "address":
			e.Address = v
		case "bind":
			e.Bind = v
		case "cert-path":
			e.CertPath = v
		default:
			return "", Engine{}, fmt.Errorf("--docker-zone %q: unknown option %s (address, bind or cert-path)", s, k)
		}
	}
	d, err := e.dial()
	if err != nil {
		return "", Engine{}, fmt.Errorf("--docker-zone %q: %w", s, err)
	}
	d.cli.Close()
	return zone, e, nil
}
