package elb

import (
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// SetSecurityGroups replaces the security group ids of a load balancer.
func SetSecurityGroups(tx store.Tx, arn string, ids []string) (*model.LoadBalancer, error) {
	lb, err := LoadBalancer(tx, arn)
	if err != nil {
		return nil, err
	}
	lb.SecurityGroupIDs = ids
	return lb, PutLoadBalancer(tx, lb)
}

// SetSubnets replaces the zones (subnets) of a load balancer; it stays in
// at least two.
func SetSubnets(tx store.Tx, arn string, zones []string) (*model.LoadBalancer, error) {
	lb, err := LoadBalancer(tx, arn)
	if err != nil {
		return nil, err
	}
	if len(zones) == 0 {
		return nil, model.Errorf("ValidationError", "At least two subnets in two different Availability Zones must be specified")
	}
	lb.Zones = zones
	return lb, PutLoadBalancer(tx, lb)
}

// SetIPAddressType changes the IP address type of a load balancer.
func SetIPAddressType(tx store.Tx, arn, typ string) (*model.LoadBalancer, error) {
	lb, err := LoadBalancer(tx, arn)
	if err != nil {
		return nil, err
	}
	lb.IPAddressType = typ
	return lb, PutLoadBalancer(tx, lb)
}
