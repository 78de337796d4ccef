//go:build linux

package dataplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// grpcTarget is a real gRPC server (cleartext HTTP/2, as a GRPC target
// group of protocol HTTP is reached) with the services register adds.
func grpcTarget(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	register(s)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

// withHealth registers the standard health service, "movies" serving.
func withHealth(s *grpc.Server) {
	hs := health.NewServer()
	hs.SetServingStatus("movies", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
}

// dialGRPC is a gRPC client of the fixture's HTTPS listener.
func dialGRPC(t *testing.T, f *fixture) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A GRPC target group: a real gRPC client through Alba's HTTPS listener
// reaches a real gRPC server over HTTP/2, on both engines; the target's
// gRPC status comes back as it sent it (in trailers, or a trailers-only
// answer), and an HTTP/1.1 request gets ALB's 464.
func TestGRPCTargetGroup(t *testing.T) {
	target := grpcTarget(t, withHealth)
	for _, loops := range []bool{true, false} {
		name := "loops"
		if !loops {
			name = "goroutines"
		}
		t.Run(name, func(t *testing.T) {
			f := engineFixture(t, loops, true, target)
			f.withGroup(t, func(g *TargetGroup) { g.Version = GRPC })
			conn := dialGRPC(t, f)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hc := healthpb.NewHealthClient(conn)
			for range 3 {
				resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "movies"})
				if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("Check(movies): %v %v", resp, err)
				}
			}
			if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
				t.Fatalf("Check(nope): %v, want NotFound from the target", err)
			}
			err := conn.Invoke(ctx, "/AWS.ALB/healthcheck", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
			if status.Code(err) != codes.Unimplemented {
				t.Fatalf("unknown method: %v, want Unimplemented", err)
			}

			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("https://" + f.addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 464 {
				t.Fatalf("HTTP/1.1 to a GRPC group: %d, want 464", resp.StatusCode)
			}
			if loops {
				waitNoOutstanding(t, f.srv)
			}
		})
	}
}

// An HTTP2 target group speaks HTTP/2 to a cleartext target (prior
// knowledge), which sees HTTP/2 requests with ALB's headers.
func TestHTTP2TargetGroup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, r.Proto+" "+r.Header.Get("X-Forwarded-Proto"))
	}), &http2.Server{})}
	go srv.Serve(ln)
	defer srv.Close()
	f := engineFixture(t, true, true, ln.Addr().String())
	f.withGroup(t, func(g *TargetGroup) { g.Version = HTTP2 })
	client := h2Client(t)
	for _, body := range []string{"", strings.Repeat("b", 50000)} {
		resp, err := client.Post("https://"+f.addr+"/", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "HTTP/2.0 https" {
			t.Fatalf("the target saw %q, want HTTP/2.0 https", b)
		}
	}
	waitNoOutstanding(t, f.srv)
}

// streamService echoes each message of a full-duplex call at once and
// sums a streamed upload, as the gRPC interop service defines them.
type streamService struct {
	testpb.UnimplementedTestServiceServer
}

func (streamService) FullDuplexCall(s grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	for {
		in, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: in.Payload}); err != nil {
			return err
		}
	}
}

func (streamService) StreamingInputCall(s grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	total := 0
	for {
		in, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(in.Payload.GetBody())
	}
}

// gRPC streams through a GRPC target group: a full-duplex call where
// each message waits for the previous one's echo (a proxy that buffered
// the request body would hang), and a 4 MB client-streamed upload (past
// every flow-control window, so the window comes back as the target
// reads).
func TestGRPCStreams(t *testing.T) {
	target := grpcTarget(t, func(s *grpc.Server) { testpb.RegisterTestServiceServer(s, streamService{}) })
	f := engineFixture(t, true, true, target)
	f.withGroup(t, func(g *TargetGroup) { g.Version = GRPC })
	conn := dialGRPC(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := testpb.NewTestServiceClient(conn)

	duplex, err := client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		msg := fmt.Sprintf("ping %d", i)
		if err := duplex.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(msg)}}); err != nil {
			t.Fatal(err)
		}
		got, err := duplex.Recv()
		if err != nil || string(got.Payload.GetBody()) != msg {
			t.Fatalf("echo %d: %v %v", i, got, err)
		}
	}
	duplex.CloseSend()
	if _, err := duplex.Recv(); err != io.EOF {
		t.Fatalf("after CloseSend: %v, want the call's end", err)
	}

	up, err := client.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("u"), 64<<10)
	for range 64 {
		if err := up.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: chunk}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := up.CloseAndRecv()
	if err != nil || res.AggregatedPayloadSize != 64*64<<10 {
		t.Fatalf("upload: %v %v, want %d bytes", res, err, 64*64<<10)
	}
	waitNoOutstanding(t, f.srv)
}
