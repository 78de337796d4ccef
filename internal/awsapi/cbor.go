package awsapi

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/alba-lb/alba/internal/model"
)

// Smithy RPC v2 CBOR, the protocol today's SDKs and aws CLI v1 speak to
// CloudWatch: POST /service/<service>/operation/<Operation> with a CBOR map
// of the input's members. Rather than a second set of operations, a request
// is translated into the Query form the operations already decode (lists as
// Name.member.N, structures as Name.Member, timestamps as ISO 8601), and the
// operation's output struct is written as a CBOR map of the same members
// its XML has.

// cborServices maps the Smithy service names in the path to services.
var cborServices = map[string]string{"GraniteServiceVersion20100801": "2010-08-01"}

// isCBOR reports whether r speaks RPC v2 CBOR.
func isCBOR(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/service/") && strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor")
}

func (h *handler) serveCBOR(w http.ResponseWriter, r *http.Request, c *call) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/service/"), "/")
	if len(parts) != 3 || parts[1] != "operation" {
		h.writeCBORError(w, c, apiErrorf("UnknownOperationException", "The path %s is not /service/SERVICE/operation/OPERATION", model.Quote(r.URL.Path)))
		return
	}
	c.svc = h.services[cborServices[parts[0]]]
	c.action = parts[2]
	if c.svc == nil {
		h.writeCBORError(w, c, apiErrorf("UnknownOperationException", "Alba serves RPC v2 CBOR for CloudWatch (GraniteServiceVersion20100801) only, not %s", model.Quote(parts[0])))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		h.writeCBORError(w, c, apiErrorf("SerializationException", "The request body could not be read"))
		return
	}
	if err := h.authenticate(r, body, c.now); err != nil {
		h.writeCBORError(w, c, err)
		return
	}
	fn, ok := c.svc.ops[c.action]
	if !ok {
		h.writeCBORError(w, c, apiErrorf("UnknownOperationException", "The action %s is not valid for this web service.", model.Quote(c.action)))
		return
	}
	vals := url.Values{}
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		m, isMap := v.(cbor.Map)
		if err != nil || !isMap {
			h.writeCBORError(w, c, apiErrorf("SerializationException", "The request body is not a CBOR map of the operation's input"))
			return
		}
		if err := flattenCBOR("", m, vals, 0); err != nil {
			h.writeCBORError(w, c, err)
			return
		}
	}
	if c.f, err = newForm(vals, false); err != nil {
		h.writeCBORError(w, c, err)
		return
	}
	res, err := fn(h, c)
	if err != nil {
		h.writeCBORError(w, c, err)
		return
	}
	out := cbor.Map{}
	if res != nil {
		if m, ok := toCBOR(reflect.ValueOf(res)).(cbor.Map); ok {
			out = m
		}
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-RequestId", c.reqID)
	w.Write(cbor.Encode(out))
}

// writeCBORError answers an error as RPC v2 CBOR does, with the Query code
// in X-Amzn-Query-Error for clients of a service that was Query before.
func (h *handler) writeCBORError(w http.ResponseWriter, c *call, err error) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	ae := h.protocolError(w, c, err, "application/cbor")
	w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(ae.Code), "message": cbor.String(quoteValues(ae.Message, c.f))}))
}

// protocolError writes the status and headers an error has in the JSON
// and CBOR protocols (the Query code in X-Amzn-Query-Error, for clients
// of a service that was Query before) and returns the error to encode.
func (h *handler) protocolError(w http.ResponseWriter, c *call, err error, contentType string) *apiError {
	ae, known := asAPIError(err)
	if !known {
		h.log.Error("aws api: internal failure", "action", c.action, "err", err)
	}
	fault := "Sender"
	if ae.Status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-RequestId", c.reqID)
	w.Header().Set("X-Amzn-Query-Error", ae.Code+";"+fault)
	w.WriteHeader(ae.Status)
	return ae
}

// maxCBORDepth bounds the nesting a request may have; CloudWatch's inputs
// nest four deep (MetricDataQueries → MetricStat → Metric → Dimensions).
const maxCBORDepth = 8

// flattenCBOR writes v under key as Query parameters.
func flattenCBOR(key string, v cbor.Value, out url.Values, depth int) error {
	if depth > maxCBORDepth {
		return apiErrorf("SerializationException", "The request nests deeper than %d levels", maxCBORDepth)
	}
	join := func(k string) string {
		if key == "" {
			return k
		}
		return key + "." + k
	}
	switch x := v.(type) {
	case cbor.Map:
		for k, e := range x {
			if err := flattenCBOR(join(k), e, out, depth+1); err != nil {
				return err
			}
		}
	case cbor.List:
		if len(x) > maxListIndex {
			return apiErrorf("SerializationException", "The list %s has more than %d members", key, maxListIndex)
		}
		if len(x) == 0 {
			out.Set(key, "") // sent empty, as a Query client does
		}
		for i, e := range x {
			if err := flattenCBOR(key+".member."+strconv.Itoa(i+1), e, out, depth+1); err != nil {
				return err
			}
		}
	case cbor.String:
		out.Set(key, string(x))
	case cbor.Uint:
		out.Set(key, strconv.FormatUint(uint64(x), 10))
	case cbor.NegInt:
		out.Set(key, "-"+strconv.FormatUint(uint64(x), 10))
	case cbor.Float32:
		out.Set(key, strconv.FormatFloat(float64(x), 'g', -1, 32))
	case cbor.Float64:
		out.Set(key, strconv.FormatFloat(float64(x), 'g', -1, 64))
	case cbor.Bool:
		out.Set(key, strconv.FormatBool(bool(x)))
	case *cbor.Tag:
		if x.ID != 1 {
			return apiErrorf("SerializationException", "The member %s has CBOR tag %d; only timestamps (tag 1) are read", key, x.ID)
		}
		var secs float64
		switch n := x.Value.(type) {
		case cbor.Uint:
			secs = float64(n)
		case cbor.NegInt:
			secs = -float64(n)
		case cbor.Float64:
			secs = float64(n)
		case cbor.Float32:
			secs = float64(n)
		default:
			return apiErrorf("SerializationException", "The timestamp %s is not a number of seconds", key)
		}
		if math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) > 1e11 {
			return apiErrorf("SerializationException", "The timestamp %s is out of range", key)
		}
		sec, frac := math.Modf(secs)
		out.Set(key, time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(time.RFC3339Nano))
	case *cbor.Nil, *cbor.Undefined:
		// absent
	case cbor.Slice:
		return apiErrorf("SerializationException", "The member %s is a blob; no input of this endpoint takes one", key)
	default:
		return errors.New("awsapi: unexpected CBOR value")
	}
	return nil
}

var (
	isoTimeType = reflect.TypeFor[isoTime]()
	doubleType  = reflect.TypeFor[double]()
	entryType   = reflect.TypeFor[entryList]()
)

// toCBOR writes an operation's output struct as CBOR: members by their XML
// element names, memberList and itemList as lists, entryList as a map,
// timestamps as tag 1 epoch seconds; nil pointers and omitempty zeros are
// left out (nil is returned for them).
func toCBOR(v reflect.Value) cbor.Value {
	switch v.Type() {
	case isoTimeType:
		t := time.Time(v.Interface().(isoTime))
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1000)}
	case doubleType:
		return cbor.Float64(v.Float())
	case entryType:
		m := cbor.Map{}
		for _, e := range v.Interface().(entryList).Items {
			m[e.Key] = cbor.Float64(e.Value)
		}
		return m
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return toCBOR(v.Elem())
	case reflect.String:
		return cbor.String(v.String())
	case reflect.Bool:
		return cbor.Bool(v.Bool())
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n := v.Int(); n < 0 {
			return cbor.NegInt(uint64(-n))
		}
		return cbor.Uint(uint64(v.Int()))
	case reflect.Float64, reflect.Float32:
		return cbor.Float64(v.Float())
	case reflect.Slice:
		l := cbor.List{}
		for i := range v.Len() {
			if e := toCBOR(v.Index(i)); e != nil {
				l = append(l, e)
			}
		}
		return l
	case reflect.Struct:
		t := v.Type()
		if strings.HasPrefix(t.Name(), "memberList[") || strings.HasPrefix(t.Name(), "itemList[") {
			return toCBOR(v.Field(0))
		}
		m := cbor.Map{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "XMLName" {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("xml"), ",")
			if name == "-" || strings.Contains(opts, "attr") {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			if e := toCBOR(fv); e != nil {
				m[name] = e
			}
		}
		return m
	}
	return nil
}
