package nsqlookupd

// Hooks for the black-box tests of package nsqlookupd_test: the few things
// they cannot reach through the daemon's sockets. Each says what it is for.

import (
	"net"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/nsqlookupd/nsqlookupd/internal/registry"
)

// SetClock makes a daemon created with opts read c: its registration store
// for inactivity and tombstone expiry, its reader-auth cache for answers'
// ttls. Tests then advance a fake clock instead of sleeping.
func SetClock(opts *Options, c registry.Clock) {
	opts.clock = c
}

// StoreOf returns l's registration store: the fuzzers seed it and compare
// answers with it; other tests read its counts.
func StoreOf(l *NSQLookupd) *registry.Store { return l.db }

// TCPConnCount returns how many TCP connections l tracks, from accept on:
// tests wait for it before acting on connections that sent nothing.
func TCPConnCount(l *NSQLookupd) int { return l.tcpServer.connCount() }

// HTTPConnCount returns how many HTTP connections count against
// --http-max-conns, or -1 without a limit: a test starts from zero.
func HTTPConnCount(l *NSQLookupd) int {
	ll, ok := l.httpListener.(*limitListener)
	if !ok {
		return -1
	}
	ll.limit.mu.Lock()
	defer ll.limit.mu.Unlock()
	return ll.limit.open
}

// ConnsRefused returns how many connections l refused at accept on
// listener ("tcp", "http") for reason, as its metrics name them: tests of
// the connection limits check each refusal is counted.
func ConnsRefused(l *NSQLookupd, listener, reason string) uint64 {
	for i, r := range refusals {
		if r == (refusal{listener, reason}) {
			return l.refused[i].Load()
		}
	}
	panic("no refusal " + listener + " " + reason)
}

// HTTPHandler returns the handler of l's HTTP server, which the HTTP fuzzer
// and benchmark call without sockets.
func HTTPHandler(l *NSQLookupd) http.Handler { return l.httpServer.Handler }

// HandleTCPConn serves conn as an accepted TCP connection until it ends:
// the protocol fuzzer runs an input through it synchronously.
func HandleTCPConn(l *NSQLookupd, conn net.Conn) { l.tcpServer.handle(conn) }

// Route is one row of the route table as a test sees it.
type Route struct {
	Path    string
	Methods []string
	// Label is the row's label in metrics.
	Label string
	// Operator is set for operator routes, which --http-admin-allow
	// guards.
	Operator bool
}

// Routes returns l's route table: a test calls every row and checks its
// metric label and access.
func Routes(l *NSQLookupd) []Route {
	var out []Route
	for _, rt := range l.httpServer.Handler.(*httpServer).routes() {
		out = append(out, Route{Path: rt.path, Methods: rt.methods, Label: rt.metricLabel(),
			Operator: rt.access == accessOperator})
	}
	return out
}

// V1Command is one row of the V1 command table as a test sees it.
type V1Command struct {
	Name          string
	NeedsIdentify bool
}

// V1Commands returns the command table: a test sends every command and
// checks the IDENTIFY rule and the metric labels.
func V1Commands() []V1Command {
	var out []V1Command
	for _, c := range v1Commands {
		out = append(out, V1Command{Name: c.name, NeedsIdentify: c.needsIdentify})
	}
	return out
}

// SetHTTPTimeouts shortens the plain HTTP server's timeouts, so that tests
// of slow clients are quick. Call it before Main.
func SetHTTPTimeouts(l *NSQLookupd, readHeader, read, idle time.Duration) {
	l.httpServer.ReadHeaderTimeout = readHeader
	l.httpServer.ReadTimeout = read
	l.httpServer.IdleTimeout = idle
}

// AddPanickingRoute adds GET path, served through the same chain as the
// route table's rows, whose handler panics with msg. Call it before Main.
func AddPanickingRoute(l *NSQLookupd, path, msg string) {
	s := l.httpServer.Handler.(*httpServer)
	s.router.Handle("GET", path, s.handle(&route{
		methods: methodsGET, path: path, access: accessOpen,
		handler: func(http.ResponseWriter, *http.Request, httprouter.Params) (interface{}, error) {
			panic(msg)
		},
	}))
}

// TakeStreamPlaces takes n of the places /nodes and /debug answers are
// built in, and StreamPlacesTaken counts those taken: a test fills them
// and frees one with FreeStreamPlace.
func TakeStreamPlaces(l *NSQLookupd, n int) {
	for range n {
		l.httpServer.Handler.(*httpServer).streams <- struct{}{}
	}
}

// FreeStreamPlace frees a place taken by TakeStreamPlaces.
func FreeStreamPlace(l *NSQLookupd) { <-l.httpServer.Handler.(*httpServer).streams }

// StreamPlacesTaken counts the places taken.
func StreamPlacesTaken(l *NSQLookupd) int { return len(l.httpServer.Handler.(*httpServer).streams) }

// Sizes the tests work at the edge of.
const (
	// MaxRequestBodySize is the largest HTTP request body read.
	MaxRequestBodySize = maxRequestBodySize
	// StreamChunk is how much of a streamed answer is sent at a time.
	StreamChunk = streamChunk
	// MaxStreams is how many /nodes and /debug answers are built at once.
	MaxStreams = maxStreams
)
