package nsqlookupd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/auth"
	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/registry"
)

// Options configures an NSQLookupd. The `flag` tags name the command-line
// flags; config-file keys are the same names with "_" for "-".
//
// A new option is a tagged field here, its default in NewOptions, its check
// in compile, its flag in apps/nsqlookupd/options.go, a line in
// contrib/nsqlookupd.cfg.example and a row in README's option table; the
// command's tests fail until the last four exist.
type Options struct {
	// LogLevel is the lowest level printed.
	LogLevel lg.LogLevel `flag:"log-level"`
	// LogPrefix starts every log line.
	LogPrefix string `flag:"log-prefix"`
	// Logger receives log lines; nil means standard error with date, time
	// and microseconds.
	Logger Logger

	// TCPAddress is where nsqd nodes connect ("host:port"; port 0 picks a
	// free one).
	TCPAddress string `flag:"tcp-address"`
	// HTTPAddress is where the HTTP API listens.
	HTTPAddress string `flag:"http-address"`
	// BroadcastAddress is this lookupd's address as reported in the
	// IDENTIFY reply; empty means the OS hostname.
	BroadcastAddress string `flag:"broadcast-address"`

	// InactiveProducerTimeout: a peer silent for longer is left out of
	// /lookup and /nodes (not deleted).
	InactiveProducerTimeout time.Duration `flag:"inactive-producer-timeout"`
	// TombstoneLifetime is how long a tombstoned producer stays hidden from
	// /lookup.
	TombstoneLifetime time.Duration `flag:"tombstone-lifetime"`

	// MaxBodySize is the largest IDENTIFY body accepted, in bytes.
	MaxBodySize int64 `flag:"max-body-size"`
	// MaxCommandSize is the longest command line accepted, in bytes,
	// newline included.
	MaxCommandSize int64 `flag:"max-command-size"`
	// ClientTimeout is the TCP read deadline: a client that sends nothing
	// for this long is disconnected. Below nsqd's 15s PING interval every
	// idle nsqd is dropped between pings; New then logs a warning.
	ClientTimeout time.Duration `flag:"client-timeout"`
	// MagicTimeout is how long a new TCP connection has to send its 4-byte
	// protocol magic, or ClientTimeout when that is shorter.
	MagicTimeout time.Duration `flag:"magic-timeout"`
	// MaxClients caps concurrent TCP connections; 0 means unlimited.
	MaxClients int `flag:"max-clients"`
	// MaxClientsPerIP caps concurrent TCP connections from one client IP;
	// 0 means unlimited.
	MaxClientsPerIP int `flag:"max-clients-per-ip"`
	// TCPAllow lists the client networks (CIDRs or single addresses)
	// allowed to connect over TCP, that is to announce producers; others
	// get E_FORBIDDEN and are closed. Empty means everyone.
	TCPAllow []string `flag:"tcp-allow"`
	// MaxRegistrationsPerClient caps the topic and channel registrations
	// one TCP client holds; 0 means unlimited.
	MaxRegistrationsPerClient int `flag:"max-registrations-per-client"`
	// MaxRegistrations caps the distinct topic and channel registrations
	// in the store, HTTP-created ones included; 0 means unlimited.
	MaxRegistrations int `flag:"max-registrations"`

	// HTTPMaxConns caps concurrent HTTP and HTTPS connections together;
	// 0 means unlimited. Connections over it are closed at accept.
	HTTPMaxConns int `flag:"http-max-conns"`
	// HTTPMaxConnsPerIP caps concurrent HTTP and HTTPS connections from one
	// client IP; 0 means unlimited.
	HTTPMaxConnsPerIP int `flag:"http-max-conns-per-ip"`

	// ShutdownTimeout bounds how long Exit waits for in-flight HTTP requests
	// to finish.
	ShutdownTimeout time.Duration `flag:"shutdown-timeout"`

	// HTTPSAddress, when set, serves the HTTP API over TLS there too, with
	// TLSCert and TLSKey. An empty HTTPAddress then disables plain HTTP.
	HTTPSAddress string `flag:"https-address"`
	// TLSCert is the PEM certificate (chain) file for HTTPS.
	TLSCert string `flag:"tls-cert"`
	// TLSKey is the PEM private key file for HTTPS.
	TLSKey string `flag:"tls-key"`
	// TLSRootCAFile is a PEM bundle of CAs that client certificates must
	// chain to under the "require-verify" policy.
	TLSRootCAFile string `flag:"tls-root-ca-file"`
	// TLSClientAuthPolicy is "" (no client certificate), "require" (any
	// client certificate) or "require-verify" (one signed by TLSRootCAFile).
	TLSClientAuthPolicy string `flag:"tls-client-auth-policy"`
	// TLSMinVersion is the lowest TLS version accepted (a crypto/tls
	// VersionTLS1x constant); 0 means TLS 1.2.
	TLSMinVersion uint16 `flag:"tls-min-version"`

	// HTTPAdminAllow lists the operators' networks (CIDRs or single
	// addresses): only they may call the operator endpoints (the POST
	// endpoints, /nodes, /debug, /debug/pprof/* and /metrics); others get
	// 403. Empty means everyone while reader auth is off, loopback clients
	// only while it is on.
	HTTPAdminAllow []string `flag:"http-admin-allow"`

	// AuthHTTPAddresses are the NSQ auth servers readers are checked with
	// ("host:port" for http://host:port/auth, or a whole URL). When set, a
	// client that is not an operator must send a Bearer secret to /lookup,
	// /topics and /channels, and sees only what the auth server allows.
	AuthHTTPAddresses []string `flag:"auth-http-address"`
	// AuthHTTPRequestMethod is "get" (fields in the query string) or
	// "post" (a form body).
	AuthHTTPRequestMethod string `flag:"auth-http-request-method"`
	// HTTPClientConnectTimeout bounds connecting to an auth server.
	HTTPClientConnectTimeout time.Duration `flag:"http-client-connect-timeout"`
	// HTTPClientRequestTimeout bounds one request to an auth server.
	HTTPClientRequestTimeout time.Duration `flag:"http-client-request-timeout"`

	// Metrics serves Prometheus metrics at GET /metrics.
	Metrics bool `flag:"metrics"`

	// StartupWarnings are logged as WARNING at start, right after the
	// version line. The command fills them with config-file values that are
	// accepted but probably wrong (unknown keys, durations given as bare
	// numbers of milliseconds).
	StartupWarnings []string

	// clock is the registration store's clock, and the reader-auth
	// cache's (its monotonic reading); nil means the system's. Only tests
	// set it, to expire peers, tombstones and cached answers without
	// waiting.
	clock registry.Clock
}

// Defaults of the hardening limits.
const (
	// DefaultMaxBodySize is far above a real nsqd's IDENTIFY (under 1 KiB)
	// and small enough that many clients' bodies cannot exhaust memory.
	DefaultMaxBodySize    = 16 * 1024
	DefaultMaxCommandSize = 4096
	DefaultClientTimeout  = 60 * time.Second
	DefaultMagicTimeout   = 10 * time.Second
)

// nsqdPingInterval is how often an idle nsqd sends PING to each lookupd.
const nsqdPingInterval = 15 * time.Second

// NewOptions returns the defaults: listen on 0.0.0.0:4160 (TCP) and
// 0.0.0.0:4161 (HTTP), broadcast the OS hostname, 300s inactivity, 45s
// tombstones.
func NewOptions() *Options {
	return &Options{
		LogPrefix:                "[nsqlookupd] ",
		LogLevel:                 lg.INFO,
		TCPAddress:               "0.0.0.0:4160",
		HTTPAddress:              "0.0.0.0:4161",
		BroadcastAddress:         osHostname(),
		InactiveProducerTimeout:  300 * time.Second,
		TombstoneLifetime:        45 * time.Second,
		MaxBodySize:              DefaultMaxBodySize,
		MaxCommandSize:           DefaultMaxCommandSize,
		ClientTimeout:            DefaultClientTimeout,
		MagicTimeout:             DefaultMagicTimeout,
		MaxClients:               0,
		ShutdownTimeout:          5 * time.Second,
		TLSMinVersion:            tls.VersionTLS12,
		AuthHTTPRequestMethod:    auth.DefaultRequestMethod,
		HTTPClientConnectTimeout: auth.DefaultConnectTimeout,
		HTTPClientRequestTimeout: auth.DefaultRequestTimeout,
	}
}

// Validate reports every option that cannot work, in one line. New runs
// the same checks.
func (o *Options) Validate() error {
	_, err := o.compile()
	return err
}

// settings is what New needs from Options beyond the plain values: the
// results of parsing them once, during validation.
type settings struct {
	// adminAllow and tcpAllow are HTTPAdminAllow and TCPAllow parsed.
	adminAllow, tcpAllow prefixList
	// warnings are values that work but are probably mistakes.
	warnings []string
}

// compile validates o and returns what it parsed on the way; the error names
// every option that cannot work, in one line.
func (o *Options) compile() (settings, error) {
	var s settings
	var errs []error
	if o.LogLevel < lg.DEBUG || o.LogLevel > lg.FATAL {
		errs = append(errs, fmt.Errorf("invalid log level %d", o.LogLevel))
	}
	if o.TCPAddress == "" {
		errs = append(errs, errors.New("tcp-address must not be empty"))
	}
	if o.HTTPAddress == "" && o.HTTPSAddress == "" {
		errs = append(errs, errors.New("http-address and https-address must not both be empty"))
	}
	if o.HTTPSAddress != "" && (o.TLSCert == "" || o.TLSKey == "") {
		errs = append(errs, errors.New("https-address requires tls-cert and tls-key"))
	}
	if o.HTTPSAddress == "" && (o.TLSCert != "" || o.TLSKey != "") {
		errs = append(errs, errors.New("tls-cert and tls-key require https-address"))
	}
	switch o.TLSClientAuthPolicy {
	case "", tlsClientAuthRequire:
	case tlsClientAuthRequireVerify:
		if o.TLSRootCAFile == "" {
			errs = append(errs, errors.New("tls-client-auth-policy=require-verify requires tls-root-ca-file"))
		}
	default:
		errs = append(errs, fmt.Errorf("invalid tls-client-auth-policy %q (want require or require-verify)", o.TLSClientAuthPolicy))
	}
	if o.TLSMinVersion != 0 && TLSVersionName(o.TLSMinVersion) == "" {
		errs = append(errs, fmt.Errorf("invalid tls-min-version %#x", o.TLSMinVersion))
	}
	var err error
	if s.adminAllow, err = parsePrefixList("http-admin-allow", o.HTTPAdminAllow); err != nil {
		errs = append(errs, err)
	}
	if s.tcpAllow, err = parsePrefixList("tcp-allow", o.TCPAllow); err != nil {
		errs = append(errs, err)
	}
	if o.InactiveProducerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("inactive-producer-timeout must be positive, got %s", o.InactiveProducerTimeout))
	}
	if o.TombstoneLifetime < 0 {
		errs = append(errs, fmt.Errorf("tombstone-lifetime must not be negative, got %s", o.TombstoneLifetime))
	}
	if o.MaxBodySize < 1 {
		errs = append(errs, fmt.Errorf("max-body-size must be at least 1, got %d", o.MaxBodySize))
	}
	if o.MaxCommandSize < 64 {
		errs = append(errs, fmt.Errorf("max-command-size must be at least 64, got %d", o.MaxCommandSize))
	}
	if o.ClientTimeout <= 0 {
		errs = append(errs, fmt.Errorf("client-timeout must be positive, got %s", o.ClientTimeout))
	} else if o.ClientTimeout < nsqdPingInterval {
		s.warnings = append(s.warnings, fmt.Sprintf(
			"client-timeout %s is below nsqd's %s PING interval: every idle nsqd will be disconnected between pings",
			o.ClientTimeout, nsqdPingInterval))
	}
	if o.MagicTimeout <= 0 {
		errs = append(errs, fmt.Errorf("magic-timeout must be positive, got %s", o.MagicTimeout))
	}
	if o.MaxClients < 0 {
		errs = append(errs, fmt.Errorf("max-clients must not be negative, got %d", o.MaxClients))
	}
	for _, limit := range []struct {
		name  string
		value int
	}{
		{"max-clients-per-ip", o.MaxClientsPerIP},
		{"http-max-conns", o.HTTPMaxConns},
		{"http-max-conns-per-ip", o.HTTPMaxConnsPerIP},
	} {
		if limit.value < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %d", limit.name, limit.value))
		}
	}
	if o.MaxRegistrationsPerClient < 0 {
		errs = append(errs, fmt.Errorf("max-registrations-per-client must not be negative, got %d", o.MaxRegistrationsPerClient))
	}
	if o.MaxRegistrations < 0 {
		errs = append(errs, fmt.Errorf("max-registrations must not be negative, got %d", o.MaxRegistrations))
	}
	for _, addr := range o.AuthHTTPAddresses {
		if _, err := auth.ParseAddress(addr); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := auth.ParseRequestMethod(o.AuthHTTPRequestMethod); err != nil {
		errs = append(errs, err)
	}
	if o.HTTPClientConnectTimeout <= 0 {
		errs = append(errs, fmt.Errorf("http-client-connect-timeout must be positive, got %s", o.HTTPClientConnectTimeout))
	}
	if o.HTTPClientRequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("http-client-request-timeout must be positive, got %s", o.HTTPClientRequestTimeout))
	}
	if o.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown-timeout must not be negative, got %s", o.ShutdownTimeout))
	}
	if len(errs) == 0 {
		return s, nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return settings{}, errors.New(strings.Join(msgs, "; "))
}

// Logger is where log lines go; *log.Logger satisfies it.
type Logger = lg.Logger

// logFlushInterval bounds how long a log line may sit in the buffer.
const logFlushInterval = 100 * time.Millisecond

// defaultLogger writes to standard error through a buffer, returning the
// logger and the function that flushes it.
func defaultLogger(prefix string) (Logger, func() error) {
	w := lg.NewBufferedWriter(os.Stderr, logFlushInterval)
	return log.New(w, prefix, log.Ldate|log.Ltime|log.Lmicroseconds), w.Flush
}
