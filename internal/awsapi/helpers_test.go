package awsapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	asg "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

const (
	testKey    = "AKIDALBATEST"
	testSecret = "alba-test-secret"
)

// env is an API server on a real bbolt store with SDK clients pointed at
// it.
type env struct {
	t   *testing.T
	st  store.Store
	srv *httptest.Server
	elb *elbv2.Client
	as  *asg.Client
	ec2 *ec2.Client
	iam *iam.Client

	mu     sync.Mutex
	health map[string]model.TargetHealth // by group|id|port
}

func newEnv(t *testing.T, mod ...func(*Options)) *env {
	t.Helper()
	st, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, health: map[string]model.TargetHealth{}}
	// Every update runs twice, as a conflict on etcd makes it: the
	// handlers must be safe to run again.
	opts := Options{Store: store.Rerun(st), AccessKeyID: testKey, SecretAccessKey: testSecret, TargetHealth: e.targetHealth}
	for _, m := range mod {
		m(&opts)
	}
	e.srv = httptest.NewServer(NewHandler(opts))
	t.Cleanup(e.srv.Close)
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		BaseEndpoint:     aws.String(e.srv.URL),
		RetryMaxAttempts: 1,
	}
	e.elb = elbv2.NewFromConfig(cfg)
	e.as = asg.NewFromConfig(cfg)
	e.ec2 = ec2.NewFromConfig(cfg)
	e.iam = iam.NewFromConfig(cfg)
	return e
}

func (e *env) targetHealth(group, id string, port int) (model.TargetHealth, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.health[fmt.Sprintf("%s|%s|%d", group, id, port)]
	return st, ok
}

func (e *env) setHealth(group, id string, port int, st model.TargetHealth) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.health[fmt.Sprintf("%s|%s|%d", group, id, port)] = st
}

// post sends an unsigned form (the server must have no credentials) and
// returns the status and body.
func post(t *testing.T, url_ string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.Post(url_, "application/x-www-form-urlencoded; charset=utf-8", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// code returns the AWS error code of an SDK error ("" for nil).
func code(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "not an API error: " + err.Error()
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// putInstance records an instance as the auto scaling controller would.
func (e *env) putInstance(group, zone, state, ip string, port int) *model.Instance {
	e.t.Helper()
	inst := &model.Instance{ID: model.NewInstanceID(), Group: group, Zone: zone, InstanceType: "t2.micro",
		LifecycleState: state, HealthStatus: "Healthy", PrivateIP: ip, Port: port, LaunchTime: time.Now(),
		LaunchTemplate: model.LaunchTemplateSpec{Version: "1"}, Runtime: model.InstanceRuntime{Provider: "process", PID: 99999}}
	if state == model.LifecycleInService {
		now := time.Now().Add(-time.Hour)
		inst.InServiceTime = &now
	}
	if err := e.st.Update(func(tx store.Tx) error { return store.PutJSON(tx, model.KindInstance, inst.ID, inst) }); err != nil {
		e.t.Fatal(err)
	}
	return inst
}

func (e *env) instance(id string) *model.Instance {
	e.t.Helper()
	var inst *model.Instance
	if err := e.st.View(func(tx store.Tx) error {
		var err error
		inst, err = store.GetJSON[model.Instance](tx, model.KindInstance, id)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return inst
}
