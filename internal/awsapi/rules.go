package awsapi

import (
	"fmt"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- rules: create, describe, modify, delete, set priorities.

type valuesIn struct {
	Values []string `q:"Values"`
}

type keyValueIn struct {
	Key   string `q:"Key"`
	Value string `q:"Value"`
}

type conditionIn struct {
	Field                   string   `q:"Field"`
	Values                  []string `q:"Values"`
	HostHeaderConfig        valuesIn `q:"HostHeaderConfig"`
	PathPatternConfig       valuesIn `q:"PathPatternConfig"`
	HTTPRequestMethodConfig valuesIn `q:"HttpRequestMethodConfig"`
	SourceIPConfig          valuesIn `q:"SourceIpConfig"`
	HTTPHeaderConfig        struct {
		HTTPHeaderName string   `q:"HttpHeaderName"`
		Values         []string `q:"Values"`
	} `q:"HttpHeaderConfig"`
	QueryStringConfig struct {
		Values []keyValueIn `q:"Values"`
	} `q:"QueryStringConfig"`
}

// modelConditions converts conditions: the legacy Field/Values form or
// the typed *Config forms.
func modelConditions(ins []conditionIn) ([]model.Condition, error) {
	var out []model.Condition
	for _, in := range ins {
		cd := model.Condition{Field: in.Field}
		switch cd.Field {
		case "host-header":
			cd.Values = append(in.Values, in.HostHeaderConfig.Values...)
		case "path-pattern":
			cd.Values = append(in.Values, in.PathPatternConfig.Values...)
		case "http-header":
			cd.HeaderName = in.HTTPHeaderConfig.HTTPHeaderName
			cd.Values = in.HTTPHeaderConfig.Values
		case "http-request-method":
			cd.Values = append(in.Values, in.HTTPRequestMethodConfig.Values...)
		case "source-ip":
			cd.Values = append(in.Values, in.SourceIPConfig.Values...)
		case "query-string":
			for _, kv := range in.QueryStringConfig.Values {
				cd.QueryValues = append(cd.QueryValues, model.QueryValue{Key: kv.Key, Value: kv.Value})
			}
		case "":
			return nil, validation("A condition needs a Field")
		default:
			return nil, validation("Condition field '%s' must be host-header, path-pattern, http-header, http-request-method, query-string or source-ip", model.Quote(cd.Field))
		}
		out = append(out, cd)
	}
	return out, nil
}

type valuesXML struct {
	Values memberList[string]
}

type httpHeaderXML struct {
	HTTPHeaderName string `xml:"HttpHeaderName"`
	Values         memberList[string]
}

type queryValueXML struct {
	Key   string `xml:",omitempty"`
	Value string
}

type queryStringXML struct {
	Values memberList[queryValueXML]
}

type conditionXML struct {
	Field                   string
	Values                  *memberList[string]
	HostHeaderConfig        *valuesXML
	PathPatternConfig       *valuesXML
	HTTPHeaderConfig        *httpHeaderXML `xml:"HttpHeaderConfig"`
	HTTPRequestMethodConfig *valuesXML     `xml:"HttpRequestMethodConfig"`
	SourceIPConfig          *valuesXML     `xml:"SourceIpConfig"`
	QueryStringConfig       *queryStringXML
}

func conditionOut(cd model.Condition) conditionXML {
	x := conditionXML{Field: cd.Field}
	vals := &valuesXML{members(cd.Values)}
	switch cd.Field {
	case "host-header":
		x.Values, x.HostHeaderConfig = &vals.Values, vals
	case "path-pattern":
		x.Values, x.PathPatternConfig = &vals.Values, vals
	case "http-header":
		x.HTTPHeaderConfig = &httpHeaderXML{cd.HeaderName, vals.Values}
	case "http-request-method":
		x.HTTPRequestMethodConfig = vals
	case "source-ip":
		x.SourceIPConfig = vals
	case "query-string":
		q := &queryStringXML{}
		for _, kv := range cd.QueryValues {
			q.Values.Items = append(q.Values.Items, queryValueXML{kv.Key, kv.Value})
		}
		x.QueryStringConfig = q
	}
	return x
}

type ruleXML struct {
	RuleArn    string
	Priority   string
	Conditions memberList[conditionXML]
	Actions    memberList[actionXML]
	IsDefault  bool
}

type rulesOut struct {
	Rules      memberList[ruleXML]
	NextMarker string `xml:",omitempty"`
}

func ruleOut(r *model.Rule) ruleXML {
	var cs []conditionXML
	for _, cd := range r.Conditions {
		cs = append(cs, conditionOut(cd))
	}
	return ruleXML{r.ARN, r.PriorityString(), members(cs), actionsXML(r.Actions), false}
}

func defaultRuleOut(l *model.Listener) ruleXML {
	return ruleXML{elb.DefaultRuleARN(l.ARN), "default", members[conditionXML](nil), actionsXML(l.DefaultActions), true}
}

func oneRule(r *model.Rule) rulesOut { return rulesOut{Rules: members([]ruleXML{ruleOut(r)})} }

type createRuleIn struct {
	listenerARNIn
	Priority   *int          `q:"Priority,req,min=1,max=50000"`
	Conditions []conditionIn `q:"Conditions"`
	Actions    []actionIn    `q:"Actions"`
	Tags       []tagIn       `q:"Tags"`
}

func (h *handler) createRule(c *call, in *createRuleIn) (any, error) {
	conds, err := modelConditions(in.Conditions)
	if err != nil {
		return nil, err
	}
	actions, err := modelActions(in.Actions)
	if err != nil {
		return nil, err
	}
	r := &model.Rule{ListenerARN: in.ListenerArn, Priority: *in.Priority, Conditions: conds, Actions: actions, Tags: modelTags(in.Tags), Source: model.SourceAPI}
	r, err = inUpdate(h, func(tx store.Tx) (*model.Rule, error) { return elb.CreateRule(tx, r) })
	if err != nil {
		return nil, err
	}
	return oneRule(r), nil
}

type describeRulesIn struct {
	ListenerArn string   `q:"ListenerArn,arn"`
	RuleArns    []string `q:"RuleArns,arn"`
	markerPage
}

// rulesOf lists a listener's rules by priority, its default rule last.
func rulesOf(tx store.Tx, listenerARN string) ([]keyed[ruleXML], error) {
	l, err := elb.Listener(tx, listenerARN)
	if err != nil {
		return nil, err
	}
	rs, err := elb.Rules(tx, listenerARN)
	if err != nil {
		return nil, err
	}
	var out []keyed[ruleXML]
	for _, r := range rs {
		out = append(out, keyed[ruleXML]{fmt.Sprintf("%05d", r.Priority), ruleOut(r)})
	}
	return append(out, keyed[ruleXML]{"99999", defaultRuleOut(l)}), nil
}

// rulesByARN finds rules (default rules too) in the order asked.
func rulesByARN(tx store.Tx, arns []string) ([]keyed[ruleXML], error) {
	ls, err := elb.Listeners(tx)
	if err != nil {
		return nil, err
	}
	var out []keyed[ruleXML]
	for i, arn := range arns {
		key := fmt.Sprintf("%05d", i)
		if r, err := elb.Rule(tx, arn); err == nil {
			out = append(out, keyed[ruleXML]{key, ruleOut(r)})
			continue
		}
		found := false
		for _, l := range ls {
			if elb.DefaultRuleARN(l.ARN) == arn {
				out, found = append(out, keyed[ruleXML]{key, defaultRuleOut(l)}), true
			}
		}
		if !found {
			return nil, apiErrorf("RuleNotFound", "One or more rules not found")
		}
	}
	return out, nil
}

func (h *handler) describeRules(c *call, in *describeRulesIn) (any, error) {
	if in.ListenerArn == "" && len(in.RuleArns) == 0 {
		return nil, validation("You must specify either listener ARN or rule ARNs")
	}
	all, err := inView(h, func(tx store.Tx) ([]keyed[ruleXML], error) {
		if in.ListenerArn != "" {
			return rulesOf(tx, in.ListenerArn)
		}
		return rulesByARN(tx, in.RuleArns)
	})
	if err != nil {
		return nil, err
	}
	rs, next, err := pageKeyed(all, in.paging())
	if err != nil {
		return nil, err
	}
	return rulesOut{members(rs), next}, nil
}

type modifyRuleIn struct {
	RuleArn    string        `q:"RuleArn,req,arn"`
	Conditions []conditionIn `q:"Conditions"`
	Actions    []actionIn    `q:"Actions"`
}

func (h *handler) modifyRule(c *call, in *modifyRuleIn) (any, error) {
	var conds []model.Condition
	var actions []model.Action
	var err error
	if in.Conditions != nil {
		if conds, err = modelConditions(in.Conditions); err != nil {
			return nil, err
		}
	}
	if in.Actions != nil {
		if actions, err = modelActions(in.Actions); err != nil {
			return nil, err
		}
	}
	r, err := inUpdate(h, func(tx store.Tx) (*model.Rule, error) { return elb.ModifyRule(tx, in.RuleArn, conds, actions) })
	if err != nil {
		return nil, err
	}
	return oneRule(r), nil
}

type deleteRuleIn struct {
	RuleArn string `q:"RuleArn,req,arn"`
}

func (h *handler) deleteRule(c *call, in *deleteRuleIn) (any, error) {
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteRule(tx, in.RuleArn) })
}

type setRulePrioritiesIn struct {
	RulePriorities []struct {
		RuleArn  string `q:"RuleArn,req,arn"`
		Priority *int   `q:"Priority,req"`
	} `q:"RulePriorities,req"`
}

func (h *handler) setRulePriorities(c *call, in *setRulePrioritiesIn) (any, error) {
	prios := map[string]int{}
	for _, p := range in.RulePriorities {
		if _, dup := prios[p.RuleArn]; dup {
			return nil, validation("Rule '%s' is given more than once", model.Quote(p.RuleArn))
		}
		prios[p.RuleArn] = *p.Priority
	}
	rs, err := inUpdate(h, func(tx store.Tx) ([]*model.Rule, error) { return elb.SetRulePriorities(tx, prios) })
	if err != nil {
		return nil, err
	}
	var out []ruleXML
	for _, r := range rs {
		out = append(out, ruleOut(r))
	}
	return rulesOut{Rules: members(out)}, nil
}
