package nsqlookupd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
)

// tcpServer accepts nsqd connections and runs the V1 protocol on each. It
// tracks every connection from Accept on, so shutdown can close clients that
// never sent their magic.
type tcpServer struct {
	nsqlookupd *NSQLookupd
	listener   net.Listener

	// connsMu guards conns and closing.
	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool

	handlers sync.WaitGroup
}

func newTCPServer(l *NSQLookupd, listener net.Listener) *tcpServer {
	return &tcpServer{
		nsqlookupd: l,
		listener:   listener,
		conns:      make(map[net.Conn]struct{}),
	}
}

// serve accepts until the listener is closed, which is the normal way out
// (nil error). Temporary accept failures, such as running out of file
// descriptors, are retried with a growing pause.
func (s *tcpServer) serve() error {
	l := s.nsqlookupd
	l.logf(LOG_INFO, "TCP: listening on %s", s.listener.Addr())
	var backoff time.Duration
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.logf(LOG_WARN, "TCP: accept error: %s; retrying in %s", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("TCP: accepting on %s: %w", s.listener.Addr(), err)
		}
		backoff = 0
		if !s.track(conn) {
			continue
		}
		go func() {
			defer s.handlers.Done()
			defer s.untrack(conn)
			s.handle(conn)
		}()
	}
	l.logf(LOG_INFO, "TCP: closing %s", s.listener.Addr())
	return nil
}

// isTemporary reports accept errors worth retrying (EMFILE, ENFILE,
// ECONNABORTED and the like report Temporary).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// track registers a new connection and counts its handler, refusing it when
// shutting down or over --max-clients; a refused connection is answered and
// closed here.
func (s *tcpServer) track(conn net.Conn) bool {
	l := s.nsqlookupd
	s.connsMu.Lock()
	closing := s.closing
	full := l.opts.MaxClients > 0 && len(s.conns) >= l.opts.MaxClients
	if !closing && !full {
		s.conns[conn] = struct{}{}
		// Added under connsMu, so closeAll cannot be waiting yet.
		s.handlers.Add(1)
	}
	s.connsMu.Unlock()
	switch {
	case closing:
		conn.Close()
		return false
	case full:
		l.logf(LOG_WARN, "TCP: refusing client %s: max-clients (%d) reached", conn.RemoteAddr(), l.opts.MaxClients)
		l.metrics.tcpRefused.Add(1)
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		protocol.SendResponse(conn, []byte(fmt.Sprintf("E_TOO_MANY_CLIENTS max-clients (%d) reached", l.opts.MaxClients)))
		conn.Close()
		return false
	}
	l.metrics.tcpAccepted.Add(1)
	return true
}

func (s *tcpServer) untrack(conn net.Conn) {
	s.connsMu.Lock()
	delete(s.conns, conn)
	s.connsMu.Unlock()
	s.nsqlookupd.metrics.tcpClosed.Add(1)
}

// connCount returns the number of open TCP connections.
func (s *tcpServer) connCount() int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	return len(s.conns)
}

// handle reads the protocol magic within MagicTimeout and runs the matching
// protocol until the connection ends.
func (s *tcpServer) handle(conn net.Conn) {
	l := s.nsqlookupd
	l.logf(LOG_INFO, "TCP: new client(%s)", conn.RemoteAddr())
	defer conn.Close()

	conn.SetReadDeadline(time.Now().Add(l.opts.MagicTimeout))
	buf := make([]byte, len(protocol.MagicV1))
	if _, err := io.ReadFull(conn, buf); err != nil {
		l.logf(LOG_ERROR, "client(%s) failed to read protocol magic: %s", conn.RemoteAddr(), err)
		return
	}
	magic := string(buf)
	if magic != protocol.MagicV1 {
		l.logf(LOG_ERROR, "client(%s) bad protocol magic %q", conn.RemoteAddr(), magic)
		l.metrics.protocolErrors("E_BAD_PROTOCOL")
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		protocol.SendResponse(conn, []byte("E_BAD_PROTOCOL"))
		return
	}
	l.logf(LOG_DEBUG, "CLIENT(%s): desired protocol magic %q", conn.RemoteAddr(), magic)

	client := newClientV1(conn, l.opts)
	err := (&lookupProtocolV1{nsqlookupd: l}).ioLoop(client)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		l.logf(LOG_INFO, "PROTOCOL(V1): [%s] exiting ioloop: %s", client, err)
	} else {
		l.logf(LOG_INFO, "PROTOCOL(V1): [%s] exiting ioloop", client)
	}
}

// closeAll stops new connections from being tracked and closes the open
// ones, which ends their handlers; it then waits for those handlers.
func (s *tcpServer) closeAll() {
	s.connsMu.Lock()
	s.closing = true
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connsMu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.handlers.Wait()
}
