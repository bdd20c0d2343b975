package nsqlookupd

import (
	"github.com/nsqlookupd/nsqlookupd/internal/lg"
)

// Log levels, re-exported for callers of this package.
const (
	LOG_DEBUG = lg.DEBUG
	LOG_INFO  = lg.INFO
	LOG_WARN  = lg.WARN
	LOG_ERROR = lg.ERROR
	LOG_FATAL = lg.FATAL
)

// logEnabled reports whether a message at level would be printed, so
// callers can skip building expensive arguments.
func (l *NSQLookupd) logEnabled(level lg.LogLevel) bool {
	return level >= l.opts.LogLevel
}

// warnLimited logs a WARNING for cause at most once a second, saying how
// many were held back since the last; for what remote peers can trigger.
// cause must come from the code, never from a client.
func (l *NSQLookupd) warnLimited(cause string, f string, args ...interface{}) {
	if l.logEnabled(LOG_WARN) {
		l.warnLimit.Logf(l.logf, cause, LOG_WARN, f, args...)
	}
}

func (l *NSQLookupd) logf(level lg.LogLevel, f string, args ...interface{}) {
	lg.Logf(l.logger, l.opts.LogLevel, level, f, args...)
}
