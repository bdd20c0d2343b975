package nsqlookupd_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// routeTarget is the request target used to call rt: its path, with a query
// that keeps the call short (a profile or trace asked for too long is
// refused at once, which still exercises the row).
func routeTarget(rt nsqlookupd.Route) string {
	switch rt.Path {
	case "/debug/pprof/profile", "/debug/pprof/trace":
		return rt.Path + "?seconds=61"
	}
	return rt.Path
}

// routeLabels sums nsqlookupd_http_requests_total by route label.
func routeLabels(t testing.TB, l *daemon) map[string]float64 {
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
	l := startLookupd(t, withMetrics)
	rows := nsqlookupd.Routes(l.NSQLookupd)
	// Counted before the walk: the readiness /ping, this scrape.
	want := routeLabels(t, l)
	labels := map[string]bool{"other": true}
	paths := map[string]bool{}
	for _, rt := range rows {
		if paths[rt.Path] {
			t.Errorf("path %s has two rows", rt.Path)
		}
		paths[rt.Path] = true
		labels[rt.Label] = true
		for _, method := range rt.Methods {
			r := do(t, l, method, routeTarget(rt))
			if r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, body %q: the row is not served", method, rt.Path, r.status, r.body)
			}
			want[rt.Label]++
		}
	}
	if !paths["/metrics"] {
		t.Fatalf("no /metrics row with --metrics set")
	}
	// Not served by any row: an unknown path, a known path with the wrong
	// method.
	test.Equal(t, http.StatusNotFound, get(t, l, "/no/such/route").status, "unknown path")
	test.Equal(t, http.StatusMethodNotAllowed, do(t, l, "DELETE", "/lookup").status, "DELETE /lookup")
	want["other"] += 2

	test.Eventually(t, waitTimeout, func() error {
		got := routeLabels(t, l)
		var diff []string
		for label, n := range want {
			// Scraping counts under /metrics too.
			if got[label] != n && !(label == "/metrics" && got[label] > n) {
				diff = append(diff, fmt.Sprintf("%s: %v requests, want %v", label, got[label], n))
			}
		}
		if len(diff) > 0 {
			slices.Sort(diff)
			return fmt.Errorf("requests by route label: %s", strings.Join(diff, "; "))
		}
		return nil
	}, "every request counted under its route label")
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
	// The test client connects from 127.0.0.1, outside the list.
	l := startLookupd(t, withMetrics, func(s *setup) { s.opts.HTTPAdminAllow = []string{"127.0.0.2/32"} })
	var guarded []string
	for _, rt := range nsqlookupd.Routes(l.NSQLookupd) {
		if rt.Operator && rt.Label != "/debug/pprof" {
			guarded = append(guarded, rt.Path)
		}
		for _, method := range rt.Methods {
			r := do(t, l, method, routeTarget(rt))
			if got := r.status == http.StatusForbidden; got != rt.Operator {
				t.Errorf("%s %s from outside the allow-list: status %d, operator route %v", method, rt.Path, r.status, rt.Operator)
			}
		}
	}
	slices.Sort(guarded)
	test.Equal(t, []string{"/channel/create", "/channel/delete", "/debug", "/metrics", "/nodes", "/topic/create", "/topic/delete", "/topic/tombstone"},
		guarded, "operator routes besides pprof")
}
