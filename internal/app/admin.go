package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/awsapi"
	"github.com/alba-lb/alba/internal/console"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// GroupStatus is an auto scaling group with its instances, for the admin
// API and the console.
type GroupStatus struct {
	Name      string                 `json:"name"`
	MinSize   int                    `json:"min_size"`
	MaxSize   int                    `json:"max_size"`
	Desired   int                    `json:"desired_capacity"`
	Status    string                 `json:"status,omitempty"`
	Instances []InstanceStatus       `json:"instances"`
	Policies  []*model.ScalingPolicy `json:"policies"`
}

// InstanceStatus is an instance with its latest CPU utilization.
type InstanceStatus struct {
	ID             string   `json:"id"`
	Zone           string   `json:"zone"`
	LifecycleState string   `json:"lifecycle_state"`
	HealthStatus   string   `json:"health_status"`
	Address        string   `json:"address"`
	PID            int      `json:"pid,omitempty"`
	CPU            *float64 `json:"cpu_utilization,omitempty"`
}

// Groups reports every auto scaling group and its instances.
func (n *Node) Groups() ([]GroupStatus, error) {
	out := []GroupStatus{}
	err := n.Store.View(func(tx store.Tx) error {
		gs, err := autoscaling.Groups(tx)
		if err != nil {
			return err
		}
		for _, g := range gs {
			st := GroupStatus{Name: g.Name, MinSize: g.MinSize, MaxSize: g.MaxSize, Desired: g.Desired, Status: g.Status, Instances: []InstanceStatus{}}
			insts, err := autoscaling.InstancesOf(tx, g.Name)
			if err != nil {
				return err
			}
			for _, i := range insts {
				is := InstanceStatus{ID: i.ID, Zone: i.Zone, LifecycleState: i.LifecycleState, HealthStatus: i.HealthStatus,
					Address: fmt.Sprintf("%s:%d", i.PrivateIP, i.Port), PID: i.Runtime.PID}
				if cpu, ok := n.AutoScaling.InstanceCPU(i.ID); ok {
					is.CPU = &cpu
				}
				st.Instances = append(st.Instances, is)
			}
			if st.Policies, err = autoscaling.PoliciesOf(tx, g.Name); err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// TargetHealth is one target in the admin API's /api/targets answer.
type TargetHealth struct {
	TargetGroup string        `json:"target_group"`
	ID          string        `json:"id"`
	Port        int           `json:"port"`
	Address     string        `json:"address"`
	Zone        string        `json:"zone,omitempty"`
	Health      health.Status `json:"health"`
	InFlight    int64         `json:"in_flight"`
	Requests    uint64        `json:"requests"`
}

func (n *Node) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metricsRegistry(), promhttp.HandlerOpts{}))
	// Profiles, as Go servers offer them (the admin address is loopback by
	// default).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	// The AWS Query API (elbv2, autoscaling, ec2 launch templates, iam
	// server certificates): aws --endpoint-url http://<admin address>.
	mux.Handle("POST /", awsapi.NewHandler(awsapi.Options{
		Store:           n.Store,
		TargetHealth:    lbView{n}.TargetStatus,
		AccessKeyID:     n.opts.AccessKeyID,
		SecretAccessKey: n.opts.SecretAccessKey,
		Metrics:         n.History,
		ScaleOutWindow:  n.AutoScaling.ScaleOutWindow,
		ScaleInWindow:   n.AutoScaling.Tracking.ScaleInWindow,
		Logger:          n.opts.Logger,
	}))
	// The web console, at / and its own paths; it changes resources
	// through the service layer, as the API does.
	console.New(console.Options{
		Store:           n.Store,
		History:         n.History,
		TargetHealth:    lbView{n}.TargetStatus,
		Markers:         n.markers,
		AccessKeyID:     n.opts.AccessKeyID,
		SecretAccessKey: n.opts.SecretAccessKey,
		ScaleOutWindow:  n.AutoScaling.ScaleOutWindow,
		Logger:          n.opts.Logger,
	}).Mount(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/targets", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, n.TargetHealth())
	})
	mux.HandleFunc("GET /api/groups", func(w http.ResponseWriter, r *http.Request) {
		gs, err := n.Groups()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, gs)
	})
	// The cluster's nodes, how every node sees every target, and this
	// node as it sees itself (readable when etcd is not).
	const alone = "this node runs alone (no --etcd): "
	mux.HandleFunc("GET /api/nodes", n.clusterAPI(alone+"there is no cluster", func(r *http.Request) (any, error) {
		return n.Nodes(r.Context())
	}))
	mux.HandleFunc("GET /api/target-views", n.clusterAPI(alone+"its own view is the only one (alba targets without --nodes, or /api/targets)", func(r *http.Request) (any, error) {
		return n.TargetViews(r.Context())
	}))
	mux.HandleFunc("GET /api/node", n.clusterAPI(alone+"there is no cluster", func(*http.Request) (any, error) {
		return n.Self(), nil
	}))
	mux.HandleFunc("GET /api/activities", func(w http.ResponseWriter, r *http.Request) {
		var as []*model.Activity
		err := n.Store.View(func(tx store.Tx) error {
			var err error
			as, err = autoscaling.Activities(tx, r.URL.Query().Get("group"))
			return err
		})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if as == nil {
			as = []*model.Activity{}
		}
		writeJSON(w, as)
	})
	// A browser's cross-origin POST (a page elsewhere posting a form to
	// the loopback admin address) is refused, for the API as for the
	// console; the aws CLI and the SDKs send no Origin and pass.
	return http.NewCrossOriginProtection().Handler(mux)
}

// clusterAPI serves what fn answers in a cluster: 404 with alone outside
// one, 503 when etcd cannot answer.
func (n *Node) clusterAPI(alone string, fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if n.etcd == nil {
			http.Error(w, alone, http.StatusNotFound)
			return
		}
		v, err := fn(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, v)
	}
}

// TargetHealth reports every registered target's state and reason.
func (n *Node) TargetHealth() []TargetHealth {
	out := []TargetHealth{}
	snap := n.Controller.Snapshot()
	if snap == nil {
		return out
	}
	for _, g := range snap.Groups {
		for _, t := range g.Targets {
			out = append(out, TargetHealth{
				TargetGroup: g.Group.Name,
				ID:          t.Registration.ID,
				Port:        t.Live.Port,
				Address:     t.Live.Addr,
				Zone:        t.Live.Zone,
				Health:      n.Health.Status(t.Live),
				InFlight:    t.Live.InFlight(),
				Requests:    t.Live.Requests.Load(),
			})
		}
	}
	return out
}
