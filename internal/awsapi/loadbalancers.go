package awsapi

import (
	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- load balancers: create, describe, delete, security groups, subnets,
// address type, account limits.

// canonicalZoneID is the hosted zone id ALBs in us-east-1 report.
const canonicalZoneID = "Z35SXDOTRQ7X7K"

type zoneXML struct {
	ZoneName string
	SubnetID string `xml:"SubnetId"`
}

type lbState struct{ Code string }

type loadBalancerXML struct {
	LoadBalancerArn       string
	DNSName               string
	CanonicalHostedZoneID string `xml:"CanonicalHostedZoneId"`
	CreatedTime           isoTime
	LoadBalancerName      string
	Scheme                string
	State                 lbState
	Type                  string
	AvailabilityZones     memberList[zoneXML]
	SecurityGroups        memberList[string]
	IPAddressType         string `xml:"IpAddressType"`
}

// zonesXML lists a load balancer's zones with their subnets (the same ids:
// in Alba a subnet id names a zone).
func zonesXML(lb *model.LoadBalancer) memberList[zoneXML] {
	var zs []zoneXML
	for _, z := range lb.Zones {
		zs = append(zs, zoneXML{z, z})
	}
	return members(zs)
}

func lbXML(lb *model.LoadBalancer) loadBalancerXML {
	return loadBalancerXML{LoadBalancerArn: lb.ARN, DNSName: model.LoadBalancerDNSName(lb), CanonicalHostedZoneID: canonicalZoneID,
		CreatedTime: isoTime(lb.CreatedTime), LoadBalancerName: lb.Name, Scheme: lb.Scheme, State: lbState{"active"}, Type: "application",
		AvailabilityZones: zonesXML(lb), SecurityGroups: members(lb.SecurityGroupIDs), IPAddressType: lb.IPAddressType}
}

type loadBalancersOut struct {
	LoadBalancers memberList[loadBalancerXML]
	NextMarker    string `xml:",omitempty"`
}

type subnetMapping struct {
	SubnetID string `q:"SubnetId,req"`
}

// subnetsIn is Subnets or SubnetMappings (not both): the ids name zones.
type subnetsIn struct {
	Subnets        []string        `q:"Subnets"`
	SubnetMappings []subnetMapping `q:"SubnetMappings"`
}

func (in subnetsIn) ids() ([]string, error) {
	if len(in.Subnets) > 0 && len(in.SubnetMappings) > 0 {
		return nil, validation("You can specify subnets or subnet mappings, not both")
	}
	ids := in.Subnets
	for _, m := range in.SubnetMappings {
		ids = append(ids, m.SubnetID)
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if id == "" {
			return nil, validation("A subnet id must not be empty")
		}
		if seen[id] {
			return nil, validation("Subnet '%s' is given more than once: specify one subnet per Availability Zone", model.Quote(id))
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// tagIn is a query-protocol tag.
type tagIn struct {
	Key   string `q:"Key"`
	Value string `q:"Value"`
}

// modelTags converts decoded tags; the service layer checks AWS's rules.
func modelTags(in []tagIn) []model.Tag {
	var out []model.Tag
	for _, t := range in {
		out = append(out, model.Tag{Key: t.Key, Value: t.Value})
	}
	return out
}

type createLoadBalancerIn struct {
	Name                  string `q:"Name,req"`
	Type                  string `q:"Type"`
	CustomerOwnedIpv4Pool string `q:"CustomerOwnedIpv4Pool"`
	Scheme                string `q:"Scheme"`
	IPAddressType         string `q:"IpAddressType"`
	subnetsIn
	SecurityGroups []string `q:"SecurityGroups"`
	Tags           []tagIn  `q:"Tags"`
}

func (h *handler) createLoadBalancer(c *call, in *createLoadBalancerIn) (any, error) {
	if in.Type != "" && in.Type != "application" {
		return nil, validation("Load balancer type '%s' is not supported: Alba runs application load balancers", model.Quote(in.Type))
	}
	if in.CustomerOwnedIpv4Pool != "" {
		return nil, validation("Customer-owned IPv4 pools are not supported")
	}
	subnets, err := in.ids()
	if err != nil {
		return nil, err
	}
	if len(subnets) == 0 {
		return nil, validation("At least two subnets in two different Availability Zones must be specified")
	}
	lb := &model.LoadBalancer{Name: in.Name, Scheme: in.Scheme, IPAddressType: in.IPAddressType,
		Zones: subnets, SecurityGroupIDs: in.SecurityGroups, Tags: modelTags(in.Tags), Source: model.SourceAPI}
	lb, err = inUpdate(h, func(tx store.Tx) (*model.LoadBalancer, error) { return elb.CreateLoadBalancer(tx, lb, c.now) })
	if err != nil {
		return nil, err
	}
	return loadBalancersOut{LoadBalancers: members([]loadBalancerXML{lbXML(lb)})}, nil
}

type describeLoadBalancersIn struct {
	LoadBalancerArns []string `q:"LoadBalancerArns,arn"`
	Names            []string `q:"Names"`
	markerPage
}

func (h *handler) describeLoadBalancers(c *call, in *describeLoadBalancersIn) (any, error) {
	if len(in.LoadBalancerArns) > 0 && len(in.Names) > 0 {
		return nil, validation("You can specify either load balancer ARNs or load balancer names, not both")
	}
	lbs, next, err := describe(h, in.paging(), func(tx store.Tx) ([]*model.LoadBalancer, error) {
		return selectResources(tx, in.LoadBalancerArns, in.Names, elb.LoadBalancer, elb.LoadBalancerByName, elb.LoadBalancers,
			func(n string) error {
				return apiErrorf("LoadBalancerNotFound", "Load balancers '[%s]' not found", model.Quote(n))
			})
	}, nil, func(lb *model.LoadBalancer) string { return lb.Name },
		func(_ store.Tx, lb *model.LoadBalancer) (loadBalancerXML, error) { return lbXML(lb), nil })
	if err != nil {
		return nil, err
	}
	return loadBalancersOut{members(lbs), next}, nil
}

type loadBalancerARNIn struct {
	LoadBalancerArn string `q:"LoadBalancerArn,req,arn"`
}

func (h *handler) deleteLoadBalancer(c *call, in *loadBalancerARNIn) (any, error) {
	if err := checkARN(in.LoadBalancerArn, "loadbalancer", "load balancer"); err != nil {
		return nil, err
	}
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteLoadBalancer(tx, in.LoadBalancerArn) })
}

type setSecurityGroupsIn struct {
	loadBalancerARNIn
	SecurityGroups []string `q:"SecurityGroups"`
}

type securityGroupsOut struct {
	SecurityGroupIDs memberList[string] `xml:"SecurityGroupIds"`
}

func (h *handler) setSecurityGroups(c *call, in *setSecurityGroupsIn) (any, error) {
	lb, err := inUpdate(h, func(tx store.Tx) (*model.LoadBalancer, error) {
		return elb.SetSecurityGroups(tx, in.LoadBalancerArn, in.SecurityGroups)
	})
	if err != nil {
		return nil, err
	}
	return securityGroupsOut{members(lb.SecurityGroupIDs)}, nil
}

type setSubnetsIn struct {
	loadBalancerARNIn
	subnetsIn
}

type setSubnetsOut struct {
	AvailabilityZones memberList[zoneXML]
	IPAddressType     string `xml:"IpAddressType"`
}

func (h *handler) setSubnets(c *call, in *setSubnetsIn) (any, error) {
	subnets, err := in.ids()
	if err != nil {
		return nil, err
	}
	lb, err := inUpdate(h, func(tx store.Tx) (*model.LoadBalancer, error) { return elb.SetSubnets(tx, in.LoadBalancerArn, subnets) })
	if err != nil {
		return nil, err
	}
	return setSubnetsOut{zonesXML(lb), lb.IPAddressType}, nil
}

type setIPAddressTypeIn struct {
	loadBalancerARNIn
	IPAddressType string `q:"IpAddressType,req"`
}

type ipAddressTypeOut struct {
	IPAddressType string `xml:"IpAddressType"`
}

func (h *handler) setIPAddressType(c *call, in *setIPAddressTypeIn) (any, error) {
	_, err := inUpdate(h, func(tx store.Tx) (*model.LoadBalancer, error) {
		return elb.SetIPAddressType(tx, in.LoadBalancerArn, in.IPAddressType)
	})
	if err != nil {
		return nil, err
	}
	return ipAddressTypeOut{in.IPAddressType}, nil
}

type limitXML struct{ Name, Max string }

type accountLimitsOut struct {
	Limits memberList[limitXML]
}

type noInput struct{}

func (h *handler) describeAccountLimits(c *call, _ *noInput) (any, error) {
	return accountLimitsOut{members([]limitXML{
		{"application-load-balancers", "50"}, {"target-groups", "3000"}, {"targets-per-application-load-balancer", "1000"},
		{"listeners-per-application-load-balancer", "50"}, {"rules-per-application-load-balancer", "100"},
		{"certificates-per-application-load-balancer", "25"},
	})}, nil
}

// selectResources is the selection of elbv2's Describe actions: the
// resources named by ARN, else by name (an unknown name is notFound), else
// all of them.
func selectResources[T any](tx store.Tx, arns, names []string,
	byARN func(store.Tx, string) (*T, error), byName func(store.Tx, string) (*T, error),
	all func(store.Tx) ([]*T, error), notFound func(name string) error) ([]*T, error) {
	var sel []*T
	switch {
	case len(arns) > 0:
		for _, arn := range arns {
			r, err := byARN(tx, arn)
			if err != nil {
				return nil, err
			}
			sel = append(sel, r)
		}
	case len(names) > 0:
		for _, n := range names {
			r, err := byName(tx, n)
			if err != nil {
				return nil, err
			}
			if r == nil {
				return nil, notFound(n)
			}
			sel = append(sel, r)
		}
	default:
		return all(tx)
	}
	return sel, nil
}

func (in loadBalancerARNIn) resourceARN() string { return in.LoadBalancerArn }
