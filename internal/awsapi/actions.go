package awsapi

import (
	"sort"

	"github.com/alba-lb/alba/internal/model"
)

// ---- actions: the DefaultActions of listeners and the Actions of rules.

type weightedTargetGroupIn struct {
	TargetGroupArn string `q:"TargetGroupArn,req,arn"`
	Weight         *int   `q:"Weight"`
}

type stickinessIn struct {
	Enabled         *bool `q:"Enabled"`
	DurationSeconds *int  `q:"DurationSeconds"`
}

type forwardConfigIn struct {
	TargetGroups                []weightedTargetGroupIn `q:"TargetGroups"`
	TargetGroupStickinessConfig stickinessIn            `q:"TargetGroupStickinessConfig"`
}

type redirectConfigIn struct {
	Protocol   string  `q:"Protocol"`
	Port       string  `q:"Port"`
	Host       string  `q:"Host"`
	Path       string  `q:"Path"`
	Query      *string `q:"Query"`
	StatusCode string  `q:"StatusCode"`
}

type fixedResponseConfigIn struct {
	StatusCode  string `q:"StatusCode"`
	ContentType string `q:"ContentType"`
	MessageBody string `q:"MessageBody"`
}

type actionIn struct {
	Type                string                `q:"Type"`
	Order               *int                  `q:"Order,min=1,max=50000"`
	TargetGroupArn      string                `q:"TargetGroupArn,arn"`
	ForwardConfig       forwardConfigIn       `q:"ForwardConfig"`
	RedirectConfig      redirectConfigIn      `q:"RedirectConfig"`
	FixedResponseConfig fixedResponseConfigIn `q:"FixedResponseConfig"`
}

// forward converts a forward action: one target group without stickiness
// is kept in TargetGroupArn, as AWS answers it.
func (in actionIn) forward(a *model.Action) error {
	a.TargetGroupARN = in.TargetGroupArn
	if tgs := in.ForwardConfig.TargetGroups; len(tgs) > 0 {
		a.ForwardConfig = &model.ForwardConfig{}
		for _, t := range tgs {
			a.ForwardConfig.TargetGroups = append(a.ForwardConfig.TargetGroups, model.WeightedTargetGroup{TargetGroupARN: t.TargetGroupArn, Weight: orDefault(t.Weight, 1)})
		}
		if a.TargetGroupARN != "" && (len(tgs) != 1 || tgs[0].TargetGroupArn != a.TargetGroupARN) {
			return validation("TargetGroupArn and ForwardConfig must name the same single target group when both are given")
		}
		if s := in.ForwardConfig.TargetGroupStickinessConfig; s.Enabled != nil && *s.Enabled {
			dur := orDefault(s.DurationSeconds, 0)
			if dur < 1 || dur > 604800 {
				return validation("Target group stickiness duration %d must be 1-604800 seconds", dur)
			}
			a.ForwardConfig.Stickiness = &model.TargetGroupStickiness{Enabled: true, DurationSeconds: dur}
		}
		if len(tgs) == 1 && a.ForwardConfig.Stickiness == nil {
			a.TargetGroupARN, a.ForwardConfig = tgs[0].TargetGroupArn, nil
		}
	}
	if a.TargetGroupARN == "" && a.ForwardConfig == nil {
		return validation("A forward action needs a TargetGroupArn or a ForwardConfig")
	}
	return nil
}

// redirect converts a redirect, filling AWS's defaults for what it keeps.
func (in redirectConfigIn) redirect() (*model.RedirectConfig, error) {
	r := &model.RedirectConfig{Protocol: in.Protocol, Port: in.Port, Host: in.Host, Path: in.Path, StatusCode: in.StatusCode}
	if r.Protocol == "" && r.Port == "" && r.Host == "" && r.Path == "" {
		return nil, apiErrorf("InvalidLoadBalancerAction", "A redirect must change at least one of protocol, port, host or path, or it would loop")
	}
	for dst, def := range map[*string]string{&r.Protocol: "#{protocol}", &r.Port: "#{port}", &r.Host: "#{host}", &r.Path: "/#{path}"} {
		if *dst == "" {
			*dst = def
		}
	}
	if in.Query == nil {
		r.Query = "#{query}"
	} else {
		r.Query = *in.Query
	}
	return r, nil
}

// modelActions converts a list of actions (DefaultActions or Actions).
func modelActions(ins []actionIn) ([]model.Action, error) {
	var out []model.Action
	for _, in := range ins {
		a := model.Action{Type: in.Type, Order: orDefault(in.Order, 0)}
		switch a.Type {
		case "forward":
			if err := in.forward(&a); err != nil {
				return nil, err
			}
		case "redirect":
			r, err := in.RedirectConfig.redirect()
			if err != nil {
				return nil, err
			}
			a.Redirect = r
		case "fixed-response":
			f := in.FixedResponseConfig
			a.FixedResponse = &model.FixedResponseConfig{StatusCode: f.StatusCode, ContentType: f.ContentType, MessageBody: f.MessageBody}
		case "":
			return nil, validation("An action needs a Type")
		case "authenticate-oidc", "authenticate-cognito", "jwt-validation":
			return nil, apiErrorf("InvalidLoadBalancerAction", "Action type '%s' is not supported by Alba: use forward, redirect or fixed-response", a.Type)
		default:
			return nil, validation("Action type '%s' must be forward, redirect or fixed-response", model.Quote(a.Type))
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

type weightXML struct {
	TargetGroupArn string
	Weight         int
}

type stickinessXML struct {
	Enabled         bool
	DurationSeconds int `xml:",omitempty"`
}

type forwardXML struct {
	TargetGroups                memberList[weightXML]
	TargetGroupStickinessConfig stickinessXML
}

type redirectXML struct {
	Protocol   string `xml:",omitempty"`
	Port       string `xml:",omitempty"`
	Host       string `xml:",omitempty"`
	Path       string `xml:",omitempty"`
	Query      string `xml:",omitempty"`
	StatusCode string
}

type fixedResponseXML struct {
	MessageBody string `xml:",omitempty"`
	StatusCode  string
	ContentType string `xml:",omitempty"`
}

type actionXML struct {
	Type                string
	TargetGroupArn      string `xml:",omitempty"`
	Order               int
	ForwardConfig       *forwardXML
	RedirectConfig      *redirectXML
	FixedResponseConfig *fixedResponseXML
}

func actionsXML(as []model.Action) memberList[actionXML] {
	var out []actionXML
	for _, a := range as {
		x := actionXML{Type: a.Type, Order: a.Order}
		switch a.Type {
		case "forward":
			f := &forwardXML{}
			if fc := a.ForwardConfig; fc != nil && len(fc.TargetGroups) > 0 {
				if len(fc.TargetGroups) == 1 {
					x.TargetGroupArn = fc.TargetGroups[0].TargetGroupARN
				}
				for _, w := range fc.TargetGroups {
					f.TargetGroups.Items = append(f.TargetGroups.Items, weightXML{w.TargetGroupARN, w.Weight})
				}
				if fc.Stickiness != nil && fc.Stickiness.Enabled {
					f.TargetGroupStickinessConfig = stickinessXML{true, fc.Stickiness.DurationSeconds}
				}
			} else {
				x.TargetGroupArn = a.TargetGroupARN
				f.TargetGroups = members([]weightXML{{a.TargetGroupARN, 1}})
			}
			x.ForwardConfig = f
		case "redirect":
			r := a.Redirect
			x.RedirectConfig = &redirectXML{r.Protocol, r.Port, r.Host, r.Path, r.Query, r.StatusCode}
		case "fixed-response":
			f := a.FixedResponse
			x.FixedResponseConfig = &fixedResponseXML{f.MessageBody, f.StatusCode, f.ContentType}
		}
		out = append(out, x)
	}
	return members(out)
}
