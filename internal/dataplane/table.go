package dataplane

import (
	"crypto/tls"
	"net/netip"
	"sync/atomic"
	"time"
)

// The routing table is what the data plane reads. It is compiled from the
// resources in the store and never changed after it is published: a change
// builds a new table and swaps it in atomically, so a request in flight
// keeps the table it started with.

// Table is a complete compiled configuration: every listener Alba serves.
type Table struct {
	// Listeners by bind address ("127.0.0.1:8080", ":8080").
	Listeners map[string]*Listener
}

// Listener is one listener's compiled routing.
type Listener struct {
	// ARN names the listener resource.
	ARN string
	// Addr is the address to bind, host:port.
	Addr string
	// Port is the listener port, sent as X-Forwarded-Port.
	Port int
	// Protocol is HTTP or HTTPS.
	Protocol string
	// LoadBalancer carries the load balancer attributes that shape requests.
	LoadBalancer *LoadBalancer
	// Rules in evaluation order (lowest priority first), the default last.
	Rules []*Rule
	// TLS is an HTTPS listener's configuration: certificates by SNI, the
	// security policy's versions and suites, ALPN. A rotated certificate
	// comes with a new table and applies to new handshakes.
	TLS *tls.Config
}

// LoadBalancer holds the attributes of a load balancer that the data plane
// applies to every request through its listeners.
type LoadBalancer struct {
	// Name of the load balancer.
	Name string
	// DNSName is the load balancer's DNS name: the Host sent to targets
	// for an HTTP/1.0 request that has none, as ELB generates it.
	DNSName string
	// IdleTimeout closes a client connection with no data for this long, and
	// bounds the wait for a target's response (504 after it).
	IdleTimeout time.Duration
	// XFFMode is append (default), preserve or remove.
	XFFMode string
	// PreserveHost forwards the Host header unchanged.
	PreserveHost bool
	// DropInvalidHeaders drops fields whose names are not [-A-Za-z0-9]+.
	DropInvalidHeaders bool
	// AllowCIDRs is the security group: client addresses allowed to connect.
	// Empty allows everyone.
	AllowCIDRs []netip.Prefix
	// Stats counts what the load balancer's listeners see. Every
	// compilation of the load balancer (and each listener's copy) shares
	// one. It may be nil in tests: nothing is counted then.
	Stats *LoadBalancerStats
}

// Rule is a listener rule: all conditions must match; the default rule has
// none.
type Rule struct {
	// Priority of the rule; 0 for the default rule.
	Priority int
	// Conditions that must all hold; none for the default rule.
	Conditions Conditions
	// Action taken when the rule matches.
	Action Action
}

// ActionType is what a rule does with a request.
type ActionType int

// Action types.
const (
	ActionForward ActionType = iota
	ActionFixedResponse
	ActionRedirect
)

// Action is a rule's terminal action.
type Action struct {
	// Type of action.
	Type ActionType
	// Groups to forward to, with weights (one group with weight 1 for a plain
	// forward).
	Groups []WeightedGroup
	// FixedStatus, FixedContentType and FixedBody describe a fixed response.
	FixedStatus      int
	FixedContentType string
	FixedBody        string
	// Redirect describes a redirect action.
	Redirect *RedirectConfig
	// GroupStickiness, when positive, pins a client to the target group of
	// a weighted forward (cookie AWSALBTG) for that long.
	GroupStickiness time.Duration
}

// WeightedGroup is a target group with its share in a weighted forward.
type WeightedGroup struct {
	Group  *TargetGroup
	Weight int
}

// Algorithm is a target group's load-balancing algorithm.
type Algorithm int

// Algorithms, by their AWS attribute values.
const (
	RoundRobin Algorithm = iota
	LeastOutstandingRequests
	WeightedRandom
)

// TargetGroup is a compiled target group.
type TargetGroup struct {
	// ARN and Name of the target group.
	ARN, Name string
	// Targets registered, including draining ones.
	Targets []*Target
	// Algorithm picks among routable targets.
	Algorithm Algorithm
	// SlowStart is the ramp-up time of a new target's share; 0 is off.
	SlowStart time.Duration
	// Sticky is the group's session stickiness.
	Sticky StickyConfig
	// TLS, when set, is how requests reach the targets (an HTTPS target
	// group: TLS, the target's certificate not verified, as ALB does).
	TLS *tls.Config
	// Version is the protocol spoken to the targets: HTTP/1.1, HTTP/2 or
	// gRPC (over HTTP/2). HTTP/2 and gRPC take HTTP/2 clients only (an
	// HTTP/1 request gets ALB's 464).
	Version ProtocolVersion
	// state is shared by every compilation of the same group.
	state *GroupState
}

// ProtocolVersion is a target group's protocol version.
type ProtocolVersion int

// Protocol versions, as ALB names them.
const (
	HTTP1 ProtocolVersion = iota
	HTTP2
	GRPC
)

// ParseProtocolVersion reads HTTP1, HTTP2 or GRPC ("" is HTTP1).
func ParseProtocolVersion(s string) ProtocolVersion {
	switch s {
	case "HTTP2":
		return HTTP2
	case "GRPC":
		return GRPC
	}
	return HTTP1
}

// async reports whether the group's requests go through a net/http
// transport on a goroutine (TLS or HTTP/2 to the targets) rather than
// the loop's own HTTP/1.1 connections.
func (g *TargetGroup) async() bool { return g.TLS != nil || g.Version != HTTP1 }

// GroupState is the part of a target group that outlives compilations: the
// round-robin position and the request count.
type GroupState struct {
	next     atomic.Uint64
	requests atomic.Uint64
	sticky   stickyID // what AWSALBTG carries to name the group
}

// Requests counts the requests the group has forwarded, ever.
func (g *TargetGroup) Requests() uint64 { return g.state.requests.Load() }

// NewTargetGroup builds a compiled group; state may be shared with the
// group's previous compilation (nil makes a new one).
func NewTargetGroup(arn, name string, targets []*Target, alg Algorithm, slowStart time.Duration, state *GroupState) *TargetGroup {
	if state == nil {
		state = &GroupState{sticky: makeStickyID(arn)}
	}
	return &TargetGroup{ARN: arn, Name: name, Targets: targets, Algorithm: alg, SlowStart: slowStart, state: state}
}

// State returns the group's persistent state, for the next compilation.
func (g *TargetGroup) State() *GroupState { return g.state }

// Group finds a compiled target group by ARN in the table's rules.
func (t *Table) Group(arn string) *TargetGroup {
	for _, l := range t.Listeners {
		for _, r := range l.Rules {
			for _, g := range r.Action.Groups {
				if g.Group.ARN == arn {
					return g.Group
				}
			}
		}
	}
	return nil
}
