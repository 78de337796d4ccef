package app

import (
	"encoding/json"
	"net/http"

	"github.com/alba-lb/alba/internal/health"
)

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
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/targets", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.TargetHealth())
	})
	return mux
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
