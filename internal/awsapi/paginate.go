package awsapi

import (
	"encoding/base64"
	"slices"
	"sort"

	"github.com/alba-lb/alba/internal/store"
)

// Pagination in one place: every Describe/List operation embeds one of the
// paging inputs below, and cuts its page with paginate.

// paging is one request's page: where it starts, how long it is, and the
// error an unreadable marker (or token) is.
type paging struct {
	marker    string
	size      int
	badMarker func() error
}

// markerPage is elbv2's paging input.
type markerPage struct {
	Marker   string `q:"Marker"`
	PageSize *int   `q:"PageSize,min=1,max=400"`
}

func (p markerPage) paging() paging {
	return paging{p.Marker, orDefault(p.PageSize, 400), func() error { return validation("The marker is not valid") }}
}

// tokenPage is autoscaling's paging input; MaxRecords' range differs by
// operation, so each input declares it (its tag holds the range).
type tokenPage struct {
	NextToken string `q:"NextToken"`
}

// paging pages by NextToken, size records (def when not sent).
func (p tokenPage) paging(size *int, def int) paging {
	return paging{p.NextToken, orDefault(size, def), func() error { return apiErrorf("InvalidNextToken", "The token is not valid") }}
}

// ec2Page is EC2's paging input (MaxResults 1-200).
type ec2Page struct {
	NextToken  string `q:"NextToken"`
	MaxResults *int   `q:"MaxResults,min=1,max=200"`
}

func (p ec2Page) paging() paging {
	return paging{p.NextToken, orDefault(p.MaxResults, 200), func() error { return ec2Invalid("The pagination token is not valid") }}
}

// iamPage is IAM's paging input.
type iamPage struct {
	Marker   string `q:"Marker"`
	MaxItems *int   `q:"MaxItems,min=1,max=1000"`
}

func (p iamPage) paging() paging {
	return paging{p.Marker, orDefault(p.MaxItems, 100), func() error { return validation("The marker is not valid") }}
}

// paginate cuts one page out of items, sorted by a unique key. The marker
// (or token) is the opaque base64 of the first key of the next page, so
// pages stay stable when earlier items are deleted; "" means the last page.
func paginate[T any](items []T, key func(T) string, p paging) ([]T, string, error) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := 0
	if p.marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(p.marker)
		if err != nil {
			return nil, "", p.badMarker()
		}
		k := string(raw)
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) >= k })
	}
	end := len(items)
	if p.size > 0 && start+p.size < end {
		end = start + p.size
	}
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(items[end])))
	}
	return items[start:end], next, nil
}

// mapPage pages items and maps the page to its encoding.
func mapPage[T, R any](items []T, key func(T) string, p paging, enc func(T) (R, error)) ([]R, string, error) {
	pg, next, err := paginate(items, key, p)
	if err != nil {
		return nil, "", err
	}
	out := make([]R, 0, len(pg))
	for _, it := range pg {
		r, err := enc(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, next, nil
}

// describe is the skeleton of the Describe operations: in one view, list
// the resources, keep those the request selects (keep nil keeps all),
// sort them by key, cut the page and encode it.
func describe[T, X any](h *handler, p paging, all func(tx store.Tx) ([]T, error), keep func(T) bool,
	key func(T) string, enc func(store.Tx, T) (X, error)) ([]X, string, error) {
	var out []X
	next := ""
	err := h.view(func(tx store.Tx) error {
		items, err := all(tx)
		if err != nil {
			return err
		}
		if keep != nil {
			items = slices.DeleteFunc(items, func(t T) bool { return !keep(t) })
		}
		out, next, err = mapPage(items, key, p, func(t T) (X, error) { return enc(tx, t) })
		return err
	})
	return out, next, err
}

// keyed is an item encoded before its page is cut, with its sort key.
type keyed[X any] struct {
	key string
	x   X
}

// pageKeyed cuts a page of keyed items.
func pageKeyed[X any](rows []keyed[X], p paging) ([]X, string, error) {
	return mapPage(rows, func(r keyed[X]) string { return r.key }, p, func(r keyed[X]) (X, error) { return r.x, nil })
}
