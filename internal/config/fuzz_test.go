package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/store"
)

var errRollback = errors.New("rolled back")

// Whatever a file holds, Parse and Apply answer with an error or a
// result, never a panic (Apply runs in a transaction that is rolled back).
func FuzzParseAndApply(f *testing.F) {
	f.Add([]byte(valid))
	examples, _ := filepath.Glob("../../examples/*.yaml")
	for _, p := range examples {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("load_balancers: [{name: x, listeners: [{protocol: HTTPS, port: 99999}]}]"))
	f.Add([]byte("target_groups: &a [*a]"))
	st, err := store.OpenBolt(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("alba.yaml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error with no words")
			}
			return
		}
		st.Update(func(tx store.Tx) error {
			file.Apply(tx, time.Unix(1e9, 0))
			return errRollback
		})
	})
}
