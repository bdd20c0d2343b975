package main

import (
	"context"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// sdNotify tells systemd about a state change (READY=1, STOPPING=1, …) when
// the service runs with Type=notify; without NOTIFY_SOCKET it does nothing.
func sdNotify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		logWarn("systemd notify %q failed: %s", state, err)
	}
}

// runWatchdog pings systemd's watchdog at half the WatchdogSec interval for
// as long as healthCheck returns and ctx is live. A wedged daemon (for
// example a stuck lock, which makes healthCheck block) stops the pings, and
// systemd restarts the service. Without WatchdogSec it returns at once.
func runWatchdog(ctx context.Context, healthCheck func()) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		logWarn("systemd watchdog: %s", err)
		return
	}
	if interval <= 0 {
		return
	}
	ticker := time.NewTicker(interval / 2)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			healthCheck()
			sdNotify(daemon.SdNotifyWatchdog)
		}
	}
}
