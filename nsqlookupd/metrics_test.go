package nsqlookupd_test

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

func TestMetricsDisabledByDefault(t *testing.T) {
	test.Equal(t, false, nsqlookupd.NewOptions().Metrics, "default Metrics option")
	l := startLookupd(t)
	expectError(t, get(t, l, "/metrics"), http.StatusNotFound, "NOT_FOUND", "GET /metrics")
}

// TestMetricsFamilies checks the type of every daemon family and that the Go
// runtime and process collectors are registered.
func TestMetricsFamilies(t *testing.T) {
	l := startLookupd(t, withMetrics)
	// Make every labelled family have at least one sample: an HTTP request
	// and a protocol error.
	get(t, l, "/info")
	c := l.dial(t)
	c.Send("BOGUS\n")
	c.ExpectFrame("E_INVALID invalid command BOGUS")

	var families map[string]*dto.MetricFamily
	test.Eventually(t, waitTimeout, func() bool {
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
	l := startLookupd(t, withMetrics)
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

	a := l.dial(t)
	a.Send("PING\n")
	a.ExpectFrame("OK")
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_clients":                    1,
		"nsqlookupd_tcp_connections_accepted_total": 1,
		"nsqlookupd_peers":                          0,
		commandSeries("PING", "ok"):                 1,
	}, "connected, not identified")

	a.Identify("127.0.0.1", 4150, 4151)
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_peers":              1,
		"nsqlookupd_registrations":      1,
		commandSeries("IDENTIFY", "ok"): 1,
	}, "identified")

	a.Send("REGISTER metrics-topic metrics-channel\n")
	a.ExpectFrame("OK")
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_topics":   1,
		"nsqlookupd_channels": 1,
		// client, topic and channel memberships of one peer.
		"nsqlookupd_registrations":      3,
		commandSeries("REGISTER", "ok"): 1,
	}, "first peer registered")

	b := l.dial(t)
	b.Identify("127.0.0.2", 4150, 4151)
	b.Send("REGISTER metrics-topic\n")
	b.ExpectFrame("OK")
	b.Send("REGISTER other-topic\n")
	b.ExpectFrame("OK")
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

	b.Send("UNREGISTER other-topic\n")
	b.ExpectFrame("OK")
	expectSeries(t, l, map[string]float64{
		// A non-ephemeral topic stays, without producers.
		"nsqlookupd_topics":               2,
		"nsqlookupd_registrations":        5,
		commandSeries("UNREGISTER", "ok"): 1,
	}, "second peer unregistered a topic")

	a.Close()
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_clients":                  1,
		"nsqlookupd_tcp_connections_closed_total": 1,
		"nsqlookupd_peers":                        1,
		"nsqlookupd_topics":                       2,
		"nsqlookupd_channels":                     1,
		"nsqlookupd_registrations":                2,
	}, "first peer disconnected")

	b.Close()
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
			l := startLookupd(t, withMetrics)
			c := l.dialRaw(t, "")
			c.Send(cmp.Or(tc.magic, protocol.MagicV1))
			if tc.identify {
				c.Identify("127.0.0.1", 4150, 4151)
			}
			c.Send(tc.send)
			reply, err := c.ReadFrame()
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
	l := startLookupd(t, withMetrics)
	test.Equal(t, http.StatusNotFound, get(t, l, "/lookup?topic=absent").status, "/lookup of an absent topic")
	test.Equal(t, http.StatusNotFound, get(t, l, "/lookup?topic=absent").status, "/lookup of an absent topic")
	test.Equal(t, http.StatusBadRequest, get(t, l, "/lookup").status, "/lookup without a topic")
	test.Equal(t, http.StatusOK, post(t, l, "/topic/create?topic=present").status, "/topic/create")
	test.Equal(t, http.StatusOK, get(t, l, "/lookup?topic=present").status, "/lookup of a created topic")
	test.Equal(t, http.StatusNotFound, get(t, l, "/no/such/path").status, "unknown path")
	test.Equal(t, http.StatusNotFound, get(t, l, "/another-unknown-path").status, "unknown path")

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
	l := startLookupd(t, withMetrics)
	c := l.dial(t)
	c.Identify("127.0.0.1", 4150, 4151)
	c.Send("REGISTER buried\n")
	c.ExpectFrame("OK")
	expectSeries(t, l, map[string]float64{"nsqlookupd_tombstones_total": 0}, "before tombstoning")

	// A node that matches no producer tombstones nothing.
	test.Equal(t, http.StatusOK, post(t, l, "/topic/tombstone?topic=buried&node=127.0.0.1:9999").status, "tombstone of an unknown node")
	expectSeries(t, l, map[string]float64{"nsqlookupd_tombstones_total": 0}, "after tombstoning an unknown node")

	test.Equal(t, http.StatusOK, post(t, l, "/topic/tombstone?topic=buried&node=127.0.0.1:4151").status, "tombstone")
	expectSeries(t, l, map[string]float64{"nsqlookupd_tombstones_total": 1}, "after tombstoning the producer")
}

// TestMetricsInactivePeersFiltered checks that each /lookup leaving out a
// silent producer is counted.
func TestMetricsInactivePeersFiltered(t *testing.T) {
	const timeout = time.Minute
	l := startLookupd(t, withMetrics, withClock, func(s *setup) { s.opts.InactiveProducerTimeout = timeout })
	c := identified(t, l)
	test.Equal(t, "OK", c.Command("REGISTER quiet"), "REGISTER")
	_, lookup := lookupTopic(t, l, "quiet")
	test.Equal(t, 1, len(lookup.Producers), "producers of an active peer's topic")
	expectSeries(t, l, map[string]float64{"nsqlookupd_inactive_peers_filtered_total": 0}, "before the peer went silent")

	l.clock.Advance(timeout + time.Nanosecond)
	for i := 1; i <= 2; i++ {
		_, lookup = lookupTopic(t, l, "quiet")
		test.Equal(t, 0, len(lookup.Producers), "producers of a silent peer's topic")
		expectSeries(t, l, map[string]float64{"nsqlookupd_inactive_peers_filtered_total": float64(i)}, fmt.Sprintf("after %d filtered /lookup", i))
	}
}

// TestMetricsMaxClientsRefused checks the refused-connection counter.
func TestMetricsMaxClientsRefused(t *testing.T) {
	l := startLookupd(t, withMetrics, func(s *setup) { s.opts.MaxClients = 1 })
	a := l.dial(t)
	a.Send("PING\n")
	a.ExpectFrame("OK")

	refused := l.dial(t)
	reply, err := refused.ReadFrame()
	test.Nil(t, err, "read the refusal")
	if !strings.HasPrefix(reply, "E_TOO_MANY_CLIENTS") {
		t.Fatalf("reply to a connection over max-clients: %q", reply)
	}
	refused.ExpectClosed()
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_connections_refused_total":  1,
		"nsqlookupd_tcp_connections_accepted_total": 1,
		"nsqlookupd_tcp_clients":                    1,
	}, "one connection refused")

	// Once the first client leaves there is room again.
	a.Close()
	expectSeries(t, l, map[string]float64{"nsqlookupd_tcp_clients": 0}, "first client gone")
	b := l.dial(t)
	b.Send("PING\n")
	b.ExpectFrame("OK")
	expectSeries(t, l, map[string]float64{
		"nsqlookupd_tcp_connections_refused_total":  1,
		"nsqlookupd_tcp_connections_accepted_total": 2,
		"nsqlookupd_tcp_clients":                    1,
	}, "a client accepted after one left")
}
