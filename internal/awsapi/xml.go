package awsapi

import (
	"encoding/xml"
	"strconv"
	"strings"
	"time"
)

// node is an XML element: text, or children, in order. Building responses
// as trees keeps the element order of the AWS models and escapes every
// value in one place.
type node struct {
	name    string
	text    string
	hasText bool
	kids    []*node
}

// el makes an element with children; nil children are skipped, so optional
// fields can be written as helpers that return nil.
func el(name string, kids ...*node) *node {
	n := &node{name: name}
	n.add(kids...)
	return n
}

// frag makes a nameless fragment: its children are written in its place.
func frag(kids ...*node) *node { return el("", kids...) }

// add appends children, skipping nil ones.
func (n *node) add(kids ...*node) *node {
	for _, k := range kids {
		if k != nil {
			n.kids = append(n.kids, k)
		}
	}
	return n
}

// txt makes an element holding text (written even when empty).
func txt(name, value string) *node { return &node{name: name, text: value, hasText: true} }

// opt is txt, or nil for an empty value.
func opt(name, value string) *node {
	if value == "" {
		return nil
	}
	return txt(name, value)
}

// num writes an integer.
func num(name string, v int) *node { return txt(name, strconv.Itoa(v)) }

// boolean writes true or false.
func boolean(name string, v bool) *node { return txt(name, strconv.FormatBool(v)) }

// float writes a double as AWS does (50.0).
func float(name string, v float64) *node {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return txt(name, s)
}

// stamp writes a timestamp.
func stamp(name string, t time.Time) *node { return txt(name, t.UTC().Format(timeFormat)) }

// optStamp writes a timestamp, or nothing for nil.
func optStamp(name string, t *time.Time) *node {
	if t == nil {
		return nil
	}
	return stamp(name, *t)
}

// list wraps items in an element, each item named item (member for the
// query protocol, item for EC2).
func list(name, item string, kids []*node) *node {
	n := el(name)
	for _, k := range kids {
		if k != nil {
			k.name = item
			n.kids = append(n.kids, k)
		}
	}
	return n
}

// members is a query-protocol list of structures.
func nodeMembers(name string, kids []*node) *node { return list(name, "member", kids) }

// strMembers is a query-protocol list of strings.
func strMembers(name string, vals []string) *node {
	n := el(name)
	for _, v := range vals {
		n.kids = append(n.kids, txt("member", v))
	}
	return n
}

// items is an EC2 list of structures.
func nodeItems(name string, kids []*node) *node { return list(name, "item", kids) }

// strItems is an EC2 list of strings.
func strItems(name string, vals []string) *node {
	n := el(name)
	for _, v := range vals {
		n.kids = append(n.kids, txt("item", v))
	}
	return n
}

// write renders the tree.
func (n *node) write(b *strings.Builder) {
	if n.name == "" {
		for _, k := range n.kids {
			k.write(b)
		}
		return
	}
	b.WriteByte('<')
	b.WriteString(n.name)
	if !n.hasText && len(n.kids) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	if n.hasText {
		xml.EscapeText(escWriter{b}, []byte(n.text))
	}
	for _, k := range n.kids {
		k.write(b)
	}
	b.WriteString("</")
	b.WriteString(n.name)
	b.WriteByte('>')
}

// legacy adapts an operation that answers a node tree.
func legacy(fn func(h *handler, c *call) (*node, error)) op {
	return func(h *handler, c *call) (any, error) {
		n, err := fn(h, c)
		if n == nil || err != nil {
			return nil, err
		}
		return n, nil
	}
}

type escWriter struct{ b *strings.Builder }

func (w escWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

// legacyXML carries a node tree's rendered children through encoding/xml,
// for the operations not yet converted to typed results.
type legacyXML struct {
	Inner string `xml:",innerxml"`
}

func newLegacyXML(n *node) legacyXML {
	var b strings.Builder
	frag(n.kids...).write(&b)
	return legacyXML{b.String()}
}
