package loadtest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	// Requests counts completed requests: responses of any status plus
	// transport errors and timeouts. Requests abandoned because the run
	// ended are not counted.
	Requests int64
	// Failures counts transport errors, timeouts and responses with a
	// status >= 500. A 4xx is the target answering correctly and is not a
	// failure.
	Failures int64
	// StatusCodes counts responses by status code.
	StatusCodes map[int]int64
	// Errors counts transport errors by a short text such as "connection
	// refused", "connection reset", "timeout" or "EOF"; an error after the
	// response head arrived reads "body cut short: EOF" and the like.
	Errors map[string]int64
	// HeaderValues counts, for each of Config.CountHeaders in canonical form
	// (e.g. "X-Instance-Id"), responses by the header's value; "" counts
	// responses without the header. Beyond 1000 distinct values, the rest
	// are counted under "(other)".
	HeaderValues map[string]map[string]int64
	// Duration is how long the run actually took; shorter than
	// Config.Duration if MaxRequests or cancellation ended it.
	Duration time.Duration
	// RPS is Requests per second of Duration.
	RPS float64
	// Latency is over responses of any status, to the last byte of the body;
	// transport errors have no latency. Open-loop runs measure from when
	// each request was due (see Config.Rate).
	Latency Percentiles
}

// Percentiles summarises a latency distribution. Min, Max and Mean are
// exact; the percentiles are within 1% of the true value.
type Percentiles struct {
	Min, P50, P90, P95, P99, P999, Max, Mean time.Duration
}

// WriteText writes a human summary of r to w, in the manner of wrk and
// locust: totals, latency percentiles, status codes, errors and header value
// counts.
func (r *Report) WriteText(w io.Writer) error {
	if r == nil {
		return errors.New("loadtest: nil report")
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)

	failPct := 0.0
	if r.Requests > 0 {
		failPct = 100 * float64(r.Failures) / float64(r.Requests)
	}
	fmt.Fprintf(tw, "Requests\t%d\n", r.Requests)
	fmt.Fprintf(tw, "Failures\t%d (%.2f%%)\n", r.Failures, failPct)
	fmt.Fprintf(tw, "Duration\t%s\n", FormatDuration(r.Duration))
	fmt.Fprintf(tw, "Throughput\t%.1f req/s\n", r.RPS)
	tw.Flush()

	l := r.Latency
	fmt.Fprintf(tw, "\nLatency\tmin\tp50\tp90\tp95\tp99\tp99.9\tmax\tmean\n")
	fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		FormatDuration(l.Min), FormatDuration(l.P50), FormatDuration(l.P90),
		FormatDuration(l.P95), FormatDuration(l.P99), FormatDuration(l.P999),
		FormatDuration(l.Max), FormatDuration(l.Mean))
	tw.Flush()

	if len(r.StatusCodes) > 0 {
		fmt.Fprintf(tw, "\nStatus\tCount\tShare\n")
		for _, code := range slices.Sorted(maps.Keys(r.StatusCodes)) {
			n := r.StatusCodes[code]
			fmt.Fprintf(tw, "%d\t%d\t%s\n", code, n, share(n, r.Requests))
		}
		tw.Flush()
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(tw, "\nError\tCount\tShare\n")
		for _, e := range byCount(r.Errors) {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", e, r.Errors[e], share(r.Errors[e], r.Requests))
		}
		tw.Flush()
	}
	for _, h := range slices.Sorted(maps.Keys(r.HeaderValues)) {
		values := r.HeaderValues[h]
		var total int64
		for _, n := range values {
			total += n
		}
		fmt.Fprintf(tw, "\n%s\tCount\tShare\n", h)
		for _, v := range byCount(values) {
			label := v
			if v == "" {
				label = "(missing)"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\n", label, values[v], share(values[v], total))
		}
		tw.Flush()
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func share(n, total int64) string {
	if total <= 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64) + "%"
}

// FormatDuration prints a latency with about three significant digits; the
// default String of time.Duration prints up to nine.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// byCount returns the keys of m, most counted first, ties by key, so the
// output is stable.
func byCount(m map[string]int64) []string {
	keys := sortedKeys(m)
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(m[b], m[a]) })
	return keys
}

func sortedKeys(m map[string]int64) []string {
	return slices.Sorted(maps.Keys(m))
}
