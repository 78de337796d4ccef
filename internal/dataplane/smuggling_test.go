//go:build linux

package dataplane

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/smuggling"
)

// The smuggling and conformance suite on both sets a loop can wait on,
// plain and over TLS: each case gets its status, and the target gets what
// the case allows (nothing, or one request net/http reads whole).
func TestSmugglingSuite(t *testing.T) {
	for _, loops := range []bool{true, false} {
		for _, https := range []bool{false, true} {
			t.Run(fmt.Sprintf("epoll=%v/https=%v", loops, https), func(t *testing.T) {
				t.Parallel()
				target, err := smuggling.NewTarget()
				if err != nil {
					t.Fatal(err)
				}
				defer target.Close()
				f := engineFixture(t, loops, https, target.Addr())
				var cfg *tls.Config
				if https {
					cfg = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
				}
				for _, c := range smuggling.Cases {
					st, err := smuggling.Send(f.addr, cfg, c.Raw, 150*time.Millisecond)
					got := target.TakeQuiet(30 * time.Millisecond) // what is forwarded after the answer counts too
					switch {
					case err != nil:
						t.Errorf("%s: %v", c.Name, err)
					case c.Status == 0 && len(st) > 0:
						t.Errorf("%s: status %d, want none yet", c.Name, st[0])
					case c.Status != 0 && len(st) == 0:
						t.Errorf("%s: no answer", c.Name)
					case c.Status != 0 && st[0] != c.Status:
						t.Errorf("%s: status %d, want %d", c.Name, st[0], c.Status)
					}
					if len(got) != c.Forwarded || strings.Contains(strings.Join(got, "\n"), "unreadable") {
						t.Errorf("%s: the target got %q, want %d request(s)", c.Name, got, c.Forwarded)
					} else if want, ok := c.Normalized(); ok && c.Forwarded == 1 && got[0] != want {
						t.Errorf("%s: the target got %q, want exactly %q", c.Name, got[0], want)
					}
				}
			})
		}
	}
}
