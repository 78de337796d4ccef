package awsapi

import (
	"sort"
	"strconv"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- targets: register, deregister, describe health.

type targetIn struct {
	ID               string `q:"Id,req"`
	Port             *int   `q:"Port,min=1,max=65535"`
	AvailabilityZone string `q:"AvailabilityZone"`
}

type targetsIn struct {
	targetGroupARNIn
	Targets []targetIn `q:"Targets"`
}

// targets converts the decoded references.
func (in *targetsIn) targets() []model.Target {
	var out []model.Target
	for _, t := range in.Targets {
		out = append(out, model.Target{ID: t.ID, Port: orDefault(t.Port, 0), AvailabilityZone: t.AvailabilityZone})
	}
	return out
}

// resolveInstance fills an instance target's address, port and zone from
// the instance's record.
func resolveInstance(tx store.Tx, t *model.Target) error {
	inst, err := instanceRecord(tx, t.ID)
	if err != nil {
		return err
	}
	if inst == nil {
		return apiErrorf("InvalidTarget", "The following targets are not valid instances: '%s'", model.Quote(t.ID))
	}
	if inst.LifecycleState == model.LifecycleTerminating || inst.LifecycleState == model.LifecycleTerminated || inst.PrivateIP == "" {
		return apiErrorf("InvalidTarget", "The following targets are not in a running state and cannot be registered: '%s'", t.ID)
	}
	t.Address = inst.PrivateIP
	t.AvailabilityZone = inst.Zone
	if t.Port == 0 {
		t.Port = inst.Port
	}
	return nil
}

func (h *handler) registerTargets(c *call, in *targetsIn) (any, error) {
	if len(in.Targets) == 0 {
		return nil, c.f.missing("Targets")
	}
	return nil, h.update(func(tx store.Tx) error {
		targets := in.targets() // afresh: a retried update resolves again
		g, err := elb.TargetGroup(tx, in.TargetGroupArn)
		if err != nil {
			return err
		}
		for i := range targets {
			t := &targets[i]
			t.Source = SourceAPI
			if g.TargetType == "instance" {
				if err := resolveInstance(tx, t); err != nil {
					return err
				}
			}
		}
		return elb.RegisterTargets(tx, in.TargetGroupArn, targets, c.now)
	})
}

func (h *handler) deregisterTargets(c *call, in *targetsIn) (any, error) {
	if len(in.Targets) == 0 {
		return nil, c.f.missing("Targets")
	}
	return nil, h.update(func(tx store.Tx) error {
		g, err := elb.TargetGroup(tx, in.TargetGroupArn)
		if err != nil {
			return err
		}
		regs, err := elb.TargetsOf(tx, in.TargetGroupArn)
		if err != nil {
			return err
		}
		var refs []elb.TargetRef
		for _, t := range in.targets() {
			if t.Port != 0 {
				refs = append(refs, elb.TargetRef{ID: t.ID, Port: t.Port})
				continue
			}
			// No port: the group's, or for an instance the port it was
			// registered with when it was given none.
			ports := map[int]bool{g.Port: true}
			if g.TargetType == "instance" {
				if inst, err := instanceRecord(tx, t.ID); err != nil {
					return err
				} else if inst != nil {
					ports[inst.Port] = true
				}
			}
			for _, r := range regs {
				if r.ID == t.ID && ports[r.Port] {
					refs = append(refs, elb.TargetRef{ID: r.ID, Port: r.Port})
				}
			}
		}
		return elb.DeregisterTargets(tx, in.TargetGroupArn, refs, c.now)
	})
}

func (h *handler) targetHealth(g *model.TargetGroup, r *model.Target) model.TargetHealth {
	if r.DrainingSince != nil {
		return model.TargetHealth{State: model.TargetDraining, Reason: model.ReasonDeregistrationInProcess, Description: "Target deregistration is in progress"}
	}
	if h.opts.TargetHealth != nil {
		if st, ok := h.opts.TargetHealth(g.ARN, r.ID, r.EffectivePort(g)); ok {
			return st
		}
	}
	return model.TargetHealth{State: model.TargetInitial, Reason: model.ReasonRegistrationInProgress, Description: "Target registration is in progress"}
}

type targetXML struct {
	ID               string `xml:"Id"`
	Port             int    `xml:",omitempty"`
	AvailabilityZone string `xml:",omitempty"`
}

type targetHealthStateXML struct {
	State       string
	Reason      string `xml:",omitempty"`
	Description string `xml:",omitempty"`
}

type targetHealthXML struct {
	Target          targetXML
	HealthCheckPort string
	TargetHealth    targetHealthStateXML
}

type targetHealthOut struct {
	TargetHealthDescriptions memberList[targetHealthXML]
}

func targetHealthDescription(g *model.TargetGroup, t model.Target, st model.TargetHealth) targetHealthXML {
	hcPort := g.HealthCheck.Port
	if hcPort == "traffic-port" || hcPort == "" {
		hcPort = strconv.Itoa(t.EffectivePort(g))
	}
	return targetHealthXML{Target: targetXML{t.ID, t.Port, t.AvailabilityZone}, HealthCheckPort: hcPort,
		TargetHealth: targetHealthStateXML{st.State, st.Reason, st.Description}}
}

func (h *handler) describeTargetHealth(c *call, in *targetsIn) (any, error) {
	var g *model.TargetGroup
	regs, err := inView(h, func(tx store.Tx) (regs []*model.Target, err error) {
		if g, err = elb.TargetGroup(tx, in.TargetGroupArn); err != nil {
			return nil, err
		}
		return elb.TargetsOf(tx, in.TargetGroupArn)
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(regs, func(i, j int) bool {
		if regs[i].ID != regs[j].ID {
			return regs[i].ID < regs[j].ID
		}
		return regs[i].Port < regs[j].Port
	})
	var out []targetHealthXML
	want := in.targets()
	if len(want) == 0 {
		for _, r := range regs {
			out = append(out, targetHealthDescription(g, *r, h.targetHealth(g, r)))
		}
	}
	for _, w := range want {
		found := false
		for _, r := range regs {
			if r.ID == w.ID && (w.Port == 0 || r.Port == w.Port) {
				found = true
				out = append(out, targetHealthDescription(g, *r, h.targetHealth(g, r)))
			}
		}
		if !found {
			out = append(out, targetHealthDescription(g, w, model.TargetHealth{State: model.TargetUnused, Reason: model.ReasonNotRegistered,
				Description: "Target is not registered to the target group"}))
		}
	}
	return targetHealthOut{members(out)}, nil
}
