package awsapi

import (
	"slices"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- target groups: create, describe, modify, delete (their targets are
// in targets.go).

type matcherXML struct {
	HTTPCode string `xml:"HttpCode,omitempty"`
	GrpcCode string `xml:"GrpcCode,omitempty"`
}

type targetGroupXML struct {
	TargetGroupArn             string
	TargetGroupName            string
	Protocol                   string
	Port                       int
	VpcID                      string `xml:"VpcId,omitempty"`
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckEnabled         bool
	HealthCheckIntervalSeconds int
	HealthCheckTimeoutSeconds  int
	HealthyThresholdCount      int
	UnhealthyThresholdCount    int
	HealthCheckPath            string
	Matcher                    matcherXML
	LoadBalancerArns           memberList[string]
	TargetType                 string
	ProtocolVersion            string
	IPAddressType              string `xml:"IpAddressType"`
}

type targetGroupsOut struct {
	TargetGroups memberList[targetGroupXML]
	NextMarker   string `xml:",omitempty"`
}

// tgXML encodes a group with the load balancers that route to it.
func tgXML(tx store.Tx, g *model.TargetGroup) (targetGroupXML, error) {
	lbs, err := elb.TargetGroupLoadBalancers(tx, g.ARN)
	if err != nil {
		return targetGroupXML{}, err
	}
	ipType := g.IPAddressType
	if ipType == "" {
		ipType = "ipv4"
	}
	hc := g.HealthCheck
	return targetGroupXML{TargetGroupArn: g.ARN, TargetGroupName: g.Name, Protocol: g.Protocol, Port: g.Port, VpcID: g.VPCID,
		HealthCheckProtocol: hc.Protocol, HealthCheckPort: hc.Port, HealthCheckEnabled: hc.Enabled,
		HealthCheckIntervalSeconds: hc.IntervalSeconds, HealthCheckTimeoutSeconds: hc.TimeoutSeconds,
		HealthyThresholdCount: hc.HealthyThreshold, UnhealthyThresholdCount: hc.UnhealthyThreshold, HealthCheckPath: hc.Path,
		Matcher: matcherXML{hc.Matcher, hc.GrpcCode}, LoadBalancerArns: members(lbs), TargetType: g.TargetType, ProtocolVersion: g.ProtocolVersion,
		IPAddressType: ipType}, nil
}

// oneTargetGroup is the answer of Create and ModifyTargetGroup.
func oneTargetGroup(tx store.Tx, g *model.TargetGroup) (targetGroupsOut, error) {
	x, err := tgXML(tx, g)
	return targetGroupsOut{TargetGroups: members([]targetGroupXML{x})}, err
}

type matcherIn struct {
	HTTPCode *string `q:"HttpCode"`
	GrpcCode *string `q:"GrpcCode"`
}

// healthCheckIn is the health check fields of Create and ModifyTargetGroup.
type healthCheckIn struct {
	HealthCheckProtocol        *string   `q:"HealthCheckProtocol"`
	HealthCheckPort            *string   `q:"HealthCheckPort"`
	HealthCheckPath            *string   `q:"HealthCheckPath"`
	Matcher                    matcherIn `q:"Matcher"`
	HealthCheckEnabled         *bool     `q:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds *int      `q:"HealthCheckIntervalSeconds,min=5,max=300"`
	HealthCheckTimeoutSeconds  *int      `q:"HealthCheckTimeoutSeconds,min=2,max=120"`
	HealthyThresholdCount      *int      `q:"HealthyThresholdCount,min=2,max=10"`
	UnhealthyThresholdCount    *int      `q:"UnhealthyThresholdCount,min=2,max=10"`
}

func (in healthCheckIn) change() (elb.TargetGroupChange, error) {
	if in.Matcher.GrpcCode != nil && in.Matcher.HTTPCode != nil {
		return elb.TargetGroupChange{}, validation("A matcher has either an HttpCode or a GrpcCode, not both")
	}
	return elb.TargetGroupChange{HealthCheckProtocol: in.HealthCheckProtocol, HealthCheckPort: in.HealthCheckPort,
		HealthCheckPath: in.HealthCheckPath, Matcher: in.Matcher.HTTPCode, GrpcCode: in.Matcher.GrpcCode, HealthCheckEnabled: in.HealthCheckEnabled,
		HealthCheckIntervalSeconds: in.HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds: in.HealthCheckTimeoutSeconds,
		HealthyThresholdCount: in.HealthyThresholdCount, UnhealthyThresholdCount: in.UnhealthyThresholdCount}, nil
}

type createTargetGroupIn struct {
	Name            string `q:"Name,req"`
	TargetType      string `q:"TargetType"`
	Port            *int   `q:"Port,min=1,max=65535"`
	Protocol        string `q:"Protocol"`
	ProtocolVersion string `q:"ProtocolVersion"`
	IPAddressType   string `q:"IpAddressType"`
	VpcID           string `q:"VpcId"`
	healthCheckIn
	Tags []tagIn `q:"Tags"`
}

func (h *handler) createTargetGroup(c *call, in *createTargetGroupIn) (any, error) {
	if in.TargetType == "lambda" || in.TargetType == "alb" {
		return nil, validation("Target type '%s' is not supported: use instance or ip", in.TargetType)
	}
	if in.Port == nil {
		return nil, validation("A port must be specified")
	}
	if in.Protocol == "" {
		return nil, validation("A protocol must be specified")
	}
	if t := in.IPAddressType; t != "" && t != "ipv4" && t != "ipv6" {
		return nil, validation("IP address type '%s' must be ipv4 or ipv6", model.Quote(t))
	}
	ch, err := in.change()
	if err != nil {
		return nil, err
	}
	if ch.HealthCheckEnabled != nil && !*ch.HealthCheckEnabled {
		return nil, validation("Health checks cannot be disabled for target groups with target type instance or ip")
	}
	g := &model.TargetGroup{Name: in.Name, Protocol: in.Protocol, ProtocolVersion: in.ProtocolVersion, Port: *in.Port,
		TargetType: in.TargetType, VPCID: in.VpcID, IPAddressType: in.IPAddressType, Tags: modelTags(in.Tags), Source: model.SourceAPI}
	hc := &g.HealthCheck
	for dst, v := range map[*string]*string{&hc.Protocol: ch.HealthCheckProtocol, &hc.Port: ch.HealthCheckPort,
		&hc.Path: ch.HealthCheckPath, &hc.Matcher: ch.Matcher, &hc.GrpcCode: ch.GrpcCode} {
		if v != nil {
			*dst = *v
		}
	}
	hc.IntervalSeconds = orDefault(ch.HealthCheckIntervalSeconds, 0)
	hc.TimeoutSeconds = orDefault(ch.HealthCheckTimeoutSeconds, 0)
	hc.HealthyThreshold = orDefault(ch.HealthyThresholdCount, 0)
	hc.UnhealthyThreshold = orDefault(ch.UnhealthyThresholdCount, 0)
	return inUpdate(h, func(tx store.Tx) (any, error) {
		g, err := elb.CreateTargetGroup(tx, g)
		if err != nil {
			return nil, err
		}
		return oneTargetGroup(tx, g)
	})
}

type describeTargetGroupsIn struct {
	LoadBalancerArn string   `q:"LoadBalancerArn,arn"`
	TargetGroupArns []string `q:"TargetGroupArns,arn"`
	Names           []string `q:"Names"`
	markerPage
}

func (h *handler) describeTargetGroups(c *call, in *describeTargetGroupsIn) (any, error) {
	given := 0
	for _, b := range []bool{in.LoadBalancerArn != "", len(in.TargetGroupArns) > 0, len(in.Names) > 0} {
		if b {
			given++
		}
	}
	if given > 1 {
		return nil, validation("You can specify only one of load balancer ARN, target group ARNs or target group names")
	}
	gs, next, err := describe(h, in.paging(), func(tx store.Tx) ([]*model.TargetGroup, error) {
		sel, err := selectResources(tx, in.TargetGroupArns, in.Names, elb.TargetGroup, elb.TargetGroupByName, elb.TargetGroups,
			func(n string) error {
				return apiErrorf("TargetGroupNotFound", "Target groups '[%s]' not found", model.Quote(n))
			})
		if err != nil || in.LoadBalancerArn == "" {
			return sel, err
		}
		if _, err := elb.LoadBalancer(tx, in.LoadBalancerArn); err != nil {
			return nil, err
		}
		kept := sel[:0]
		for _, g := range sel {
			lbs, err := elb.TargetGroupLoadBalancers(tx, g.ARN)
			if err != nil {
				return nil, err
			}
			if slices.Contains(lbs, in.LoadBalancerArn) {
				kept = append(kept, g)
			}
		}
		return kept, nil
	}, nil, func(g *model.TargetGroup) string { return g.Name }, tgXML)
	if err != nil {
		return nil, err
	}
	return targetGroupsOut{members(gs), next}, nil
}

type targetGroupARNIn struct {
	TargetGroupArn string `q:"TargetGroupArn,req,arn"`
}

func (in targetGroupARNIn) resourceARN() string { return in.TargetGroupArn }

type modifyTargetGroupIn struct {
	targetGroupARNIn
	healthCheckIn
}

func (h *handler) modifyTargetGroup(c *call, in *modifyTargetGroupIn) (any, error) {
	ch, err := in.change()
	if err != nil {
		return nil, err
	}
	return inUpdate(h, func(tx store.Tx) (any, error) {
		g, err := elb.ModifyTargetGroup(tx, in.TargetGroupArn, ch)
		if err != nil {
			return nil, err
		}
		return oneTargetGroup(tx, g)
	})
}

func (h *handler) deleteTargetGroup(c *call, in *targetGroupARNIn) (any, error) {
	if err := checkARN(in.TargetGroupArn, "targetgroup", "target group"); err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteTargetGroup(tx, in.TargetGroupArn) })
}
