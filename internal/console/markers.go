package console

import (
	"sync"
	"time"
)

// Marker is an event the timeline marks: a target health transition or a
// scaling activity, with what caused it.
type Marker struct {
	// Time is when it happened.
	Time time.Time `json:"-"`
	// T is Time in Unix milliseconds, for the browser.
	T int64 `json:"t"`
	// Kind is "health" or "activity".
	Kind string `json:"kind"`
	// Short is the few characters drawn on the chart.
	Short string `json:"short"`
	// Text is the whole line: the transition and its reason, or the
	// activity's description and cause.
	Text string `json:"text"`
	// Group names the target group (health) or auto scaling group
	// (activity) it belongs to.
	Group string `json:"group"`
	// Seq orders markers; a stream resumes after the last it sent.
	Seq uint64 `json:"seq"`
}

// Markers keeps the latest target health transitions for the timeline: a
// bounded ring, as the history is.
type Markers struct {
	mu   sync.Mutex
	max  int
	seq  uint64
	list []Marker
}

// NewMarkers keeps up to max markers (1000 when max is 0).
func NewMarkers(max int) *Markers {
	if max <= 0 {
		max = 1000
	}
	return &Markers{max: max}
}

// Add records m.
func (ms *Markers) Add(m Marker) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.seq++
	m.Seq, m.T = ms.seq, m.Time.UnixMilli()
	ms.list = append(ms.list, m)
	if len(ms.list) > ms.max {
		ms.list = append(ms.list[:0], ms.list[len(ms.list)-ms.max:]...)
	}
}

// Since returns the markers after seq whose time is at or after from.
func (ms *Markers) Since(seq uint64, from time.Time) []Marker {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []Marker
	for _, m := range ms.list {
		if m.Seq > seq && !m.Time.Before(from) {
			out = append(out, m)
		}
	}
	return out
}

// Last is the sequence number of the newest marker, 0 when there is none.
func (ms *Markers) Last() uint64 {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.seq
}
