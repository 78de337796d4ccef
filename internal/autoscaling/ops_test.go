package autoscaling

import (
	"errors"
	"strings"
	"testing"

	"github.com/alba-lb/alba/internal/elb"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// A resource label whose parts do not fit the target group's ARN is a
// ValidationError, not a slice out of range (InternalFailure on the API).
func TestTargetGroupForLabelRejectsBadLabels(t *testing.T) {
	st, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var g *model.TargetGroup
	if err := st.Update(func(tx store.Tx) (err error) {
		g, err = elb.CreateTargetGroup(tx, &model.TargetGroup{Name: "web", Port: 80, TargetType: "instance"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	id := g.ARN[strings.LastIndexByte(g.ARN, '/')+1:]
	tests := []struct {
		label string
		ok    bool
	}{
		{"app/lb/0123/targetgroup/web/" + id, true},
		{"app/lb/0123/targetgroup/web/" + strings.Repeat("f", 500), false},
		{"app/lb/0123/targetgroup/web/" + id[1:], false},
		{"app/lb/0123/targetgroup/other/" + id, false},
		{"app/lb/0123/targetgroup/web", false},
		{strings.Repeat("x", 10000), false},
	}
	for _, tt := range tests {
		st.View(func(tx store.Tx) error {
			got, err := TargetGroupForLabel(tx, tt.label)
			switch {
			case tt.ok && (err != nil || got.ARN != g.ARN):
				t.Errorf("%.60s: %v, %v", tt.label, got, err)
			case !tt.ok:
				var me *model.Error
				if !errors.As(err, &me) || me.Code != "ValidationError" || len(me.Message) > 300 {
					t.Errorf("%.60s: error %v, want a short ValidationError", tt.label, err)
				}
			}
			return nil
		})
	}
}
