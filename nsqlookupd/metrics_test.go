package nsqlookupd

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// metricsWaitTimeout bounds how long a test waits for a metric to reach the
// expected value after an asynchronous event such as a disconnect.
const metricsWaitTimeout = 5 * time.Second

// startMetricsLookupd starts a daemon with /metrics enabled; tweak, if set,
// adjusts the options first.
func startMetricsLookupd(t *testing.T, tweak func(*Options)) *NSQLookupd {
	t.Helper()
	opts, _ := testOptions(t)
	opts.Metrics = true
	if tweak != nil {
		tweak(opts)
	}
	return startLookupd(t, opts)
}

// scrapeFamilies GETs /metrics and parses the text exposition format.
func scrapeFamilies(t testing.TB, l *NSQLookupd) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/metrics", l.RealHTTPAddr()))
	test.Nil(t, err, "GET /metrics")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: status %d, body %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	test.Nil(t, err, "parse /metrics")
	return families
}

// seriesKey names one sample the way the text format writes it, labels
// sorted by name: name{a="x",b="y"}.
func seriesKey(name string, labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return name
	}
	pairs := make([]string, len(labels))
	for i, lp := range labels {
		pairs[i] = fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue())
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// flattenSeries maps every sample of families to its value; a histogram
// contributes its sample count as <name>_count.
func flattenSeries(families map[string]*dto.MetricFamily) map[string]float64 {
	series := make(map[string]float64)
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_GAUGE:
				series[seriesKey(name, m.GetLabel())] = m.GetGauge().GetValue()
			case dto.MetricType_COUNTER:
				series[seriesKey(name, m.GetLabel())] = m.GetCounter().GetValue()
			case dto.MetricType_UNTYPED:
				series[seriesKey(name, m.GetLabel())] = m.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				series[seriesKey(name+"_count", m.GetLabel())] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return series
}

// seriesDiff describes every entry of want that got lacks or holds with
// another value; empty means all match.
func seriesDiff(got, want map[string]float64) string {
	var diffs []string
	for key, w := range want {
		g, ok := got[key]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s missing (want %v)", key, w))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", key, g, w))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// expectSeries polls /metrics until every series in want has its value,
// failing with the last mismatch after metricsWaitTimeout.
func expectSeries(t testing.TB, l *NSQLookupd, want map[string]float64, context string) {
	t.Helper()
	deadline := time.Now().Add(metricsWaitTimeout)
	for {
		diff := seriesDiff(flattenSeries(scrapeFamilies(t, l)), want)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %s: %s", context, metricsWaitTimeout, diff)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// commandSeries is the key of nsqlookupd_commands_total for command and
// result ("ok" or "error").
func commandSeries(command, result string) string {
	return fmt.Sprintf(`nsqlookupd_commands_total{command=%q,result=%q}`, command, result)
}

// protocolErrorSeries is the key of nsqlookupd_protocol_errors_total for code.
func protocolErrorSeries(code string) string {
	return fmt.Sprintf(`nsqlookupd_protocol_errors_total{code=%q}`, code)
}

// httpPostStatus POSTs path to l with an empty body and returns the status.
func httpPostStatus(t testing.TB, l *NSQLookupd, path string) int {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://%s%s", l.RealHTTPAddr(), path), "", nil)
	test.Nil(t, err, "POST "+path)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsDisabledByDefault(t *testing.T) {
	opts, _ := testOptions(t)
	test.Equal(t, false, opts.Metrics, "default Metrics option")
	l := startLookupd(t, opts)
	var body struct {
		Message string `json:"message"`
	}
	test.Equal(t, http.StatusNotFound, httpGetJSON(t, l, "/metrics", &body), "GET /metrics status")
	test.Equal(t, "NOT_FOUND", body.Message, "GET /metrics error")
}

// TestMetricsFamilies checks the type of every daemon family and that the Go
// runtime and process collectors are registered.
func TestMetricsFamilies(t *testing.T) {
	l := startMetricsLookupd(t, nil)
	// Make every labelled family have at least one sample: an HTTP request
	// and a protocol error.
	httpGetJSON(t, l, "/info", nil)
	c := dialLookupd(t, l)
	c.send("BOGUS\n")
	c.expectFrame("E_INVALID invalid command BOGUS")

	var families map[string]*dto.MetricFamily
	test.Eventually(t, metricsWaitTimeout, func() bool {
		families = scrapeFamilies(t, l)
		return families["nsqlookupd_http_requests_total"] != nil
	}, "nsqlookupd_http_requests_total in /metrics")

	want := map[string]dto.MetricType{
		"nsqlookupd_tcp_clients":                    dto.MetricType_GAUGE,
		"nsqlookupd_peers":                          dto.MetricType_GAUGE,
		"nsqlookupd_topics":                         dto.MetricType_GAUGE,
		"nsqlookupd_channels":                       dto.MetricType_GAUGE,
		"nsqlookupd_registrations":                  dto.MetricType_GAUGE,
		"nsqlookupd_tcp_connections_accepted_total": dto.MetricType_COUNTER,
		"nsqlookupd_tcp_connections_refused_total":  dto.MetricType_COUNTER,
		"nsqlookupd_tcp_connections_closed_total":   dto.MetricType_COUNTER,
		"nsqlookupd_commands_total":                 dto.MetricType_COUNTER,
		"nsqlookupd_protocol_errors_total":          dto.MetricType_COUNTER,
		"nsqlookupd_tombstones_total":               dto.MetricType_COUNTER,
		"nsqlookupd_inactive_peers_filtered_total":  dto.MetricType_COUNTER,
		"nsqlookupd_http_requests_total":            dto.MetricType_COUNTER,
		"nsqlookupd_http_request_duration_seconds":  dto.MetricType_HISTOGRAM,
		"go_goroutines":                             dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes":                   dto.MetricType_GAUGE,
		"process_start_time_seconds":                dto.MetricType_GAUGE,
		"process_open_fds":                          dto.MetricType_GAUGE,
	}
	for name, typ := range want {
		mf := families[name]
		if mf == nil {
			t.Errorf("family %s missing from /metrics", name)
			continue
		}
		if mf.GetType() != typ {
			t.Errorf("family %s has type %s, want %s", name, mf.GetType(), typ)
		}
		if mf.GetHelp() == "" {
			t.Errorf("family %s has no HELP text", name)
		}
	}

	// Every V1 command has both outcomes exported, even at zero.
	series := flattenSeries(families)
	for _, command := range []string{"PING", "IDENTIFY", "REGISTER", "UNREGISTER", "other"} {
		for _, result := range []string{"ok", "error"} {
			if _, ok := series[commandSeries(command, result)]; !ok {
				t.Errorf("series %s missing", commandSeries(command, result))
			}
		}
	}
}

// TestMetricsTCPLifecycle follows the gauges and counters as nsqd peers
// connect, identify, register and disconnect.
func TestMetricsTCPLifecycle(t *testing.T) {
	l := startMetricsLookupd(t, nil)
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_clients":                    0,
		"nsqlookupd_peers":                          0,
		"nsqlookupd_topics":                         0,
		"nsqlookupd_channels":                       0,
		"nsqlookupd_registrations":                  0,
		"nsqlookupd_tcp_connections_accepted_total": 0,
		"nsqlookupd_tcp_connections_closed_total":   0,
		"nsqlookupd_tcp_connections_refused_total":  0,
		commandSeries("IDENTIFY", "ok"):             0,
	}, "fresh daemon")

	a := dialLookupd(t, l)
	a.send("PING\n")
	a.expectFrame("OK")
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_clients":                    1,
		"nsqlookupd_tcp_connections_accepted_total": 1,
		"nsqlookupd_peers":                          0,
		commandSeries("PING", "ok"):                 1,
	}, "connected, not identified")

	a.identify("127.0.0.1", 4150, 4151)
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_peers":              1,
		"nsqlookupd_registrations":      1,
		commandSeries("IDENTIFY", "ok"): 1,
	}, "identified")

	a.send("REGISTER metrics-topic metrics-channel\n")
	a.expectFrame("OK")
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_topics":   1,
		"nsqlookupd_channels": 1,
		// client, topic and channel memberships of one peer.
		"nsqlookupd_registrations":      3,
		commandSeries("REGISTER", "ok"): 1,
	}, "first peer registered")

	b := dialLookupd(t, l)
	b.identify("127.0.0.2", 4150, 4151)
	b.send("REGISTER metrics-topic\n")
	b.expectFrame("OK")
	b.send("REGISTER other-topic\n")
	b.expectFrame("OK")
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_clients":                    2,
		"nsqlookupd_tcp_connections_accepted_total": 2,
		"nsqlookupd_peers":                          2,
		"nsqlookupd_topics":                         2,
		"nsqlookupd_channels":                       1,
		"nsqlookupd_registrations":                  6,
		commandSeries("IDENTIFY", "ok"):             2,
		commandSeries("REGISTER", "ok"):             3,
	}, "second peer registered")

	b.send("UNREGISTER other-topic\n")
	b.expectFrame("OK")
	expectSeries(t, l, map[string]float64{
		// A non-ephemeral topic stays, without producers.
		"nsqlookupd_topics":               2,
		"nsqlookupd_registrations":        5,
		commandSeries("UNREGISTER", "ok"): 1,
	}, "second peer unregistered a topic")

	a.conn.Close()
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_clients":                  1,
		"nsqlookupd_tcp_connections_closed_total": 1,
		"nsqlookupd_peers":                        1,
		"nsqlookupd_topics":                       2,
		"nsqlookupd_channels":                     1,
		"nsqlookupd_registrations":                2,
	}, "first peer disconnected")

	b.conn.Close()
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_clients":                    0,
		"nsqlookupd_tcp_connections_accepted_total": 2,
		"nsqlookupd_tcp_connections_closed_total":   2,
		"nsqlookupd_peers":                          0,
		"nsqlookupd_registrations":                  0,
		commandSeries("IDENTIFY", "error"):          0,
		commandSeries("REGISTER", "error"):          0,
	}, "both peers disconnected")
}

// TestMetricsProtocolErrors checks the error and command counters for each
// kind of fatal protocol error.
func TestMetricsProtocolErrors(t *testing.T) {
	tests := []struct {
		name string
		// magic is sent first (the V1 magic if empty), then IDENTIFY if
		// identify is set, then send; the reply to send is checked.
		magic     string
		identify  bool
		send      string
		wantReply string // prefix of the error frame
		want      map[string]float64
	}{
		{
			name:      "bad magic",
			magic:     "  V9",
			wantReply: "E_BAD_PROTOCOL",
			want: map[string]float64{
				protocolErrorSeries("E_BAD_PROTOCOL"): 1,
				commandSeries("other", "error"):       0,
			},
		},
		{
			name:      "unknown command",
			send:      "BOGUS\n",
			wantReply: "E_INVALID ",
			want: map[string]float64{
				protocolErrorSeries("E_INVALID"): 1,
				commandSeries("other", "error"):  1,
			},
		},
		{
			name:      "REGISTER before IDENTIFY",
			send:      "REGISTER early\n",
			wantReply: "E_INVALID ",
			want: map[string]float64{
				protocolErrorSeries("E_INVALID"):   1,
				commandSeries("REGISTER", "error"): 1,
				commandSeries("REGISTER", "ok"):    0,
			},
		},
		{
			name:      "invalid topic name",
			identify:  true,
			send:      "REGISTER bad*topic\n",
			wantReply: "E_BAD_TOPIC ",
			want: map[string]float64{
				protocolErrorSeries("E_BAD_TOPIC"): 1,
				commandSeries("IDENTIFY", "ok"):    1,
				commandSeries("REGISTER", "error"): 1,
			},
		},
		{
			name:      "IDENTIFY twice",
			identify:  true,
			send:      "IDENTIFY\n",
			wantReply: "E_INVALID ",
			want: map[string]float64{
				protocolErrorSeries("E_INVALID"):   1,
				commandSeries("IDENTIFY", "ok"):    1,
				commandSeries("IDENTIFY", "error"): 1,
			},
		},
		{
			name:      "IDENTIFY body size zero",
			send:      "IDENTIFY\n\x00\x00\x00\x00",
			wantReply: "E_BAD_BODY ",
			want: map[string]float64{
				protocolErrorSeries("E_BAD_BODY"):  1,
				commandSeries("IDENTIFY", "error"): 1,
				"nsqlookupd_peers":                 0,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startMetricsLookupd(t, nil)
			conn, err := net.DialTimeout("tcp", l.RealTCPAddr().String(), 5*time.Second)
			test.Nil(t, err, "dial")
			t.Cleanup(func() { conn.Close() })
			c := &tcpClient{t: t, conn: conn, r: bufio.NewReader(conn)}
			c.send(cmp.Or(tc.magic, protocol.MagicV1))
			if tc.identify {
				c.identify("127.0.0.1", 4150, 4151)
			}
			c.send(tc.send)
			reply, err := c.readFrame()
			test.Nil(t, err, "read the error reply")
			if !strings.HasPrefix(reply, tc.wantReply) {
				t.Fatalf("reply %q, want one starting with %q", reply, tc.wantReply)
			}
			// Every error here is fatal: the connection is closed and
			// counted as such.
			want := map[string]float64{
				"nsqlookupd_tcp_connections_accepted_total": 1,
				"nsqlookupd_tcp_connections_closed_total":   1,
				"nsqlookupd_tcp_clients":                    0,
			}
			for k, v := range tc.want {
				want[k] = v
			}
			expectSeries(t, l, want, tc.name)

			// Exactly one error was counted, under the expected code only.
			series := flattenSeries(scrapeFamilies(t, l))
			var codes []string
			for key, v := range series {
				if strings.HasPrefix(key, "nsqlookupd_protocol_errors_total{") && v != 0 {
					codes = append(codes, key)
				}
			}
			slices.Sort(codes)
			test.Equal(t, []string{protocolErrorSeries(strings.TrimSpace(tc.wantReply))}, codes, "protocol error series")
		})
	}
}

// TestMetricsHTTPRequests checks the request counter by route and status
// and the latency histogram's count.
func TestMetricsHTTPRequests(t *testing.T) {
	l := startMetricsLookupd(t, nil)
	test.Equal(t, http.StatusNotFound, httpGetJSON(t, l, "/lookup?topic=absent", nil), "/lookup of an absent topic")
	test.Equal(t, http.StatusNotFound, httpGetJSON(t, l, "/lookup?topic=absent", nil), "/lookup of an absent topic")
	test.Equal(t, http.StatusBadRequest, httpGetJSON(t, l, "/lookup", nil), "/lookup without a topic")
	test.Equal(t, http.StatusOK, httpPostStatus(t, l, "/topic/create?topic=present"), "/topic/create")
	test.Equal(t, http.StatusOK, httpGetJSON(t, l, "/lookup?topic=present", nil), "/lookup of a created topic")
	test.Equal(t, http.StatusNotFound, httpGetJSON(t, l, "/no/such/path", nil), "unknown path")
	test.Equal(t, http.StatusNotFound, httpGetJSON(t, l, "/another-unknown-path", nil), "unknown path")

	expectSeries(t, l, map[string]float64{
		`nsqlookupd_http_requests_total{code="404",route="/lookup"}`:       2,
		`nsqlookupd_http_requests_total{code="400",route="/lookup"}`:       1,
		`nsqlookupd_http_requests_total{code="200",route="/lookup"}`:       1,
		`nsqlookupd_http_requests_total{code="200",route="/topic/create"}`: 1,
		// Unknown paths share one label value, bounding the series count.
		`nsqlookupd_http_requests_total{code="404",route="other"}`:              2,
		`nsqlookupd_http_request_duration_seconds_count{route="/lookup"}`:       4,
		`nsqlookupd_http_request_duration_seconds_count{route="/topic/create"}`: 1,
	}, "after the requests")

	families := scrapeFamilies(t, l)
	for _, m := range families["nsqlookupd_http_requests_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "route" && strings.Contains(lp.GetValue(), "such") {
				t.Errorf("unknown path leaked into a route label: %s", seriesKey("nsqlookupd_http_requests_total", m.GetLabel()))
			}
		}
	}
}

func TestMetricsTombstones(t *testing.T) {
	l := startMetricsLookupd(t, nil)
	c := dialLookupd(t, l)
	c.identify("127.0.0.1", 4150, 4151)
	c.send("REGISTER buried\n")
	c.expectFrame("OK")
	expectSeries(t, l, map[string]float64{"nsqlookupd_tombstones_total": 0}, "before tombstoning")

	// A node that matches no producer tombstones nothing.
	test.Equal(t, http.StatusOK, httpPostStatus(t, l, "/topic/tombstone?topic=buried&node=127.0.0.1:9999"), "tombstone of an unknown node")
	expectSeries(t, l, map[string]float64{"nsqlookupd_tombstones_total": 0}, "after tombstoning an unknown node")

	test.Equal(t, http.StatusOK, httpPostStatus(t, l, "/topic/tombstone?topic=buried&node=127.0.0.1:4151"), "tombstone")
	expectSeries(t, l, map[string]float64{"nsqlookupd_tombstones_total": 1}, "after tombstoning the producer")
}

// TestMetricsInactivePeersFiltered checks that each /lookup leaving out a
// silent producer is counted.
func TestMetricsInactivePeersFiltered(t *testing.T) {
	l := startMetricsLookupd(t, func(o *Options) { o.InactiveProducerTimeout = 200 * time.Millisecond })
	c := dialLookupd(t, l)
	c.identify("127.0.0.1", 4150, 4151)
	c.send("REGISTER quiet\n")
	c.expectFrame("OK")
	expectSeries(t, l, map[string]float64{"nsqlookupd_inactive_peers_filtered_total": 0}, "before any lookup")

	test.Eventually(t, metricsWaitTimeout, func() bool {
		var lookup struct {
			Producers []specPeer `json:"producers"`
		}
		httpGetJSON(t, l, "/lookup?topic=quiet", &lookup)
		return len(lookup.Producers) == 0
	}, "silent producer left out of /lookup")
	before := flattenSeries(scrapeFamilies(t, l))["nsqlookupd_inactive_peers_filtered_total"]
	if before < 1 {
		t.Fatalf("nsqlookupd_inactive_peers_filtered_total = %v after a filtered /lookup, want at least 1", before)
	}

	// One more /lookup leaves out the one producer once more.
	httpGetJSON(t, l, "/lookup?topic=quiet", nil)
	expectSeries(t, l, map[string]float64{"nsqlookupd_inactive_peers_filtered_total": before + 1}, "after one more /lookup")
}

// TestMetricsMaxClientsRefused checks the refused-connection counter.
func TestMetricsMaxClientsRefused(t *testing.T) {
	l := startMetricsLookupd(t, func(o *Options) { o.MaxClients = 1 })
	a := dialLookupd(t, l)
	a.send("PING\n")
	a.expectFrame("OK")

	refused := dialLookupd(t, l)
	reply, err := refused.readFrame()
	test.Nil(t, err, "read the refusal")
	if !strings.HasPrefix(reply, "E_TOO_MANY_CLIENTS") {
		t.Fatalf("reply to a connection over max-clients: %q", reply)
	}
	refused.expectClosed()
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_connections_refused_total":  1,
		"nsqlookupd_tcp_connections_accepted_total": 1,
		"nsqlookupd_tcp_clients":                    1,
	}, "one connection refused")

	// Once the first client leaves there is room again.
	a.conn.Close()
	expectSeries(t, l, map[string]float64{"nsqlookupd_tcp_clients": 0}, "first client gone")
	b := dialLookupd(t, l)
	b.send("PING\n")
	b.expectFrame("OK")
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_connections_refused_total":  1,
		"nsqlookupd_tcp_connections_accepted_total": 2,
		"nsqlookupd_tcp_clients":                    1,
	}, "a client accepted after one left")
}
