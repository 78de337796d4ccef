// Package handover passes a running Alba's listening sockets to the Alba
// that replaces it (a binary upgrade, a restart), as HAProxy's `-x` does:
// the successor asks over a unix socket in the data directory and gets
// the very sockets, so their accept queues (connections the kernel has
// completed and those still arriving) carry over and no client is
// refused or reset. The predecessor then stops accepting, finishes what
// it has in flight and exits.
//
// The exchange, on a unix stream socket: the successor writes "take\n";
// the predecessor answers with one message holding the sockets' names as
// a JSON array and their descriptors (SCM_RIGHTS), in the same order; the
// successor writes "ok\n" once it holds them, and only then does the
// predecessor let go of its own.
package handover

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// FileName is the handover socket's name in the data directory.
const FileName = "handover.sock"

// Socket is a listening socket handed over.
type Socket struct {
	// Name says what the socket is for, as both sides name it: the
	// listener's address as the configuration gives it, or "admin:"
	// and the admin address.
	Name string
	// Listener is the socket. A received one is the successor's own.
	Listener net.Listener
}

// ErrNone reports that no Alba serves the handover socket: there is
// nothing to take over.
var ErrNone = errors.New("no running alba to take over from")

// maxSockets bounds what one exchange carries (SCM_RIGHTS takes at most
// 253 descriptors a message on Linux).
const maxSockets = 200

// Offer is the predecessor's side: it serves the handover socket.
type Offer struct {
	ln *net.UnixListener
}

// Listen opens the handover socket at path, replacing a stale one (a
// crashed Alba's: the data directory's store lock tells that nobody else
// runs here).
func Listen(path string) (*Offer, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot remove the old handover socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("cannot open the handover socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // the successor may have bound it anew
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return &Offer{ln: ln}, nil
}

// Serve answers successors until one has taken the sockets list returns
// (nil), or ctx ends (its error). A successor that fails half-way takes
// nothing: the next one is served.
func (o *Offer) Serve(ctx context.Context, list func() []Socket) error {
	stop := context.AfterFunc(ctx, func() { o.ln.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		c, err := o.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return ctx.Err()
			}
			return err
		}
		err = give(c, list())
		c.Close()
		if err == nil {
			return nil
		}
	}
}

// Close closes the handover socket (the file stays: a successor may have
// bound its own at the same path).
func (o *Offer) Close() error { return o.ln.Close() }

// give hands socks over on c, and reports whether the successor has them.
func give(c *net.UnixConn, socks []Socket) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || line != "take\n" {
		return fmt.Errorf("handover: unexpected request %q", line)
	}
	if len(socks) > maxSockets {
		return fmt.Errorf("handover: %d sockets, at most %d", len(socks), maxSockets)
	}
	names := make([]string, 0, len(socks))
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var fds []int
	for _, s := range socks {
		f, err := fileOf(s.Listener)
		if err != nil {
			return err
		}
		files = append(files, f)
		names = append(names, s.Name)
		fds = append(fds, int(f.Fd()))
	}
	body, _ := json.Marshal(names)
	body = append(body, '\n')
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix(body, oob, nil); err != nil {
		return err
	}
	ack, err := r.ReadString('\n')
	if err != nil || ack != "ok\n" {
		return fmt.Errorf("handover: the successor did not confirm (%q, %v)", ack, err)
	}
	return nil
}

// fileOf duplicates a listener's descriptor.
func fileOf(l net.Listener) (*os.File, error) {
	fl, ok := l.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("handover: a %T cannot be handed over", l)
	}
	return fl.File()
}

// Take asks the Alba serving the handover socket at path for its
// listening sockets; ErrNone when nobody serves it. Once Take returns
// them, the predecessor stops accepting on its copies: the caller must
// serve or close every one.
func Take(path string, timeout time.Duration) ([]Socket, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, ErrNone
		}
		return nil, fmt.Errorf("cannot reach the running alba at %s: %w", path, err)
	}
	uc := c.(*net.UnixConn)
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(uc, "take\n"); err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(4*maxSockets))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	var fds []int
	if oobn > 0 {
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, fmt.Errorf("handover: %w", err)
		}
		for _, m := range msgs {
			got, err := syscall.ParseUnixRights(&m)
			if err != nil {
				return nil, fmt.Errorf("handover: %w", err)
			}
			fds = append(fds, got...)
		}
	}
	closeFDs := func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}
	var names []string
	if err := json.Unmarshal(buf[:n], &names); err != nil || len(names) != len(fds) {
		closeFDs()
		return nil, fmt.Errorf("handover: a garbled answer (%d names, %d sockets)", len(names), len(fds))
	}
	socks := make([]Socket, 0, len(fds))
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), names[i])
		ln, err := net.FileListener(f) // its own duplicate
		f.Close()
		if err != nil {
			for _, s := range socks {
				s.Listener.Close()
			}
			for _, fd := range fds[i+1:] {
				syscall.Close(fd)
			}
			return nil, fmt.Errorf("handover: socket %s: %w", names[i], err)
		}
		socks = append(socks, Socket{Name: names[i], Listener: ln})
	}
	if _, err := io.WriteString(uc, "ok\n"); err != nil {
		for _, s := range socks {
			s.Listener.Close()
		}
		return nil, fmt.Errorf("handover: %w", err)
	}
	return socks, nil
}
