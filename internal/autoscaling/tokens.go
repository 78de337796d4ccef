package autoscaling

import (
	"errors"
	"strings"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// EC2's idempotency tokens: a create sent again with the same ClientToken
// answers what the first one made, and with other parameters it is
// IdempotentParameterMismatch.

// kindClientToken holds the tokens, keyed by action and token.
const kindClientToken = "clienttokens"

type clientToken struct {
	// Ref is what the first request made (a template id, or id|version).
	Ref string `json:"ref"`
	// Hash fingerprints the first request's parameters.
	Hash string `json:"hash"`
}

// ClientTokenRef returns what the first request of action with token made,
// or "" for a new token. hash fingerprints this request's parameters.
func ClientTokenRef(tx store.Tx, action, token, hash string) (string, error) {
	if len(token) > 64 {
		return "", model.Errorf("InvalidParameterValue", "ClientToken must be at most 64 characters")
	}
	t, err := store.GetJSON[clientToken](tx, kindClientToken, action+"|"+token)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if t.Hash != hash {
		return "", model.Errorf("IdempotentParameterMismatch", "The client token %s was already used with different parameters", token)
	}
	return t.Ref, nil
}

// SaveClientToken records what a request with a token made.
func SaveClientToken(tx store.Tx, action, token, hash, ref string) error {
	return store.PutJSON(tx, kindClientToken, action+"|"+token, &clientToken{Ref: ref, Hash: hash})
}

// forgetClientTokens deletes the tokens whose requests made something of
// the template with id.
func forgetClientTokens(tx store.Tx, id string) error {
	kvs, err := tx.List(kindClientToken)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if strings.Contains(string(kv.Value), id) {
			if err := tx.Delete(kindClientToken, kv.Key); err != nil {
				return err
			}
		}
	}
	return nil
}
