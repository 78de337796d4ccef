package awsapi

import (
	"maps"
	"slices"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- attributes: Describe/Modify LoadBalancer, TargetGroup and Listener
// attributes share one skeleton.

type attributeXML struct{ Key, Value string }

type attributesOut struct {
	Attributes memberList[attributeXML]
}

func attrsXML(attrs map[string]string) attributesOut {
	var out []attributeXML
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		out = append(out, attributeXML{k, attrs[k]})
	}
	return attributesOut{members(out)}
}

// attributesIn is the input of the Describe and Modify…Attributes
// operations: the resource's ARN and, to modify, the attributes to set.
type attributesIn interface {
	resourceARN() string
	attributeList() []attributeIn
}

type attributeIn struct {
	Key   string `q:"Key,req"`
	Value string `q:"Value"`
}

type attributeListIn struct {
	Attributes []attributeIn `q:"Attributes"`
}

func (in attributeListIn) attributeList() []attributeIn { return in.Attributes }

// attributesFn reads (set == nil) or modifies a resource's attributes
// inside one transaction and returns its full list, defaults filled in,
// which is what both Describe and Modify answer with.
type attributesFn func(tx store.Tx, arn string, set map[string]string) (map[string]string, error)

// attributesOp makes a Describe (modify false) or Modify…Attributes op.
func attributesOp[In any, P interface {
	*In
	attributesIn
}](modify bool, fn attributesFn) op {
	return handle(func(h *handler, c *call, in *In) (any, error) {
		p := P(in)
		var set map[string]string
		run := h.view
		if modify {
			if p.attributeList() == nil {
				return nil, c.f.missing("Attributes")
			}
			set = map[string]string{}
			for _, kv := range p.attributeList() {
				set[kv.Key] = kv.Value
			}
			run = h.update
		}
		var attrs map[string]string
		err := run(func(tx store.Tx) (err error) {
			attrs, err = fn(tx, p.resourceARN(), set)
			return err
		})
		if err != nil {
			return nil, err
		}
		return attrsXML(attrs), nil
	})
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

// listenerAttributes: Alba's listeners have none, but the listener must
// exist.
func listenerAttributes(tx store.Tx, arn string, _ map[string]string) (map[string]string, error) {
	_, err := elb.Listener(tx, arn)
	return nil, err
}

type lbAttributesIn struct {
	loadBalancerARNIn
	attributeListIn
}

type tgAttributesIn struct {
	targetGroupARNIn
	attributeListIn
}

type listenerAttributesIn struct {
	listenerARNIn
	attributeListIn
}
