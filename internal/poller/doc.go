// Package poller is what Alba's event loops need of the kernel (Linux
// epoll): a set of descriptors whose readiness one goroutine waits for
// through Go's own netpoller, so an idle loop parks like any goroutine
// and holds no thread; and the non-blocking socket calls a loop makes,
// as raw system calls that skip the scheduler's bookkeeping (each would
// otherwise wake the runtime's monitor thread on a busy loop).
//
// It is Linux-only; elsewhere Alba serves connections with a goroutine
// each and never imports it.
package poller
