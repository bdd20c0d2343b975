package nsqlookupd

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// routeTable returns the route table of l's HTTP server.
func routeTable(t testing.TB, l *NSQLookupd) []route {
	t.Helper()
	s, ok := l.httpServer.Handler.(*httpServer)
	if !ok {
		t.Fatalf("HTTP handler is a %T, not the daemon's httpServer", l.httpServer.Handler)
	}
	return s.routes()
}

// routeTarget is the request target used to call rt: its path, with a query
// that keeps the call short (a profile or trace asked for too long is
// refused at once, which still exercises the row).
func routeTarget(rt route) string {
	switch rt.path {
	case "/debug/pprof/profile", "/debug/pprof/trace":
		return rt.path + "?seconds=61"
	}
	return rt.path
}

// routeLabels sums nsqlookupd_http_requests_total by route label.
func routeLabels(t testing.TB, l *NSQLookupd) map[string]float64 {
	t.Helper()
	sums := make(map[string]float64)
	for _, m := range scrapeFamilies(t, l)["nsqlookupd_http_requests_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "route" {
				sums[lp.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return sums
}

// TestHTTPRouteTable calls every method of every row of the route table and
// checks it is served (neither 404 nor 405) and counted in metrics under
// the row's label, while unmatched requests share the label "other".
func TestHTTPRouteTable(t *testing.T) {
	l := startMetricsLookupd(t, nil)
	rows := routeTable(t, l)
	// Counted before the walk: the readiness /ping, this scrape.
	want := routeLabels(t, l)
	labels := map[string]bool{"other": true}
	paths := map[string]bool{}
	for _, rt := range rows {
		if paths[rt.path] {
			t.Errorf("path %s has two rows", rt.path)
		}
		paths[rt.path] = true
		labels[rt.metricLabel()] = true
		for _, method := range rt.methods {
			r := apiCall(t, l, method, routeTarget(rt), nil, nil)
			if r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, body %q: the row is not served", method, rt.path, r.status, r.body)
			}
			want[rt.metricLabel()]++
		}
	}
	if !paths["/metrics"] {
		t.Fatalf("no /metrics row with --metrics set")
	}
	// Not served by any row: an unknown path, a known path with the wrong
	// method.
	test.Equal(t, http.StatusNotFound, apiGet(t, l, "/no/such/route").status, "unknown path")
	test.Equal(t, http.StatusMethodNotAllowed, apiCall(t, l, "DELETE", "/lookup", nil, nil).status, "DELETE /lookup")
	want["other"] += 2

	for deadline := time.Now().Add(metricsWaitTimeout); ; time.Sleep(10 * time.Millisecond) {
		got := routeLabels(t, l)
		var diff []string
		for label, n := range want {
			// Scraping counts under /metrics too.
			if got[label] != n && !(label == "/metrics" && got[label] > n) {
				diff = append(diff, fmt.Sprintf("%s: %v requests, want %v", label, got[label], n))
			}
		}
		if len(diff) == 0 {
			break
		}
		if time.Now().After(deadline) {
			slices.Sort(diff)
			t.Fatalf("requests by route label: %s", strings.Join(diff, "; "))
		}
	}
	for label := range routeLabels(t, l) {
		if !labels[label] {
			t.Errorf("route label %q is neither a row's label nor \"other\"", label)
		}
	}
}

// TestHTTPRouteTableAdminGuard checks that the access class of each row
// decides whether --http-admin-allow applies: the operator routes of SPEC
// §10 (the five store mutations, /nodes, /debug, pprof and /metrics).
func TestHTTPRouteTableAdminGuard(t *testing.T) {
	opts, _ := testOptions(t)
	opts.Metrics = true
	// The test client connects from 127.0.0.1, outside the list.
	opts.HTTPAdminAllow = []string{"127.0.0.2/32"}
	l := startLookupd(t, opts)
	var guarded []string
	for _, rt := range routeTable(t, l) {
		operator := rt.access == accessOperator
		if operator && rt.label != pprofLabel {
			guarded = append(guarded, rt.path)
		}
		for _, method := range rt.methods {
			r := apiCall(t, l, method, routeTarget(rt), nil, nil)
			if got := r.status == http.StatusForbidden; got != operator {
				t.Errorf("%s %s from outside the allow-list: status %d, operator route %v", method, rt.path, r.status, operator)
			}
		}
	}
	slices.Sort(guarded)
	test.Equal(t, []string{"/channel/create", "/channel/delete", "/debug", "/metrics", "/nodes", "/topic/create", "/topic/delete", "/topic/tombstone"},
		guarded, "operator routes besides pprof")
}

// TestHTTPPprofSecondsLimit checks the rule that decides whether a
// profile's or trace's seconds may reach pprof.
func TestHTTPPprofSecondsLimit(t *testing.T) {
	for _, tc := range []struct {
		seconds string
		allowed bool
	}{
		{"1", true}, {"30", true}, {"60", true}, {"0.5", true}, {"0", true}, {"-5", true},
		// Not a number: pprof uses its default duration.
		{"", true}, {"abc", true}, {"0x10", true},
		{"61", false}, {"60.001", false}, {"3600", false}, {"1e3", false}, {"+Inf", false}, {"NaN", false},
	} {
		if got := profileSecondsAllowed(tc.seconds); got != tc.allowed {
			t.Errorf("profileSecondsAllowed(%q) = %v, want %v", tc.seconds, got, tc.allowed)
		}
	}
}
