package autoscaling

import (
	"encoding/json"
	"strings"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// legacyAPIKind is where stores written before the service layer kept what
// the AWS API front knew beyond the resources: security group ids, a
// target group's IP address type, which group tags propagate, EC2 tokens.
const legacyAPIKind = "awsapi"

type legacyAPIRecord struct {
	SecurityGroups []string        `json:"security_groups,omitempty"`
	IPAddressType  string          `json:"ip_address_type,omitempty"`
	Propagate      map[string]bool `json:"propagate,omitempty"`
	Ref            string          `json:"ref,omitempty"`
	Hash           string          `json:"hash,omitempty"`
}

// UpgradeStore folds records of older versions of Alba into the
// resources they describe, so that nothing a user set is lost. It is
// idempotent and cheap when there is nothing to do; Alba runs it at start.
func UpgradeStore(tx store.Tx) error {
	kvs, err := tx.List(legacyAPIKind)
	if err != nil || len(kvs) == 0 {
		return err
	}
	for _, kv := range kvs {
		var m legacyAPIRecord
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			continue // unreadable: nothing to keep
		}
		switch {
		case strings.HasPrefix(kv.Key, "token|"):
			// token|<action>|<token>
			parts := strings.SplitN(kv.Key, "|", 3)
			if len(parts) == 3 {
				if err := SaveClientToken(tx, parts[1], parts[2], m.Hash, m.Ref); err != nil {
					return err
				}
			}
		case strings.Contains(kv.Key, ":loadbalancer/"):
			if lb, err := elb.LoadBalancer(tx, kv.Key); err == nil && lb.SecurityGroupIDs == nil {
				lb.SecurityGroupIDs = m.SecurityGroups
				if err := store.PutJSON(tx, model.KindLoadBalancer, lb.ARN, lb); err != nil {
					return err
				}
			}
		case strings.Contains(kv.Key, ":targetgroup/"):
			if g, err := elb.TargetGroup(tx, kv.Key); err == nil && g.IPAddressType == "" {
				g.IPAddressType = m.IPAddressType
				if err := store.PutJSON(tx, model.KindTargetGroup, g.ARN, g); err != nil {
					return err
				}
			}
		case strings.Contains(kv.Key, ":autoScalingGroup:"):
			if err := upgradeGroupTags(tx, kv.Key, m.Propagate); err != nil {
				return err
			}
		}
		if err := tx.Delete(legacyAPIKind, kv.Key); err != nil {
			return err
		}
	}
	return nil
}

func upgradeGroupTags(tx store.Tx, arn string, propagate map[string]bool) error {
	gs, err := Groups(tx)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if g.ARN != arn {
			continue
		}
		for i := range g.Tags {
			g.Tags[i].PropagateAtLaunch = propagate[g.Tags[i].Key]
		}
		return store.PutJSON(tx, model.KindAutoScalingGroup, g.Name, g)
	}
	return nil
}
