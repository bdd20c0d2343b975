// Package nsqlookupd implements the NSQ discovery daemon: nsqd nodes announce
// their topics and channels over TCP, and consumers ask the HTTP API where a
// topic lives.
package nsqlookupd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/auth"
	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/registry"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
)

// NSQLookupd is one running lookup daemon.
type NSQLookupd struct {
	opts     *Options
	logger   Logger
	flushLog func() error
	hostname string

	// db holds every registration.
	db *registry.Store

	metrics *counters
	// refused counts connections refused at accept, by kind.
	refused refusalCounts
	// warnLimit rate-limits the WARNING lines remote peers can trigger.
	warnLimit *lg.Limiter
	// tcpAllow is --tcp-allow parsed; empty allows everyone.
	tcpAllow prefixList
	// readers checks readers' secrets with the auth servers; nil when
	// reader auth is off.
	readers *auth.Authorizer

	tcpListener   net.Listener
	httpListener  net.Listener // nil when plain HTTP is disabled
	httpsListener net.Listener // nil unless HTTPSAddress is set
	tcpServer     *tcpServer
	httpServer    *http.Server
	httpsServer   *http.Server
	httpsTLS      *tlsReloader // nil unless HTTPSAddress is set

	// startMu orders Main's goroutine starts before Exit's wait for them
	// (a WaitGroup must not be added to from zero while waited on); once
	// exiting is set, Main starts nothing.
	startMu sync.Mutex
	exiting bool
	// goroutines tracks the server goroutines started by Main.
	goroutines sync.WaitGroup
	exitOnce   sync.Once
	exitCh     chan struct{}
}

// New validates opts and binds both listeners, so that an unusable address is
// an error here rather than a crash later. Nothing is served until Main. Its
// first log line is the version, then opts.StartupWarnings and warnings
// about values that work but are probably mistakes.
func New(opts *Options) (*NSQLookupd, error) {
	s, err := opts.compile()
	if err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	logger, flushLog := opts.Logger, func() error { return nil }
	if logger == nil {
		logger, flushLog = defaultLogger(opts.LogPrefix)
	}
	l := &NSQLookupd{
		opts:     opts,
		logger:   logger,
		flushLog: flushLog,
		hostname: osHostname(),
		db: registry.New(registry.Config{
			InactiveTimeout:      opts.InactiveProducerTimeout,
			TombstoneLifetime:    opts.TombstoneLifetime,
			MaxRegistrations:     opts.MaxRegistrations,
			MaxPeerRegistrations: opts.MaxRegistrationsPerClient,
			Clock:                opts.clock,
		}),
		metrics:   newCounters(),
		warnLimit: lg.NewLimiter(time.Second, nil),
		tcpAllow:  s.tcpAllow,
		exitCh:    make(chan struct{}),
	}
	l.logf(LOG_INFO, "%s", version.String("nsqlookupd"))
	for _, warnings := range [][]string{opts.StartupWarnings, s.warnings} {
		for _, w := range warnings {
			l.logf(LOG_WARN, "%s", w)
		}
	}

	ok := false
	defer func() {
		if !ok {
			l.closeListeners()
			// The caller reports the error; what was logged comes first.
			l.flushLog()
		}
	}()
	if opts.HTTPSAddress != "" {
		if l.httpsTLS, err = newTLSReloader(opts); err != nil {
			return nil, err
		}
		if w := tlsMinVersionWarning(opts.TLSMinVersion); w != "" {
			l.logf(LOG_WARN, "%s", w)
		}
	}

	l.tcpListener, err = net.Listen("tcp", opts.TCPAddress)
	if err != nil {
		return nil, fmt.Errorf("listen (%s) failed: %w", opts.TCPAddress, err)
	}
	if opts.HTTPAddress != "" {
		l.httpListener, err = net.Listen("tcp", opts.HTTPAddress)
		if err != nil {
			return nil, fmt.Errorf("listen (%s) failed: %w", opts.HTTPAddress, err)
		}
	}
	if opts.HTTPSAddress != "" {
		l.httpsListener, err = net.Listen("tcp", opts.HTTPSAddress)
		if err != nil {
			return nil, fmt.Errorf("listen (%s) failed: %w", opts.HTTPSAddress, err)
		}
	}

	if opts.HTTPMaxConns > 0 || opts.HTTPMaxConnsPerIP > 0 {
		// One limit over both listeners: HTTPS connections count with
		// plain ones, as the flags say.
		limit := &connLimit{maxConns: opts.HTTPMaxConns, maxPerIP: opts.HTTPMaxConnsPerIP, refused: l.httpRefused}
		if l.httpListener != nil {
			l.httpListener = limit.wrap(l.httpListener)
		}
		if l.httpsListener != nil {
			l.httpsListener = limit.wrap(l.httpsListener)
		}
	}

	var metrics *promMetrics
	if opts.Metrics {
		metrics = newPromMetrics(l)
	}
	access := &accessControl{l: l, operators: s.adminAllow}
	if len(opts.AuthHTTPAddresses) > 0 {
		var authNow func() time.Time
		if opts.clock != nil {
			authNow = func() time.Time { return time.Unix(0, opts.clock.Mono()) }
		}
		if l.readers, err = auth.New(&auth.Options{
			Addresses:      opts.AuthHTTPAddresses,
			RequestMethod:  opts.AuthHTTPRequestMethod,
			ConnectTimeout: opts.HTTPClientConnectTimeout,
			RequestTimeout: opts.HTTPClientRequestTimeout,
			Logf:           l.logf,
			Now:            authNow,
		}); err != nil {
			return nil, err
		}
		access.readers = l.readers
	}
	handler := newHTTPHandler(l, access, metrics)
	l.tcpServer = newTCPServer(l, l.tcpListener)
	if l.httpListener != nil {
		l.httpServer = newHTTPServer(l, handler)
	}
	if l.httpsListener != nil {
		l.httpsServer = newHTTPServer(l, handler)
		l.httpsServer.TLSConfig = l.httpsTLS.serverConfig()
	}
	ok = true
	return l, nil
}

// httpRefused counts and logs (rate-limited) an HTTP connection closed at
// accept.
func (l *NSQLookupd) httpRefused(reason string, remote net.Addr) {
	l.refused.add("http", reason)
	limit := l.opts.HTTPMaxConns
	if reason == refusedMaxConnsPerIP {
		limit = l.opts.HTTPMaxConnsPerIP
	}
	l.warnLimited("http-"+reason, "HTTP: closing connection from %s at accept: %s (%d) reached",
		remote, strings.ReplaceAll("http_"+reason, "_", "-"), limit)
}

func (l *NSQLookupd) closeListeners() {
	for _, ln := range []net.Listener{l.tcpListener, l.httpListener, l.httpsListener} {
		if ln != nil {
			ln.Close()
		}
	}
}

// RealTCPAddr returns the address the TCP listener is bound to.
func (l *NSQLookupd) RealTCPAddr() *net.TCPAddr {
	return l.tcpListener.Addr().(*net.TCPAddr)
}

// RealHTTPAddr returns the address the plain HTTP listener is bound to, or
// nil when plain HTTP is disabled.
func (l *NSQLookupd) RealHTTPAddr() *net.TCPAddr {
	if l.httpListener == nil {
		return nil
	}
	return l.httpListener.Addr().(*net.TCPAddr)
}

// RealHTTPSAddr returns the address the HTTPS listener is bound to, or nil
// when HTTPS is not configured.
func (l *NSQLookupd) RealHTTPSAddr() *net.TCPAddr {
	if l.httpsListener == nil {
		return nil
	}
	return l.httpsListener.Addr().(*net.TCPAddr)
}

// apiPort is the HTTP API port reported to nsqd in the IDENTIFY reply: the
// plain HTTP port, or the HTTPS one when plain HTTP is disabled.
func (l *NSQLookupd) apiPort() int {
	if a := l.RealHTTPAddr(); a != nil {
		return a.Port
	}
	return l.RealHTTPSAddr().Port
}

// ReloadTLS reads the HTTPS certificate, key and root CA files again and
// uses them for new handshakes; established connections are not touched.
// If any file is unusable it logs an ERROR naming it, keeps the previous
// ones in use and returns the error. Without HTTPS it only logs that there
// is nothing to reload.
func (l *NSQLookupd) ReloadTLS() error {
	if l.httpsTLS == nil {
		l.logf(LOG_INFO, "TLS: HTTPS is not configured, nothing to reload")
		return nil
	}
	leaf, err := l.httpsTLS.reload()
	if err != nil {
		l.logf(LOG_ERROR, "TLS: reload failed, still using the previous certificate and CAs: %s", err)
		return err
	}
	l.logf(LOG_INFO, "TLS: reloaded %s; serving %q (serial %s, expires %s)",
		l.httpsTLS.files(), leaf.Subject.CommonName, leaf.SerialNumber, leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// CheckLocks takes and releases every lock of the registration store in
// turn: it blocks while any is wedged, which a liveness watchdog notices.
func (l *NSQLookupd) CheckLocks() {
	l.db.CheckLocks()
}

// Main serves TCP and HTTP until Exit is called (it then returns nil) or a
// server fails (it returns that error; the caller should then call Exit).
func (l *NSQLookupd) Main() error {
	errCh := make(chan error, 3)
	l.startMu.Lock()
	if l.exiting {
		// Exit came first: there is nothing left to serve.
		l.startMu.Unlock()
		return nil
	}
	l.goroutines.Add(1)
	go func() {
		defer l.goroutines.Done()
		errCh <- l.tcpServer.serve()
	}()
	if l.httpServer != nil {
		l.serveHTTP(errCh, "HTTP", l.httpServer, l.httpListener)
	}
	if l.httpsServer != nil {
		l.serveHTTP(errCh, "HTTPS", l.httpsServer, tls.NewListener(l.httpsListener, l.httpsServer.TLSConfig))
	}
	l.startMu.Unlock()

	select {
	case <-l.exitCh:
		return nil
	case err := <-errCh:
		if err == nil {
			// A listener closed underneath a server outside of Exit.
			select {
			case <-l.exitCh:
				return nil
			default:
				err = errors.New("a listener closed unexpectedly")
			}
		}
		l.logf(LOG_FATAL, "%s", err)
		l.flushLog()
		return err
	}
}

func (l *NSQLookupd) serveHTTP(errCh chan<- error, name string, srv *http.Server, ln net.Listener) {
	l.goroutines.Add(1)
	go func() {
		defer l.goroutines.Done()
		l.logf(LOG_INFO, "%s: listening on %s", name, ln.Addr())
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			l.logf(LOG_INFO, "%s: closing %s", name, ln.Addr())
			err = nil
		} else if err != nil {
			err = fmt.Errorf("%s: serving on %s: %w", name, ln.Addr(), err)
		}
		errCh <- err
	}()
}

// Exit stops the daemon: it closes the listeners, drains in-flight HTTP
// requests for up to ShutdownTimeout, closes every TCP client and waits for
// all goroutines. It may be called more than once.
func (l *NSQLookupd) Exit() {
	l.exitOnce.Do(func() {
		l.startMu.Lock()
		l.exiting = true
		l.startMu.Unlock()
		close(l.exitCh)
		l.tcpListener.Close()

		ctx, cancel := context.WithTimeout(context.Background(), l.opts.ShutdownTimeout)
		var drained sync.WaitGroup
		for _, srv := range []*http.Server{l.httpServer, l.httpsServer} {
			if srv == nil {
				continue
			}
			drained.Add(1)
			go func() {
				defer drained.Done()
				if err := srv.Shutdown(ctx); err != nil {
					l.logf(LOG_WARN, "HTTP: shutdown: %s; closing remaining connections", err)
					srv.Close()
				}
			}()
		}
		drained.Wait()
		cancel()
		// Shutdown closes a listener only if Serve had started on it.
		l.closeListeners()

		l.tcpServer.closeAll()
		l.goroutines.Wait()
		if l.readers != nil {
			l.readers.Close()
		}
		l.flushLog()
	})
}
