package awsapi

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/model"
)

// The encoder: an operation's output is a Go struct marshalled with
// encoding/xml (field order is the AWS model's element order), wrapped
// here in its service's envelope. Lists are memberList or itemList so that
// an empty list is still written (<Name/>), as AWS does.

// memberList is a query-protocol list: <Name><member>…</member></Name>.
type memberList[T any] struct {
	Items []T `xml:"member"`
}

// members makes a memberList.
func members[T any](items []T) memberList[T] { return memberList[T]{Items: items} }

// itemList is an EC2 list: <name><item>…</item></name>.
type itemList[T any] struct {
	Items []T `xml:"item"`
}

// items makes an itemList.
func items[T any](xs []T) itemList[T] { return itemList[T]{Items: xs} }

// timeFormat is ISO 8601 in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

// isoTime is a timestamp as AWS writes it.
type isoTime time.Time

// MarshalText writes the timestamp in timeFormat.
func (t isoTime) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format(timeFormat)), nil
}

// stampPtr is an optional timestamp: nil (omitted) for nil.
func stampPtr(t *time.Time) *isoTime {
	if t == nil {
		return nil
	}
	s := isoTime(*t)
	return &s
}

// double is a number AWS models as a double: written 50.0, not 50.
type double float64

// MarshalText writes the number with at least one decimal.
func (d double) MarshalText() ([]byte, error) {
	s := strconv.FormatFloat(float64(d), 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return []byte(s), nil
}

// noOutput is the result of an operation whose model has an output shape
// with no members, written <OpResult/>; elbv2 writes it for every
// operation without output (service.wrapEmpty).
type noOutput struct{}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// marshal encodes v as an element named name, with empty elements
// collapsed.
func marshal(name string, v any) ([]byte, error) {
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: name}}); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	return collapseEmpty(b.Bytes()), nil
}

// collapseEmpty rewrites <a></a> as <a/>, the form AWS writes and that
// encoding/xml never does. Text is escaped, so a '<' always starts a tag.
func collapseEmpty(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		if in[i] == '<' && i+1 < len(in) && in[i+1] != '/' {
			if j := bytes.IndexByte(in[i:], '>'); j > 0 {
				name := in[i+1 : i+j]
				end := i + j + 1
				if bytes.IndexByte(name, ' ') < 0 && bytes.HasPrefix(in[end:], []byte("</")) &&
					bytes.HasPrefix(in[end+2:], name) && end+2+len(name) < len(in) && in[end+2+len(name)] == '>' {
					out = append(out, '<')
					out = append(out, name...)
					out = append(out, '/', '>')
					i = end + 2 + len(name) + 1
					continue
				}
			}
		}
		out = append(out, in[i])
		i++
	}
	return out
}

// writeResult writes an operation's answer in its service's envelope:
// <OpResponse xmlns><OpResult>…</OpResult><ResponseMetadata><RequestId>
// for the query services, <OpResponse xmlns><requestId>… for EC2. A nil
// res is an operation without output.
func (h *handler) writeResult(w http.ResponseWriter, c *call, res any) {
	var body []byte
	var err error
	switch {
	case res == nil && c.svc.wrapEmpty:
		body, err = marshal(c.action+"Result", noOutput{})
	case res == nil:
	case c.svc.ec2:
		// EC2 has no Result wrapper: the members go straight in the
		// response, after requestId.
		const tmp = "r"
		body, err = marshal(tmp, res)
		body = bytes.TrimSuffix(bytes.TrimPrefix(body, []byte("<"+tmp+">")), []byte("</"+tmp+">"))
		if string(body) == "<"+tmp+"/>" {
			body = nil
		}
	default:
		body, err = marshal(c.action+"Result", res)
	}
	if err != nil {
		h.writeError(w, c, err)
		return
	}
	var env any
	name := xml.Name{Local: c.action + "Response"}
	if c.svc.ec2 {
		env = ec2Envelope{name, c.svc.ns, c.reqID, body}
	} else {
		env = queryEnvelope{name, c.svc.ns, body, c.reqID}
	}
	out, err := xml.Marshal(env)
	if err != nil {
		h.writeError(w, c, err)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", c.reqID)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, xmlHeader)
	w.Write(out)
}

// queryEnvelope is the query protocol's answer: the marshalled Result
// element, then the request id.
type queryEnvelope struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	Result    []byte `xml:",innerxml"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// ec2Envelope is EC2's answer: the request id, then the result's members.
type ec2Envelope struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
	Result    []byte `xml:",innerxml"`
}

// queryError is the query protocol's error envelope.
type queryError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

// ec2Error is EC2's error envelope.
type ec2Error struct {
	XMLName xml.Name `xml:"Response"`
	Errors  struct {
		Error struct {
			Code    string
			Message string
		}
	}
	RequestID string `xml:"RequestID"`
}

// maxMessage bounds an error message, a backstop for quoteValues.
const maxMessage = 1024

// quoteValues shortens, in an error message, every long value the request
// sent: messages (the service layer's too) quote the values they reject,
// and a 10,000-character name must not come back whole.
func quoteValues(msg string, f *form) string {
	if f == nil {
		return msg
	}
	for _, vs := range f.v {
		for _, v := range vs {
			if q := model.Quote(v); q != v && strings.Contains(msg, v) {
				msg = strings.ReplaceAll(msg, v, q)
			}
		}
	}
	return msg
}

// writeError writes err in its service's error envelope (the query
// protocol's when the service is unknown).
func (h *handler) writeError(w http.ResponseWriter, c *call, err error) {
	ae, known := asAPIError(err)
	if !known {
		h.log.Error("aws api: internal failure", "action", c.action, "err", err)
	}
	msg := quoteValues(ae.Message, c.f)
	if r := []rune(msg); len(r) > maxMessage {
		msg = string(r[:maxMessage]) + "…"
	}
	var v any
	if c.svc != nil && c.svc.ec2 {
		code := ae.Code
		if code == "ValidationError" { // EC2's name for the same error
			code = "InvalidParameterValue"
		}
		e := &ec2Error{RequestID: c.reqID}
		e.Errors.Error.Code, e.Errors.Error.Message = code, msg
		v = e
	} else {
		e := &queryError{RequestID: c.reqID}
		if c.svc != nil {
			e.Xmlns = c.svc.ns
		}
		e.Error.Type = "Sender"
		if ae.Status >= 500 {
			e.Error.Type = "Receiver"
		}
		e.Error.Code, e.Error.Message = ae.Code, msg
		v = e
	}
	b, merr := xml.Marshal(v)
	if merr != nil { // cannot happen: the envelopes are plain strings
		b = []byte("<ErrorResponse/>")
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", c.reqID)
	w.Header().Set("X-Amzn-ErrorType", ae.Code)
	w.WriteHeader(ae.Status)
	io.WriteString(w, xmlHeader)
	w.Write(b)
}
