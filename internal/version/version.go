// Package version holds the daemon's version, reported by --version, /info
// and the IDENTIFY reply.
package version

import (
	"fmt"
	"runtime"
)

// Binary is the semantic version of this build. It tracks the NSQ release
// whose lookupd protocol and HTTP API the daemon implements, so nsqadmin and
// other tools that parse it as semver keep working. Override at link time with
// -ldflags "-X <module>/internal/version.Binary=...".
var Binary = "1.3.0"

// Commit is the source revision the binary was built from, set at link time;
// empty when unknown.
var Commit = ""

// String returns the one-line version banner printed by --version, e.g.
// "nsqlookupd v1.3.0 (built w/go1.26.8)".
func String(app string) string {
	if Commit != "" {
		return fmt.Sprintf("%s v%s (built w/%s, commit %s)", app, Binary, runtime.Version(), Commit)
	}
	return fmt.Sprintf("%s v%s (built w/%s)", app, Binary, runtime.Version())
}
