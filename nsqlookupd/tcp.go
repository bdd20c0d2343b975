package nsqlookupd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
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

	// connsMu guards conns, perIP and closing.
	connsMu sync.Mutex
	// conns maps each open connection to its client IP.
	conns   map[net.Conn]netip.Addr
	perIP   perIPCount
	closing bool

	handlers sync.WaitGroup
}

func newTCPServer(l *NSQLookupd, listener net.Listener) *tcpServer {
	return &tcpServer{
		nsqlookupd: l,
		listener:   listener,
		conns:      make(map[net.Conn]netip.Addr),
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

// track registers a new connection and counts its handler. It refuses the
// connection when shutting down, when its address is not in --tcp-allow, or
// over --max-clients or --max-clients-per-ip: a refused connection gets one
// error frame, before anything is read from it, and is closed here.
func (s *tcpServer) track(conn net.Conn) bool {
	l := s.nsqlookupd
	ip, _ := clientIP(conn.RemoteAddr())
	if len(l.tcpAllow) > 0 && !l.tcpAllow.contains(ip) {
		s.refuse(conn, refusedForbidden, fmt.Sprintf("E_FORBIDDEN %s is not in tcp-allow", ip))
		return false
	}
	s.connsMu.Lock()
	closing, reason := s.closing, ""
	switch {
	case closing:
	case l.opts.MaxClients > 0 && len(s.conns) >= l.opts.MaxClients:
		reason = refusedMaxClients
	case !s.perIP.acquire(ip, l.opts.MaxClientsPerIP):
		reason = refusedMaxClientsPerIP
	default:
		s.conns[conn] = ip
		// Added under connsMu, so closeAll cannot be waiting yet.
		s.handlers.Add(1)
	}
	s.connsMu.Unlock()
	switch {
	case closing:
		conn.Close()
		return false
	case reason == refusedMaxClients:
		s.refuse(conn, reason, fmt.Sprintf("E_TOO_MANY_CLIENTS max-clients (%d) reached", l.opts.MaxClients))
		return false
	case reason == refusedMaxClientsPerIP:
		s.refuse(conn, reason, fmt.Sprintf("E_TOO_MANY_CLIENTS max-clients-per-ip (%d) reached", l.opts.MaxClientsPerIP))
		return false
	}
	l.metrics.tcpAccepted.Add(1)
	return true
}

// refuse sends frame to a connection refused for reason and closes it. The
// WARNING line is rate-limited: refusals are what a flood of connections
// causes.
func (s *tcpServer) refuse(conn net.Conn, reason, frame string) {
	l := s.nsqlookupd
	l.metrics.tcpRefused.Add(1)
	l.refused.add("tcp", reason)
	l.warnLimited("tcp-"+reason, "TCP: refusing client %s: %s", conn.RemoteAddr(), frame)
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	protocol.SendResponse(conn, []byte(frame))
	conn.Close()
}

func (s *tcpServer) untrack(conn net.Conn) {
	s.connsMu.Lock()
	s.perIP.release(s.conns[conn])
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

// handle reads the protocol magic within MagicTimeout, or ClientTimeout when
// that is shorter (an operator who lowers the client timeout expects it to
// hold from the first byte), and runs the matching
// protocol until the connection ends.
func (s *tcpServer) handle(conn net.Conn) {
	l := s.nsqlookupd
	l.logf(LOG_INFO, "TCP: new client(%s)", conn.RemoteAddr())
	defer conn.Close()

	conn.SetReadDeadline(time.Now().Add(min(l.opts.MagicTimeout, l.opts.ClientTimeout)))
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
	// ioLoop always ends with the error that ended it.
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		l.logf(LOG_INFO, "PROTOCOL(V1): [%s] exiting ioloop: %s", client, logSafe(err.Error()))
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
