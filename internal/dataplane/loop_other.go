//go:build !linux

package dataplane

// Event loops are Linux-only (epoll); elsewhere every connection has a
// goroutine of its own.

type eventLoop struct{}

type evConn struct{ conn }

const loopsSupported = false

const defaultCoalesceWait = 0

func (s *Server) startLoops() bool { return false }

type evListener struct{}

func (so *socket) listenOnLoops() bool { return false }

func (so *socket) stopLoopListeners() {}

func (lp *eventLoop) closeSocketConns(*socket, bool) {}

func (lp *eventLoop) stop() {}
