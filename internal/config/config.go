// Package config reads Alba's declarative YAML file (alba up -f alba.yaml)
// and applies it to the store. A file is checked whole before anything
// changes: an error names the file, the line and the rule broken.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
)

// File is the whole declarative configuration.
type File struct {
	// LoadBalancers with their listeners.
	LoadBalancers []LoadBalancer `yaml:"load_balancers"`
	// TargetGroups with their static targets.
	TargetGroups []TargetGroup `yaml:"target_groups"`
	// LaunchTemplates describe what instances run.
	LaunchTemplates []LaunchTemplate `yaml:"launch_templates"`
	// AutoScalingGroups keep instances running and register them.
	AutoScalingGroups []AutoScalingGroup `yaml:"auto_scaling_groups"`
	// Certificates for HTTPS listeners, from PEM files.
	Certificates []Certificate `yaml:"certificates"`

	path string
	root *yaml.Node
}

// LoadBalancer is an application load balancer in the file.
type LoadBalancer struct {
	Name           string         `yaml:"name"`
	Scheme         string         `yaml:"scheme"`
	IPAddressType  string         `yaml:"ip_address_type"`
	Zones          []string       `yaml:"zones"`
	SecurityGroups []SecurityRule `yaml:"security_groups"`
	Attributes     Attributes     `yaml:"attributes"`
	Listeners      []Listener     `yaml:"listeners"`
}

// SecurityRule allows a CIDR to reach the load balancer (a port, or all).
type SecurityRule struct {
	CIDR string `yaml:"cidr"`
	Port int    `yaml:"port"`
}

// Listener is a listener in the file.
type Listener struct {
	Protocol string `yaml:"protocol"`
	Port     int    `yaml:"port"`
	// Address binds the listener to one local address (default: all).
	Address       string `yaml:"address"`
	DefaultAction Action `yaml:"default_action"`
	// Certificates of an HTTPS listener by name; the first is the default,
	// the others are chosen by SNI.
	Certificates []string `yaml:"certificates"`
	// SSLPolicy is the security policy (default ELBSecurityPolicy-2016-08,
	// as the API's).
	SSLPolicy string `yaml:"ssl_policy"`
	// Rules are evaluated by priority before the default action.
	Rules []Rule `yaml:"rules"`
}

// Action is a listener's default action: exactly one of its fields.
type Action struct {
	// Forward names one target group.
	Forward string `yaml:"forward"`
	// ForwardWeighted spreads over several target groups.
	ForwardWeighted []WeightedGroup `yaml:"forward_weighted"`
	// StickinessSeconds pins a client to one group of a weighted forward.
	StickinessSeconds int `yaml:"stickiness_seconds"`
	// FixedResponse answers without a target.
	FixedResponse *FixedResponse `yaml:"fixed_response"`
	// Redirect answers with a redirect.
	Redirect *Redirect `yaml:"redirect"`
}

// WeightedGroup is a target group and its weight.
type WeightedGroup struct {
	TargetGroup string `yaml:"target_group"`
	Weight      int    `yaml:"weight"`
}

// FixedResponse is a fixed-response action.
type FixedResponse struct {
	StatusCode  int    `yaml:"status_code"`
	ContentType string `yaml:"content_type"`
	Body        string `yaml:"body"`
}

// TargetGroup is a target group in the file.
type TargetGroup struct {
	Name            string      `yaml:"name"`
	Protocol        string      `yaml:"protocol"`
	ProtocolVersion string      `yaml:"protocol_version"`
	Port            int         `yaml:"port"`
	TargetType      string      `yaml:"target_type"`
	HealthCheck     HealthCheck `yaml:"health_check"`
	Attributes      Attributes  `yaml:"attributes"`
	Targets         []Target    `yaml:"targets"`
}

// HealthCheck is a target group's health check; zero fields take AWS's
// defaults.
type HealthCheck struct {
	Protocol           string `yaml:"protocol"`
	Port               string `yaml:"port"`
	Path               string `yaml:"path"`
	IntervalSeconds    int    `yaml:"interval_seconds"`
	TimeoutSeconds     int    `yaml:"timeout_seconds"`
	HealthyThreshold   int    `yaml:"healthy_threshold"`
	UnhealthyThreshold int    `yaml:"unhealthy_threshold"`
	Matcher            string `yaml:"matcher"`
	// GrpcCode is a GRPC group's matcher (gRPC codes, default 12).
	GrpcCode string `yaml:"grpc_code"`
}

// Target is a static target.
type Target struct {
	// ID is an IP address (target type ip) or an instance id.
	ID string `yaml:"id"`
	// Address is the instance's IP (target type instance).
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
	Zone    string `yaml:"zone"`
}

// Attributes are AWS attributes; values may be written as YAML numbers or
// booleans and are kept as AWS's strings.
type Attributes map[string]string

// UnmarshalYAML accepts scalars of any type as attribute values.
func (a *Attributes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: attributes must be a mapping of key: value", n.Line)}}
	}
	*a = Attributes{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: attribute '%s' must have a single value", v.Line, k.Value)}}
		}
		(*a)[k.Value] = v.Value
	}
	return nil
}

// Error is a problem in the file, with its position.
type Error struct {
	// Path is the file's.
	Path string
	// Line is the line of the entry at fault (0 if none).
	Line int
	// Msg says what is wrong.
	Msg string
	// Err is the service layer's error behind Msg, if any (a *model.Error
	// carries the AWS code the API would answer).
	Err error
}

// Unwrap returns the service layer's error.
func (e *Error) Unwrap() error { return e.Err }

// Error is file:line: message.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Load reads and checks a file. Unknown keys, wrong types and broken rules
// are errors with the file's line.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file: %w", err)
	}
	return Parse(path, data)
}

// Parse checks a file's contents; path is used in messages.
func Parse(path string, data []byte) (*File, error) {
	f := &File{path: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err)
	}
	f.root = &root
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, typeErrors(path, &root, te)
		}
		return nil, yamlError(path, err)
	}
	if f.empty() {
		return nil, &Error{Path: path, Msg: "the file declares no resources; to run Alba with none (and make them with the AWS API), use alba up --empty"}
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// yamlError turns the YAML library's messages ("yaml: line 3: ...") into
// file:line: message.
func yamlError(path string, err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				return &Error{Path: path, Line: n, Msg: strings.TrimSpace(rest[i+1:])}
			}
		}
	}
	return &Error{Path: path, Msg: msg}
}

// typeErrors reports the YAML library's type and unknown-key errors in YAML
// terms, each with its line; the first error's line is the Error's.
func typeErrors(path string, root *yaml.Node, te *yaml.TypeError) error {
	out := &Error{Path: path}
	var more []string
	for _, e := range te.Errors {
		line, msg := 0, e
		if m := lineRe.FindStringSubmatch(e); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = yamlProblem(root, line, m[2])
		}
		if out.Msg == "" {
			out.Line, out.Msg = line, msg
			continue
		}
		more = append(more, (&Error{Path: path, Line: line, Msg: msg}).Error())
	}
	if len(more) > 0 {
		out.Msg += "\n" + strings.Join(more, "\n")
	}
	return out
}

// line finds the line of a value in the document: keys name mapping
// entries, ints index sequences. It falls back to the deepest line found.
func (f *File) line(path ...any) int {
	if f.root == nil || len(f.root.Content) == 0 {
		return 0
	}
	n := f.root.Content[0]
	best := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
			}
		}
		if next == nil {
			break
		}
		n = next
		best = n.Line
	}
	return best
}

func (f *File) errAt(msg string, path ...any) error {
	return &Error{Path: f.path, Line: f.line(path...), Msg: msg}
}

// dupAt reports an entry the file declares twice, with the code the API
// answers for creating it twice with other settings.
func (f *File) dupAt(code, msg string, path ...any) error {
	return f.errFrom(model.Errorf(code, "%s", msg), path...)
}

// errFrom reports a service layer's error at an entry of the file.
func (f *File) errFrom(err error, path ...any) error {
	return &Error{Path: f.path, Line: f.line(path...), Msg: err.Error(), Err: err}
}

// check applies the rules that need more than types: names, references,
// ranges (through the model's validation, so the file and the API agree).
func (f *File) check() error {
	lbNames := map[string]bool{}
	tgNames := map[string]bool{}
	for i, g := range f.TargetGroups {
		if tgNames[g.Name] {
			return f.dupAt("DuplicateTargetGroupName", fmt.Sprintf("target group name '%s' is used twice", g.Name), "target_groups", i, "name")
		}
		tgNames[g.Name] = true
		mg := g.model()
		mg.ApplyDefaults()
		if err := mg.Validate(); err != nil {
			return f.errFrom(err, "target_groups", i)
		}
		seen := map[string]bool{}
		for j, t := range g.Targets {
			mt := t.model()
			if err := mt.Validate(mg); err != nil {
				return f.errFrom(err, "target_groups", i, "targets", j)
			}
			if mg.TargetType == "instance" && t.Address == "" {
				return f.errAt(fmt.Sprintf("instance target '%s' needs an address (the instance's IP)", t.ID), "target_groups", i, "targets", j)
			}
			k := fmt.Sprintf("%s:%d", t.ID, mt.EffectivePort(mg))
			if seen[k] {
				return f.errAt(fmt.Sprintf("target %s is registered twice", k), "target_groups", i, "targets", j)
			}
			seen[k] = true
		}
	}
	for i, lb := range f.LoadBalancers {
		if lbNames[lb.Name] {
			return f.dupAt("DuplicateLoadBalancerName", fmt.Sprintf("load balancer name '%s' is used twice", lb.Name), "load_balancers", i, "name")
		}
		lbNames[lb.Name] = true
		mlb := lb.model()
		mlb.ApplyDefaults()
		if err := mlb.Validate(); err != nil {
			return f.errFrom(err, "load_balancers", i)
		}
		ports := map[int]bool{}
		for j, l := range lb.Listeners {
			at := []any{"load_balancers", i, "listeners", j}
			if ports[l.Port] {
				return f.dupAt("DuplicateListener", fmt.Sprintf("load balancer '%s' has two listeners on port %d", lb.Name, l.Port), append(at, "port")...)
			}
			ports[l.Port] = true
			groups, err := l.DefaultAction.groups()
			if err != nil {
				return f.errFrom(err, append(at, "default_action")...)
			}
			for _, g := range groups {
				if !tgNames[g] {
					return f.errAt(fmt.Sprintf("default action forwards to target group '%s', which is not defined in target_groups", g), append(at, "default_action")...)
				}
			}
			ml := l.model(nil)
			ml.ApplyDefaults()
			if err := ml.Validate(); err != nil {
				return f.errFrom(err, at...)
			}
		}
	}
	if err := f.checkHTTPS(tgNames); err != nil {
		return err
	}
	return f.checkAutoScaling(tgNames)
}

func (a *Action) groups() ([]string, error) {
	n := 0
	var gs []string
	if a.Forward != "" {
		n++
		gs = append(gs, a.Forward)
	}
	if len(a.ForwardWeighted) > 0 {
		n++
		for _, w := range a.ForwardWeighted {
			gs = append(gs, w.TargetGroup)
		}
	}
	if a.FixedResponse != nil {
		n++
	}
	if a.Redirect != nil {
		n++
		if c := a.Redirect.StatusCode; c != 0 && c != 301 && c != 302 {
			return nil, errors.New("a redirect's status_code must be 301 or 302")
		}
	}
	if n != 1 {
		return nil, errors.New("an action needs exactly one of forward, forward_weighted, fixed_response or redirect")
	}
	return gs, nil
}

// Empty is the configuration of no resources (alba up --empty): applied,
// it removes what a file declared before.
func Empty() *File { return &File{path: elb.Empty} }

func (f *File) empty() bool {
	return len(f.LoadBalancers) == 0 && len(f.TargetGroups) == 0 && len(f.LaunchTemplates) == 0 &&
		len(f.AutoScalingGroups) == 0 && len(f.Certificates) == 0
}

// Names of resources in the file, sorted, for reporting.
func (f *File) Names() (lbs, tgs []string) {
	for _, lb := range f.LoadBalancers {
		lbs = append(lbs, lb.Name)
	}
	for _, g := range f.TargetGroups {
		tgs = append(tgs, g.Name)
	}
	sort.Strings(lbs)
	sort.Strings(tgs)
	return lbs, tgs
}
