package awsapi

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/health"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
	"github.com/alba-lb/alba/internal/tlspolicy"
)

func elbv2Service() *service {
	return &service{
		name: "elasticloadbalancing", version: "2015-12-01",
		ns: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", wrapEmpty: true,
		ops: map[string]op{
			"CreateLoadBalancer":             handle((*handler).createLoadBalancer),
			"DescribeLoadBalancers":          handle((*handler).describeLoadBalancers),
			"DeleteLoadBalancer":             handle((*handler).deleteLoadBalancer),
			"DescribeLoadBalancerAttributes": legacy((*handler).describeLoadBalancerAttributes),
			"ModifyLoadBalancerAttributes":   legacy((*handler).modifyLoadBalancerAttributes),
			"SetSecurityGroups":              handle((*handler).setSecurityGroups),
			"SetSubnets":                     handle((*handler).setSubnets),
			"SetIpAddressType":               handle((*handler).setIPAddressType),
			"CreateTargetGroup":              legacy((*handler).createTargetGroup),
			"DescribeTargetGroups":           legacy((*handler).describeTargetGroups),
			"ModifyTargetGroup":              legacy((*handler).modifyTargetGroup),
			"DeleteTargetGroup":              legacy((*handler).deleteTargetGroup),
			"DescribeTargetGroupAttributes":  legacy((*handler).describeTargetGroupAttributes),
			"ModifyTargetGroupAttributes":    legacy((*handler).modifyTargetGroupAttributes),
			"RegisterTargets":                legacy((*handler).registerTargets),
			"DeregisterTargets":              legacy((*handler).deregisterTargets),
			"DescribeTargetHealth":           legacy((*handler).describeTargetHealth),
			"CreateListener":                 legacy((*handler).createListener),
			"DescribeListeners":              legacy((*handler).describeListeners),
			"ModifyListener":                 legacy((*handler).modifyListener),
			"DeleteListener":                 legacy((*handler).deleteListener),
			"DescribeListenerAttributes":     legacy((*handler).describeListenerAttributes),
			"AddListenerCertificates":        legacy((*handler).addListenerCertificates),
			"RemoveListenerCertificates":     legacy((*handler).removeListenerCertificates),
			"DescribeListenerCertificates":   legacy((*handler).describeListenerCertificates),
			"CreateRule":                     legacy((*handler).createRule),
			"DescribeRules":                  legacy((*handler).describeRules),
			"ModifyRule":                     legacy((*handler).modifyRule),
			"DeleteRule":                     legacy((*handler).deleteRule),
			"SetRulePriorities":              legacy((*handler).setRulePriorities),
			"AddTags":                        legacy((*handler).addTags),
			"RemoveTags":                     legacy((*handler).removeTags),
			"DescribeTags":                   legacy((*handler).describeTags),
			"DescribeSSLPolicies":            legacy((*handler).describeSSLPolicies),
			"DescribeAccountLimits":          handle((*handler).describeAccountLimits),
		},
	}
}

// checkARN rejects a string that is not an ARN of the kind.
func checkARN(arn, kind, what string) error {
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":"+kind+"/") {
		return validation("'%s' is not a valid %s ARN", arn, what)
	}
	return nil
}

// pageSize reads elbv2's PageSize (1-400, default 400).
func (c *call) pageSize() (int, error) {
	n, err := c.intIn("PageSize", 1, 400)
	return orDefault(n, 400), err
}

func badMarker() error { return validation("The marker is not valid") }

// ---- load balancers

func attrsXML(attrs map[string]string) *node {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ms []*node
	for _, k := range keys {
		ms = append(ms, el("member", txt("Key", k), txt("Value", attrs[k])))
	}
	return nodeMembers("Attributes", ms)
}

// attributes reads Attributes.member.N.{Key,Value}.
func (c *call) attributes() (map[string]string, error) {
	ps := c.p.structs("Attributes")
	if len(ps) == 0 {
		return nil, missing(c.svc, "Attributes")
	}
	out := map[string]string{}
	for _, p := range ps {
		k := p.get("Key")
		if k == "" {
			return nil, validation("An attribute needs a Key")
		}
		out[k] = p.get("Value")
	}
	return out, nil
}

// ---- target groups

func tgXML(g *model.TargetGroup, lbs []string) *node {
	ipType := g.IPAddressType
	if ipType == "" {
		ipType = "ipv4"
	}
	h := g.HealthCheck
	return el("member",
		txt("TargetGroupArn", g.ARN),
		txt("TargetGroupName", g.Name),
		txt("Protocol", g.Protocol),
		num("Port", g.Port),
		opt("VpcId", g.VPCID),
		txt("HealthCheckProtocol", h.Protocol),
		txt("HealthCheckPort", h.Port),
		boolean("HealthCheckEnabled", h.Enabled),
		num("HealthCheckIntervalSeconds", h.IntervalSeconds),
		num("HealthCheckTimeoutSeconds", h.TimeoutSeconds),
		num("HealthyThresholdCount", h.HealthyThreshold),
		num("UnhealthyThresholdCount", h.UnhealthyThreshold),
		txt("HealthCheckPath", h.Path),
		el("Matcher", txt("HttpCode", h.Matcher)),
		strMembers("LoadBalancerArns", lbs),
		txt("TargetType", g.TargetType),
		txt("ProtocolVersion", g.ProtocolVersion),
		txt("IpAddressType", ipType),
	)
}

// healthCheckChange reads the health check fields of Create and
// ModifyTargetGroup.
func (c *call) healthCheckChange() (elb.TargetGroupChange, error) {
	var ch elb.TargetGroupChange
	var err error
	str := func(key string) *string {
		if !c.p.has(key) {
			return nil
		}
		v := c.p.get(key)
		return &v
	}
	ch.HealthCheckProtocol = str("HealthCheckProtocol")
	ch.HealthCheckPort = str("HealthCheckPort")
	ch.HealthCheckPath = str("HealthCheckPath")
	ch.Matcher = str("Matcher.HttpCode")
	if c.p.get("Matcher.GrpcCode") != "" {
		return ch, validation("A GrpcCode matcher needs protocol version GRPC, which Alba does not support")
	}
	if ch.HealthCheckEnabled, err = c.p.boolp("HealthCheckEnabled"); err != nil {
		return ch, err
	}
	if ch.HealthCheckIntervalSeconds, err = c.intIn("HealthCheckIntervalSeconds", 5, 300); err != nil {
		return ch, err
	}
	if ch.HealthCheckTimeoutSeconds, err = c.intIn("HealthCheckTimeoutSeconds", 2, 120); err != nil {
		return ch, err
	}
	if ch.HealthyThresholdCount, err = c.intIn("HealthyThresholdCount", 2, 10); err != nil {
		return ch, err
	}
	if ch.UnhealthyThresholdCount, err = c.intIn("UnhealthyThresholdCount", 2, 10); err != nil {
		return ch, err
	}
	return ch, nil
}

func (h *handler) createTargetGroup(c *call) (*node, error) {
	name, err := c.required("Name")
	if err != nil {
		return nil, err
	}
	typ := c.p.get("TargetType")
	if typ == "lambda" || typ == "alb" {
		return nil, validation("Target type '%s' is not supported: use instance or ip", typ)
	}
	port, err := c.intIn("Port", 1, 65535)
	if err != nil {
		return nil, err
	}
	if port == nil {
		return nil, validation("A port must be specified")
	}
	proto := c.p.get("Protocol")
	if proto == "" {
		return nil, validation("A protocol must be specified")
	}
	ipType := c.p.get("IpAddressType")
	if ipType != "" && ipType != "ipv4" && ipType != "ipv6" {
		return nil, validation("IP address type '%s' must be ipv4 or ipv6", model.Quote(ipType))
	}
	ch, err := c.healthCheckChange()
	if err != nil {
		return nil, err
	}
	if ch.HealthCheckEnabled != nil && !*ch.HealthCheckEnabled {
		return nil, validation("Health checks cannot be disabled for target groups with target type instance or ip")
	}
	g := &model.TargetGroup{Name: name, Protocol: proto, ProtocolVersion: c.p.get("ProtocolVersion"), Port: *port,
		TargetType: typ, VPCID: c.p.get("VpcId"), IPAddressType: ipType, Tags: parseTags(c.p.structs("Tags")), Source: model.SourceAPI}
	hc := &g.HealthCheck
	deref := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	deref(&hc.Protocol, ch.HealthCheckProtocol)
	deref(&hc.Port, ch.HealthCheckPort)
	deref(&hc.Path, ch.HealthCheckPath)
	deref(&hc.Matcher, ch.Matcher)
	hc.IntervalSeconds = orDefault(ch.HealthCheckIntervalSeconds, 0)
	hc.TimeoutSeconds = orDefault(ch.HealthCheckTimeoutSeconds, 0)
	hc.HealthyThreshold = orDefault(ch.HealthyThresholdCount, 0)
	hc.UnhealthyThreshold = orDefault(ch.UnhealthyThresholdCount, 0)
	var lbs []string
	err = h.update(func(tx store.Tx) (err error) {
		if g, err = elb.CreateTargetGroup(tx, g); err != nil {
			return err
		}
		lbs, err = elb.TargetGroupLoadBalancers(tx, g.ARN)
		return err
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("TargetGroups", []*node{tgXML(g, lbs)})), nil
}

func (h *handler) describeTargetGroups(c *call) (*node, error) {
	lbARN, arns, names := c.p.get("LoadBalancerArn"), c.p.strs("TargetGroupArns"), c.p.strs("Names")
	given := 0
	for _, b := range []bool{lbARN != "", len(arns) > 0, len(names) > 0} {
		if b {
			given++
		}
	}
	if given > 1 {
		return nil, validation("You can specify only one of load balancer ARN, target group ARNs or target group names")
	}
	size, err := c.pageSize()
	if err != nil {
		return nil, err
	}
	var out []*node
	next := ""
	err = h.view(func(tx store.Tx) error {
		sel, err := selectResources(tx, arns, names, elb.TargetGroup, elb.TargetGroupByName, elb.TargetGroups,
			func(n string) error { return apiErrorf("TargetGroupNotFound", "Target groups '[%s]' not found", n) })
		if err != nil {
			return err
		}
		if lbARN != "" {
			if _, err := elb.LoadBalancer(tx, lbARN); err != nil {
				return err
			}
			kept := sel[:0]
			for _, g := range sel {
				lbs, err := elb.TargetGroupLoadBalancers(tx, g.ARN)
				if err != nil {
					return err
				}
				if containsStr(lbs, lbARN) {
					kept = append(kept, g)
				}
			}
			sel = kept
		}
		pg, nx, err := page(sel, func(g *model.TargetGroup) string { return g.Name }, c.p.get("Marker"), size, badMarker)
		if err != nil {
			return err
		}
		next = nx
		for _, g := range pg {
			lbs, err := elb.TargetGroupLoadBalancers(tx, g.ARN)
			if err != nil {
				return err
			}
			out = append(out, tgXML(g, lbs))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("TargetGroups", out), opt("NextMarker", next)), nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (h *handler) modifyTargetGroup(c *call) (*node, error) {
	arn, err := c.required("TargetGroupArn")
	if err != nil {
		return nil, err
	}
	ch, err := c.healthCheckChange()
	if err != nil {
		return nil, err
	}
	var res *node
	err = h.update(func(tx store.Tx) error {
		g, err := elb.ModifyTargetGroup(tx, arn, ch)
		if err != nil {
			return err
		}
		lbs, err := elb.TargetGroupLoadBalancers(tx, arn)
		if err != nil {
			return err
		}
		res = frag(nodeMembers("TargetGroups", []*node{tgXML(g, lbs)}))
		return nil
	})
	return res, err
}

func (h *handler) deleteTargetGroup(c *call) (*node, error) {
	arn, err := c.required("TargetGroupArn")
	if err != nil {
		return nil, err
	}
	if err := checkARN(arn, "targetgroup", "target group"); err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteTargetGroup(tx, arn) })
}

// ---- targets

// targetRefs reads Targets.member.N.{Id,Port,AvailabilityZone}.
func (c *call) targetRefs(required bool) ([]model.Target, error) {
	ps := c.p.structs("Targets")
	if len(ps) == 0 && required {
		return nil, missing(c.svc, "Targets")
	}
	var out []model.Target
	for _, p := range ps {
		id := p.get("Id")
		if id == "" {
			return nil, validation("A target needs an Id")
		}
		port, err := p.intp("Port")
		if err != nil {
			return nil, err
		}
		if port != nil && (*port < 1 || *port > 65535) {
			return nil, validation("Target port %d must be 1-65535", *port)
		}
		out = append(out, model.Target{ID: id, Port: orDefault(port, 0), AvailabilityZone: p.get("AvailabilityZone")})
	}
	return out, nil
}

// resolveInstance fills an instance target's address, port and zone from
// the instance's record.
func resolveInstance(tx store.Tx, t *model.Target) error {
	inst, err := instanceRecord(tx, t.ID)
	if err != nil {
		return err
	}
	if inst == nil {
		return apiErrorf("InvalidTarget", "The following targets are not valid instances: '%s'", t.ID)
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

func (h *handler) registerTargets(c *call) (*node, error) {
	arn, err := c.required("TargetGroupArn")
	if err != nil {
		return nil, err
	}
	targets, err := c.targetRefs(true)
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error {
		g, err := elb.TargetGroup(tx, arn)
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
		return elb.RegisterTargets(tx, arn, targets, c.now)
	})
}

func (h *handler) deregisterTargets(c *call) (*node, error) {
	arn, err := c.required("TargetGroupArn")
	if err != nil {
		return nil, err
	}
	targets, err := c.targetRefs(true)
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error {
		g, err := elb.TargetGroup(tx, arn)
		if err != nil {
			return err
		}
		regs, err := elb.TargetsOf(tx, arn)
		if err != nil {
			return err
		}
		var refs []elb.TargetRef
		for _, t := range targets {
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
		return elb.DeregisterTargets(tx, arn, refs, c.now)
	})
}

func (h *handler) targetHealth(g *model.TargetGroup, r *model.Target) health.Status {
	if r.DrainingSince != nil {
		return health.Status{State: health.StateDraining, Reason: health.ReasonDeregistrationInProcess, Description: "Target deregistration is in progress"}
	}
	if h.opts.TargetHealth != nil {
		if st, ok := h.opts.TargetHealth(g.ARN, r.ID, r.EffectivePort(g)); ok {
			return st
		}
	}
	return health.Status{State: health.StateInitial, Reason: "Elb.RegistrationInProgress", Description: "Target registration is in progress"}
}

func targetHealthXML(g *model.TargetGroup, t model.Target, st health.Status) *node {
	hcPort := g.HealthCheck.Port
	if hcPort == "traffic-port" || hcPort == "" {
		hcPort = strconv.Itoa(t.EffectivePort(g))
	}
	var port *node
	if t.Port != 0 {
		port = num("Port", t.Port)
	}
	return el("member",
		el("Target", txt("Id", t.ID), port, opt("AvailabilityZone", t.AvailabilityZone)),
		txt("HealthCheckPort", hcPort),
		el("TargetHealth", txt("State", st.State), opt("Reason", st.Reason), opt("Description", st.Description)),
	)
}

func (h *handler) describeTargetHealth(c *call) (*node, error) {
	arn, err := c.required("TargetGroupArn")
	if err != nil {
		return nil, err
	}
	want, err := c.targetRefs(false)
	if err != nil {
		return nil, err
	}
	var g *model.TargetGroup
	var regs []*model.Target
	err = h.view(func(tx store.Tx) error {
		if g, err = elb.TargetGroup(tx, arn); err != nil {
			return err
		}
		regs, err = elb.TargetsOf(tx, arn)
		return err
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
	var out []*node
	if len(want) == 0 {
		for _, r := range regs {
			out = append(out, targetHealthXML(g, *r, h.targetHealth(g, r)))
		}
	} else {
		for _, w := range want {
			found := false
			for _, r := range regs {
				if r.ID == w.ID && (w.Port == 0 || r.Port == w.Port) {
					found = true
					out = append(out, targetHealthXML(g, *r, h.targetHealth(g, r)))
				}
			}
			if !found {
				out = append(out, targetHealthXML(g, w, health.Status{State: health.StateUnused, Reason: health.ReasonNotRegistered, Description: "Target is not registered to the target group"}))
			}
		}
	}
	return frag(nodeMembers("TargetHealthDescriptions", out)), nil
}

// ---- listeners

func actionXML(a model.Action) *node {
	n := el("member", txt("Type", a.Type))
	switch a.Type {
	case "forward":
		var tgs []*node
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			if len(a.ForwardConfig.TargetGroups) == 1 {
				n.add(txt("TargetGroupArn", a.ForwardConfig.TargetGroups[0].TargetGroupARN))
			}
			for _, w := range a.ForwardConfig.TargetGroups {
				tgs = append(tgs, el("member", txt("TargetGroupArn", w.TargetGroupARN), num("Weight", w.Weight)))
			}
		} else {
			n.add(txt("TargetGroupArn", a.TargetGroupARN))
			tgs = append(tgs, el("member", txt("TargetGroupArn", a.TargetGroupARN), num("Weight", 1)))
		}
		sticky := el("TargetGroupStickinessConfig", boolean("Enabled", false))
		if a.ForwardConfig != nil && a.ForwardConfig.Stickiness != nil && a.ForwardConfig.Stickiness.Enabled {
			sticky = el("TargetGroupStickinessConfig", boolean("Enabled", true), num("DurationSeconds", a.ForwardConfig.Stickiness.DurationSeconds))
		}
		n.add(num("Order", a.Order), el("ForwardConfig", nodeMembers("TargetGroups", tgs), sticky))
	case "redirect":
		r := a.Redirect
		n.add(num("Order", a.Order), el("RedirectConfig", opt("Protocol", r.Protocol), opt("Port", r.Port), opt("Host", r.Host),
			opt("Path", r.Path), opt("Query", r.Query), txt("StatusCode", r.StatusCode)))
	case "fixed-response":
		f := a.FixedResponse
		n.add(num("Order", a.Order), el("FixedResponseConfig", opt("MessageBody", f.MessageBody), txt("StatusCode", f.StatusCode), opt("ContentType", f.ContentType)))
	default:
		n.add(num("Order", a.Order))
	}
	return n
}

func actionsXML(name string, as []model.Action) *node {
	var ms []*node
	for _, a := range as {
		ms = append(ms, actionXML(a))
	}
	return nodeMembers(name, ms)
}

func listenerXML(l *model.Listener) *node {
	var certsNode *node
	if len(l.Certificates) > 0 {
		certsNode = nodeMembers("Certificates", []*node{el("member", txt("CertificateArn", l.Certificates[0]))})
	}
	return el("member",
		txt("ListenerArn", l.ARN),
		txt("LoadBalancerArn", l.LoadBalancerARN),
		num("Port", l.Port),
		txt("Protocol", l.Protocol),
		certsNode,
		opt("SslPolicy", l.SslPolicy),
		actionsXML("DefaultActions", l.DefaultActions),
	)
}

// parseActions reads a list of actions (DefaultActions or Actions).
func parseActions(ps []params) ([]model.Action, error) {
	var out []model.Action
	for _, p := range ps {
		order, err := p.intp("Order")
		if err != nil {
			return nil, err
		}
		if order != nil && (*order < 1 || *order > 50000) {
			return nil, validation("Action order %d must be 1-50000", *order)
		}
		a := model.Action{Type: p.get("Type"), Order: orDefault(order, 0)}
		switch a.Type {
		case "forward":
			a.TargetGroupARN = p.get("TargetGroupArn")
			fc := p.sub("ForwardConfig")
			if tgs := fc.structs("TargetGroups"); len(tgs) > 0 {
				a.ForwardConfig = &model.ForwardConfig{}
				for _, t := range tgs {
					w, err := t.intp("Weight")
					if err != nil {
						return nil, err
					}
					arn := t.get("TargetGroupArn")
					if arn == "" {
						return nil, validation("A forward config target group needs a TargetGroupArn")
					}
					a.ForwardConfig.TargetGroups = append(a.ForwardConfig.TargetGroups, model.WeightedTargetGroup{TargetGroupARN: arn, Weight: orDefault(w, 1)})
				}
				if a.TargetGroupARN != "" && (len(tgs) != 1 || a.ForwardConfig.TargetGroups[0].TargetGroupARN != a.TargetGroupARN) {
					return nil, validation("TargetGroupArn and ForwardConfig must name the same single target group when both are given")
				}
				sp := fc.sub("TargetGroupStickinessConfig")
				en, err := sp.boolp("Enabled")
				if err != nil {
					return nil, err
				}
				d, err := sp.intp("DurationSeconds")
				if err != nil {
					return nil, err
				}
				if en != nil && *en {
					dur := orDefault(d, 0)
					if dur < 1 || dur > 604800 {
						return nil, validation("Target group stickiness duration %d must be 1-604800 seconds", dur)
					}
					a.ForwardConfig.Stickiness = &model.TargetGroupStickiness{Enabled: true, DurationSeconds: dur}
				}
				if len(tgs) == 1 && a.ForwardConfig.Stickiness == nil {
					a.TargetGroupARN, a.ForwardConfig = tgs[0].get("TargetGroupArn"), nil
				}
			}
			if a.TargetGroupARN == "" && a.ForwardConfig == nil {
				return nil, validation("A forward action needs a TargetGroupArn or a ForwardConfig")
			}
		case "redirect":
			rp := p.sub("RedirectConfig")
			r := &model.RedirectConfig{Protocol: rp.get("Protocol"), Port: rp.get("Port"), Host: rp.get("Host"),
				Path: rp.get("Path"), Query: rp.get("Query"), StatusCode: rp.get("StatusCode")}
			if r.Protocol == "" && r.Port == "" && r.Host == "" && r.Path == "" {
				return nil, apiErrorf("InvalidLoadBalancerAction", "A redirect must change at least one of protocol, port, host or path, or it would loop")
			}
			if r.Protocol == "" {
				r.Protocol = "#{protocol}"
			}
			if r.Port == "" {
				r.Port = "#{port}"
			}
			if r.Host == "" {
				r.Host = "#{host}"
			}
			if r.Path == "" {
				r.Path = "/#{path}"
			}
			if r.Query == "" && !rp.has("Query") {
				r.Query = "#{query}"
			}
			a.Redirect = r
		case "fixed-response":
			fp := p.sub("FixedResponseConfig")
			a.FixedResponse = &model.FixedResponseConfig{StatusCode: fp.get("StatusCode"), ContentType: fp.get("ContentType"), MessageBody: fp.get("MessageBody")}
		case "":
			return nil, validation("An action needs a Type")
		case "authenticate-oidc", "authenticate-cognito", "jwt-validation":
			return nil, apiErrorf("InvalidLoadBalancerAction", "Action type '%s' is not supported by Alba: use forward, redirect or fixed-response", a.Type)
		default:
			return nil, validation("Action type '%s' must be forward, redirect or fixed-response", a.Type)
		}
		if err := a.Validate(); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(out) > 0 {
		sort.SliceStable(out, func(i, j int) bool { return orderOf(out, i) < orderOf(out, j) })
		terminal := 0
		for _, a := range out {
			if a.Type == "forward" || a.Type == "redirect" || a.Type == "fixed-response" {
				terminal++
			}
		}
		if terminal != 1 {
			return nil, apiErrorf("InvalidLoadBalancerAction", "A rule must have exactly one forward, redirect or fixed-response action")
		}
	}
	return out, nil
}

func orderOf(as []model.Action, i int) int {
	if as[i].Order == 0 {
		return i + 1
	}
	return as[i].Order
}

// certificateARNs reads Certificates.member.N.CertificateArn; the service
// layer checks that each names a certificate Alba holds.
func (c *call) certificateARNs() ([]string, error) {
	var out []string
	for _, p := range c.p.structs("Certificates") {
		arn := p.get("CertificateArn")
		if arn == "" {
			return nil, validation("A certificate needs a CertificateArn")
		}
		if p.get("IsDefault") != "" {
			return nil, validation("IsDefault cannot be set on a certificate in this request")
		}
		out = append(out, arn)
	}
	return out, nil
}

func (h *handler) createListener(c *call) (*node, error) {
	lbARN, err := c.required("LoadBalancerArn")
	if err != nil {
		return nil, err
	}
	proto := c.p.get("Protocol")
	if proto == "" {
		return nil, validation("A protocol must be specified for an application load balancer listener")
	}
	port, err := c.intIn("Port", 1, 65535)
	if err != nil {
		return nil, err
	}
	if port == nil {
		return nil, validation("A port must be specified for an application load balancer listener")
	}
	actions, err := parseActions(c.p.structs("DefaultActions"))
	if err != nil {
		return nil, err
	}
	if len(actions) == 0 {
		return nil, missing(c.svc, "DefaultActions")
	}
	certArns, err := c.certificateARNs()
	if err != nil {
		return nil, err
	}
	l := &model.Listener{LoadBalancerARN: lbARN, Protocol: proto, Port: *port, DefaultActions: actions, SslPolicy: c.p.get("SslPolicy"),
		Certificates: certArns, Tags: parseTags(c.p.structs("Tags")), Source: model.SourceAPI}
	err = h.update(func(tx store.Tx) (err error) {
		l, err = elb.CreateListener(tx, l)
		return err
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("Listeners", []*node{listenerXML(l)})), nil
}

func (h *handler) describeListeners(c *call) (*node, error) {
	lbARN, arns := c.p.get("LoadBalancerArn"), c.p.strs("ListenerArns")
	if lbARN == "" && len(arns) == 0 {
		return nil, validation("You must specify either listener ARNs or a load balancer ARN")
	}
	if lbARN != "" && len(arns) > 0 {
		return nil, validation("You can specify either listener ARNs or a load balancer ARN, not both")
	}
	size, err := c.pageSize()
	if err != nil {
		return nil, err
	}
	var out []*node
	next := ""
	err = h.view(func(tx store.Tx) error {
		var sel []*model.Listener
		if lbARN != "" {
			if _, err := elb.LoadBalancer(tx, lbARN); err != nil {
				return err
			}
			all, err := elb.Listeners(tx)
			if err != nil {
				return err
			}
			for _, l := range all {
				if l.LoadBalancerARN == lbARN {
					sel = append(sel, l)
				}
			}
		} else {
			for _, arn := range arns {
				l, err := elb.Listener(tx, arn)
				if err != nil {
					return err
				}
				sel = append(sel, l)
			}
		}
		key := func(l *model.Listener) string { return fmt.Sprintf("%05d %s", l.Port, l.ARN) }
		pg, nx, err := page(sel, key, c.p.get("Marker"), size, badMarker)
		if err != nil {
			return err
		}
		next = nx
		for _, l := range pg {
			out = append(out, listenerXML(l))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("Listeners", out), opt("NextMarker", next)), nil
}

func (h *handler) modifyListener(c *call) (*node, error) {
	arn, err := c.required("ListenerArn")
	if err != nil {
		return nil, err
	}
	var ch elb.ListenerChange
	if c.p.has("Protocol") {
		v := c.p.get("Protocol")
		ch.Protocol = &v
	}
	if ch.Port, err = c.intIn("Port", 1, 65535); err != nil {
		return nil, err
	}
	if v := c.p.get("SslPolicy"); v != "" {
		ch.SslPolicy = &v
	}
	if c.p.hasAny("DefaultActions") {
		if ch.DefaultActions, err = parseActions(c.p.structs("DefaultActions")); err != nil {
			return nil, err
		}
		if len(ch.DefaultActions) == 0 {
			ch.DefaultActions = nil
		}
	}
	if ch.Certificates, err = c.certificateARNs(); err != nil {
		return nil, err
	}
	var l *model.Listener
	err = h.update(func(tx store.Tx) (err error) {
		l, err = elb.ModifyListener(tx, arn, ch)
		return err
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("Listeners", []*node{listenerXML(l)})), nil
}

func (h *handler) deleteListener(c *call) (*node, error) {
	arn, err := c.required("ListenerArn")
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteListener(tx, arn) })
}

func (h *handler) describeListenerAttributes(c *call) (*node, error) {
	arn, err := c.required("ListenerArn")
	if err != nil {
		return nil, err
	}
	err = h.view(func(tx store.Tx) error {
		_, err := elb.Listener(tx, arn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("Attributes", nil)), nil
}

func (h *handler) addListenerCertificates(c *call) (*node, error) {
	arn, err := c.required("ListenerArn")
	if err != nil {
		return nil, err
	}
	added, err := c.certificateARNs()
	if err != nil {
		return nil, err
	}
	if len(added) == 0 {
		return nil, missing(c.svc, "Certificates")
	}
	err = h.update(func(tx store.Tx) error {
		_, err := elb.AddListenerCertificates(tx, arn, added)
		return err
	})
	if err != nil {
		return nil, err
	}
	var ms []*node
	for _, a := range added {
		ms = append(ms, el("member", txt("CertificateArn", a), boolean("IsDefault", false)))
	}
	return frag(nodeMembers("Certificates", ms)), nil
}

func (h *handler) removeListenerCertificates(c *call) (*node, error) {
	arn, err := c.required("ListenerArn")
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, p := range c.p.structs("Certificates") {
		arns = append(arns, p.get("CertificateArn"))
	}
	if len(arns) == 0 {
		return nil, missing(c.svc, "Certificates")
	}
	return nil, h.update(func(tx store.Tx) error {
		_, err := elb.RemoveListenerCertificates(tx, arn, arns)
		return err
	})
}

func (h *handler) describeListenerCertificates(c *call) (*node, error) {
	arn, err := c.required("ListenerArn")
	if err != nil {
		return nil, err
	}
	size, err := c.pageSize()
	if err != nil {
		return nil, err
	}
	var l *model.Listener
	if err := h.view(func(tx store.Tx) error {
		l, err = elb.Listener(tx, arn)
		return err
	}); err != nil {
		return nil, err
	}
	type cert struct {
		arn string
		def bool
	}
	var all []cert
	for i, a := range l.Certificates {
		all = append(all, cert{a, i == 0})
	}
	pg, next, err := page(all, func(c cert) string { return c.arn }, c.p.get("Marker"), size, badMarker)
	if err != nil {
		return nil, err
	}
	var ms []*node
	for _, ct := range pg {
		ms = append(ms, el("member", txt("CertificateArn", ct.arn), boolean("IsDefault", ct.def)))
	}
	return frag(nodeMembers("Certificates", ms), opt("NextMarker", next)), nil
}

// ---- rules

func conditionXML(cd model.Condition) *node {
	n := el("member", txt("Field", cd.Field))
	switch cd.Field {
	case "host-header":
		n.add(strMembers("Values", cd.Values), el("HostHeaderConfig", strMembers("Values", cd.Values)))
	case "path-pattern":
		n.add(strMembers("Values", cd.Values), el("PathPatternConfig", strMembers("Values", cd.Values)))
	case "http-header":
		n.add(el("HttpHeaderConfig", txt("HttpHeaderName", cd.HeaderName), strMembers("Values", cd.Values)))
	case "http-request-method":
		n.add(el("HttpRequestMethodConfig", strMembers("Values", cd.Values)))
	case "source-ip":
		n.add(el("SourceIpConfig", strMembers("Values", cd.Values)))
	case "query-string":
		var kvs []*node
		for _, q := range cd.QueryValues {
			kvs = append(kvs, el("member", opt("Key", q.Key), txt("Value", q.Value)))
		}
		n.add(el("QueryStringConfig", nodeMembers("Values", kvs)))
	}
	return n
}

func ruleXML(r *model.Rule) *node {
	var cs []*node
	for _, cd := range r.Conditions {
		cs = append(cs, conditionXML(cd))
	}
	return el("member", txt("RuleArn", r.ARN), txt("Priority", r.PriorityString()), nodeMembers("Conditions", cs),
		actionsXML("Actions", r.Actions), boolean("IsDefault", false))
}

func defaultRuleXML(l *model.Listener) *node {
	return el("member", txt("RuleArn", elb.DefaultRuleARN(l.ARN)), txt("Priority", "default"), nodeMembers("Conditions", nil),
		actionsXML("Actions", l.DefaultActions), boolean("IsDefault", true))
}

// parseConditions reads Conditions.member.N: the legacy Field/Values form
// or the typed *Config forms.
func parseConditions(ps []params) ([]model.Condition, error) {
	var out []model.Condition
	for _, p := range ps {
		cd := model.Condition{Field: p.get("Field")}
		switch cd.Field {
		case "host-header":
			cd.Values = append(p.strs("Values"), p.sub("HostHeaderConfig").strs("Values")...)
		case "path-pattern":
			cd.Values = append(p.strs("Values"), p.sub("PathPatternConfig").strs("Values")...)
		case "http-header":
			hp := p.sub("HttpHeaderConfig")
			cd.HeaderName = hp.get("HttpHeaderName")
			cd.Values = hp.strs("Values")
		case "http-request-method":
			cd.Values = append(p.strs("Values"), p.sub("HttpRequestMethodConfig").strs("Values")...)
		case "source-ip":
			cd.Values = append(p.strs("Values"), p.sub("SourceIpConfig").strs("Values")...)
		case "query-string":
			for _, kv := range p.sub("QueryStringConfig").structs("Values") {
				cd.QueryValues = append(cd.QueryValues, model.QueryValue{Key: kv.get("Key"), Value: kv.get("Value")})
			}
		case "":
			return nil, validation("A condition needs a Field")
		default:
			return nil, validation("Condition field '%s' must be host-header, path-pattern, http-header, http-request-method, query-string or source-ip", cd.Field)
		}
		out = append(out, cd)
	}
	return out, nil
}

func (h *handler) createRule(c *call) (*node, error) {
	lARN, err := c.required("ListenerArn")
	if err != nil {
		return nil, err
	}
	prio, err := c.intIn("Priority", 1, 50000)
	if err != nil {
		return nil, err
	}
	if prio == nil {
		return nil, missing(c.svc, "Priority")
	}
	conds, err := parseConditions(c.p.structs("Conditions"))
	if err != nil {
		return nil, err
	}
	actions, err := parseActions(c.p.structs("Actions"))
	if err != nil {
		return nil, err
	}
	r := &model.Rule{ListenerARN: lARN, Priority: *prio, Conditions: conds, Actions: actions, Tags: parseTags(c.p.structs("Tags")), Source: model.SourceAPI}
	err = h.update(func(tx store.Tx) (err error) {
		r, err = elb.CreateRule(tx, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("Rules", []*node{ruleXML(r)})), nil
}

func (h *handler) describeRules(c *call) (*node, error) {
	lARN, arns := c.p.get("ListenerArn"), c.p.strs("RuleArns")
	if lARN == "" && len(arns) == 0 {
		return nil, validation("You must specify either listener ARN or rule ARNs")
	}
	size, err := c.pageSize()
	if err != nil {
		return nil, err
	}
	type entry struct {
		key  string
		node *node
	}
	var all []entry
	err = h.view(func(tx store.Tx) error {
		add := func(r *model.Rule) {
			all = append(all, entry{fmt.Sprintf("%05d", r.Priority), ruleXML(r)})
		}
		if lARN != "" {
			l, err := elb.Listener(tx, lARN)
			if err != nil {
				return err
			}
			rs, err := elb.Rules(tx, lARN)
			if err != nil {
				return err
			}
			for _, r := range rs {
				add(r)
			}
			all = append(all, entry{"99999", defaultRuleXML(l)})
			return nil
		}
		ls, err := elb.Listeners(tx)
		if err != nil {
			return err
		}
		for i, arn := range arns {
			if r, err := elb.Rule(tx, arn); err == nil {
				all = append(all, entry{fmt.Sprintf("%05d", i), ruleXML(r)})
				continue
			}
			found := false
			for _, l := range ls {
				if elb.DefaultRuleARN(l.ARN) == arn {
					all = append(all, entry{fmt.Sprintf("%05d", i), defaultRuleXML(l)})
					found = true
				}
			}
			if !found {
				return apiErrorf("RuleNotFound", "One or more rules not found")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := page(all, func(e entry) string { return e.key }, c.p.get("Marker"), size, badMarker)
	if err != nil {
		return nil, err
	}
	var out []*node
	for _, e := range pg {
		out = append(out, e.node)
	}
	return frag(nodeMembers("Rules", out), opt("NextMarker", next)), nil
}

func (h *handler) modifyRule(c *call) (*node, error) {
	arn, err := c.required("RuleArn")
	if err != nil {
		return nil, err
	}
	var conds []model.Condition
	var actions []model.Action
	if c.p.hasAny("Conditions") {
		if conds, err = parseConditions(c.p.structs("Conditions")); err != nil {
			return nil, err
		}
	}
	if c.p.hasAny("Actions") {
		if actions, err = parseActions(c.p.structs("Actions")); err != nil {
			return nil, err
		}
	}
	var r *model.Rule
	err = h.update(func(tx store.Tx) (err error) {
		r, err = elb.ModifyRule(tx, arn, conds, actions)
		return err
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("Rules", []*node{ruleXML(r)})), nil
}

func (h *handler) deleteRule(c *call) (*node, error) {
	arn, err := c.required("RuleArn")
	if err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteRule(tx, arn) })
}

func (h *handler) setRulePriorities(c *call) (*node, error) {
	ps := c.p.structs("RulePriorities")
	if len(ps) == 0 {
		return nil, missing(c.svc, "RulePriorities")
	}
	prios := map[string]int{}
	for _, p := range ps {
		arn := p.get("RuleArn")
		n, err := p.intp("Priority")
		if err != nil {
			return nil, err
		}
		if arn == "" || n == nil {
			return nil, validation("A rule priority pair needs a RuleArn and a Priority")
		}
		if _, dup := prios[arn]; dup {
			return nil, validation("Rule '%s' is given more than once", arn)
		}
		prios[arn] = *n
	}
	var rs []*model.Rule
	err := h.update(func(tx store.Tx) (err error) {
		rs, err = elb.SetRulePriorities(tx, prios)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []*node
	for _, r := range rs {
		out = append(out, ruleXML(r))
	}
	return frag(nodeMembers("Rules", out)), nil
}

// ---- tags

func (h *handler) addTags(c *call) (*node, error) {
	arns := c.p.strs("ResourceArns")
	if len(arns) == 0 {
		return nil, missing(c.svc, "ResourceArns")
	}
	if len(arns) > 20 {
		return nil, validation("At most 20 resource ARNs can be tagged at once")
	}
	tags := parseTags(c.p.structs("Tags"))
	if len(tags) == 0 {
		return nil, missing(c.svc, "Tags")
	}
	return nil, h.update(func(tx store.Tx) error { return elb.AddTags(tx, arns, tags) })
}

func (h *handler) removeTags(c *call) (*node, error) {
	arns := c.p.strs("ResourceArns")
	if len(arns) == 0 {
		return nil, missing(c.svc, "ResourceArns")
	}
	keys := c.p.strs("TagKeys")
	if len(keys) == 0 {
		return nil, missing(c.svc, "TagKeys")
	}
	return nil, h.update(func(tx store.Tx) error { return elb.RemoveTags(tx, arns, keys) })
}

func (h *handler) describeTags(c *call) (*node, error) {
	arns := c.p.strs("ResourceArns")
	if len(arns) == 0 {
		return nil, missing(c.svc, "ResourceArns")
	}
	if len(arns) > 20 {
		return nil, validation("At most 20 resource ARNs can be described at once")
	}
	var out []*node
	err := h.view(func(tx store.Tx) error {
		for _, arn := range arns {
			tags, err := elb.ResourceTags(tx, arn)
			if err != nil {
				return err
			}
			out = append(out, el("member", txt("ResourceArn", arn), tagsXML("Tags", tags)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return frag(nodeMembers("TagDescriptions", out)), nil
}

// ---- SSL policies

func (h *handler) describeSSLPolicies(c *call) (*node, error) {
	if t := c.p.get("LoadBalancerType"); t != "" && t != "application" && t != "network" {
		return nil, validation("Load balancer type '%s' has no SSL policies here: use application", t)
	}
	size, err := c.pageSize()
	if err != nil {
		return nil, err
	}
	names := c.p.strs("Names")
	var sel []tlspolicy.Policy
	if len(names) == 0 {
		sel = append(sel, SSLPolicies...)
	}
	for _, n := range names {
		p, ok := SSLPolicyByName(n)
		if !ok {
			return nil, apiErrorf("SSLPolicyNotFound", "SSL policy '%s' not found", n)
		}
		sel = append(sel, *p)
	}
	pg, next, err := page(sel, func(p tlspolicy.Policy) string { return p.Name }, c.p.get("Marker"), size, badMarker)
	if err != nil {
		return nil, err
	}
	var out []*node
	for _, p := range pg {
		var ciphers []*node
		for i, ci := range p.Ciphers {
			ciphers = append(ciphers, el("member", txt("Name", ci), num("Priority", i+1)))
		}
		out = append(out, el("member", strMembers("SslProtocols", p.Protocols), nodeMembers("Ciphers", ciphers),
			txt("Name", p.Name), strMembers("SupportedLoadBalancerTypes", []string{"application", "network"})))
	}
	return frag(nodeMembers("SslPolicies", out), opt("NextMarker", next)), nil
}

// attributesResult answers the four Describe/Modify*Attributes actions:
// arnParam names the resource; op reads (set == nil) or modifies it inside
// one transaction and returns its full attribute list, defaults filled in,
// which is what both Describe and Modify answer with.
func (h *handler) attributesResult(c *call, arnParam string, modify bool, op func(tx store.Tx, arn string, set map[string]string) (map[string]string, error)) (*node, error) {
	arn, err := c.required(arnParam)
	if err != nil {
		return nil, err
	}
	var set map[string]string
	run := h.view
	if modify {
		if set, err = c.attributes(); err != nil {
			return nil, err
		}
		run = h.update
	}
	var attrs map[string]string
	if err := run(func(tx store.Tx) error {
		attrs, err = op(tx, arn, set)
		return err
	}); err != nil {
		return nil, err
	}
	return frag(attrsXML(attrs)), nil
}

func loadBalancerAttributes(tx store.Tx, arn string, set map[string]string) (map[string]string, error) {
	lb, err := elb.LoadBalancer(tx, arn)
	if err == nil && set != nil {
		lb, err = elb.ModifyLoadBalancerAttributes(tx, arn, set)
	}
	if err != nil {
		return nil, err
	}
	return model.LoadBalancerAttributes(lb.Attributes), nil
}

func targetGroupAttributes(tx store.Tx, arn string, set map[string]string) (map[string]string, error) {
	g, err := elb.TargetGroup(tx, arn)
	if err == nil && set != nil {
		g, err = elb.ModifyTargetGroupAttributes(tx, arn, set)
	}
	if err != nil {
		return nil, err
	}
	return model.TargetGroupAttributes(g.Attributes), nil
}

func (h *handler) describeLoadBalancerAttributes(c *call) (*node, error) {
	return h.attributesResult(c, "LoadBalancerArn", false, loadBalancerAttributes)
}

func (h *handler) modifyLoadBalancerAttributes(c *call) (*node, error) {
	return h.attributesResult(c, "LoadBalancerArn", true, loadBalancerAttributes)
}

func (h *handler) describeTargetGroupAttributes(c *call) (*node, error) {
	return h.attributesResult(c, "TargetGroupArn", false, targetGroupAttributes)
}

func (h *handler) modifyTargetGroupAttributes(c *call) (*node, error) {
	return h.attributesResult(c, "TargetGroupArn", true, targetGroupAttributes)
}
