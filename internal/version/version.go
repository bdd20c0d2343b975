// Package version holds the daemon's version, reported by --version, /info
// and the IDENTIFY reply.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Binary is the semantic version of this build. It tracks the NSQ release
// whose lookupd protocol and HTTP API the daemon implements, so nsqadmin and
// other tools that parse it as semver keep working. Override at link time with
// -ldflags "-X <module>/internal/version.Binary=...".
var Binary = "1.3.0"

// Commit is the source revision the binary was built from, set at link time
// by the Makefile. When empty, the revision the Go toolchain stamped into
// the binary is used, if any.
var Commit = ""

// String returns the one-line version banner printed by --version, e.g.
// "nsqlookupd v1.3.0 (built w/go1.26.8)". When the source revision is
// known it is appended as semver build metadata: "v1.3.0+abc1234".
func String(app string) string {
	v := Binary
	if commit := commit(); commit != "" {
		v += "+" + commit
	}
	return fmt.Sprintf("%s v%s (built w/%s)", app, v, runtime.Version())
}

func commit() string {
	if Commit != "" {
		return Commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if revision != "" && modified == "true" {
		revision += "-dirty"
	}
	return revision
}
