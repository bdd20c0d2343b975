// Package packaging holds no code: its tests check what operators install,
// namely what `make install` and `make deb` produce and the systemd unit in
// contrib/. The package builder is the separate module in deb/, kept apart
// so that its dependencies stay out of the daemon's go.mod.
package packaging
