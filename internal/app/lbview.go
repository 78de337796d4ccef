package app

import (
	"github.com/alba-lb/alba/internal/dataplane"
	"github.com/alba-lb/alba/internal/health"
)

// lbView answers the auto scaling controller's questions about targets from
// the load balancer's latest compiled view.
type lbView struct{ n *Node }

func (v lbView) find(groupARN, id string, port int) *dataplane.Target {
	snap := v.n.Controller.Snapshot()
	if snap == nil {
		return nil
	}
	g, ok := snap.Group(groupARN)
	if !ok {
		return nil
	}
	for _, t := range g.Targets {
		if t.Registration.ID == id && t.Live.Port == port {
			return t.Live
		}
	}
	return nil
}

// TargetStatus is the target's health, when it is registered.
func (v lbView) TargetStatus(groupARN, id string, port int) (health.Status, bool) {
	t := v.find(groupARN, id, port)
	if t == nil {
		return health.Status{}, false
	}
	return v.n.Health.Status(t), true
}

// InFlight is the target's requests being proxied.
func (v lbView) InFlight(groupARN, id string, port int) int64 {
	if t := v.find(groupARN, id, port); t != nil {
		return t.InFlight()
	}
	return 0
}

// Requests is the group's request count.
func (v lbView) Requests(groupARN string) uint64 {
	snap := v.n.Controller.Snapshot()
	if snap == nil {
		return 0
	}
	if g := snap.Table.Group(groupARN); g != nil {
		return g.Requests()
	}
	return 0
}
