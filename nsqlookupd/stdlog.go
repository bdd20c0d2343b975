package nsqlookupd

import (
	"log"
	"strings"
)

// newStdLogAdapter routes a standard library logger (net/http's ErrorLog)
// through the daemon's leveled log at WARNING.
func newStdLogAdapter(l *NSQLookupd) *log.Logger {
	return log.New(stdLogWriter{l}, "", 0)
}

type stdLogWriter struct{ l *NSQLookupd }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.l.logf(LOG_WARN, "HTTP: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}
