// Package model holds Alba's resources in the AWS vocabulary: load
// balancers, listeners, target groups and targets, with AWS's names, ARNs,
// defaults, ranges and error codes. Every front (the YAML file, the AWS API,
// the console) works on these types; the store persists them as JSON.
package model

import (
	"strconv"
	"time"
)

// Kinds are the store's collections, one per resource type.
const (
	KindLoadBalancer = "loadbalancers"
	KindListener     = "listeners"
	KindTargetGroup  = "targetgroups"
	KindTarget       = "targets"
)

// Tag is a key/value tag on a resource.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// PropagateAtLaunch copies an auto scaling group's tag to the
	// instances it launches.
	PropagateAtLaunch bool `json:"propagate_at_launch,omitempty"`
}

// MaxTags is AWS's limit of tags per resource, for every service.
const MaxTags = 50

// Sources say which front manages a resource.
const (
	// SourceFile marks resources the YAML file declares: a later apply
	// updates or removes them.
	SourceFile = "file"
	// SourceAPI marks resources made through the AWS API (or the console);
	// the file never takes them over.
	SourceAPI = "api"
)

// LoadBalancer is an application load balancer.
type LoadBalancer struct {
	// ARN is arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>.
	ARN string `json:"arn"`
	// Name is unique, ≤32 characters of alphanumerics and hyphens.
	Name string `json:"name"`
	// Scheme is internet-facing (default) or internal.
	Scheme string `json:"scheme"`
	// IPAddressType is ipv4 (default) or dualstack.
	IPAddressType string `json:"ip_address_type"`
	// Zones are the availability zones the load balancer is in; any subnet
	// id a user gives names a zone.
	Zones []string `json:"zones,omitempty"`
	// SecurityGroups are CIDR allow rules for clients (empty allows all).
	SecurityGroups []SecurityRule `json:"security_groups,omitempty"`
	// SecurityGroupIDs are the security group ids the API was given; they
	// are echoed back, the CIDR rules above are what Alba enforces.
	SecurityGroupIDs []string `json:"security_group_ids,omitempty"`
	// Attributes are AWS load balancer attributes; unset keys take defaults.
	Attributes map[string]string `json:"attributes,omitempty"`
	// Tags on the resource.
	Tags []Tag `json:"tags,omitempty"`
	// CreatedTime is when it was created.
	CreatedTime time.Time `json:"created_time"`
	// Source says which front manages the resource ("file" for the YAML
	// file, "api" otherwise), so a file reload leaves API resources alone.
	Source string `json:"source,omitempty"`
}

// SecurityRule allows clients from CIDR to reach a listener port (0 = every
// port).
type SecurityRule struct {
	CIDR string `json:"cidr"`
	Port int    `json:"port,omitempty"`
}

// Listener accepts connections on a port of a load balancer.
type Listener struct {
	ARN             string   `json:"arn"`
	LoadBalancerARN string   `json:"load_balancer_arn"`
	Protocol        string   `json:"protocol"` // HTTP or HTTPS
	Port            int      `json:"port"`
	DefaultActions  []Action `json:"default_actions"`
	// SslPolicy names the TLS policy of an HTTPS listener.
	SslPolicy string `json:"ssl_policy,omitempty"`
	// Certificates of an HTTPS listener; the first is the default.
	Certificates []string `json:"certificates,omitempty"`
	// BindAddress is the host part of the address the listener binds
	// (default: all interfaces).
	BindAddress string `json:"bind_address,omitempty"`
	Source      string `json:"source,omitempty"`
	Tags        []Tag  `json:"tags,omitempty"`
}

// Action is what a listener or rule does with a request.
type Action struct {
	// Type is forward, redirect or fixed-response.
	Type           string               `json:"type"`
	Order          int                  `json:"order,omitempty"`
	TargetGroupARN string               `json:"target_group_arn,omitempty"`
	ForwardConfig  *ForwardConfig       `json:"forward_config,omitempty"`
	FixedResponse  *FixedResponseConfig `json:"fixed_response,omitempty"`
	Redirect       *RedirectConfig      `json:"redirect,omitempty"`
}

// ForwardConfig spreads requests over target groups by weight.
type ForwardConfig struct {
	TargetGroups []WeightedTargetGroup `json:"target_groups"`
	// Stickiness pins a client to one of the groups (cookie AWSALBTG).
	Stickiness *TargetGroupStickiness `json:"stickiness,omitempty"`
}

// TargetGroupStickiness is a weighted forward's group-level stickiness.
type TargetGroupStickiness struct {
	Enabled bool `json:"enabled"`
	// DurationSeconds is 1-604800.
	DurationSeconds int `json:"duration_seconds,omitempty"`
}

// WeightedTargetGroup is one group of a weighted forward.
type WeightedTargetGroup struct {
	TargetGroupARN string `json:"target_group_arn"`
	Weight         int    `json:"weight"`
}

// FixedResponseConfig answers without a target.
type FixedResponseConfig struct {
	StatusCode  string `json:"status_code"`
	ContentType string `json:"content_type,omitempty"`
	MessageBody string `json:"message_body,omitempty"`
}

// RedirectConfig answers with a redirect.
type RedirectConfig struct {
	Protocol   string `json:"protocol,omitempty"`
	Port       string `json:"port,omitempty"`
	Host       string `json:"host,omitempty"`
	Path       string `json:"path,omitempty"`
	Query      string `json:"query,omitempty"`
	StatusCode string `json:"status_code"`
}

// TargetGroup routes requests to registered targets.
type TargetGroup struct {
	ARN             string `json:"arn"`
	Name            string `json:"name"`
	Protocol        string `json:"protocol"`         // HTTP or HTTPS
	ProtocolVersion string `json:"protocol_version"` // HTTP1, HTTP2 or GRPC
	Port            int    `json:"port"`
	TargetType      string `json:"target_type"` // instance or ip
	VPCID           string `json:"vpc_id,omitempty"`
	// IPAddressType is ipv4 or ipv6 for ip targets ("" when not given).
	IPAddressType string      `json:"ip_address_type,omitempty"`
	HealthCheck   HealthCheck `json:"health_check"`
	// Attributes are AWS target group attributes; unset keys take defaults.
	Attributes map[string]string `json:"attributes,omitempty"`
	Tags       []Tag             `json:"tags,omitempty"`
	Source     string            `json:"source,omitempty"`
}

// HealthCheck is a target group's active health check.
type HealthCheck struct {
	Enabled            bool   `json:"enabled"`
	Protocol           string `json:"protocol"`
	Port               string `json:"port"` // "traffic-port" or a number
	Path               string `json:"path"`
	IntervalSeconds    int    `json:"interval_seconds"`
	TimeoutSeconds     int    `json:"timeout_seconds"`
	HealthyThreshold   int    `json:"healthy_threshold"`
	UnhealthyThreshold int    `json:"unhealthy_threshold"`
	Matcher            string `json:"matcher"` // "200", "200,202", "200-299" (Matcher.HttpCode)
	// GrpcCode is a GRPC group's matcher: gRPC status codes 0-99 ("12",
	// "0-99"); Matcher is empty then.
	GrpcCode string `json:"grpc_code,omitempty"`
}

// Target is a registration of a target in a target group.
type Target struct {
	TargetGroupARN string `json:"target_group_arn"`
	// ID is an instance id (target type instance) or an IP address (ip).
	ID string `json:"id"`
	// Port traffic goes to; 0 means the group's port.
	Port int `json:"port,omitempty"`
	// Address is the host to dial for an instance target; for an ip target
	// it is the ID.
	Address string `json:"address,omitempty"`
	// AvailabilityZone the target is in.
	AvailabilityZone string `json:"availability_zone,omitempty"`
	// RegisteredAt is when it was registered.
	RegisteredAt time.Time `json:"registered_at"`
	// DrainingSince is set when the target was deregistered: it drains until
	// the deregistration delay has passed, then the record is removed.
	DrainingSince *time.Time `json:"draining_since,omitempty"`
	Source        string     `json:"source,omitempty"`
}

// Key is the target's store key: group ARN, id and port.
func (t *Target) Key() string { return TargetKey(t.TargetGroupARN, t.ID, t.Port) }

// TargetKey builds a target's store key.
func TargetKey(group, id string, port int) string {
	return group + "|" + id + "|" + strconv.Itoa(port)
}

// EffectivePort is the port traffic goes to.
func (t *Target) EffectivePort(g *TargetGroup) int {
	if t.Port != 0 {
		return t.Port
	}
	return g.Port
}

// DialHost is the host the data plane connects to.
func (t *Target) DialHost() string {
	if t.Address != "" {
		return t.Address
	}
	return t.ID
}

// KindCertificate is the store kind of server certificates.
const KindCertificate = "certificates"

// Certificate is a server certificate uploaded as with IAM's
// UploadServerCertificate (or named in the YAML file), which HTTPS
// listeners reference by ARN. The private key is stored (in the data
// directory, mode 0600) and never returned, printed or logged.
type Certificate struct {
	// ARN is arn:aws:iam::<account>:server-certificate<path><name>.
	ARN string `json:"arn"`
	// Name is 1-128 characters of [\w+=,.@-].
	Name string `json:"name"`
	// Path starts and ends with / (default /).
	Path string `json:"path"`
	// ID is ASCA and 17 upper-case alphanumerics.
	ID string `json:"id"`
	// Body is the certificate PEM; Chain the intermediate certificates' PEM.
	Body  string `json:"body"`
	Chain string `json:"chain,omitempty"`
	// PrivateKey is the key PEM. Never returned by any API.
	PrivateKey string    `json:"private_key"`
	UploadDate time.Time `json:"upload_date"`
	// Expiration is the certificate's NotAfter.
	Expiration time.Time `json:"expiration"`
	Tags       []Tag     `json:"tags,omitempty"`
	Source     string    `json:"source,omitempty"`
}
