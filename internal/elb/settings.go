package elb

import (
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/alba-lb/alba/internal/store"
)

// Settings of the load balancer as a whole, kept in the store beside its
// resources so that a restart (or another node of a cluster) finds them.
const (
	settingsKind  = "meta"
	fileHashKey   = "config_hash"
	fileSourceKey = "config_source"
	cookieKeyKey  = "cookie_key"
	storeIDKey    = "store_id"
)

// AppliedFile returns the fingerprint of the configuration last applied
// and where it came from (a file's path, BuiltIn or Empty; "" if none, or
// if an older Alba applied it): a restart with the same file leaves the
// store, and what the API changed in it, as it is.
func AppliedFile(tx store.Tx) (hash, source string, err error) {
	b, err := tx.Get(settingsKind, fileHashKey)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	src, err := tx.Get(settingsKind, fileSourceKey)
	if errors.Is(err, store.ErrNotFound) {
		return string(b), "", nil
	}
	return string(b), string(src), err
}

// Sources of an applied configuration beside a file's path.
const (
	// BuiltIn is alba up's built-in tutorial system.
	BuiltIn = "(built-in configuration)"
	// Empty is alba up --empty's configuration of nothing.
	Empty = "(alba up --empty)"
)

// SetAppliedFile records the fingerprint and source of the configuration
// just applied.
func SetAppliedFile(tx store.Tx, hash, source string) error {
	if err := tx.Put(settingsKind, fileHashKey, []byte(hash)); err != nil {
		return err
	}
	return tx.Put(settingsKind, fileSourceKey, []byte(source))
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

// StoreID returns the store's identity, made on first use: it labels what
// Alba starts outside itself (containers), so that a store finds its own
// again and never another's.
func StoreID(tx store.Tx) (string, error) {
	id, err := tx.Get(settingsKind, storeIDKey)
	if err == nil && len(id) > 0 {
		return string(id), nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := hex.EncodeToString(b)
	return s, tx.Put(settingsKind, storeIDKey, []byte(s))
}
