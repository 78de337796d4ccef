package health

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// GRPC groups are checked with a gRPC call whose status the GrpcCode
// matcher matches (ALB's default 12: the target answers gRPC, without a
// handler for /AWS.ALB/healthcheck); HTTP2 groups over HTTP/2.
func TestGRPCAndHTTP2Checks(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer()) // "" is SERVING
	go gs.Serve(ln)
	defer gs.Stop()
	grpcAddr := ln.Addr().String()

	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	hs := &http.Server{Handler: h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			w.WriteHeader(505)
			return
		}
		io.WriteString(w, "ok")
	}), &http2.Server{})}
	go hs.Serve(ln2)
	defer hs.Close()

	spec := func(version, grpcCode, path string) Spec {
		g := &model.TargetGroup{Name: "g", Port: 1, ProtocolVersion: version, HealthCheck: model.HealthCheck{GrpcCode: grpcCode, Path: path}}
		g.ApplyDefaults()
		return SpecFor(g)
	}
	for _, tc := range []struct {
		name string
		spec Spec
		addr string
		ok   bool
		desc string
	}{
		{"grpc default: 12 from an unknown method", spec("GRPC", "", ""), grpcAddr, true, ""},
		{"grpc matcher 0 against 12", spec("GRPC", "0", ""), grpcAddr, false, "[12]"},
		{"grpc health service: 0", spec("GRPC", "0", "/grpc.health.v1.Health/Check"), grpcAddr, true, ""},
		{"http2 to an h2c target", spec("HTTP2", "", "/"), ln2.Addr().String(), true, ""},
		{"grpc to a dead port", spec("GRPC", "", ""), "127.0.0.1:1", false, "Health checks failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r := HTTPCheck(ctx, tc.spec, tc.addr)
			if r.OK != tc.ok || !strings.Contains(r.Description, tc.desc) {
				t.Fatalf("%+v, want ok %v with %q", r, tc.ok, tc.desc)
			}
		})
	}
}
