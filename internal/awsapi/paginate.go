package awsapi

import (
	"encoding/base64"
	"sort"
)

// page cuts one page out of items, sorted by a unique key. The marker (or
// token) is the opaque base64 of the first key of the next page, so pages
// stay stable when earlier items are deleted; "" means the last page.
func page[T any](items []T, key func(T) string, marker string, size int, badMarker func() error) ([]T, string, error) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := 0
	if marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil {
			return nil, "", badMarker()
		}
		k := string(raw)
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) >= k })
	}
	end := len(items)
	if size > 0 && start+size < end {
		end = start + size
	}
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(items[end])))
	}
	return items[start:end], next, nil
}
