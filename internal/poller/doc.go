// Package poller is what Alba's event loops need of the kernel: a set of
// descriptors whose readiness one goroutine waits for, and the
// non-blocking socket calls a loop makes.
//
// Two sets serve: Poller, an epoll set of the loop's own (Linux), whose
// descriptor sits in Go's netpoller so that an idle loop parks like any
// goroutine; and Netpoll, made of the Go runtime alone (every platform),
// where a goroutine per socket and direction waits in the netpoller and
// posts what it hears. On Linux the socket calls are raw system calls
// that skip the scheduler's bookkeeping (each would otherwise wake the
// runtime's monitor thread on a busy loop).
package poller
