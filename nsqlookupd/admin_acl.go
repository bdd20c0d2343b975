package nsqlookupd

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/nsqlookupd/nsqlookupd/internal/http_api"
)

// parseAllowList parses --http-admin-allow entries: CIDRs ("10.0.0.0/8",
// "fd00::/8") or single addresses ("127.0.0.1"). Entries may also be
// comma-separated.
func parseAllowList(entries []string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, entry := range entries {
		for _, item := range strings.Split(entry, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if strings.Contains(item, "/") {
				p, err := netip.ParsePrefix(item)
				if err != nil {
					return nil, fmt.Errorf("invalid http-admin-allow entry %q: %w", item, err)
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
				return nil, fmt.Errorf("invalid http-admin-allow entry %q: %w", item, err)
			}
			prefixes = append(prefixes, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
		}
	}
	return prefixes, nil
}

// adminACL guards the routes route.adminGuarded names with the
// --http-admin-allow list.
type adminACL struct {
	allowed []netip.Prefix
	logf    http_api.LogFunc
}

// allows reports whether a request from remoteAddr ("ip:port") may call a
// guarded route.
func (a *adminACL) allows(remoteAddr string) bool {
	if len(a.allowed) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	// A zoned address (fe80::1%eth0) never matches a prefix; the zone
	// names the interface, not part of the address.
	addr = addr.Unmap().WithZone("")
	for _, p := range a.allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// guard wraps the handler of a guarded route: callers outside the
// allow-list get 403 FORBIDDEN and a log line.
func (a *adminACL) guard(h http_api.APIHandler) http_api.APIHandler {
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
		if !a.allows(req.RemoteAddr) {
			a.logf(LOG_WARN, "HTTP: refusing %s %s from %s: not in http-admin-allow", req.Method, req.URL.Path, req.RemoteAddr)
			return nil, http_api.Err{Code: http.StatusForbidden, Text: "FORBIDDEN"}
		}
		return h(w, req, ps)
	}
}
