// Command nsqlookupd runs the NSQ discovery daemon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/judwhite/go-svc"
	"github.com/mreiferson/go-options"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// program adapts the daemon to go-svc's Init/Start/Stop lifecycle.
type program struct {
	once       sync.Once
	nsqlookupd *nsqlookupd.NSQLookupd

	// ctx ends when a stop signal arrives. Signals are caught from Init on,
	// before go-svc installs its own handler after Start, so a SIGTERM
	// arriving while the daemon starts still stops it cleanly.
	ctx    context.Context
	cancel context.CancelFunc

	// hup receives SIGHUP from Init on, so that it never kills the
	// daemon. Closing stopReload ends the goroutine handling it, which then
	// closes reloadDone.
	hup        chan os.Signal
	stopReload chan struct{}
	reloadDone chan struct{}
}

func main() {
	prg := &program{}
	if err := svc.Run(prg, syscall.SIGINT, syscall.SIGTERM); err != nil {
		logFatal("%s", err)
	}
}

// Init catches stop signals and SIGHUP early and, under a Windows service
// manager, moves to the binary's directory.
func (p *program) Init(env svc.Environment) error {
	p.ctx, p.cancel = signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	p.hup = make(chan os.Signal, 1)
	signal.Notify(p.hup, syscall.SIGHUP)
	if env.IsWindowsService() {
		return os.Chdir(filepath.Dir(os.Args[0]))
	}
	return nil
}

// Context lets go-svc stop on a signal caught before it was listening.
func (p *program) Context() context.Context {
	return p.ctx
}

// Start resolves options (flag > config file > default), binds the listeners
// and serves in the background. Configuration and bind errors are fatal.
func (p *program) Start() error {
	opts := nsqlookupd.NewOptions()

	flagSet := nsqlookupdFlagSet(opts)
	if err := flagSet.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "Usage of nsqlookupd:\n")
			flagSet.SetOutput(os.Stderr)
			flagSet.PrintDefaults()
			os.Exit(0)
		}
		logFatal("%s", err)
	}

	if flagSet.Lookup("version").Value.(flag.Getter).Get().(bool) {
		fmt.Println(version.String("nsqlookupd"))
		os.Exit(0)
	}

	var cfg config
	var warnings []string
	if configFile := flagSet.Lookup("config").Value.String(); configFile != "" {
		onCommandLine := map[string]bool{}
		flagSet.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
		var err error
		if cfg, warnings, err = loadConfig(configFile, onCommandLine); err != nil {
			logFatal("%s", err)
		}
	}
	options.Resolve(opts, flagSet, cfg)
	// The daemon logs them after its version line.
	opts.StartupWarnings = warnings

	lookupd, err := nsqlookupd.New(opts)
	if err != nil {
		logFatal("failed to instantiate nsqlookupd - %s", err)
	}
	p.nsqlookupd = lookupd
	p.stopReload, p.reloadDone = make(chan struct{}), make(chan struct{})
	go p.reloadOnSIGHUP()

	go func() {
		if err := p.nsqlookupd.Main(); err != nil {
			p.Stop()
			os.Exit(1)
		}
	}()
	// Both listeners are bound (New did that), so clients can connect.
	sdNotify(daemon.SdNotifyReady)
	go runWatchdog(p.ctx, p.nsqlookupd.CheckLocks)
	return nil
}

// Stop shuts the daemon down once.
func (p *program) Stop() error {
	p.once.Do(func() {
		sdNotify(daemon.SdNotifyStopping)
		// Ignored rather than reset: a SIGHUP while shutting down must not
		// kill the daemon before it has drained.
		signal.Ignore(syscall.SIGHUP)
		close(p.stopReload)
		<-p.reloadDone
		p.nsqlookupd.Exit()
		p.cancel()
	})
	return nil
}

// reloadOnSIGHUP reloads the HTTPS certificate, key and CA files on each
// SIGHUP until the daemon stops. ReloadTLS logs the outcome; a failed
// reload keeps the previous files in use, so it is not fatal.
func (p *program) reloadOnSIGHUP() {
	defer close(p.reloadDone)
	for {
		select {
		case <-p.hup:
			p.nsqlookupd.ReloadTLS()
		case <-p.stopReload:
			return
		}
	}
}

func logFatal(f string, args ...interface{}) {
	lg.LogFatal("[nsqlookupd] ", f, args...)
}

func logWarn(f string, args ...interface{}) {
	lg.Logf(log.New(os.Stderr, "[nsqlookupd] ", log.Ldate|log.Ltime|log.Lmicroseconds), lg.WARN, lg.WARN, f, args...)
}
