package loadtest_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/alba-lb/alba/internal/loadtest"
)

// A bounded load loop as an end-to-end test would run it: 30 s or 10,000
// requests of the page-view mix, then a check of how responses spread over
// the instances behind the load balancer.
func ExampleRun() {
	rep, err := loadtest.Run(context.Background(), loadtest.Config{
		Target:       "http://127.0.0.1:8080",
		Concurrency:  16,
		Duration:     30 * time.Second,
		MaxRequests:  10000,
		CountHeaders: []string{"X-Instance-Id"},
		Progress: func(s loadtest.Snapshot) {
			fmt.Fprintf(os.Stderr, "%6.1fs %8d req %6.0f req/s p99 %v\n",
				s.Elapsed.Seconds(), s.Requests, s.RPS, s.P99)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	rep.WriteText(os.Stdout)
	for instance, n := range rep.HeaderValues["X-Instance-Id"] {
		fmt.Printf("%s served %d\n", instance, n)
	}
}
