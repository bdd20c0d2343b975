package nsqlookupd

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
)

// prefixList is a parsed list of client networks (--tcp-allow,
// --http-admin-allow).
type prefixList []netip.Prefix

// parsePrefixList parses the entries of option: CIDRs ("10.0.0.0/8",
// "fd00::/8") or single addresses ("127.0.0.1", a /32 or /128). Entries may
// also be comma-separated.
func parsePrefixList(option string, entries []string) (prefixList, error) {
	var prefixes prefixList
	for _, entry := range entries {
		for _, item := range strings.Split(entry, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if strings.Contains(item, "/") {
				p, err := netip.ParsePrefix(item)
				if err != nil {
					return nil, fmt.Errorf("invalid %s entry %q: %w", option, item, err)
				}
				// Client addresses are matched unmapped, so an IPv4-mapped
				// prefix (::ffff:10.0.0.0/104) must be too.
				if p.Addr().Is4In6() && p.Bits() >= 96 {
					p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
				}
				prefixes = append(prefixes, p.Masked())
				continue
			}
			addr, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("invalid %s entry %q: %w", option, item, err)
			}
			addr = addr.Unmap().WithZone("")
			prefixes = append(prefixes, netip.PrefixFrom(addr, addr.BitLen()))
		}
	}
	return prefixes, nil
}

// contains reports whether addr is in one of the networks.
func (pl prefixList) contains(addr netip.Addr) bool {
	for _, p := range pl {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientIP returns the IP of a remote address ("ip:port" or a *net.TCPAddr),
// unmapped and without a zone, as prefix lists and per-IP counts see it;
// ok is false when there is none.
func clientIP(remote net.Addr) (ip netip.Addr, ok bool) {
	if ta, isTCP := remote.(*net.TCPAddr); isTCP {
		ip, ok = netip.AddrFromSlice(ta.IP)
	} else {
		ip, ok = clientIPString(remote.String())
	}
	return ip.Unmap().WithZone(""), ok
}

// clientIPString is clientIP for the "ip:port" form of http.Request's
// RemoteAddr.
func clientIPString(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}

// perIPCount counts open connections by client IP; its user guards it. An
// address with no connection has no entry, so it holds at most one entry
// per open connection.
type perIPCount struct {
	counts map[netip.Addr]int
}

// acquire counts one more connection from ip unless max (0 = unlimited)
// are open already.
func (c *perIPCount) acquire(ip netip.Addr, max int) bool {
	if max > 0 && c.counts[ip] >= max {
		return false
	}
	if c.counts == nil {
		c.counts = make(map[netip.Addr]int)
	}
	c.counts[ip]++
	return true
}

// release counts one connection from ip less.
func (c *perIPCount) release(ip netip.Addr) {
	if c.counts[ip]--; c.counts[ip] <= 0 {
		delete(c.counts, ip)
	}
}

// Reasons a connection is refused at accept, as metric labels.
const (
	refusedForbidden       = "forbidden"
	refusedMaxClients      = "max_clients"
	refusedMaxClientsPerIP = "max_clients_per_ip"
	refusedMaxConns        = "max_conns"
	refusedMaxConnsPerIP   = "max_conns_per_ip"
)

// refusal names one kind of refused connection: the listener and the reason.
type refusal struct {
	listener, reason string
}

// refusals are every kind of refused connection, in metrics order.
var refusals = [...]refusal{
	{"tcp", refusedForbidden},
	{"tcp", refusedMaxClients},
	{"tcp", refusedMaxClientsPerIP},
	{"http", refusedMaxConns},
	{"http", refusedMaxConnsPerIP},
}

// refusalCounts counts refused connections by kind, indexed as refusals.
type refusalCounts [len(refusals)]atomic.Uint64

// add counts one connection refused by listener for reason.
func (rc *refusalCounts) add(listener, reason string) {
	for i, r := range refusals {
		if r.listener == listener && r.reason == reason {
			rc[i].Add(1)
			return
		}
	}
}

// connLimit admits at most maxConns connections at once, and at most
// maxPerIP from one client IP (0 = unlimited), over every listener it
// wraps; it closes any other at accept, before anything is read, and tells
// refused about it. Connections count from accept until closed, so a client
// that has sent nothing yet counts too.
type connLimit struct {
	maxConns, maxPerIP int
	refused            func(reason string, remote net.Addr)

	// mu guards open and perIP.
	mu    sync.Mutex
	open  int
	perIP perIPCount
}

// wrap returns ln with its connections admitted by cl.
func (cl *connLimit) wrap(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, limit: cl}
}

// admit counts conn in, or closes it and returns nil.
func (cl *connLimit) admit(conn net.Conn) net.Conn {
	ip, _ := clientIP(conn.RemoteAddr())
	cl.mu.Lock()
	reason := ""
	switch {
	case cl.maxConns > 0 && cl.open >= cl.maxConns:
		reason = refusedMaxConns
	case !cl.perIP.acquire(ip, cl.maxPerIP):
		reason = refusedMaxConnsPerIP
	default:
		cl.open++
	}
	cl.mu.Unlock()
	if reason != "" {
		conn.Close()
		cl.refused(reason, conn.RemoteAddr())
		return nil
	}
	return &limitedConn{Conn: conn, release: func() {
		cl.mu.Lock()
		cl.open--
		cl.perIP.release(ip)
		cl.mu.Unlock()
	}}
}

// limitListener is a listener whose connections a connLimit admits.
type limitListener struct {
	net.Listener
	limit *connLimit
}

// Accept returns the next admitted connection.
func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if admitted := ll.limit.admit(conn); admitted != nil {
			return admitted, nil
		}
	}
}

// limitedConn gives its place back to its connLimit when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and releases its place, once.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
