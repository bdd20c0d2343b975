// Package nsqlookupd implements the NSQ discovery daemon: nsqd nodes announce
// their topics and channels over TCP, and consumers ask the HTTP API where a
// topic lives.
package nsqlookupd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// NSQLookupd is one running lookup daemon.
type NSQLookupd struct {
	opts     *Options
	logger   Logger
	hostname string

	// DB holds every registration.
	DB *RegistrationDB

	metrics *counters

	tcpListener  net.Listener
	httpListener net.Listener
	tcpServer    *tcpServer
	httpServer   *http.Server

	// goroutines tracks the server goroutines started by Main.
	goroutines sync.WaitGroup
	exitOnce   sync.Once
	exitCh     chan struct{}
}

// New validates opts and binds both listeners, so that an unusable address is
// an error here rather than a crash later. Nothing is served until Main.
func New(opts *Options) (*NSQLookupd, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = defaultLogger(opts.LogPrefix)
	}
	l := &NSQLookupd{
		opts:     opts,
		logger:   logger,
		hostname: osHostname(),
		DB:       NewRegistrationDB(opts.InactiveProducerTimeout, opts.TombstoneLifetime),
		metrics:  newCounters(),
		exitCh:   make(chan struct{}),
	}

	ok := false
	defer func() {
		if !ok {
			l.closeListeners()
		}
	}()
	var err error
	l.tcpListener, err = net.Listen("tcp", opts.TCPAddress)
	if err != nil {
		return nil, fmt.Errorf("listen (%s) failed: %w", opts.TCPAddress, err)
	}
	l.httpListener, err = net.Listen("tcp", opts.HTTPAddress)
	if err != nil {
		return nil, fmt.Errorf("listen (%s) failed: %w", opts.HTTPAddress, err)
	}
	l.tcpServer = newTCPServer(l, l.tcpListener)
	l.httpServer = newHTTPServer(l)
	ok = true
	return l, nil
}

func (l *NSQLookupd) closeListeners() {
	if l.tcpListener != nil {
		l.tcpListener.Close()
	}
	if l.httpListener != nil {
		l.httpListener.Close()
	}
}

// RealTCPAddr returns the address the TCP listener is bound to.
func (l *NSQLookupd) RealTCPAddr() *net.TCPAddr {
	return l.tcpListener.Addr().(*net.TCPAddr)
}

// RealHTTPAddr returns the address the HTTP listener is bound to.
func (l *NSQLookupd) RealHTTPAddr() *net.TCPAddr {
	return l.httpListener.Addr().(*net.TCPAddr)
}

// Main serves TCP and HTTP until Exit is called (it then returns nil) or a
// server fails (it returns that error; the caller should then call Exit).
func (l *NSQLookupd) Main() error {
	errCh := make(chan error, 2)
	l.goroutines.Add(2)
	go func() {
		defer l.goroutines.Done()
		errCh <- l.tcpServer.serve()
	}()
	go func() {
		defer l.goroutines.Done()
		l.logf(LOG_INFO, "HTTP: listening on %s", l.httpListener.Addr())
		err := l.httpServer.Serve(l.httpListener)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else if err != nil {
			err = fmt.Errorf("HTTP: serving on %s: %w", l.httpListener.Addr(), err)
		}
		errCh <- err
	}()

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
		return err
	}
}

// Exit stops the daemon: it closes the listeners, drains in-flight HTTP
// requests for up to ShutdownTimeout, closes every TCP client and waits for
// all goroutines. It may be called more than once.
func (l *NSQLookupd) Exit() {
	l.exitOnce.Do(func() {
		close(l.exitCh)
		l.tcpListener.Close()

		ctx, cancel := context.WithTimeout(context.Background(), l.opts.ShutdownTimeout)
		if err := l.httpServer.Shutdown(ctx); err != nil {
			l.logf(LOG_WARN, "HTTP: shutdown: %s; closing remaining connections", err)
			l.httpServer.Close()
		}
		cancel()
		// Shutdown closes the listener only if Serve had started.
		l.httpListener.Close()

		l.tcpServer.closeAll()
		l.goroutines.Wait()
	})
}
