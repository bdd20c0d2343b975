package nsqlookupd

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// promMetrics exposes the daemon's state and counters to Prometheus. Store
// and protocol figures are read at scrape time from the atomics the daemon
// keeps anyway; only HTTP requests are observed as they happen.
type promMetrics struct {
	registry     *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
}

func newPromMetrics(l *NSQLookupd) *promMetrics {
	m := &promMetrics{
		registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nsqlookupd_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nsqlookupd_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests,
		m.httpDuration,
		&daemonCollector{l: l},
	)
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *promMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observe records one HTTP request.
func (m *promMetrics) observe(route string, code int, elapsed time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(elapsed.Seconds())
}

var (
	descTCPClients = prometheus.NewDesc("nsqlookupd_tcp_clients",
		"Open TCP client connections.", nil, nil)
	descPeers = prometheus.NewDesc("nsqlookupd_peers",
		"Identified peers (nsqd connections that sent IDENTIFY).", nil, nil)
	descTopics = prometheus.NewDesc("nsqlookupd_topics",
		"Topic registrations.", nil, nil)
	descChannels = prometheus.NewDesc("nsqlookupd_channels",
		"Channel registrations.", nil, nil)
	descRegistrations = prometheus.NewDesc("nsqlookupd_registrations",
		"Peer memberships of all registrations (client, topic and channel).", nil, nil)
	descTCPAccepted = prometheus.NewDesc("nsqlookupd_tcp_connections_accepted_total",
		"TCP connections accepted.", nil, nil)
	descTCPRefused = prometheus.NewDesc("nsqlookupd_tcp_connections_refused_total",
		"TCP connections refused at accept, for any reason.", nil, nil)
	descConnsRefused = prometheus.NewDesc("nsqlookupd_connections_refused_total",
		"Connections refused at accept, by listener (tcp, http) and reason.", []string{"listener", "reason"}, nil)
	descRegistrationsRefused = prometheus.NewDesc("nsqlookupd_registrations_refused_total",
		"REGISTERs and creates refused over a registration limit, by limit.", []string{"limit"}, nil)
	descTCPClosed = prometheus.NewDesc("nsqlookupd_tcp_connections_closed_total",
		"TCP connections closed.", nil, nil)
	descCommands = prometheus.NewDesc("nsqlookupd_commands_total",
		"V1 protocol commands by command and result.", []string{"command", "result"}, nil)
	descProtocolErrors = prometheus.NewDesc("nsqlookupd_protocol_errors_total",
		"V1 protocol errors sent, by error code.", []string{"code"}, nil)
	descTombstones = prometheus.NewDesc("nsqlookupd_tombstones_total",
		"Producers tombstoned through /topic/tombstone.", nil, nil)
	descInactiveFiltered = prometheus.NewDesc("nsqlookupd_inactive_peers_filtered_total",
		"Times an inactive peer was left out of a /lookup or /nodes answer.", nil, nil)
)

// daemonCollector reads the daemon's gauges and counters at scrape time.
type daemonCollector struct {
	l *NSQLookupd
}

// Describe implements prometheus.Collector.
func (c *daemonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTCPClients, descPeers, descTopics, descChannels,
		descRegistrations, descTCPAccepted, descTCPRefused, descConnsRefused, descRegistrationsRefused, descTCPClosed, descCommands,
		descProtocolErrors, descTombstones, descInactiveFiltered} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *daemonCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.l
	stats := l.db.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descTCPClients, float64(l.tcpServer.connCount()))
	gauge(descPeers, float64(stats.Peers))
	gauge(descTopics, float64(stats.Topics))
	gauge(descChannels, float64(stats.Channels))
	gauge(descRegistrations, float64(stats.Registrations))
	counter(descTCPAccepted, l.metrics.tcpAccepted.Load())
	counter(descTCPRefused, l.metrics.tcpRefused.Load())
	for i, r := range refusals {
		counter(descConnsRefused, l.refused[i].Load(), r.listener, r.reason)
	}
	counter(descRegistrationsRefused, l.metrics.registrationsRefused[0].Load(), "max_registrations_per_client")
	counter(descRegistrationsRefused, l.metrics.registrationsRefused[1].Load(), "max_registrations")
	counter(descTCPClosed, l.metrics.tcpClosed.Load())
	for i := range l.metrics.commands {
		counter(descCommands, l.metrics.commands[i][0].Load(), v1CommandLabel(i), "ok")
		counter(descCommands, l.metrics.commands[i][1].Load(), v1CommandLabel(i), "error")
	}
	for code, n := range l.metrics.errorCodeCounts() {
		counter(descProtocolErrors, n, code)
	}
	counter(descTombstones, l.metrics.tombstonesSet.Load())
	counter(descInactiveFiltered, l.db.InactiveFiltered())
}
