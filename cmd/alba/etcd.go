package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/alba-lb/alba/internal/store"
)

// etcdFlags are the flags that put a command on a cluster's etcd.
type etcdFlags struct {
	endpoints         string
	cluster           string
	cacert, cert, key string
	user              string
}

func (e *etcdFlags) add(f *pflag.FlagSet) {
	f.StringVar(&e.endpoints, "etcd", "", "etcd members' client URLs, comma-separated (http://HOST:2379,…): keep the state in etcd and run as a node of the cluster there")
	f.StringVar(&e.cluster, "cluster", "default", "the Alba cluster's name: its records live under /alba/NAME/ in etcd")
	f.StringVar(&e.cacert, "etcd-cacert", "", "CA certificate (PEM) that signed the etcd members' certificates")
	f.StringVar(&e.cert, "etcd-cert", "", "client certificate (PEM) for etcd")
	f.StringVar(&e.key, "etcd-key", "", "client certificate's key (PEM) for etcd")
	f.StringVar(&e.user, "etcd-user", "", "USER[:PASSWORD] for etcd's authentication (the password also from ALBA_ETCD_PASSWORD)")
}

// options checks the flags; nil when --etcd is not given.
func (e *etcdFlags) options() (*store.EtcdOptions, error) {
	if e.endpoints == "" {
		if e.cacert != "" || e.cert != "" || e.key != "" || e.user != "" {
			return nil, fmt.Errorf("--etcd-cacert, --etcd-cert, --etcd-key and --etcd-user configure --etcd: give --etcd too")
		}
		return nil, nil
	}
	o := &store.EtcdOptions{Cluster: e.cluster}
	for _, ep := range strings.Split(e.endpoints, ",") {
		ep = strings.TrimSpace(ep)
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--etcd %q: want client URLs like http://127.0.0.1:2379, comma-separated", ep)
		}
		o.Endpoints = append(o.Endpoints, ep)
	}
	if e.cluster == "" || strings.ContainsAny(e.cluster, "/ ") {
		return nil, fmt.Errorf("--cluster %q: want a name without slashes or spaces", e.cluster)
	}
	if (e.cert == "") != (e.key == "") {
		return nil, fmt.Errorf("--etcd-cert and --etcd-key go together")
	}
	if e.cacert != "" || e.cert != "" || strings.HasPrefix(o.Endpoints[0], "https:") {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if e.cacert != "" {
			pem, err := os.ReadFile(e.cacert)
			if err != nil {
				return nil, fmt.Errorf("--etcd-cacert: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--etcd-cacert %s holds no PEM certificate", e.cacert)
			}
		}
		if e.cert != "" {
			c, err := tls.LoadX509KeyPair(e.cert, e.key)
			if err != nil {
				return nil, fmt.Errorf("--etcd-cert/--etcd-key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		o.TLS = cfg
	}
	if e.user != "" {
		o.Username, o.Password, _ = strings.Cut(e.user, ":")
		if p := os.Getenv("ALBA_ETCD_PASSWORD"); o.Password == "" && p != "" {
			o.Password = p
		}
	}
	return o, nil
}
