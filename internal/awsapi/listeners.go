package awsapi

import (
	"fmt"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- listeners: create, describe, modify, delete, and their
// certificates (rules are in rules.go, actions in actions.go).

type certificateXML struct {
	CertificateArn string
	IsDefault      *bool `xml:",omitempty"`
}

type listenerXML struct {
	ListenerArn     string
	LoadBalancerArn string
	Port            int
	Protocol        string
	Certificates    *memberList[certificateXML]
	SslPolicy       string `xml:",omitempty"`
	DefaultActions  memberList[actionXML]
}

type listenersOut struct {
	Listeners  memberList[listenerXML]
	NextMarker string `xml:",omitempty"`
}

func listenerOut(l *model.Listener) listenerXML {
	x := listenerXML{ListenerArn: l.ARN, LoadBalancerArn: l.LoadBalancerARN, Port: l.Port, Protocol: l.Protocol,
		SslPolicy: l.SslPolicy, DefaultActions: actionsXML(l.DefaultActions)}
	if len(l.Certificates) > 0 {
		x.Certificates = &memberList[certificateXML]{Items: []certificateXML{{CertificateArn: l.Certificates[0]}}}
	}
	return x
}

func oneListener(l *model.Listener) listenersOut {
	return listenersOut{Listeners: members([]listenerXML{listenerOut(l)})}
}

type certificateIn struct {
	CertificateArn string `q:"CertificateArn,req,arn"`
	IsDefault      string `q:"IsDefault"`
}

// certificateARNs converts Certificates; the service layer checks that
// each names a certificate Alba holds.
func certificateARNs(in []certificateIn) ([]string, error) {
	var out []string
	for _, ct := range in {
		if ct.IsDefault != "" {
			return nil, validation("IsDefault cannot be set on a certificate in this request")
		}
		out = append(out, ct.CertificateArn)
	}
	return out, nil
}

type createListenerIn struct {
	LoadBalancerArn string          `q:"LoadBalancerArn,req,arn"`
	Protocol        string          `q:"Protocol"`
	Port            *int            `q:"Port,min=1,max=65535"`
	DefaultActions  []actionIn      `q:"DefaultActions"`
	SslPolicy       string          `q:"SslPolicy"`
	Certificates    []certificateIn `q:"Certificates"`
	Tags            []tagIn         `q:"Tags"`
}

func (h *handler) createListener(c *call, in *createListenerIn) (any, error) {
	if in.Protocol == "" {
		return nil, validation("A protocol must be specified for an application load balancer listener")
	}
	if in.Port == nil {
		return nil, validation("A port must be specified for an application load balancer listener")
	}
	actions, err := modelActions(in.DefaultActions)
	if err != nil {
		return nil, err
	}
	if len(actions) == 0 {
		return nil, c.f.missing("DefaultActions")
	}
	certs, err := certificateARNs(in.Certificates)
	if err != nil {
		return nil, err
	}
	l := &model.Listener{LoadBalancerARN: in.LoadBalancerArn, Protocol: in.Protocol, Port: *in.Port, DefaultActions: actions,
		SslPolicy: in.SslPolicy, Certificates: certs, Tags: modelTags(in.Tags), Source: model.SourceAPI}
	l, err = inUpdate(h, func(tx store.Tx) (*model.Listener, error) { return elb.CreateListener(tx, l) })
	if err != nil {
		return nil, err
	}
	return oneListener(l), nil
}

type describeListenersIn struct {
	LoadBalancerArn string   `q:"LoadBalancerArn,arn"`
	ListenerArns    []string `q:"ListenerArns,arn"`
	markerPage
}

func (h *handler) describeListeners(c *call, in *describeListenersIn) (any, error) {
	if in.LoadBalancerArn == "" && len(in.ListenerArns) == 0 {
		return nil, validation("You must specify either listener ARNs or a load balancer ARN")
	}
	if in.LoadBalancerArn != "" && len(in.ListenerArns) > 0 {
		return nil, validation("You can specify either listener ARNs or a load balancer ARN, not both")
	}
	all := func(tx store.Tx) ([]*model.Listener, error) {
		var sel []*model.Listener
		for _, arn := range in.ListenerArns {
			l, err := elb.Listener(tx, arn)
			if err != nil {
				return nil, err
			}
			sel = append(sel, l)
		}
		if in.LoadBalancerArn == "" {
			return sel, nil
		}
		if _, err := elb.LoadBalancer(tx, in.LoadBalancerArn); err != nil {
			return nil, err
		}
		return elb.Listeners(tx)
	}
	keep := func(l *model.Listener) bool {
		return in.LoadBalancerArn == "" || l.LoadBalancerARN == in.LoadBalancerArn
	}
	key := func(l *model.Listener) string { return fmt.Sprintf("%05d %s", l.Port, l.ARN) }
	ls, next, err := describe(h, in.paging(), all, keep, key, func(_ store.Tx, l *model.Listener) (listenerXML, error) { return listenerOut(l), nil })
	if err != nil {
		return nil, err
	}
	return listenersOut{members(ls), next}, nil
}

type listenerARNIn struct {
	ListenerArn string `q:"ListenerArn,req,arn"`
}

func (in listenerARNIn) resourceARN() string { return in.ListenerArn }

type modifyListenerIn struct {
	listenerARNIn
	Protocol       *string         `q:"Protocol"`
	Port           *int            `q:"Port,min=1,max=65535"`
	SslPolicy      string          `q:"SslPolicy"`
	DefaultActions []actionIn      `q:"DefaultActions"`
	Certificates   []certificateIn `q:"Certificates"`
}

func (h *handler) modifyListener(c *call, in *modifyListenerIn) (any, error) {
	ch := elb.ListenerChange{Protocol: in.Protocol, Port: in.Port}
	if in.SslPolicy != "" {
		ch.SslPolicy = &in.SslPolicy
	}
	var err error
	if in.DefaultActions != nil {
		if ch.DefaultActions, err = modelActions(in.DefaultActions); err != nil {
			return nil, err
		}
	}
	if ch.Certificates, err = certificateARNs(in.Certificates); err != nil {
		return nil, err
	}
	l, err := inUpdate(h, func(tx store.Tx) (*model.Listener, error) { return elb.ModifyListener(tx, in.ListenerArn, ch) })
	if err != nil {
		return nil, err
	}
	return oneListener(l), nil
}

func (h *handler) deleteListener(c *call, in *listenerARNIn) (any, error) {
	return nil, h.update(func(tx store.Tx) error { return elb.DeleteListener(tx, in.ListenerArn) })
}

type listenerCertificatesIn struct {
	listenerARNIn
	Certificates []certificateIn `q:"Certificates,req"`
}

type certificatesOut struct {
	Certificates memberList[certificateXML]
	NextMarker   string `xml:",omitempty"`
}

func (h *handler) addListenerCertificates(c *call, in *listenerCertificatesIn) (any, error) {
	added, err := certificateARNs(in.Certificates)
	if err != nil {
		return nil, err
	}
	if _, err := inUpdate(h, func(tx store.Tx) (*model.Listener, error) {
		return elb.AddListenerCertificates(tx, in.ListenerArn, added)
	}); err != nil {
		return nil, err
	}
	var out []certificateXML
	no := false
	for _, a := range added {
		out = append(out, certificateXML{a, &no})
	}
	return certificatesOut{Certificates: members(out)}, nil
}

type removeListenerCertificatesIn struct {
	listenerARNIn
	Certificates []struct {
		CertificateArn string `q:"CertificateArn"`
	} `q:"Certificates,req"`
}

func (h *handler) removeListenerCertificates(c *call, in *removeListenerCertificatesIn) (any, error) {
	var arns []string
	for _, ct := range in.Certificates {
		arns = append(arns, ct.CertificateArn)
	}
	_, err := inUpdate(h, func(tx store.Tx) (*model.Listener, error) {
		return elb.RemoveListenerCertificates(tx, in.ListenerArn, arns)
	})
	return nil, err
}

type describeListenerCertificatesIn struct {
	listenerARNIn
	markerPage
}

func (h *handler) describeListenerCertificates(c *call, in *describeListenerCertificatesIn) (any, error) {
	l, err := inView(h, func(tx store.Tx) (*model.Listener, error) { return elb.Listener(tx, in.ListenerArn) })
	if err != nil {
		return nil, err
	}
	var all []certificateXML
	for i, a := range l.Certificates {
		def := i == 0
		all = append(all, certificateXML{a, &def})
	}
	pg, next, err := paginate(all, func(c certificateXML) string { return c.CertificateArn }, in.paging())
	if err != nil {
		return nil, err
	}
	return certificatesOut{members(pg), next}, nil
}
