//go:build !linux

package dataplane

import (
	"net"
	"os"
)

// Event loops are Linux-only (epoll); elsewhere every connection has a
// goroutine of its own.

type eventLoop struct{}

type evConn struct{ conn }

func eventLoopsEnabled() bool { return false }

func (s *Server) startLoops() bool { return false }

func (so *socket) acceptRaw(*os.File) { close(so.accepted) }

func (lp *eventLoop) closeSocketConns(*socket, bool) {}

func (lp *eventLoop) stop() {}

func listenerFile(net.Listener) (*os.File, bool) { return nil, false }
