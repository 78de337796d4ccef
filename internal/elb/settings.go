package elb

import (
	"crypto/rand"
	"errors"

	"github.com/alba-lb/alba/internal/store"
)

// Settings of the load balancer as a whole, kept in the store beside its
// resources so that a restart (or another node of a cluster) finds them.
const (
	settingsKind = "meta"
	fileHashKey  = "config_hash"
	cookieKeyKey = "cookie_key"
)

// AppliedFile returns the fingerprint of the YAML file last applied ("" if
// none): a restart with the same file leaves the store, and what the API
// changed in it, as it is.
func AppliedFile(tx store.Tx) (string, error) {
	b, err := tx.Get(settingsKind, fileHashKey)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return string(b), err
}

// SetAppliedFile records the fingerprint of the file just applied.
func SetAppliedFile(tx store.Tx, hash string) error {
	return tx.Put(settingsKind, fileHashKey, []byte(hash))
}

// CookieKey returns the 32-byte key that seals stickiness cookies, making
// one on first use: sessions survive restarts, and a cluster shares it.
func CookieKey(tx store.Tx) ([]byte, error) {
	k, err := tx.Get(settingsKind, cookieKeyKey)
	if err == nil && len(k) == 32 {
		return k, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, tx.Put(settingsKind, cookieKeyKey, k)
}
