package nsqlookupd_test

// Helpers shared by the black-box tests: the one daemon starter, the one
// HTTP helper, V1 clients and readers of the API's answers.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/registry"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/internal/test/spec"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// Header values every API answer carries.
const (
	apiJSONContentType = "application/json; charset=utf-8"
	apiNSQContentType  = "nsq; version=1.0"
)

// waitTimeout bounds how long a test waits for the daemon to reach a state
// after an asynchronous event such as a disconnect.
const waitTimeout = 5 * time.Second

// testOptions returns options for a daemon on 127.0.0.1 random ports that
// logs at debug level into the test log, and that logger.
func testOptions(t testing.TB) (*nsqlookupd.Options, *test.Logger) {
	t.Helper()
	opts := nsqlookupd.NewOptions()
	logger := test.NewLogger(t)
	opts.Logger = logger
	opts.LogLevel = lg.DEBUG
	opts.TCPAddress = "127.0.0.1:0"
	opts.HTTPAddress = "127.0.0.1:0"
	opts.BroadcastAddress = "127.0.0.1"
	return opts, logger
}

// setup is what startLookupd starts; each function passed to it may
// change any of it first.
type setup struct {
	// opts starts as testOptions.
	opts *nsqlookupd.Options
	// clock, when set, is the store's clock.
	clock *test.Clock
	// client is the HTTP client of the readiness check and, by default, of
	// every request to the daemon; nil means one of the daemon's own.
	client *http.Client
	// beforeMain run between New and Main, while nothing is served.
	beforeMain []func(*nsqlookupd.NSQLookupd)
	// serve runs Main; without it the daemon is only created, for tests
	// that call its handlers directly.
	serve bool
}

// withClock gives the daemon's store a fake clock, daemon.clock.
func withClock(s *setup) { s.clock = test.NewClock() }

// withMetrics serves /metrics.
func withMetrics(s *setup) { s.opts.Metrics = true }

// quiet logs warnings and errors only, for tests that open thousands of
// connections, each logged at info level.
func quiet(s *setup) { s.opts.LogLevel = lg.WARN }

// notServing creates the daemon without running Main, or a client, for
// tests that call its handlers directly.
func notServing(s *setup) { s.serve = false }

// daemon is a daemon started by startLookupd.
type daemon struct {
	*nsqlookupd.NSQLookupd
	opts *nsqlookupd.Options
	// log holds what the daemon logged, unless setup replaced the logger.
	log *test.Logger
	// clock is the store's fake clock, if withClock was given.
	clock *test.Clock
	// client is the default client of fetch; its idle connections are
	// closed when the test ends.
	client *http.Client
	// mainDone is closed once Main returned mainErr.
	mainDone chan struct{}
	mainErr  error
}

// startLookupd creates a daemon from testOptions as changed by configure,
// serves it, waits until /ping answers (over HTTPS when plain HTTP is off)
// and stops it when the test ends.
func startLookupd(t testing.TB, configure ...func(*setup)) *daemon {
	t.Helper()
	opts, logger := testOptions(t)
	s := &setup{opts: opts, serve: true}
	for _, f := range configure {
		f(s)
	}
	if s.clock != nil {
		nsqlookupd.SetClock(s.opts, s.clock)
	}
	d := &daemon{opts: s.opts, clock: s.clock, client: s.client, mainDone: make(chan struct{})}
	if s.opts.Logger == logger {
		d.log = logger
	}
	if d.client == nil && s.serve {
		transport := &http.Transport{DialContext: (&net.Dialer{Timeout: waitTimeout}).DialContext}
		t.Cleanup(transport.CloseIdleConnections)
		d.client = &http.Client{
			Transport: transport,
			Timeout:   30 * time.Second,
			// Tests see exactly what the daemon answered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	l, err := nsqlookupd.New(s.opts)
	test.Nil(t, err, "New")
	d.NSQLookupd = l
	if !s.serve {
		t.Cleanup(l.Exit)
		return d
	}
	for _, f := range s.beforeMain {
		f(l)
	}
	go func() {
		d.mainErr = l.Main()
		close(d.mainDone)
	}()
	t.Cleanup(func() {
		// Bounded, so that a hung Exit fails the test instead of the run.
		d.waitExited(t, d.exitAsync(), 15*time.Second)
	})
	var readyOpts []requestOption
	if l.RealHTTPAddr() == nil {
		readyOpts = append(readyOpts, overHTTPS)
	}
	test.Eventually(t, waitTimeout, func() error {
		r, err := fetch(d, "GET", "/ping", readyOpts...)
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("status %d", r.status)
		}
		return err
	}, "the daemon to answer /ping")
	return d
}

// tcpConns returns how many TCP connections the daemon tracks.
func (d *daemon) tcpConns() int { return nsqlookupd.TCPConnCount(d.NSQLookupd) }

// refusedCount returns how many connections the daemon refused at accept
// on listener for reason.
func (d *daemon) refusedCount(listener, reason string) uint64 {
	return nsqlookupd.ConnsRefused(d.NSQLookupd, listener, reason)
}

// closeIdle closes the idle connections of the daemon's default client, so
// that they neither count against connection limits nor as goroutines.
func (d *daemon) closeIdle() { d.client.CloseIdleConnections() }

// store returns the daemon's registration store.
func (d *daemon) store() *registry.Store { return nsqlookupd.StoreOf(d.NSQLookupd) }

// exitAsync calls Exit in the background; the channel closes when it
// returns.
func (d *daemon) exitAsync() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		d.Exit()
		close(done)
	}()
	return done
}

// waitExited fails the test, with every goroutine's stack, unless Exit
// (exited, from exitAsync) returns and Main then returns nil within limit,
// a liveness bound far above what a healthy shutdown takes.
func (d *daemon) waitExited(t testing.TB, exited <-chan struct{}, limit time.Duration) {
	t.Helper()
	select {
	case <-exited:
	case <-time.After(limit):
		t.Fatalf("Exit did not return within %s; goroutines:\n%s", limit, goroutineDump())
	}
	select {
	case <-d.mainDone:
		test.Nil(t, d.mainErr, "Main after Exit")
	case <-time.After(limit):
		t.Fatalf("Main did not return within %s of Exit; goroutines:\n%s", limit, goroutineDump())
	}
}

// response is one HTTP exchange, read in full.
type response struct {
	status int
	header http.Header
	body   []byte
	// close is set when the server announced it closes the connection.
	close bool
	// tls is the connection's state over HTTPS.
	tls *tls.ConnectionState
}

// decode decodes the body into v, failing the test if it is not JSON.
func (r response) decode(t testing.TB, v interface{}) {
	t.Helper()
	test.Nil(t, json.Unmarshal(r.body, v), fmt.Sprintf("decode body %q", r.body))
}

// request is what fetch sends besides method and target.
type request struct {
	body   io.Reader
	header http.Header
	client *http.Client
	https  bool
}

// requestOption changes what fetch sends.
type requestOption func(*request)

// withBody sends body.
func withBody(body io.Reader) requestOption { return func(r *request) { r.body = body } }

// withHeader adds header's fields.
func withHeader(header http.Header) requestOption { return func(r *request) { r.header = header } }

// withClient sends through client instead of the daemon's default one.
func withClient(client *http.Client) requestOption { return func(r *request) { r.client = client } }

// overHTTPS sends to the HTTPS listener.
func overHTTPS(r *request) { r.https = true }

// fetch sends method target to d and reads the answer. target is a path,
// optionally followed by "?" and a query sent verbatim (malformed escapes
// included). It touches no testing.TB, so goroutines may call it.
func fetch(d *daemon, method, target string, opts ...requestOption) (response, error) {
	rq := request{client: d.client}
	for _, o := range opts {
		o(&rq)
	}
	base := "http://" + d.RealHTTPAddr().String()
	if rq.https {
		base = "https://" + d.RealHTTPSAddr().String()
	}
	req, err := http.NewRequest(method, base+"/", rq.body)
	if err != nil {
		return response{}, err
	}
	req.URL.Path, req.URL.RawQuery, _ = strings.Cut(target, "?")
	for k, vs := range rq.header {
		req.Header[k] = vs
	}
	resp, err := rq.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w after status %d: %w", method, target, errBodyCut, resp.StatusCode, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body, close: resp.Close, tls: resp.TLS}, nil
}

// fetchJSON GETs target and decodes a JSON body into v (skipped when v is
// nil), returning the status. Like fetch, goroutines may call it.
func fetchJSON(d *daemon, target string, v interface{}) (int, error) {
	r, err := fetch(d, "GET", target)
	if err != nil {
		return 0, err
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			return r.status, fmt.Errorf("decoding %s (status %d) %q: %w", target, r.status, r.body, err)
		}
	}
	return r.status, nil
}

// errBodyCut is in the error of fetch when the answer began but its body
// could not be read in full.
var errBodyCut = errors.New("answer cut short")

// do is fetch failing the test on a transport error.
func do(t testing.TB, d *daemon, method, target string, opts ...requestOption) response {
	t.Helper()
	r, err := fetch(d, method, target, opts...)
	test.Nil(t, err, method+" "+target)
	return r
}

// get is do with GET.
func get(t testing.TB, d *daemon, target string, opts ...requestOption) response {
	t.Helper()
	return do(t, d, "GET", target, opts...)
}

// post is do with POST.
func post(t testing.TB, d *daemon, target string, opts ...requestOption) response {
	t.Helper()
	return do(t, d, "POST", target, opts...)
}

// expectHeaders fails unless r carries the JSON and NSQ content types.
func expectHeaders(t testing.TB, r response, context string) {
	t.Helper()
	test.Equal(t, apiJSONContentType, r.header.Get("Content-Type"), context, "Content-Type")
	test.Equal(t, apiNSQContentType, r.header.Get("X-NSQ-Content-Type"), context, "X-NSQ-Content-Type")
}

// expectJSON fails unless got and want decode to the same value; numbers
// are compared as written, so large integers stay exact.
func expectJSON(t testing.TB, want string, got []byte, context string) {
	t.Helper()
	decode := func(data []byte) interface{} {
		var v interface{}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: invalid JSON %q: %v", context, data, err)
		}
		if dec.More() {
			t.Fatalf("%s: trailing data after JSON %q", context, data)
		}
		return v
	}
	test.Equal(t, decode([]byte(want)), decode(got), context, "decoded body")
}

// expectBody fails unless r is status with API headers and exactly the JSON
// body want (compared decoded, then byte for byte).
func expectBody(t testing.TB, r response, status int, want, context string) {
	t.Helper()
	test.Equal(t, status, r.status, context, "status; body", string(r.body))
	expectHeaders(t, r, context)
	expectJSON(t, want, r.body, context)
	test.Equal(t, want, string(r.body), context, "raw body")
}

// expectError fails unless r is the error {"message":code} with status.
func expectError(t testing.TB, r response, status int, code, context string) {
	t.Helper()
	expectBody(t, r, status, `{"message":"`+code+`"}`, context)
}

// expectPostOK fails unless r is a successful POST: 200, empty body, no
// Content-Type, but the NSQ content type.
func expectPostOK(t testing.TB, r response, context string) {
	t.Helper()
	test.Equal(t, http.StatusOK, r.status, context, "status; body", string(r.body))
	test.Equal(t, "", string(r.body), context, "body")
	test.Equal(t, []string(nil), r.header.Values("Content-Type"), context, "Content-Type")
	test.Equal(t, apiNSQContentType, r.header.Get("X-NSQ-Content-Type"), context, "X-NSQ-Content-Type")
}

// dial connects to d's TCP port and sends the V1 magic.
func (d *daemon) dial(t testing.TB) *test.V1Conn {
	t.Helper()
	return test.DialV1(t, d.RealTCPAddr().String())
}

// dialRaw connects to d's TCP port from source (any if empty) without
// sending the magic.
func (d *daemon) dialRaw(t testing.TB, source string) *test.V1Conn {
	t.Helper()
	return test.DialRaw(t, source, d.RealTCPAddr().String())
}

// fullNSQDFields is a complete IDENTIFY body, optional fields included.
func fullNSQDFields() map[string]interface{} {
	fields := test.NSQDFields("nsqd-1.test", 4150, 4151)
	fields["hostname"] = "nsqd-1-host"
	fields["topology_zone"] = "zone-a"
	fields["topology_region"] = "region-1"
	return fields
}

// identifyOfSize is an IDENTIFY command whose size is n, whatever follows.
func identifyOfSize(n int32) string { return "IDENTIFY\n" + test.BodySize(n) }

// identified connects and identifies as an nsqd at 127.0.0.1:4150/4151.
func identified(t testing.TB, d *daemon) *test.V1Conn {
	t.Helper()
	c := d.dial(t)
	c.Identify("127.0.0.1", 4150, 4151)
	return c
}

// announce connects an nsqd identified as broadcast with the given ports
// and sends REGISTER for each of regs ("topic" or "topic channel").
func announce(t testing.TB, d *daemon, broadcast string, tcpPort, httpPort int, regs ...string) *test.V1Conn {
	t.Helper()
	c := d.dial(t)
	c.Identify(broadcast, tcpPort, httpPort)
	for _, reg := range regs {
		test.Equal(t, "OK", c.Command("REGISTER "+reg), "REGISTER "+reg)
	}
	return c
}

// peerJSON is the /lookup producer object of a client made by announce.
func peerJSON(c *test.V1Conn, broadcast string, tcpPort, httpPort int) string {
	return fmt.Sprintf(`{"remote_address":"%s","hostname":"%s-host","broadcast_address":"%s","tcp_port":%d,"http_port":%d,"version":"1.3.0","topology_zone":"","topology_region":""}`,
		c.LocalAddr(), broadcast, broadcast, tcpPort, httpPort)
}

// nodeJSON is the /nodes object of a client made by announce.
func nodeJSON(c *test.V1Conn, broadcast string, tcpPort, httpPort int, tombstones, topics string) string {
	peer := peerJSON(c, broadcast, tcpPort, httpPort)
	return peer[:len(peer)-1] + `,"tombstones":` + tombstones + `,"topics":` + topics + `}`
}

// closeProducer disconnects c and waits until its peer is gone.
func closeProducer(t testing.TB, d *daemon, c *test.V1Conn) {
	t.Helper()
	c.Close()
	test.Eventually(t, waitTimeout, func() bool {
		return !slices.Contains(nodeAddrs(t, d), c.LocalAddr())
	}, "peer "+c.LocalAddr()+" removed")
}

// lookupTopic GETs /lookup for topic, returning the status and the body.
func lookupTopic(t testing.TB, d *daemon, topic string) (int, spec.Lookup) {
	t.Helper()
	var lk spec.Lookup
	r := get(t, d, "/lookup?topic="+url.QueryEscape(topic))
	if r.status == http.StatusOK {
		r.decode(t, &lk)
	}
	return r.status, lk
}

// producerAddrs lists the remote addresses of producers, sorted.
func producerAddrs(producers []spec.Peer) []string {
	addrs := make([]string, 0, len(producers))
	for _, p := range producers {
		addrs = append(addrs, p.RemoteAddress)
	}
	slices.Sort(addrs)
	return addrs
}

// channelsOf GETs /channels for topic.
func channelsOf(t testing.TB, d *daemon, topic string) []string {
	t.Helper()
	var body struct {
		Channels []string `json:"channels"`
	}
	r := get(t, d, "/channels?topic="+url.QueryEscape(topic))
	test.Equal(t, http.StatusOK, r.status, "/channels status")
	r.decode(t, &body)
	return body.Channels
}

// nodeAddrs lists the remote addresses /nodes reports, sorted.
func nodeAddrs(t testing.TB, d *daemon) []string {
	t.Helper()
	var body spec.Nodes
	r := get(t, d, "/nodes")
	test.Equal(t, http.StatusOK, r.status, "/nodes status")
	r.decode(t, &body)
	addrs := make([]string, 0, len(body.Producers))
	for _, n := range body.Producers {
		addrs = append(addrs, n.RemoteAddress)
	}
	slices.Sort(addrs)
	return addrs
}

// debugState GETs /debug, refusing any peer key SPEC §6 does not list.
func debugState(t testing.TB, d *daemon) spec.Debug {
	t.Helper()
	r := get(t, d, "/debug")
	test.Equal(t, http.StatusOK, r.status, "/debug status")
	expectHeaders(t, r, "/debug")
	var body spec.Debug
	test.Nil(t, spec.DecodeStrict(r.body, &body), "decode /debug", string(r.body))
	return body
}

// debugKeys lists the registration keys /debug reports, sorted.
func debugKeys(t testing.TB, d *daemon) []string {
	t.Helper()
	keys := []string{}
	for k := range debugState(t, d) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lastUpdate returns the /debug last_update of the identified peer at addr.
func lastUpdate(t testing.TB, d *daemon, addr string) int64 {
	t.Helper()
	for _, p := range debugState(t, d)["client::"] {
		if p.ID == addr {
			return p.LastUpdate
		}
	}
	t.Fatalf("peer %s not in /debug client::", addr)
	return 0
}

// warnLines counts the WARNING lines logged so far that contain text.
func warnLines(logger *test.Logger, text string) int {
	n := 0
	for _, line := range logger.Lines() {
		if strings.HasPrefix(line, "WARNING: ") && strings.Contains(line, text) {
			n++
		}
	}
	return n
}

// scrapeFamilies GETs /metrics and parses the text exposition format.
func scrapeFamilies(t testing.TB, d *daemon) map[string]*dto.MetricFamily {
	t.Helper()
	r := get(t, d, "/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body %q", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
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
	slices.Sort(pairs)
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
// another value; nil means all match.
func seriesDiff(got, want map[string]float64) error {
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
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	return fmt.Errorf("%s", strings.Join(diffs, "; "))
}

// expectSeries polls /metrics until every series in want has its value.
func expectSeries(t testing.TB, d *daemon, want map[string]float64, context string) {
	t.Helper()
	test.Eventually(t, waitTimeout, func() error {
		return seriesDiff(flattenSeries(scrapeFamilies(t, d)), want)
	}, context)
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

// goroutineDump returns every goroutine's stack, identical stacks grouped.
func goroutineDump() string {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	return buf.String()
}

// expectGoroutinesBack polls until no more goroutines run than baseline,
// counted before the daemon started; exiting goroutines take a moment to
// be gone. On timeout it fails with the stacks of those still running.
func expectGoroutinesBack(t testing.TB, baseline int, timeout time.Duration) {
	t.Helper()
	test.Eventually(t, timeout, func() error {
		if n := runtime.NumGoroutine(); n > baseline {
			return fmt.Errorf("%d goroutines running, baseline %d:\n%s", n, baseline, goroutineDump())
		}
		return nil
	}, "goroutines back to the baseline")
}

// expectRefused fails unless nothing accepts connections at addr.
func expectRefused(t testing.TB, what string, addr net.Addr) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("%s listener %s still accepts connections after Exit", what, addr)
	}
}
