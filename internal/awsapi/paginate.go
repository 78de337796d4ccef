package awsapi

import (
	"encoding/base64"
	"errors"
	"sort"

	"github.com/alba-lb/alba/internal/store"
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

// metaKind is the API's own records: what AWS's resources carry that
// Alba's model does not (security group ids, tag propagation, idempotency
// tokens). Keys are resource ARNs or "token|…".
const metaKind = "awsapi"

// meta is the API's extra record of a resource.
type meta struct {
	// SecurityGroups are a load balancer's security group ids.
	SecurityGroups []string `json:"security_groups,omitempty"`
	// Subnets are the subnet ids a load balancer or group was given.
	Subnets []string `json:"subnets,omitempty"`
	// IPAddressType of a target group.
	IPAddressType string `json:"ip_address_type,omitempty"`
	// Propagate says which of an auto scaling group's tags propagate at
	// launch.
	Propagate map[string]bool `json:"propagate,omitempty"`
	// Ref is what an idempotency token created (a launch template id and
	// version).
	Ref string `json:"ref,omitempty"`
	// Hash fingerprints the request an idempotency token was used with.
	Hash string `json:"hash,omitempty"`
}

func getMeta(tx store.Tx, key string) (*meta, error) {
	m, err := store.GetJSON[meta](tx, metaKind, key)
	if errors.Is(err, store.ErrNotFound) {
		return &meta{}, nil
	}
	return m, err
}

func putMeta(tx store.Tx, key string, m *meta) error { return store.PutJSON(tx, metaKind, key, m) }

func deleteMeta(tx store.Tx, key string) error { return tx.Delete(metaKind, key) }
