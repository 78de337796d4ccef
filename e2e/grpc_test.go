package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// A user builds a gRPC service behind Alba with the aws CLI, as with ALB:
// a GRPC target group (health-checked with gRPC, matcher GrpcCode 0-99),
// an HTTPS listener with an uploaded certificate, a real gRPC server as
// ip target. A grpc-go client calls through Alba; the target's status
// codes come back; an HTTP listener may not forward to the group.
func TestGRPCServiceBehindAlba(t *testing.T) {
	if _, err := exec.LookPath(awsBinary()); err != nil {
		t.Skip("the aws CLI is not installed (apt-get install awscli)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("movies", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(ln)
	defer gs.Stop()
	targetPort := ln.Addr().(*net.TCPAddr).Port

	l := upEmpty(t, "--listen-host", "127.0.0.1")
	aws := &awsCLI{t: t, endpoint: "http://" + l.admin}
	certFile, keyFile := writeCert(t, t.TempDir(), "grpc", "ecdsa-p256", "localhost")
	tgOut := aws.ok("elbv2", "create-target-group", "--name", "movies-grpc", "--protocol", "HTTP", "--protocol-version", "GRPC",
		"--port", fmt.Sprint(targetPort), "--target-type", "ip", "--vpc-id", "vpc-alba", "--matcher", "GrpcCode=0-99",
		"--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "2", "--healthy-threshold-count", "2")
	tg := str(tgOut, "TargetGroups", 0, "TargetGroupArn")
	if v, p, m := str(tgOut, "TargetGroups", 0, "ProtocolVersion"), str(tgOut, "TargetGroups", 0, "HealthCheckPath"),
		str(tgOut, "TargetGroups", 0, "Matcher", "GrpcCode"); v != "GRPC" || p != "/AWS.ALB/healthcheck" || m != "0-99" {
		t.Fatalf("target group: version %q, health check path %q, GrpcCode %q", v, p, m)
	}
	aws.ok("elbv2", "register-targets", "--target-group-arn", tg, "--targets", fmt.Sprintf("Id=127.0.0.1,Port=%d", targetPort))
	lb := str(aws.ok("elbv2", "create-load-balancer", "--name", "movies", "--subnets", "subnet-a", "subnet-b"), "LoadBalancers", 0, "LoadBalancerArn")
	aws.fails("IncompatibleProtocols", "elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP",
		"--port", fmt.Sprint(freePort(t)), "--default-actions", "Type=forward,TargetGroupArn="+tg)
	cert := str(aws.ok("iam", "upload-server-certificate", "--server-certificate-name", "grpc", "--certificate-body", "file://"+certFile,
		"--private-key", "file://"+keyFile), "ServerCertificateMetadata", "Arn")
	port := freePort(t)
	aws.ok("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTPS", "--port", fmt.Sprint(port),
		"--certificates", "CertificateArn="+cert, "--default-actions", "Type=forward,TargetGroupArn="+tg)
	waitFor(t, 30*time.Second, func() bool {
		th := aws.ok("elbv2", "describe-target-health", "--target-group-arn", tg)
		return str(th, "TargetHealthDescriptions", 0, "TargetHealth", "State") == "healthy"
	})

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := healthpb.NewHealthClient(conn)
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "movies"})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check through Alba: %v %v", resp, err)
	}
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"}); status.Code(err) != codes.NotFound {
		t.Fatalf("Check(unknown): %v, want the target's NotFound", err)
	}
	// The target stops: its health check fails, and a call gets ALB's 502 (the
	// group fails open to its one target, which refuses): gRPC's Unavailable.
	gs.Stop()
	waitFor(t, 30*time.Second, func() bool {
		th := aws.ok("elbv2", "describe-target-health", "--target-group-arn", tg)
		return str(th, "TargetHealthDescriptions", 0, "TargetHealth", "State") == "unhealthy"
	})
	// A context of its own: the wait above may have used up the first one.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	_, err = client.Check(ctx2, &healthpb.HealthCheckRequest{Service: "movies"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("with the target down: %v, want Unavailable", err)
	}
}
