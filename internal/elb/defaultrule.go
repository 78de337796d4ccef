package elb

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// A listener's default actions are its default rule, as AWS describes it:
// a rule with a stable ARN of its own, priority "default", that cannot be
// modified as a rule, reprioritized or deleted.

// DefaultRuleARN is the stable ARN of a listener's default rule.
func DefaultRuleARN(listenerARN string) string {
	sum := sha256.Sum256([]byte(listenerARN))
	return model.RuleARNPrefix(listenerARN) + hex.EncodeToString(sum[:8])
}

// DefaultRuleListener returns the listener whose default rule has arn, or
// nil.
func DefaultRuleListener(tx store.Tx, arn string) (*model.Listener, error) {
	ls, err := Listeners(tx)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if DefaultRuleARN(l.ARN) == arn {
			return l, nil
		}
	}
	return nil, nil
}

func refuseDefaultRule(tx store.Tx, arn, msg string) error {
	l, err := DefaultRuleListener(tx, arn)
	if err != nil {
		return err
	}
	if l != nil {
		return model.Errorf("OperationNotPermitted", "%s", msg)
	}
	return nil
}

// ModifyRule replaces a rule's conditions and/or actions (nil keeps them).
func ModifyRule(tx store.Tx, arn string, conds []model.Condition, actions []model.Action) (*model.Rule, error) {
	if err := refuseDefaultRule(tx, arn, "The default rule cannot be modified with ModifyRule; use ModifyListener to change the default actions"); err != nil {
		return nil, err
	}
	r, err := Rule(tx, arn)
	if err != nil {
		return nil, err
	}
	if len(conds) > 0 {
		r.Conditions = conds
	}
	if len(actions) > 0 {
		r.Actions = actions
	}
	return r, PutRule(tx, r)
}
