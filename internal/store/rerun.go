package store

import "errors"

// Rerun wraps s so that every Update runs fn twice: once in a transaction
// it rolls back, then for real — what a conflict on the etcd store does.
// Tests drive code through it to show that its update functions act only
// through the transaction, and so are safe to run again.
func Rerun(s Store) Store { return rerun{s} }

type rerun struct{ Store }

var errRollBack = errors.New("store: rolled back to run again")

func (r rerun) Update(fn func(Tx) error) error {
	err := r.Store.Update(func(tx Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRollBack
	})
	if err != errRollBack {
		return err
	}
	return r.Store.Update(fn)
}
