package nsqlookupd_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/registry"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// discardResponseWriter is a ResponseWriter that keeps its header map and
// drops the body, so a benchmark counts the handler's work and allocations
// rather than a recorder's.
type discardResponseWriter struct {
	header http.Header
	status int
}

func (w *discardResponseWriter) Header() http.Header         { return w.header }
func (w *discardResponseWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardResponseWriter) WriteHeader(code int)        { w.status = code }

// benchHTTPHandler returns the HTTP handler of a daemon that is not serving,
// holding three producers of "orders" with four channels.
func benchHTTPHandler(b *testing.B) http.Handler {
	b.Helper()
	l := startLookupd(b, notServing, func(s *setup) {
		s.opts.Logger = lg.NilLogger{}
		s.opts.LogLevel = lg.WARN
	})
	for i := range 3 {
		addr := fmt.Sprintf("10.0.0.%d:5000%d", i+1, i)
		p := l.store().AddPeer(registry.PeerInfo{RemoteAddress: addr, Hostname: fmt.Sprintf("nsqd-%d", i),
			BroadcastAddress: fmt.Sprintf("nsqd-%d.example", i), TCPPort: 4150, HTTPPort: 4151, Version: "1.3.0"})
		for c := range 4 {
			l.store().Register(p, "orders", fmt.Sprintf("channel-%d", c))
		}
	}
	return nsqlookupd.HTTPHandler(l.NSQLookupd)
}

// BenchmarkHTTPHandler measures the daemon's own share of a request: routing,
// the handler and the response writing, without sockets.
func BenchmarkHTTPHandler(b *testing.B) {
	handler := benchHTTPHandler(b)
	for _, bc := range []struct{ name, target string }{
		{"lookup", "/lookup?topic=orders"},
		{"lookup-absent", "/lookup?topic=absent"},
		{"topics", "/topics"},
		{"ping", "/ping"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, err := http.NewRequest("GET", bc.target, http.NoBody)
			if err != nil {
				b.Fatal(err)
			}
			req.RemoteAddr = "127.0.0.1:40000"
			w := &discardResponseWriter{header: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				handler.ServeHTTP(w, req)
			}
			if w.status != http.StatusOK && w.status != http.StatusNotFound {
				b.Fatalf("status %d", w.status)
			}
		})
	}
}
