package lbcontroller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// BenchmarkReconcileAfterRegister is one RegisterTargets and the reconcile
// that follows on a store of 500 target groups of 20 targets (the size of
// issue 11); bench/cmd/controlplane measures the same through the AWS API.
func BenchmarkReconcileAfterRegister(b *testing.B) {
	st, c := newTestController(b)
	now := time.Now()
	var first string
	err := st.Update(func(tx store.Tx) error {
		for g := 0; g < 500; g++ {
			tg := &model.TargetGroup{Name: fmt.Sprintf("g%04d", g), Protocol: "HTTP", Port: 9, TargetType: "ip"}
			if err := elb.PutTargetGroup(tx, tg); err != nil {
				return err
			}
			if g == 0 {
				first = tg.ARN
			}
			var ts []model.Target
			for t := 0; t < 20; t++ {
				ts = append(ts, model.Target{ID: fmt.Sprintf("10.%d.%d.%d", g/250, g%250, t+1)})
			}
			if err := elb.RegisterTargets(tx, tg.ARN, ts, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Reconcile(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := st.Update(func(tx store.Tx) error {
			return elb.RegisterTargets(tx, first, []model.Target{{ID: fmt.Sprintf("10.255.%d.%d", i/250%250, i%250+1)}}, now)
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Reconcile(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
