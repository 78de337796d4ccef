// Package awsapi is Alba's AWS API front: it answers the Query protocol of
// Elastic Load Balancing v2, EC2 Auto Scaling and IAM, and EC2's flavour of
// it for launch templates, so that the real aws CLI and the AWS SDKs drive
// Alba with --endpoint-url. Requests are form-encoded POSTs to /; the
// service is chosen by the Version parameter (action names collide across
// services), the operation by Action. Answers are AWS's XML documents with
// AWS's element names, error codes and HTTP statuses.
package awsapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// Options configure the API handler.
type Options struct {
	// Store holds the resources the API works on.
	Store store.Store
	// TargetHealth reports a registered target's health (state, reason,
	// description); ok=false when it has no live target yet (reported as
	// initial, Elb.RegistrationInProgress).
	TargetHealth func(groupARN, id string, port int) (model.TargetHealth, bool)
	// AccessKeyID and SecretAccessKey: when AccessKeyID is set, every
	// request must carry a valid SigV4 signature made with them; otherwise
	// any signature (or none) is accepted.
	AccessKeyID, SecretAccessKey string
	// Metrics is the metrics history CloudWatch's operations read (an
	// empty one when nil).
	Metrics *metrics.History
	// ScaleOutWindow and ScaleInWindow are the target tracking windows the
	// policies' alarms are evaluated over (a minute each when zero).
	ScaleOutWindow, ScaleInWindow time.Duration
	// Clock tells the time (timestamps, signature expiry); the real clock
	// when nil.
	Clock clock.Clock
	// Logger receives internal failures; slog.Default() when nil.
	Logger *slog.Logger
}

// MaxBodyBytes bounds a request body. The largest legitimate requests are
// certificate uploads and launch templates with 16 KB of user data.
const MaxBodyBytes = 1 << 20

// service is one AWS service the handler speaks.
type service struct {
	// name is the SigV4 service name (elasticloadbalancing, autoscaling,
	// ec2, iam).
	name    string
	version string
	ns      string
	// ec2 selects the EC2 protocol: no Result wrapper, lowerCamel names,
	// <requestId>, and the <Response><Errors> envelope.
	ec2 bool
	// wrapEmpty writes an empty <OpResult/> for operations without output
	// (elbv2); autoscaling and IAM write none.
	wrapEmpty bool
	ops       map[string]op
}

// op runs one operation. The result is a struct encoded with
// encoding/xml (see encode.go); nil means the operation has no output.
type op func(h *handler, c *call) (any, error)

// call is one request being served.
type call struct {
	svc    *service
	action string
	// f is the request's form, nil until the operation is known.
	f     *form
	now   time.Time
	reqID string
}

type handler struct {
	opts     Options
	clock    clock.Clock
	log      *slog.Logger
	services map[string]*service // by Version
	byName   map[string]*service // by SigV4 service name
}

// NewHandler returns the API handler. Mount it at POST / of the admin
// address.
func NewHandler(opts Options) http.Handler {
	h := &handler{opts: opts, clock: opts.Clock, log: opts.Logger,
		services: map[string]*service{}, byName: map[string]*service{}}
	if h.clock == nil {
		h.clock = clock.Real{}
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	for _, s := range []*service{elbv2Service(), autoscalingService(), ec2Service(), iamService(), cloudwatchService()} {
		h.services[s.version] = s
		h.byName[s.name] = s
	}
	return h
}

// ServeHTTP answers one Query request: read and authenticate it, pick the
// service by Version and the operation by Action, index the form (which
// checks list numbering), run the operation and write its envelope.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{reqID: model.NewUUID(), now: h.clock.Now()}
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("aws api: panic", "action", c.action, "panic", v)
			h.writeError(w, c, &apiError{Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure.", Status: http.StatusInternalServerError})
		}
	}()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		h.writeError(w, c, apiErrorf("MethodNotAllowed", "The method %s is not allowed; use POST", model.Quote(r.Method)))
		return
	}
	if isCBOR(r) {
		h.serveCBOR(w, r, c)
		return
	}
	if svc, action, ok := h.jsonTarget(r.Header.Get("X-Amz-Target")); ok {
		h.serveJSON(w, r, c, svc, action)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		// A JSON-protocol client (ACM, CloudWatch…): answer in its shape.
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", c.reqID)
		w.WriteHeader(http.StatusBadRequest)
		b, _ := json.Marshal(map[string]string{"__type": "UnknownOperationException",
			"message": "Alba does not serve " + model.Quote(target) + ": it speaks elbv2, autoscaling, ec2 (launch templates), iam (server certificates; use iam upload-server-certificate instead of acm import-certificate) and cloudwatch (reading metrics and alarms)"})
		w.Write(b)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.writeError(w, c, apiErrorf("RequestEntityTooLarge", "The request body is larger than %d bytes", MaxBodyBytes))
		} else {
			h.writeError(w, c, apiErrorf("MalformedQueryString", "The request body could not be read"))
		}
		return
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		c.svc = h.serviceFromAuth(r)
		h.writeError(w, c, apiErrorf("MalformedQueryString", "The request body is not a valid form-encoded query string"))
		return
	}
	for k, vs := range r.URL.Query() {
		if _, ok := vals[k]; !ok {
			vals[k] = vs
		}
	}
	c.svc = h.services[vals.Get("Version")]
	if c.svc == nil {
		c.svc = h.serviceFromAuth(r)
	}
	c.action = vals.Get("Action")
	if err := h.authenticate(r, body, c.now); err != nil {
		h.writeError(w, c, err)
		return
	}
	if c.svc == nil || (vals.Get("Version") != c.svc.version) {
		if v := vals.Get("Version"); v == "" {
			h.writeError(w, c, apiErrorf("MissingParameter", "The request must contain the parameter Version"))
		} else {
			h.writeError(w, c, apiErrorf("InvalidAction", "Version %s is not a version of any service this endpoint serves (elasticloadbalancing 2015-12-01, autoscaling 2011-01-01, ec2 2016-11-15, iam 2010-05-08, monitoring 2010-08-01)", model.Quote(v)))
		}
		return
	}
	if c.action == "" {
		h.writeError(w, c, apiErrorf("MissingAction", "The request must contain the parameter Action"))
		return
	}
	fn, ok := c.svc.ops[c.action]
	if !ok {
		h.writeError(w, c, apiErrorf("InvalidAction", "The action %s is not valid for this web service.", model.Quote(c.action)))
		return
	}
	if c.f, err = newForm(vals, c.svc.ec2); err != nil {
		h.writeError(w, c, err)
		return
	}
	res, err := fn(h, c)
	if err != nil {
		h.writeError(w, c, err)
		return
	}
	h.writeResult(w, c, res)
}

// serviceFromAuth guesses the service from the SigV4 credential scope, to
// answer a request without a usable Version in its service's envelope.
func (h *handler) serviceFromAuth(r *http.Request) *service {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil
	}
	return h.byName[a.service]
}

// view and update run fn in a store transaction.
func (h *handler) view(fn func(tx store.Tx) error) error   { return h.opts.Store.View(fn) }
func (h *handler) update(fn func(tx store.Tx) error) error { return h.opts.Store.Update(fn) }

// handle makes an op of a handler that takes its decoded input: every
// operation reads as decode → service call → encode.
func handle[In any](fn func(*handler, *call, *In) (any, error)) op {
	return func(h *handler, c *call) (any, error) {
		in := new(In)
		if err := c.decode(in); err != nil {
			return nil, err
		}
		return fn(h, c, in)
	}
}

// inView runs fn in a view transaction and returns its result.
func inView[T any](h *handler, fn func(tx store.Tx) (T, error)) (T, error) {
	var out T
	err := h.view(func(tx store.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	return out, err
}

// inUpdate runs fn in an update transaction and returns its result.
func inUpdate[T any](h *handler, fn func(tx store.Tx) (T, error)) (T, error) {
	var out T
	err := h.update(func(tx store.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	return out, err
}
