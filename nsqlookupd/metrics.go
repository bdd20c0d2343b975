package nsqlookupd

import (
	"sync"
	"sync/atomic"
)

// counters are the daemon's event counts, kept as plain atomics so the hot
// paths pay one atomic add; the metrics endpoint reads them on scrape.
type counters struct {
	tcpAccepted atomic.Uint64
	tcpRefused  atomic.Uint64
	tcpClosed   atomic.Uint64

	tombstonesSet atomic.Uint64

	// registrationsRefused counts REGISTERs and creates refused over
	// --max-registrations-per-client [0] and --max-registrations [1].
	registrationsRefused [2]atomic.Uint64

	// commands counts V1 commands by index from v1CommandIndex (rows of
	// v1Commands, then unknown commands), then [ok, error].
	commands [][2]atomic.Uint64

	// errorCodesMu guards errorCodes.
	errorCodesMu sync.Mutex
	errorCodes   map[string]uint64
}

func newCounters() *counters {
	return &counters{
		commands:   make([][2]atomic.Uint64, len(v1Commands)+1),
		errorCodes: make(map[string]uint64),
	}
}

// command counts one V1 command, by its index from v1CommandIndex, and its
// outcome.
func (c *counters) command(i int, ok bool) {
	result := 0
	if !ok {
		result = 1
	}
	c.commands[i][result].Add(1)
}

// protocolErrors counts one protocol error by its wire code.
func (c *counters) protocolErrors(code string) {
	c.errorCodesMu.Lock()
	c.errorCodes[code]++
	c.errorCodesMu.Unlock()
}

// errorCodeCounts returns a copy of the per-code error counts.
func (c *counters) errorCodeCounts() map[string]uint64 {
	c.errorCodesMu.Lock()
	defer c.errorCodesMu.Unlock()
	out := make(map[string]uint64, len(c.errorCodes))
	for k, v := range c.errorCodes {
		out[k] = v
	}
	return out
}
