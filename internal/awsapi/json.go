package awsapi

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/alba-lb/alba/internal/model"
)

// AWS JSON 1.0, what botocore (the aws CLI v1) speaks to CloudWatch:
// POST / with X-Amz-Target: GraniteServiceVersion20100801.Operation and a
// JSON object of the input's members. It is served like RPC v2 CBOR (see
// cbor.go): the JSON becomes the same value tree, the Query form the
// operations decode, and the output goes back as JSON.

// jsonTarget returns the service and operation an X-Amz-Target names when
// it is one Alba serves over JSON.
func (h *handler) jsonTarget(target string) (*service, string, bool) {
	svc, op, ok := strings.Cut(target, ".")
	if !ok || cborServices[svc] == "" {
		return nil, "", false
	}
	return h.services[cborServices[svc]], op, true
}

func (h *handler) serveJSON(w http.ResponseWriter, r *http.Request, c *call, svc *service, action string) {
	c.svc, c.action = svc, action
	fail := func(err error) { h.writeJSONError(w, c, err) }
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		fail(apiErrorf("SerializationException", "The request body could not be read"))
		return
	}
	if err := h.authenticate(r, body, c.now); err != nil {
		fail(err)
		return
	}
	fn, ok := c.svc.ops[c.action]
	if !ok {
		fail(apiErrorf("UnknownOperationException", "The action %s is not valid for this web service.", model.Quote(c.action)))
		return
	}
	vals := url.Values{}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		m, isMap := cbor.Value(nil), false
		if err := dec.Decode(&v); err == nil {
			m, isMap = fromJSON(v).(cbor.Map)
		}
		if !isMap {
			fail(apiErrorf("SerializationException", "The request body is not a JSON object of the operation's input"))
			return
		}
		if err := flattenCBOR("", m, vals, 0); err != nil {
			fail(err)
			return
		}
	}
	if c.f, err = newForm(vals, false); err != nil {
		fail(err)
		return
	}
	res, err := fn(h, c)
	if err != nil {
		fail(err)
		return
	}
	out := any(map[string]any{})
	if res != nil {
		out = toJSON(toCBOR(reflect.ValueOf(res)))
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", c.reqID)
	w.Write(b)
}

func (h *handler) writeJSONError(w http.ResponseWriter, c *call, err error) {
	ae := h.protocolError(w, c, err, "application/x-amz-json-1.0")
	b, _ := json.Marshal(map[string]string{"__type": ae.Code, "message": quoteValues(ae.Message, c.f)})
	w.Write(b)
}

// fromJSON turns a decoded JSON value into the CBOR value tree.
func fromJSON(v any) cbor.Value {
	switch x := v.(type) {
	case map[string]any:
		m := cbor.Map{}
		for k, e := range x {
			m[k] = fromJSON(e)
		}
		return m
	case []any:
		l := cbor.List{}
		for _, e := range x {
			l = append(l, fromJSON(e))
		}
		return l
	case string:
		return cbor.String(x)
	case bool:
		return cbor.Bool(x)
	case json.Number:
		f, _ := x.Float64()
		return cbor.Float64(f)
	}
	return &cbor.Nil{}
}

// toJSON turns an output's CBOR value tree into JSON values; timestamps
// are epoch seconds, as AWS JSON writes them.
func toJSON(v cbor.Value) any {
	switch x := v.(type) {
	case cbor.Map:
		m := map[string]any{}
		for k, e := range x {
			m[k] = toJSON(e)
		}
		return m
	case cbor.List:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = toJSON(e)
		}
		return l
	case cbor.String:
		return string(x)
	case cbor.Bool:
		return bool(x)
	case cbor.Uint:
		return uint64(x)
	case cbor.NegInt:
		return -int64(x)
	case cbor.Float64:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
		return float64(x)
	case *cbor.Tag:
		return toJSON(x.Value)
	}
	return nil
}
