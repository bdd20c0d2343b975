package nsqlookupd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
)

// Header values every API response must carry.
const (
	apiJSONContentType = "application/json; charset=utf-8"
	apiNSQContentType  = "nsq; version=1.0"
)

// apiZeroTombstonedAt is what /debug reports as tombstoned_at for a producer
// that was never tombstoned: the unix nanoseconds of the zero time.Time.
const apiZeroTombstonedAt = "-6795364578871345152"

// apiResult is one HTTP exchange, read in full.
type apiResult struct {
	status int
	header http.Header
	body   []byte
	// close is set when the server announced it closes the connection.
	close bool
}

// apiNoRedirectClient reports redirects instead of following them, so tests see
// exactly what the daemon answered.
var apiNoRedirectClient = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// apiCall sends method target to l, where target is a path optionally
// followed by "?" and a raw query that is sent verbatim (malformed escapes
// included).
func apiCall(t testing.TB, l *NSQLookupd, method, target string, body io.Reader, header http.Header) apiResult {
	t.Helper()
	return apiCallWith(t, apiNoRedirectClient, l, method, target, body, header)
}

// apiCallWith is apiCall through client.
func apiCallWith(t testing.TB, client *http.Client, l *NSQLookupd, method, target string, body io.Reader, header http.Header) apiResult {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+l.RealHTTPAddr().String()+"/", body)
	test.Nil(t, err, "new request")
	path, query, _ := strings.Cut(target, "?")
	req.URL.Path = path
	req.URL.RawQuery = query
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	test.Nil(t, err, method+" "+target)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	test.Nil(t, err, "read body of "+method+" "+target)
	return apiResult{status: resp.StatusCode, header: resp.Header, body: data, close: resp.Close}
}

// apiGet is apiCall with GET and no body.
func apiGet(t testing.TB, l *NSQLookupd, target string) apiResult {
	t.Helper()
	return apiCall(t, l, "GET", target, nil, nil)
}

// apiPost is apiCall with POST and no body.
func apiPost(t testing.TB, l *NSQLookupd, target string) apiResult {
	t.Helper()
	return apiCall(t, l, "POST", target, nil, nil)
}

// apiExpectHeaders fails unless r carries the JSON and NSQ content types.
func apiExpectHeaders(t testing.TB, r apiResult, context string) {
	t.Helper()
	test.Equal(t, apiJSONContentType, r.header.Get("Content-Type"), context, "Content-Type")
	test.Equal(t, apiNSQContentType, r.header.Get("X-NSQ-Content-Type"), context, "X-NSQ-Content-Type")
}

// apiExpectJSON fails unless got and want decode to the same value; numbers
// are compared as written, so large integers stay exact.
func apiExpectJSON(t testing.TB, want string, got []byte, context string) {
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

// apiExpectBody fails unless r is status with API headers and exactly the
// JSON body want (compared decoded, then byte for byte).
func apiExpectBody(t testing.TB, r apiResult, status int, want, context string) {
	t.Helper()
	test.Equal(t, status, r.status, context, "status; body", string(r.body))
	apiExpectHeaders(t, r, context)
	apiExpectJSON(t, want, r.body, context)
	test.Equal(t, want, string(r.body), context, "raw body")
}

// apiExpectError fails unless r is the error {"message":code} with status.
func apiExpectError(t testing.TB, r apiResult, status int, code, context string) {
	t.Helper()
	apiExpectBody(t, r, status, `{"message":"`+code+`"}`, context)
}

// apiExpectPostOK fails unless r is a successful POST: 200, empty body, no
// Content-Type, but the NSQ content type.
func apiExpectPostOK(t testing.TB, r apiResult, context string) {
	t.Helper()
	test.Equal(t, http.StatusOK, r.status, context, "status; body", string(r.body))
	test.Equal(t, "", string(r.body), context, "body")
	test.Equal(t, []string(nil), r.header.Values("Content-Type"), context, "Content-Type")
	test.Equal(t, apiNSQContentType, r.header.Get("X-NSQ-Content-Type"), context, "X-NSQ-Content-Type")
}

// apiProducer connects a V1 client identified as broadcast with the given
// ports and sends REGISTER for each of regs ("topic" or "topic channel").
func apiProducer(t testing.TB, l *NSQLookupd, broadcast string, tcpPort, httpPort int, regs ...string) *tcpClient {
	t.Helper()
	c := dialLookupd(t, l)
	c.identify(broadcast, tcpPort, httpPort)
	for _, reg := range regs {
		c.send("REGISTER " + reg + "\n")
		c.expectFrame("OK")
	}
	return c
}

// apiPeerJSON is the /lookup producer object of a client made by apiProducer.
func apiPeerJSON(c *tcpClient, broadcast string, tcpPort, httpPort int) string {
	return fmt.Sprintf(`{"remote_address":"%s","hostname":"%s-host","broadcast_address":"%s","tcp_port":%d,"http_port":%d,"version":"1.3.0","topology_zone":"","topology_region":""}`,
		c.conn.LocalAddr(), broadcast, broadcast, tcpPort, httpPort)
}

// apiNodeJSON is the /nodes object of a client made by apiProducer.
func apiNodeJSON(c *tcpClient, broadcast string, tcpPort, httpPort int, tombstones, topics string) string {
	peer := apiPeerJSON(c, broadcast, tcpPort, httpPort)
	return peer[:len(peer)-1] + `,"tombstones":` + tombstones + `,"topics":` + topics + `}`
}

// apiCloseProducer disconnects c and waits until its peer is gone from /debug.
func apiCloseProducer(t testing.TB, l *NSQLookupd, c *tcpClient) {
	t.Helper()
	c.conn.Close()
	addr := c.conn.LocalAddr().String()
	test.Eventually(t, 5*time.Second, func() bool {
		return !strings.Contains(string(apiGet(t, l, "/debug").body), addr)
	}, "peer "+addr+" removed")
}

// TestHTTPPing checks /ping: plain text, not an API response.
func TestHTTPPing(t *testing.T) {
	l := startLookupd(t, nil)
	r := apiGet(t, l, "/ping")
	test.Equal(t, http.StatusOK, r.status, "status")
	test.Equal(t, "OK", string(r.body), "body")
	test.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"), "Content-Type")
	test.Equal(t, []string(nil), r.header.Values("X-NSQ-Content-Type"), "X-NSQ-Content-Type")
}

// TestHTTPInfo checks /info reports the version.
func TestHTTPInfo(t *testing.T) {
	l := startLookupd(t, nil)
	apiExpectBody(t, apiGet(t, l, "/info"), http.StatusOK, `{"version":"`+version.Binary+`"}`, "/info")
}

// TestHTTPEmptyLists checks every list is [] rather than null when there is
// nothing to list.
func TestHTTPEmptyLists(t *testing.T) {
	l := startLookupd(t, nil)
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "/topics of an empty store")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=unknown"), http.StatusOK, `{"channels":[]}`, "/channels of an unknown topic")
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK, `{"producers":[]}`, "/nodes with nobody")
	apiExpectBody(t, apiGet(t, l, "/debug"), http.StatusOK, `{}`, "/debug of an empty store")

	apiExpectPostOK(t, apiPost(t, l, "/topic/create?topic=lonely"), "create lonely")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=lonely"), http.StatusOK, `{"channels":[],"producers":[]}`, "/lookup without producers")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=lonely"), http.StatusOK, `{"channels":[]}`, "/channels of a topic without channels")

	c := apiProducer(t, l, "idle.example", 4150, 4151)
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+apiNodeJSON(c, "idle.example", 4150, 4151, `[]`, `[]`)+`]}`, "/nodes with a node without topics")
	// A registration without peers has no /debug key; the client one has.
	apiExpectJSON(t, `["client::"]`, apiDebugKeys(t, l), "/debug keys")
}

// apiDebugKeys returns the keys of /debug as a JSON list, sorted.
func apiDebugKeys(t testing.TB, l *NSQLookupd) []byte {
	t.Helper()
	r := apiGet(t, l, "/debug")
	apiExpectHeaders(t, r, "/debug")
	var m map[string]json.RawMessage
	test.Nil(t, json.Unmarshal(r.body, &m), "decode /debug", string(r.body))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	data, _ := json.Marshal(keys)
	return data
}

// TestHTTPReadEndpoints checks the exact bodies of /topics, /channels,
// /lookup and /nodes with two producers.
func TestHTTPReadEndpoints(t *testing.T) {
	l := startLookupd(t, nil)
	a := apiProducer(t, l, "a.example", 4150, 4151, "orders billing", "orders audit", "users")
	b := apiProducer(t, l, "b.example", 5150, 5151, "orders billing", "clicks#ephemeral")
	apiExpectPostOK(t, apiPost(t, l, "/topic/create?topic=empty"), "create empty")

	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK,
		`{"topics":["clicks#ephemeral","empty","orders","users"]}`, "/topics")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=orders"), http.StatusOK,
		`{"channels":["audit","billing"]}`, "/channels")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=orders"), http.StatusOK,
		`{"channels":["audit","billing"],"producers":[`+apiPeerJSON(a, "a.example", 4150, 4151)+`,`+apiPeerJSON(b, "b.example", 5150, 5151)+`]}`,
		"/lookup orders")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=users"), http.StatusOK,
		`{"channels":[],"producers":[`+apiPeerJSON(a, "a.example", 4150, 4151)+`]}`, "/lookup users")
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+
			apiNodeJSON(a, "a.example", 4150, 4151, `[false,false]`, `["orders","users"]`)+`,`+
			apiNodeJSON(b, "b.example", 5150, 5151, `[false,false]`, `["clicks#ephemeral","orders"]`)+`]}`,
		"/nodes")

	// go-nsq and nsqadmin read these fields; check them by name too.
	var lookup struct {
		Producers []struct {
			BroadcastAddress string `json:"broadcast_address"`
			TCPPort          int    `json:"tcp_port"`
		} `json:"producers"`
	}
	test.Equal(t, http.StatusOK, httpGetJSON(t, l, "/lookup?topic=orders", &lookup), "status")
	test.Equal(t, 2, len(lookup.Producers), "producers")
	test.Equal(t, "b.example", lookup.Producers[1].BroadcastAddress, "broadcast_address")
	test.Equal(t, 5150, lookup.Producers[1].TCPPort, "tcp_port")
}

// TestHTTPTopologyFields checks that optional IDENTIFY fields reach /lookup
// and /nodes.
func TestHTTPTopologyFields(t *testing.T) {
	l := startLookupd(t, nil)
	c := dialLookupd(t, l)
	body := `{"broadcast_address":"zone.example","hostname":"h1","tcp_port":4150,"http_port":4151,"version":"1.2.1","topology_zone":"z1","topology_region":"r1"}`
	c.send(fmt.Sprintf("IDENTIFY\n%s%s", apiBEUint32(len(body)), body))
	_, err := c.readFrame()
	test.Nil(t, err, "IDENTIFY reply")
	c.send("REGISTER geo\n")
	c.expectFrame("OK")

	peer := fmt.Sprintf(`{"remote_address":"%s","hostname":"h1","broadcast_address":"zone.example","tcp_port":4150,"http_port":4151,"version":"1.2.1","topology_zone":"z1","topology_region":"r1"`, c.conn.LocalAddr())
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=geo"), http.StatusOK, `{"channels":[],"producers":[`+peer+`}]}`, "/lookup")
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK, `{"producers":[`+peer+`,"tombstones":[false],"topics":["geo"]}]}`, "/nodes")
}

// apiBEUint32 is n as the 4-byte big-endian size prefix of a V1 body.
func apiBEUint32(n int) string {
	return string([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// TestHTTPErrors checks every documented error answer: status, exact body and
// headers.
func TestHTTPErrors(t *testing.T) {
	l := startLookupd(t, nil)
	apiExpectPostOK(t, apiPost(t, l, "/channel/create?topic=known&channel=present"), "setup")

	long := strings.Repeat("a", 65)
	cases := []struct {
		method, target string
		status         int
		code           string
	}{
		{"GET", "/channels", 400, "MISSING_ARG_TOPIC"},
		{"GET", "/channels?topicx=a", 400, "MISSING_ARG_TOPIC"},
		{"GET", "/lookup", 400, "MISSING_ARG_TOPIC"},
		{"GET", "/lookup?Topic=known", 400, "MISSING_ARG_TOPIC"},
		{"GET", "/lookup?topic=unknown", 404, "TOPIC_NOT_FOUND"},
		{"GET", "/lookup?topic=", 404, "TOPIC_NOT_FOUND"},
		{"POST", "/topic/create", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/topic/create?topic=", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/topic/create?topic=a%20b", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/topic/create?topic=a+b", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/topic/create?topic=" + long, 400, "INVALID_ARG_TOPIC"},
		{"POST", "/topic/create?topic=%23ephemeral%23ephemeral", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/topic/create?topic=%23ephemeral", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/channel/create?topic=t&channel=%23ephemeral", 400, "INVALID_ARG_CHANNEL"},
		{"POST", "/topic/create?topic=a/b", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/topic/delete", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/channel/create", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/channel/create?channel=c", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/channel/create?topic=&channel=c", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/channel/create?topic=bad!", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/channel/create?topic=t", 400, "MISSING_ARG_CHANNEL"},
		{"POST", "/channel/create?topic=t&channel=", 400, "INVALID_ARG_CHANNEL"},
		{"POST", "/channel/create?topic=t&channel=" + long, 400, "INVALID_ARG_CHANNEL"},
		{"POST", "/channel/delete", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/channel/delete?topic=", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/channel/delete?topic=known", 400, "MISSING_ARG_CHANNEL"},
		{"POST", "/channel/delete?topic=known&channel=", 400, "INVALID_ARG_CHANNEL"},
		{"POST", "/channel/delete?topic=known&channel=absent", 404, "CHANNEL_NOT_FOUND"},
		{"POST", "/channel/delete?topic=unknown&channel=present", 404, "CHANNEL_NOT_FOUND"},
		{"POST", "/topic/tombstone", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/topic/tombstone?node=h:1", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/topic/tombstone?topic=known", 400, "MISSING_ARG_NODE"},
		{"GET", "/", 404, "NOT_FOUND"},
		{"GET", "/nope", 404, "NOT_FOUND"},
		{"POST", "/nope", 404, "NOT_FOUND"},
		{"GET", "/topic", 404, "NOT_FOUND"},
		{"GET", "/debug/pprof/nope", 404, "NOT_FOUND"},
		{"DELETE", "/topic/remove", 404, "NOT_FOUND"},
	}
	for _, tc := range cases {
		name := tc.method + " " + tc.target
		t.Run(name, func(t *testing.T) {
			apiExpectError(t, apiCall(t, l, tc.method, tc.target, nil, nil), tc.status, tc.code, name)
		})
	}
	// None of the failed calls changed anything.
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["known"]}`, "/topics after errors")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=known"), http.StatusOK, `{"channels":["present"]}`, "/channels after errors")
}

// TestHTTPMethodNotAllowed checks 405 with the Allow header on known paths,
// HEAD included.
func TestHTTPMethodNotAllowed(t *testing.T) {
	l := startLookupd(t, nil)
	cases := []struct {
		method, target, allow string
	}{
		{"HEAD", "/lookup?topic=a", "GET, OPTIONS"},
		{"HEAD", "/ping", "GET, OPTIONS"},
		{"POST", "/lookup?topic=a", "GET, OPTIONS"},
		{"PUT", "/topics", "GET, OPTIONS"},
		{"DELETE", "/nodes", "GET, OPTIONS"},
		{"POST", "/ping", "GET, OPTIONS"},
		{"POST", "/info", "GET, OPTIONS"},
		{"POST", "/debug", "GET, OPTIONS"},
		{"GET", "/topic/create?topic=a", "OPTIONS, POST"},
		{"GET", "/topic/delete?topic=a", "OPTIONS, POST"},
		{"GET", "/channel/create?topic=a&channel=b", "OPTIONS, POST"},
		{"GET", "/channel/delete?topic=a&channel=b", "OPTIONS, POST"},
		{"GET", "/topic/tombstone?topic=a&node=b:1", "OPTIONS, POST"},
		{"PATCH", "/debug/pprof/symbol", "GET, OPTIONS, POST"},
		{"BREW", "/ping", "GET, OPTIONS"},
	}
	for _, tc := range cases {
		name := tc.method + " " + tc.target
		t.Run(name, func(t *testing.T) {
			r := apiCall(t, l, tc.method, tc.target, nil, nil)
			test.Equal(t, tc.allow, r.header.Get("Allow"), "Allow")
			if tc.method == "HEAD" {
				test.Equal(t, http.StatusMethodNotAllowed, r.status, "status")
				apiExpectHeaders(t, r, name)
				test.Equal(t, "", string(r.body), "HEAD body")
				return
			}
			apiExpectError(t, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", name)
		})
	}
	// The wrong method did not run the handler.
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "/topics after 405s")
}

// TestHTTPOptions checks OPTIONS answers 200 with Allow and runs no handler.
func TestHTTPOptions(t *testing.T) {
	l := startLookupd(t, nil)
	cases := []struct {
		target, allow string
	}{
		{"/lookup?topic=a", "GET, OPTIONS"},
		{"/ping", "GET, OPTIONS"},
		{"/topic/create?topic=a", "OPTIONS, POST"},
		{"/debug/pprof/symbol", "GET, OPTIONS, POST"},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			r := apiCall(t, l, "OPTIONS", tc.target, nil, nil)
			test.Equal(t, http.StatusOK, r.status, "status")
			test.Equal(t, tc.allow, r.header.Get("Allow"), "Allow")
			test.Equal(t, "", string(r.body), "body")
		})
	}
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "OPTIONS ran no handler")
	// A path nobody serves has no Allow list to offer.
	apiExpectError(t, apiCall(t, l, "OPTIONS", "/nope", nil, nil), http.StatusNotFound, "NOT_FOUND", "OPTIONS /nope")
}

// TestHTTPTrailingSlashRedirect checks httprouter's default redirects: 301
// for GET and, as in upstream (same httprouter v1.3.0), 307 for other
// methods so the method is kept. The query string is kept.
func TestHTTPTrailingSlashRedirect(t *testing.T) {
	l := startLookupd(t, nil)
	cases := []struct {
		method, target string
		status         int
		location       string
	}{
		{"GET", "/lookup/?topic=a", http.StatusMovedPermanently, "/lookup?topic=a"},
		{"GET", "/topics/", http.StatusMovedPermanently, "/topics"},
		{"GET", "/ping/", http.StatusMovedPermanently, "/ping"},
		{"GET", "/debug/pprof/", http.StatusMovedPermanently, "/debug/pprof"},
		{"POST", "/topic/create/?topic=a", http.StatusTemporaryRedirect, "/topic/create?topic=a"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			r := apiCall(t, l, tc.method, tc.target, nil, nil)
			test.Equal(t, tc.status, r.status, "status")
			test.Equal(t, tc.location, r.header.Get("Location"), "Location")
		})
	}
	// The redirected POST did not create anything by itself.
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "/topics after redirects")
}

// TestHTTPMalformedQuery checks that a query string url.ParseQuery rejects
// gives 400 INVALID_REQUEST on every endpoint that reads parameters, and
// changes nothing.
func TestHTTPMalformedQuery(t *testing.T) {
	l := startLookupd(t, nil)
	targets := []string{
		"/channels?topic=%zz",
		"/lookup?topic=a%",
		"/lookup?topic=a;b",
		"/topic/create?topic=ok&x=%G1",
		"/topic/delete?topic=%",
		"/channel/create?topic=a&channel=b%zz",
		"/channel/delete?topic=a&channel=%",
		"/topic/tombstone?topic=a&node=%zz",
	}
	for _, target := range targets {
		method := "GET"
		if !strings.HasPrefix(target, "/channels") && !strings.HasPrefix(target, "/lookup") {
			method = "POST"
		}
		t.Run(method+" "+target, func(t *testing.T) {
			apiExpectError(t, apiCall(t, l, method, target, nil, nil), http.StatusBadRequest, "INVALID_REQUEST", target)
		})
	}
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "/topics after bad queries")
	// Endpoints without parameters never parse the query, as upstream.
	apiExpectBody(t, apiGet(t, l, "/topics?%zz"), http.StatusOK, `{"topics":[]}`, "/topics ignores its query")
}

// TestHTTPRepeatedParameter checks that the first of repeated values wins.
func TestHTTPRepeatedParameter(t *testing.T) {
	l := startLookupd(t, nil)
	apiExpectPostOK(t, apiPost(t, l, "/topic/create?topic=first&topic=second"), "create")
	apiExpectPostOK(t, apiPost(t, l, "/channel/create?topic=first&channel=c1&channel=bad!&topic=x"), "create channel")
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["first"]}`, "/topics")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=first&topic=second"), http.StatusOK, `{"channels":["c1"]}`, "/channels")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=first&topic=nope"), http.StatusOK, `{"channels":["c1"],"producers":[]}`, "/lookup")
	apiExpectError(t, apiGet(t, l, "/lookup?topic=nope&topic=first"), http.StatusNotFound, "TOPIC_NOT_FOUND", "/lookup second")
	apiExpectError(t, apiPost(t, l, "/topic/create?topic=&topic=ok"), http.StatusBadRequest, "INVALID_ARG_TOPIC", "empty first")
	apiExpectPostOK(t, apiPost(t, l, "/topic/delete?topic=second&topic=first"), "delete")
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["first"]}`, "/topics after deleting second")
}

// TestHTTPCreateDelete checks the POST endpoints and their effect on the
// read endpoints.
func TestHTTPCreateDelete(t *testing.T) {
	l := startLookupd(t, nil)
	c := apiProducer(t, l, "p.example", 4150, 4151, "live ch")

	apiExpectPostOK(t, apiPost(t, l, "/topic/create?topic=t1"), "create t1")
	apiExpectPostOK(t, apiPost(t, l, "/topic/create?topic=t1"), "create t1 again")
	apiExpectPostOK(t, apiPost(t, l, "/topic/create?topic=eph%23ephemeral"), "create ephemeral")
	apiExpectPostOK(t, apiPost(t, l, "/channel/create?topic=t2&channel=c1"), "create t2 c1")
	apiExpectPostOK(t, apiPost(t, l, "/channel/create?topic=t2&channel=c2%23ephemeral"), "create t2 c2#ephemeral")
	apiExpectPostOK(t, apiPost(t, l, "/channel/create?topic=live&channel=extra"), "create live extra")
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["eph#ephemeral","live","t1","t2"]}`, "/topics")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=t2"), http.StatusOK, `{"channels":["c1","c2#ephemeral"]}`, "/channels t2")

	// Parameters come from the URL only, even on POST.
	r := apiCall(t, l, "POST", "/topic/create", strings.NewReader("topic=inbody"),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	apiExpectError(t, r, http.StatusBadRequest, "MISSING_ARG_TOPIC", "form body")
	apiExpectPostOK(t, apiCall(t, l, "POST", "/topic/create?topic=t3", strings.NewReader("ignored"), nil), "body ignored")

	apiExpectPostOK(t, apiPost(t, l, "/channel/delete?topic=t2&channel=c1"), "delete t2 c1")
	apiExpectError(t, apiPost(t, l, "/channel/delete?topic=t2&channel=c1"), http.StatusNotFound, "CHANNEL_NOT_FOUND", "delete t2 c1 again")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=t2"), http.StatusOK, `{"channels":["c2#ephemeral"]}`, "/channels t2 after delete")

	// A channel with a producer can be deleted too.
	apiExpectPostOK(t, apiPost(t, l, "/channel/delete?topic=live&channel=ch"), "delete live ch")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=live"), http.StatusOK,
		`{"channels":["extra"],"producers":[`+apiPeerJSON(c, "p.example", 4150, 4151)+`]}`, "/lookup live")

	apiExpectPostOK(t, apiPost(t, l, "/topic/delete?topic=t2"), "delete t2")
	apiExpectPostOK(t, apiPost(t, l, "/topic/delete?topic=t2"), "delete absent t2")
	apiExpectPostOK(t, apiPost(t, l, "/topic/delete?topic=never"), "delete never-created")
	apiExpectPostOK(t, apiPost(t, l, "/topic/delete?topic=bad!"), "delete invalid name")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=t2"), http.StatusOK, `{"channels":[]}`, "channels of deleted topic")
	apiExpectError(t, apiGet(t, l, "/lookup?topic=t2"), http.StatusNotFound, "TOPIC_NOT_FOUND", "/lookup deleted")

	// Deleting a topic with a producer drops the producer's membership.
	apiExpectPostOK(t, apiPost(t, l, "/topic/delete?topic=live"), "delete live")
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["eph#ephemeral","t1","t3"]}`, "/topics after deletes")
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+apiNodeJSON(c, "p.example", 4150, 4151, `[]`, `[]`)+`]}`, "/nodes after deleting live")
	c.send("REGISTER live\n")
	c.expectFrame("OK")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=live"), http.StatusOK,
		`{"channels":[],"producers":[`+apiPeerJSON(c, "p.example", 4150, 4151)+`]}`, "/lookup live re-registered")
}

// TestHTTPGoNSQRequestHeaders checks that the headers go-nsq sends change
// nothing.
func TestHTTPGoNSQRequestHeaders(t *testing.T) {
	l := startLookupd(t, nil)
	c := apiProducer(t, l, "n.example", 4150, 4151, "t")
	header := http.Header{
		"Accept":        {"application/vnd.nsq; version=1.0"},
		"Authorization": {"Bearer x"},
		"User-Agent":    {"go-nsq/1.1.0"},
	}
	want := `{"channels":[],"producers":[` + apiPeerJSON(c, "n.example", 4150, 4151) + `]}`
	apiExpectBody(t, apiCall(t, l, "GET", "/lookup?topic=t", nil, header), http.StatusOK, want, "/lookup with go-nsq headers")
	apiExpectBody(t, apiCall(t, l, "GET", "/topics", nil, header), http.StatusOK, `{"topics":["t"]}`, "/topics with go-nsq headers")
	apiExpectPostOK(t, apiCall(t, l, "POST", "/topic/create?topic=u", nil, header), "create with go-nsq headers")
}

// TestHTTPDebug checks the /debug keys and peer fields.
func TestHTTPDebug(t *testing.T) {
	l := startLookupd(t, nil)
	before := time.Now().UnixNano()
	c := apiProducer(t, l, "d.example", 4150, 4151, "t c", "t c2", "u")
	after := time.Now().UnixNano()
	apiExpectPostOK(t, apiPost(t, l, "/channel/create?topic=t&channel=nobody"), "create empty channel")
	apiExpectPostOK(t, apiPost(t, l, "/topic/create?topic=emptytopic"), "create empty topic")

	r := apiGet(t, l, "/debug")
	test.Equal(t, http.StatusOK, r.status, "status")
	apiExpectHeaders(t, r, "/debug")
	apiExpectJSON(t, `["channel:t:c","channel:t:c2","client::","topic:t:","topic:u:"]`, apiDebugKeys(t, l), "/debug keys")
	if !bytes.Contains(r.body, []byte(`"tombstoned_at":`+apiZeroTombstonedAt)) {
		t.Fatalf("/debug does not report tombstoned_at %s: %s", apiZeroTombstonedAt, r.body)
	}

	var data map[string][]map[string]json.RawMessage
	test.Nil(t, json.Unmarshal(r.body, &data), "decode /debug")
	addr := c.conn.LocalAddr().String()
	for key, peers := range data {
		test.Equal(t, 1, len(peers), key, "peers")
		p := peers[0]
		var lastUpdate int64
		test.Nil(t, json.Unmarshal(p["last_update"], &lastUpdate), key, "last_update")
		if lastUpdate < before || lastUpdate > after {
			t.Fatalf("%s: last_update %d outside [%d, %d]", key, lastUpdate, before, after)
		}
		delete(p, "last_update")
		got, _ := json.Marshal(p)
		want := fmt.Sprintf(`{"broadcast_address":"d.example","hostname":"d.example-host","http_port":4151,"id":"%s","tcp_port":4150,"tombstoned":false,"tombstoned_at":%s,"topology_region":"","topology_zone":"","version":"1.3.0"}`,
			addr, apiZeroTombstonedAt)
		apiExpectJSON(t, want, got, key)
	}
	// Exactly SPEC §6's keys, byte for byte what encoding/json writes for
	// them: no key more (remote_address repeated id), none missing, in
	// sorted order.
	var strict map[string][]specDebugPeer
	test.Nil(t, decodeStrictJSON(r.body, &strict), "decode /debug with SPEC §6's keys only", string(r.body))
	reencoded, err := json.Marshal(strict)
	test.Nil(t, err, "encode /debug")
	test.Equal(t, string(reencoded), string(r.body), "/debug body")

	// Tombstones show up in the topic key only, with their time.
	tombBefore := time.Now().UnixNano()
	apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=t&node=d.example:4151"), "tombstone")
	tombAfter := time.Now().UnixNano()
	test.Nil(t, json.Unmarshal(apiGet(t, l, "/debug").body, &data), "decode /debug")
	for key, peers := range data {
		var tombstoned bool
		var at int64
		test.Nil(t, json.Unmarshal(peers[0]["tombstoned"], &tombstoned), key, "tombstoned")
		test.Nil(t, json.Unmarshal(peers[0]["tombstoned_at"], &at), key, "tombstoned_at")
		if key != "topic:t:" {
			test.Equal(t, false, tombstoned, key, "tombstoned")
			test.Equal(t, apiZeroTombstonedAt, string(peers[0]["tombstoned_at"]), key, "tombstoned_at")
			continue
		}
		test.Equal(t, true, tombstoned, key, "tombstoned")
		if at < tombBefore || at > tombAfter {
			t.Fatalf("%s: tombstoned_at %d outside [%d, %d]", key, at, tombBefore, tombAfter)
		}
	}
}

// TestHTTPNodesTombstonesParallelTopics checks that /nodes lists, per node,
// tombstones parallel to topics.
func TestHTTPNodesTombstonesParallelTopics(t *testing.T) {
	l := startLookupd(t, nil)
	a := apiProducer(t, l, "a.example", 4150, 4151, "t3", "t1 c", "t2")
	b := apiProducer(t, l, "b.example", 4150, 4151, "t2")
	apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=t2&node=a.example:4151"), "tombstone a in t2")
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+
			apiNodeJSON(a, "a.example", 4150, 4151, `[false,true,false]`, `["t1","t2","t3"]`)+`,`+
			apiNodeJSON(b, "b.example", 4150, 4151, `[false]`, `["t2"]`)+`]}`,
		"/nodes")

	var nodes struct {
		Producers []struct {
			Tombstones []bool   `json:"tombstones"`
			Topics     []string `json:"topics"`
		} `json:"producers"`
	}
	test.Equal(t, http.StatusOK, httpGetJSON(t, l, "/nodes", &nodes), "status")
	for i, n := range nodes.Producers {
		test.Equal(t, len(n.Topics), len(n.Tombstones), "node", i, "parallel arrays")
	}
}

// TestHTTPTombstoneLifetime checks that a tombstone hides the producer from
// /lookup of that topic only, keeps it in /nodes, and expires.
func TestHTTPTombstoneLifetime(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	opts.TombstoneLifetime = 3 * time.Second
	l := startLookupd(t, opts)
	a := apiProducer(t, l, "a.example", 4150, 4151, "t c", "other")
	b := apiProducer(t, l, "b.example", 4150, 4151, "t")
	aPeer, bPeer := apiPeerJSON(a, "a.example", 4150, 4151), apiPeerJSON(b, "b.example", 4150, 4151)

	// A node of another port or host matches nothing.
	for _, node := range []string{"a.example:4150", "a.example", "b.example:4150", "a.example:04151", "A.EXAMPLE:4151", ""} {
		apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=t&node="+node), "tombstone "+node)
	}
	apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=unknown&node=a.example:4151"), "tombstone unknown topic")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":["c"],"producers":[`+aPeer+`,`+bPeer+`]}`, "no match")

	apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=t&node=a.example:4151"), "tombstone a")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":["c"],"producers":[`+bPeer+`]}`, "/lookup t tombstoned")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=other"), http.StatusOK, `{"channels":[],"producers":[`+aPeer+`]}`, "/lookup other unaffected")
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+
			apiNodeJSON(a, "a.example", 4150, 4151, `[false,true]`, `["other","t"]`)+`,`+
			apiNodeJSON(b, "b.example", 4150, 4151, `[false]`, `["t"]`)+`]}`,
		"/nodes while tombstoned")

	// A repeated REGISTER keeps the tombstone.
	a.send("REGISTER t\n")
	a.expectFrame("OK")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":["c"],"producers":[`+bPeer+`]}`, "/lookup after re-REGISTER")

	test.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(string(apiGet(t, l, "/lookup?topic=t").body), `"broadcast_address":"a.example"`)
	}, "tombstone to expire")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":["c"],"producers":[`+aPeer+`,`+bPeer+`]}`, "/lookup after expiry")
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+
			apiNodeJSON(a, "a.example", 4150, 4151, `[false,false]`, `["other","t"]`)+`,`+
			apiNodeJSON(b, "b.example", 4150, 4151, `[false]`, `["t"]`)+`]}`,
		"/nodes after expiry")

	// UNREGISTER drops the tombstone with the membership.
	apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=t&node=a.example:4151"), "tombstone a again")
	a.send("UNREGISTER t\n")
	a.expectFrame("OK")
	a.send("REGISTER t\n")
	a.expectFrame("OK")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":["c"],"producers":[`+aPeer+`,`+bPeer+`]}`, "/lookup after UNREGISTER")
}

// TestHTTPInactiveProducer checks that a silent peer leaves /lookup and
// /nodes but not /debug, and that a PING brings it back.
func TestHTTPInactiveProducer(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	opts.InactiveProducerTimeout = time.Second
	l := startLookupd(t, opts)
	c := apiProducer(t, l, "i.example", 4150, 4151, "t")
	listed := func() bool {
		return strings.Contains(string(apiGet(t, l, "/lookup?topic=t").body), "i.example") &&
			strings.Contains(string(apiGet(t, l, "/nodes").body), "i.example")
	}
	ping := func() {
		c.send("PING\n")
		c.expectFrame("OK")
	}
	test.Eventually(t, 5*time.Second, func() bool { ping(); return listed() }, "active peer listed")

	test.Eventually(t, 10*time.Second, func() bool {
		return string(apiGet(t, l, "/nodes").body) == `{"producers":[]}`
	}, "inactive peer to leave /nodes")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":[],"producers":[]}`, "/lookup of inactive peer")
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["t"]}`, "/topics keeps the topic")
	apiExpectJSON(t, `["client::","topic:t:"]`, apiDebugKeys(t, l), "/debug keeps the inactive peer")

	// REGISTER does not count as activity; PING does.
	c.send("REGISTER u\n")
	c.expectFrame("OK")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=u"), http.StatusOK, `{"channels":[],"producers":[]}`, "/lookup after REGISTER")
	test.Eventually(t, 5*time.Second, func() bool { ping(); return listed() }, "peer back after PING")
}

// TestHTTPPprof checks that the pprof routes answer.
func TestHTTPPprof(t *testing.T) {
	t.Parallel()
	l := startLookupd(t, nil)
	for _, target := range []string{
		"/debug/pprof",
		"/debug/pprof/cmdline",
		"/debug/pprof/symbol",
		"/debug/pprof/heap",
		"/debug/pprof/goroutine?debug=1",
		"/debug/pprof/block",
		"/debug/pprof/threadcreate",
		"/debug/pprof/allocs",
		"/debug/pprof/mutex",
		"/debug/pprof/profile?seconds=1",
	} {
		t.Run(target, func(t *testing.T) {
			r := apiGet(t, l, target)
			test.Equal(t, http.StatusOK, r.status, "status; body", string(r.body))
			if len(r.body) == 0 {
				t.Fatalf("%s: empty body", target)
			}
		})
	}
	r := apiCall(t, l, "POST", "/debug/pprof/symbol", strings.NewReader("0x0"), nil)
	test.Equal(t, http.StatusOK, r.status, "POST symbol status")

	// A profile or trace longer than a minute is refused before it starts:
	// the client gives up long before one would end.
	quick := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/debug/pprof/profile", "/debug/pprof/trace"} {
		for _, seconds := range []string{"61", "3600", "1e9"} {
			target := path + "?seconds=" + seconds
			apiExpectError(t, apiCallWith(t, quick, l, "GET", target, nil, nil), http.StatusBadRequest, "INVALID_ARG_SECONDS", target)
		}
	}
	r = apiCallWith(t, quick, l, "GET", "/debug/pprof/trace?seconds=1", nil, nil)
	test.Equal(t, http.StatusOK, r.status, "trace of 1s; body", string(r.body))
	if len(r.body) == 0 {
		t.Fatalf("trace of 1s: empty body")
	}
}

// The §9 differences from upstream, one test each.

// TestHTTPStarTopicDeleteDeletesNothing: upstream's wildcard matcher made
// this wipe every topic and channel.
func TestHTTPStarTopicDeleteDeletesNothing(t *testing.T) {
	l := startLookupd(t, nil)
	c := apiProducer(t, l, "s.example", 4150, 4151, "a ch", "b")
	apiExpectPostOK(t, apiPost(t, l, "/channel/create?topic=c&channel=d"), "create c d")
	apiExpectPostOK(t, apiPost(t, l, "/topic/delete?topic=*"), "delete *")
	apiExpectPostOK(t, apiPost(t, l, "/topic/delete?topic=%2A"), "delete escaped *")
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["a","b","c"]}`, "/topics")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=c"), http.StatusOK, `{"channels":["d"]}`, "/channels c")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=a"), http.StatusOK,
		`{"channels":["ch"],"producers":[`+apiPeerJSON(c, "s.example", 4150, 4151)+`]}`, "/lookup a")
}

// TestHTTPStarLookupNotFound: upstream listed producers of every topic.
func TestHTTPStarLookupNotFound(t *testing.T) {
	l := startLookupd(t, nil)
	apiProducer(t, l, "s.example", 4150, 4151, "a ch")
	apiExpectError(t, apiGet(t, l, "/lookup?topic=*"), http.StatusNotFound, "TOPIC_NOT_FOUND", "/lookup *")
}

// TestHTTPStarChannelsEmpty: upstream listed the channels of every topic.
func TestHTTPStarChannelsEmpty(t *testing.T) {
	l := startLookupd(t, nil)
	apiProducer(t, l, "s.example", 4150, 4151, "a ch")
	apiExpectPostOK(t, apiPost(t, l, "/channel/create?topic=b&channel=d"), "create b d")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=*"), http.StatusOK, `{"channels":[]}`, "/channels *")
}

// TestHTTPStarTombstoneNoEffect: upstream tombstoned the node in every topic.
func TestHTTPStarTombstoneNoEffect(t *testing.T) {
	l := startLookupd(t, nil)
	c := apiProducer(t, l, "s.example", 4150, 4151, "a", "b")
	apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=*&node=s.example:4151"), "tombstone *")
	peer := apiPeerJSON(c, "s.example", 4150, 4151)
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=a"), http.StatusOK, `{"channels":[],"producers":[`+peer+`]}`, "/lookup a")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=b"), http.StatusOK, `{"channels":[],"producers":[`+peer+`]}`, "/lookup b")
	apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+apiNodeJSON(c, "s.example", 4150, 4151, `[false,false]`, `["a","b"]`)+`]}`, "/nodes")
}

// TestHTTPTombstoneIPv6NodeForms: nsqadmin sends "[v6]:port", which upstream
// never matched; the unbracketed form keeps working.
func TestHTTPTombstoneIPv6NodeForms(t *testing.T) {
	for _, node := range []string{"[::1]:4151", "::1:4151", "%5B::1%5D:4151"} {
		t.Run(node, func(t *testing.T) {
			l := startLookupd(t, nil)
			v6 := apiProducer(t, l, "::1", 4150, 4151, "t")
			v4 := apiProducer(t, l, "127.0.0.1", 4150, 4151, "t")
			apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=t&node="+node), "tombstone "+node)
			apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK,
				`{"channels":[],"producers":[`+apiPeerJSON(v4, "127.0.0.1", 4150, 4151)+`]}`, "/lookup")
			// /nodes sorts by broadcast address: "1" before ":".
			apiExpectBody(t, apiGet(t, l, "/nodes"), http.StatusOK,
				`{"producers":[`+
					apiNodeJSON(v4, "127.0.0.1", 4150, 4151, `[false]`, `["t"]`)+`,`+
					apiNodeJSON(v6, "::1", 4150, 4151, `[true]`, `["t"]`)+`]}`,
				"/nodes")
		})
	}
	// The wrong port or a different v6 address matches nothing.
	l := startLookupd(t, nil)
	v6 := apiProducer(t, l, "::1", 4150, 4151, "t")
	for _, node := range []string{"[::1]:4150", "::1:4150", "[::2]:4151", "::", "[::1]"} {
		apiExpectPostOK(t, apiPost(t, l, "/topic/tombstone?topic=t&node="+node), "tombstone "+node)
	}
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK,
		`{"channels":[],"producers":[`+apiPeerJSON(v6, "::1", 4150, 4151)+`]}`, "/lookup after non-matching nodes")
}

// TestHTTPEphemeralDieWithLastProducer: upstream kept ephemeral
// registrations of a disconnected nsqd listed forever.
func TestHTTPEphemeralDieWithLastProducer(t *testing.T) {
	l := startLookupd(t, nil)
	a := apiProducer(t, l, "a.example", 4150, 4151, "e#ephemeral ec#ephemeral", "t c#ephemeral", "t d")
	b := apiProducer(t, l, "b.example", 4150, 4151, "e#ephemeral ec#ephemeral", "t c#ephemeral")
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["e#ephemeral","t"]}`, "/topics with both")

	apiCloseProducer(t, l, a)
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["e#ephemeral","t"]}`, "/topics with one left")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=t"), http.StatusOK, `{"channels":["c#ephemeral","d"]}`, "/channels t with one left")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=e%23ephemeral"), http.StatusOK, `{"channels":["ec#ephemeral"]}`, "/channels e with one left")

	apiCloseProducer(t, l, b)
	apiExpectBody(t, apiGet(t, l, "/topics"), http.StatusOK, `{"topics":["t"]}`, "/topics after the last disconnect")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=t"), http.StatusOK, `{"channels":["d"]}`, "/channels t after the last disconnect")
	apiExpectBody(t, apiGet(t, l, "/channels?topic=e%23ephemeral"), http.StatusOK, `{"channels":[]}`, "/channels e after the last disconnect")
	apiExpectError(t, apiGet(t, l, "/lookup?topic=e%23ephemeral"), http.StatusNotFound, "TOPIC_NOT_FOUND", "/lookup e")
	apiExpectBody(t, apiGet(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":["d"],"producers":[]}`, "/lookup t")
	apiExpectBody(t, apiGet(t, l, "/debug"), http.StatusOK, `{}`, "/debug")
}
