package auth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
)

// Defaults of the Options fields.
const (
	DefaultRequestMethod   = "get"
	DefaultConnectTimeout  = 2 * time.Second
	DefaultRequestTimeout  = 5 * time.Second
	DefaultCacheMaxEntries = 10000
)

// Options configures an Authorizer. NewOptions returns the defaults.
type Options struct {
	// Addresses are the auth servers, asked in random order until one
	// answers. "host:port" means http://host:port/auth; a value containing
	// "://" is the whole URL (http or https). At least one is required.
	Addresses []string
	// RequestMethod is "get" (fields in the query string) or "post" (fields
	// in a form body), in any case; empty means "get".
	RequestMethod string
	// ConnectTimeout bounds connecting to one auth server, TLS handshake
	// included; zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// RequestTimeout bounds one request to one auth server, from sending it
	// to reading the whole answer; zero means DefaultRequestTimeout. Servers
	// are asked one after another, so a caller that must answer sooner sets
	// a deadline on the context it passes to Authorize.
	RequestTimeout time.Duration
	// CacheMaxEntries bounds the number of cached answers; zero means
	// DefaultCacheMaxEntries. An answer holds its compiled patterns, a few
	// KiB for a typical one.
	CacheMaxEntries int
	// TLSConfig is used for https auth servers; nil means the system's
	// roots and defaults.
	TLSConfig *tls.Config
	// Logf receives log lines; nil discards them. Lines a client can cause
	// (a server not answering, an invalid answer) are limited to one per
	// second per server and cause, with a count of those left out.
	Logf lg.LogFunc
	// Now returns the current time, for ttl expiry; nil means time.Now,
	// whose values carry the monotonic clock. Tests set a fake clock.
	Now func() time.Time
}

// NewOptions returns Options with every default filled in and no address.
func NewOptions() *Options {
	return &Options{
		RequestMethod:   DefaultRequestMethod,
		ConnectTimeout:  DefaultConnectTimeout,
		RequestTimeout:  DefaultRequestTimeout,
		CacheMaxEntries: DefaultCacheMaxEntries,
	}
}

// ParseRequestMethod maps "get" or "post", in any case, to the HTTP method.
func ParseRequestMethod(s string) (string, error) {
	switch strings.ToLower(s) {
	case "get":
		return http.MethodGet, nil
	case "post":
		return http.MethodPost, nil
	}
	return "", fmt.Errorf("invalid auth-http-request-method %q (want get or post)", s)
}

// ParseAddress returns the URL of the auth server named by s: "host:port"
// means http://host:port/auth, a value containing "://" is the whole URL. It
// must be http or https, name a host, and carry no fragment; a query it
// carries is kept and the auth fields are added to it.
func ParseAddress(s string) (*url.URL, error) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			// url.Parse quotes the whole input; an address may hold a
			// password, so name the problem without it.
			var urlErr *url.Error
			if errors.As(err, &urlErr) {
				err = urlErr.Err
			}
			return nil, fmt.Errorf("invalid auth-http-address %q: %v", redactUserinfo(s), err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("invalid auth-http-address %q: scheme %q is not http or https", u.Redacted(), u.Scheme)
		}
		if u.Host == "" || u.Hostname() == "" {
			return nil, fmt.Errorf("invalid auth-http-address %q: no host", u.Redacted())
		}
		if port := u.Port(); port != "" {
			if err := checkPort(port); err != nil {
				return nil, fmt.Errorf("invalid auth-http-address %q: %v", u.Redacted(), err)
			}
		}
		if u.Fragment != "" || strings.Contains(s, "#") {
			return nil, fmt.Errorf("invalid auth-http-address %q: a fragment is not sent to the server", u.Redacted())
		}
		if u.Path == "" {
			u.Path = "/"
		}
		return u, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return nil, fmt.Errorf("invalid auth-http-address %q: want host:port or a URL: %v", s, err)
	}
	if host == "" {
		return nil, fmt.Errorf("invalid auth-http-address %q: no host", s)
	}
	if strings.ContainsAny(host, "/?#@ ") {
		return nil, fmt.Errorf("invalid auth-http-address %q: %q is not a host name", s, host)
	}
	if err := checkPort(port); err != nil {
		return nil, fmt.Errorf("invalid auth-http-address %q: %v", s, err)
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/auth"}, nil
}

// checkPort accepts a decimal port 1-65535.
func checkPort(port string) error {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("port %q is not 1-65535", port)
	}
	return nil
}

// redactUserinfo hides a password in an address that did not parse as a URL.
func redactUserinfo(s string) string {
	i := strings.Index(s, "://")
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	userinfo := rest[:at]
	if colon := strings.Index(userinfo, ":"); colon >= 0 {
		userinfo = userinfo[:colon] + ":xxxxx"
	}
	return s[:i+3] + userinfo + rest[at:]
}
