package nsqlookupd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/internal/test/spec"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
)

// apiZeroTombstonedAt is what /debug reports as tombstoned_at for a producer
// that was never tombstoned: the unix nanoseconds of the zero time.Time.
const apiZeroTombstonedAt = "-6795364578871345152"

// TestHTTPPing checks /ping: plain text, not an API response.
func TestHTTPPing(t *testing.T) {
	l := startLookupd(t)
	r := get(t, l, "/ping")
	test.Equal(t, http.StatusOK, r.status, "status")
	test.Equal(t, "OK", string(r.body), "body")
	test.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"), "Content-Type")
	test.Equal(t, []string(nil), r.header.Values("X-NSQ-Content-Type"), "X-NSQ-Content-Type")
}

// TestHTTPInfo checks /info reports the version.
func TestHTTPInfo(t *testing.T) {
	l := startLookupd(t)
	expectBody(t, get(t, l, "/info"), http.StatusOK, `{"version":"`+version.Binary+`"}`, "/info")
}

// TestHTTPEmptyLists checks every list is [] rather than null when there is
// nothing to list.
func TestHTTPEmptyLists(t *testing.T) {
	l := startLookupd(t)
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "/topics of an empty store")
	expectBody(t, get(t, l, "/channels?topic=unknown"), http.StatusOK, `{"channels":[]}`, "/channels of an unknown topic")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK, `{"producers":[]}`, "/nodes with nobody")
	expectBody(t, get(t, l, "/debug"), http.StatusOK, `{}`, "/debug of an empty store")

	expectPostOK(t, post(t, l, "/topic/create?topic=lonely"), "create lonely")
	expectBody(t, get(t, l, "/lookup?topic=lonely"), http.StatusOK, `{"channels":[],"producers":[]}`, "/lookup without producers")
	expectBody(t, get(t, l, "/channels?topic=lonely"), http.StatusOK, `{"channels":[]}`, "/channels of a topic without channels")

	c := announce(t, l, "idle.example", 4150, 4151)
	expectBody(t, get(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+nodeJSON(c, "idle.example", 4150, 4151, `[]`, `[]`)+`]}`, "/nodes with a node without topics")
	// A registration without peers has no /debug key; the client one has.
	test.Equal(t, []string{"client::"}, debugKeys(t, l), "/debug keys")
}

// TestHTTPReadEndpoints checks the exact bodies of /topics, /channels,
// /lookup and /nodes with two producers.
func TestHTTPReadEndpoints(t *testing.T) {
	l := startLookupd(t)
	a := announce(t, l, "a.example", 4150, 4151, "orders billing", "orders audit", "users")
	b := announce(t, l, "b.example", 5150, 5151, "orders billing", "clicks#ephemeral")
	expectPostOK(t, post(t, l, "/topic/create?topic=empty"), "create empty")

	expectBody(t, get(t, l, "/topics"), http.StatusOK,
		`{"topics":["clicks#ephemeral","empty","orders","users"]}`, "/topics")
	expectBody(t, get(t, l, "/channels?topic=orders"), http.StatusOK,
		`{"channels":["audit","billing"]}`, "/channels")
	expectBody(t, get(t, l, "/lookup?topic=orders"), http.StatusOK,
		`{"channels":["audit","billing"],"producers":[`+peerJSON(a, "a.example", 4150, 4151)+`,`+peerJSON(b, "b.example", 5150, 5151)+`]}`,
		"/lookup orders")
	expectBody(t, get(t, l, "/lookup?topic=users"), http.StatusOK,
		`{"channels":[],"producers":[`+peerJSON(a, "a.example", 4150, 4151)+`]}`, "/lookup users")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+
			nodeJSON(a, "a.example", 4150, 4151, `[false,false]`, `["orders","users"]`)+`,`+
			nodeJSON(b, "b.example", 5150, 5151, `[false,false]`, `["clicks#ephemeral","orders"]`)+`]}`,
		"/nodes")

	// go-nsq and nsqadmin read these fields; check them by name too.
	var lookup struct {
		Producers []struct {
			BroadcastAddress string `json:"broadcast_address"`
			TCPPort          int    `json:"tcp_port"`
		} `json:"producers"`
	}
	r := get(t, l, "/lookup?topic=orders")
	test.Equal(t, http.StatusOK, r.status, "status")
	r.decode(t, &lookup)
	test.Equal(t, 2, len(lookup.Producers), "producers")
	test.Equal(t, "b.example", lookup.Producers[1].BroadcastAddress, "broadcast_address")
	test.Equal(t, 5150, lookup.Producers[1].TCPPort, "tcp_port")
}

// TestHTTPTopologyFields checks that optional IDENTIFY fields reach /lookup
// and /nodes.
func TestHTTPTopologyFields(t *testing.T) {
	l := startLookupd(t)
	c := l.dial(t)
	body := `{"broadcast_address":"zone.example","hostname":"h1","tcp_port":4150,"http_port":4151,"version":"1.2.1","topology_zone":"z1","topology_region":"r1"}`
	c.Send(test.Identify(body))
	_, err := c.ReadFrame()
	test.Nil(t, err, "IDENTIFY reply")
	c.Send("REGISTER geo\n")
	c.ExpectFrame("OK")

	peer := fmt.Sprintf(`{"remote_address":"%s","hostname":"h1","broadcast_address":"zone.example","tcp_port":4150,"http_port":4151,"version":"1.2.1","topology_zone":"z1","topology_region":"r1"`, c.LocalAddr())
	expectBody(t, get(t, l, "/lookup?topic=geo"), http.StatusOK, `{"channels":[],"producers":[`+peer+`}]}`, "/lookup")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK, `{"producers":[`+peer+`,"tombstones":[false],"topics":["geo"]}]}`, "/nodes")
}

// TestHTTPErrors checks every documented error answer: status, exact body and
// headers.
func TestHTTPErrors(t *testing.T) {
	l := startLookupd(t)
	expectPostOK(t, post(t, l, "/channel/create?topic=known&channel=present"), "setup")

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
			expectError(t, do(t, l, tc.method, tc.target), tc.status, tc.code, name)
		})
	}
	// None of the failed calls changed anything.
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["known"]}`, "/topics after errors")
	expectBody(t, get(t, l, "/channels?topic=known"), http.StatusOK, `{"channels":["present"]}`, "/channels after errors")
}

// TestHTTPMethodNotAllowed checks 405 with the Allow header on known paths,
// HEAD included.
func TestHTTPMethodNotAllowed(t *testing.T) {
	l := startLookupd(t)
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
			r := do(t, l, tc.method, tc.target)
			test.Equal(t, tc.allow, r.header.Get("Allow"), "Allow")
			if tc.method == "HEAD" {
				test.Equal(t, http.StatusMethodNotAllowed, r.status, "status")
				expectHeaders(t, r, name)
				test.Equal(t, "", string(r.body), "HEAD body")
				return
			}
			expectError(t, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", name)
		})
	}
	// The wrong method did not run the handler.
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "/topics after 405s")
}

// TestHTTPOptions checks OPTIONS answers 200 with Allow and runs no handler.
func TestHTTPOptions(t *testing.T) {
	l := startLookupd(t)
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
			r := do(t, l, "OPTIONS", tc.target)
			test.Equal(t, http.StatusOK, r.status, "status")
			test.Equal(t, tc.allow, r.header.Get("Allow"), "Allow")
			test.Equal(t, "", string(r.body), "body")
		})
	}
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "OPTIONS ran no handler")
	// A path nobody serves has no Allow list to offer.
	expectError(t, do(t, l, "OPTIONS", "/nope"), http.StatusNotFound, "NOT_FOUND", "OPTIONS /nope")
}

// TestHTTPTrailingSlashRedirect checks httprouter's default redirects: 301
// for GET and, as in upstream (same httprouter v1.3.0), 307 for other
// methods so the method is kept. The query string is kept.
func TestHTTPTrailingSlashRedirect(t *testing.T) {
	l := startLookupd(t)
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
			r := do(t, l, tc.method, tc.target)
			test.Equal(t, tc.status, r.status, "status")
			test.Equal(t, tc.location, r.header.Get("Location"), "Location")
		})
	}
	// The redirected POST did not create anything by itself.
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "/topics after redirects")
}

// TestHTTPMalformedQuery checks that a query string url.ParseQuery rejects
// gives 400 INVALID_REQUEST on every endpoint that reads parameters, and
// changes nothing.
func TestHTTPMalformedQuery(t *testing.T) {
	l := startLookupd(t)
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
			expectError(t, do(t, l, method, target), http.StatusBadRequest, "INVALID_REQUEST", target)
		})
	}
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":[]}`, "/topics after bad queries")
	// Endpoints without parameters never parse the query, as upstream.
	expectBody(t, get(t, l, "/topics?%zz"), http.StatusOK, `{"topics":[]}`, "/topics ignores its query")
}

// TestHTTPRepeatedParameter checks that the first of repeated values wins.
func TestHTTPRepeatedParameter(t *testing.T) {
	l := startLookupd(t)
	expectPostOK(t, post(t, l, "/topic/create?topic=first&topic=second"), "create")
	expectPostOK(t, post(t, l, "/channel/create?topic=first&channel=c1&channel=bad!&topic=x"), "create channel")
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["first"]}`, "/topics")
	expectBody(t, get(t, l, "/channels?topic=first&topic=second"), http.StatusOK, `{"channels":["c1"]}`, "/channels")
	expectBody(t, get(t, l, "/lookup?topic=first&topic=nope"), http.StatusOK, `{"channels":["c1"],"producers":[]}`, "/lookup")
	expectError(t, get(t, l, "/lookup?topic=nope&topic=first"), http.StatusNotFound, "TOPIC_NOT_FOUND", "/lookup second")
	expectError(t, post(t, l, "/topic/create?topic=&topic=ok"), http.StatusBadRequest, "INVALID_ARG_TOPIC", "empty first")
	expectPostOK(t, post(t, l, "/topic/delete?topic=second&topic=first"), "delete")
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["first"]}`, "/topics after deleting second")
}

// TestHTTPCreateDelete checks the POST endpoints and their effect on the
// read endpoints.
func TestHTTPCreateDelete(t *testing.T) {
	l := startLookupd(t)
	c := announce(t, l, "p.example", 4150, 4151, "live ch")

	expectPostOK(t, post(t, l, "/topic/create?topic=t1"), "create t1")
	expectPostOK(t, post(t, l, "/topic/create?topic=t1"), "create t1 again")
	expectPostOK(t, post(t, l, "/topic/create?topic=eph%23ephemeral"), "create ephemeral")
	expectPostOK(t, post(t, l, "/channel/create?topic=t2&channel=c1"), "create t2 c1")
	expectPostOK(t, post(t, l, "/channel/create?topic=t2&channel=c2%23ephemeral"), "create t2 c2#ephemeral")
	expectPostOK(t, post(t, l, "/channel/create?topic=live&channel=extra"), "create live extra")
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["eph#ephemeral","live","t1","t2"]}`, "/topics")
	expectBody(t, get(t, l, "/channels?topic=t2"), http.StatusOK, `{"channels":["c1","c2#ephemeral"]}`, "/channels t2")

	// Parameters come from the URL only, even on POST.
	r := post(t, l, "/topic/create", withBody(strings.NewReader("topic=inbody")),
		withHeader(http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}))
	expectError(t, r, http.StatusBadRequest, "MISSING_ARG_TOPIC", "form body")
	expectPostOK(t, post(t, l, "/topic/create?topic=t3", withBody(strings.NewReader("ignored"))), "body ignored")

	expectPostOK(t, post(t, l, "/channel/delete?topic=t2&channel=c1"), "delete t2 c1")
	expectError(t, post(t, l, "/channel/delete?topic=t2&channel=c1"), http.StatusNotFound, "CHANNEL_NOT_FOUND", "delete t2 c1 again")
	expectBody(t, get(t, l, "/channels?topic=t2"), http.StatusOK, `{"channels":["c2#ephemeral"]}`, "/channels t2 after delete")

	// A channel with a producer can be deleted too.
	expectPostOK(t, post(t, l, "/channel/delete?topic=live&channel=ch"), "delete live ch")
	expectBody(t, get(t, l, "/lookup?topic=live"), http.StatusOK,
		`{"channels":["extra"],"producers":[`+peerJSON(c, "p.example", 4150, 4151)+`]}`, "/lookup live")

	expectPostOK(t, post(t, l, "/topic/delete?topic=t2"), "delete t2")
	expectPostOK(t, post(t, l, "/topic/delete?topic=t2"), "delete absent t2")
	expectPostOK(t, post(t, l, "/topic/delete?topic=never"), "delete never-created")
	expectPostOK(t, post(t, l, "/topic/delete?topic=bad!"), "delete invalid name")
	expectBody(t, get(t, l, "/channels?topic=t2"), http.StatusOK, `{"channels":[]}`, "channels of deleted topic")
	expectError(t, get(t, l, "/lookup?topic=t2"), http.StatusNotFound, "TOPIC_NOT_FOUND", "/lookup deleted")

	// Deleting a topic with a producer drops the producer's membership.
	expectPostOK(t, post(t, l, "/topic/delete?topic=live"), "delete live")
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["eph#ephemeral","t1","t3"]}`, "/topics after deletes")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+nodeJSON(c, "p.example", 4150, 4151, `[]`, `[]`)+`]}`, "/nodes after deleting live")
	c.Send("REGISTER live\n")
	c.ExpectFrame("OK")
	expectBody(t, get(t, l, "/lookup?topic=live"), http.StatusOK,
		`{"channels":[],"producers":[`+peerJSON(c, "p.example", 4150, 4151)+`]}`, "/lookup live re-registered")
}

// TestHTTPGoNSQRequestHeaders checks that the headers go-nsq sends change
// nothing.
func TestHTTPGoNSQRequestHeaders(t *testing.T) {
	l := startLookupd(t)
	c := announce(t, l, "n.example", 4150, 4151, "t")
	header := http.Header{
		"Accept":        {"application/vnd.nsq; version=1.0"},
		"Authorization": {"Bearer x"},
		"User-Agent":    {"go-nsq/1.1.0"},
	}
	want := `{"channels":[],"producers":[` + peerJSON(c, "n.example", 4150, 4151) + `]}`
	expectBody(t, get(t, l, "/lookup?topic=t", withHeader(header)), http.StatusOK, want, "/lookup with go-nsq headers")
	expectBody(t, get(t, l, "/topics", withHeader(header)), http.StatusOK, `{"topics":["t"]}`, "/topics with go-nsq headers")
	expectPostOK(t, post(t, l, "/topic/create?topic=u", withHeader(header)), "create with go-nsq headers")
}

// TestHTTPDebug checks the /debug keys and peer fields.
func TestHTTPDebug(t *testing.T) {
	l := startLookupd(t)
	before := time.Now().UnixNano()
	c := announce(t, l, "d.example", 4150, 4151, "t c", "t c2", "u")
	after := time.Now().UnixNano()
	expectPostOK(t, post(t, l, "/channel/create?topic=t&channel=nobody"), "create empty channel")
	expectPostOK(t, post(t, l, "/topic/create?topic=emptytopic"), "create empty topic")

	r := get(t, l, "/debug")
	test.Equal(t, http.StatusOK, r.status, "status")
	expectHeaders(t, r, "/debug")
	test.Equal(t, []string{"channel:t:c", "channel:t:c2", "client::", "topic:t:", "topic:u:"}, debugKeys(t, l), "/debug keys")
	if !bytes.Contains(r.body, []byte(`"tombstoned_at":`+apiZeroTombstonedAt)) {
		t.Fatalf("/debug does not report tombstoned_at %s: %s", apiZeroTombstonedAt, r.body)
	}

	var data map[string][]map[string]json.RawMessage
	test.Nil(t, json.Unmarshal(r.body, &data), "decode /debug")
	addr := c.LocalAddr()
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
		expectJSON(t, want, got, key)
	}
	// Exactly SPEC §6's keys, byte for byte what encoding/json writes for
	// them: no key more (remote_address repeated id), none missing, in
	// sorted order.
	var strict map[string][]spec.DebugPeer
	test.Nil(t, spec.DecodeStrict(r.body, &strict), "decode /debug with SPEC §6's keys only", string(r.body))
	reencoded, err := json.Marshal(strict)
	test.Nil(t, err, "encode /debug")
	test.Equal(t, string(reencoded), string(r.body), "/debug body")

	// Tombstones show up in the topic key only, with their time.
	tombBefore := time.Now().UnixNano()
	expectPostOK(t, post(t, l, "/topic/tombstone?topic=t&node=d.example:4151"), "tombstone")
	tombAfter := time.Now().UnixNano()
	test.Nil(t, json.Unmarshal(get(t, l, "/debug").body, &data), "decode /debug")
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
	l := startLookupd(t)
	a := announce(t, l, "a.example", 4150, 4151, "t3", "t1 c", "t2")
	b := announce(t, l, "b.example", 4150, 4151, "t2")
	expectPostOK(t, post(t, l, "/topic/tombstone?topic=t2&node=a.example:4151"), "tombstone a in t2")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+
			nodeJSON(a, "a.example", 4150, 4151, `[false,true,false]`, `["t1","t2","t3"]`)+`,`+
			nodeJSON(b, "b.example", 4150, 4151, `[false]`, `["t2"]`)+`]}`,
		"/nodes")

	var nodes struct {
		Producers []struct {
			Tombstones []bool   `json:"tombstones"`
			Topics     []string `json:"topics"`
		} `json:"producers"`
	}
	r := get(t, l, "/nodes")
	test.Equal(t, http.StatusOK, r.status, "status")
	r.decode(t, &nodes)
	for i, n := range nodes.Producers {
		test.Equal(t, len(n.Topics), len(n.Tombstones), "node", i, "parallel arrays")
	}
}

// TestHTTPTombstoneLifetime checks that a tombstone hides the producer from
// /lookup of that topic only, keeps it in /nodes, and expires after exactly
// the lifetime on the store's clock.
func TestHTTPTombstoneLifetime(t *testing.T) {
	const lifetime = time.Minute
	l := startLookupd(t, withClock, func(s *setup) { s.opts.TombstoneLifetime = lifetime })
	a := announce(t, l, "a.example", 4150, 4151, "t c", "other")
	b := announce(t, l, "b.example", 4150, 4151, "t")
	aPeer, bPeer := peerJSON(a, "a.example", 4150, 4151), peerJSON(b, "b.example", 4150, 4151)
	both := `{"channels":["c"],"producers":[` + aPeer + `,` + bPeer + `]}`
	onlyB := `{"channels":["c"],"producers":[` + bPeer + `]}`

	// A node of another port or host matches nothing.
	for _, node := range []string{"a.example:4150", "a.example", "b.example:4150", "a.example:04151", "A.EXAMPLE:4151", ""} {
		expectPostOK(t, post(t, l, "/topic/tombstone?topic=t&node="+node), "tombstone "+node)
	}
	expectPostOK(t, post(t, l, "/topic/tombstone?topic=unknown&node=a.example:4151"), "tombstone unknown topic")
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, both, "no match")

	expectPostOK(t, post(t, l, "/topic/tombstone?topic=t&node=a.example:4151"), "tombstone a")
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, onlyB, "/lookup t tombstoned")
	expectBody(t, get(t, l, "/lookup?topic=other"), http.StatusOK, `{"channels":[],"producers":[`+aPeer+`]}`, "/lookup other unaffected")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+
			nodeJSON(a, "a.example", 4150, 4151, `[false,true]`, `["other","t"]`)+`,`+
			nodeJSON(b, "b.example", 4150, 4151, `[false]`, `["t"]`)+`]}`,
		"/nodes while tombstoned")

	// A repeated REGISTER keeps the tombstone.
	test.Equal(t, "OK", a.Command("REGISTER t"), "REGISTER t again")
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, onlyB, "/lookup after re-REGISTER")

	l.clock.Advance(lifetime - time.Nanosecond)
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, onlyB, "/lookup just before the lifetime ends")
	l.clock.Advance(time.Nanosecond)
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, both, "/lookup once the lifetime ended")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+
			nodeJSON(a, "a.example", 4150, 4151, `[false,false]`, `["other","t"]`)+`,`+
			nodeJSON(b, "b.example", 4150, 4151, `[false]`, `["t"]`)+`]}`,
		"/nodes after expiry")

	// UNREGISTER drops the tombstone with the membership: no time passes
	// on the store's clock, so only that can bring a back.
	expectPostOK(t, post(t, l, "/topic/tombstone?topic=t&node=a.example:4151"), "tombstone a again")
	test.Equal(t, "OK", a.Command("UNREGISTER t"), "UNREGISTER t")
	test.Equal(t, "OK", a.Command("REGISTER t"), "REGISTER t")
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, both, "/lookup after UNREGISTER")
}

// TestHTTPInactiveProducer checks that a peer silent for longer than the
// inactivity timeout on the store's clock leaves /lookup and /nodes but not
// /debug, that REGISTER does not count as activity, and that PING does.
func TestHTTPInactiveProducer(t *testing.T) {
	const timeout = time.Minute
	l := startLookupd(t, withClock, func(s *setup) { s.opts.InactiveProducerTimeout = timeout })
	c := announce(t, l, "i.example", 4150, 4151, "t")
	listed := `{"channels":[],"producers":[` + peerJSON(c, "i.example", 4150, 4151) + `]}`
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, listed, "/lookup of an active peer")

	l.clock.Advance(timeout)
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, listed, "/lookup after exactly the timeout")
	l.clock.Advance(time.Nanosecond)
	expectBody(t, get(t, l, "/nodes"), http.StatusOK, `{"producers":[]}`, "/nodes of an inactive peer")
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":[],"producers":[]}`, "/lookup of an inactive peer")
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["t"]}`, "/topics keeps the topic")
	test.Equal(t, []string{"client::", "topic:t:"}, debugKeys(t, l), "/debug keeps the inactive peer")

	// No time passes on the store's clock: only a refreshed peer would be
	// listed again.
	test.Equal(t, "OK", c.Command("REGISTER u"), "REGISTER u")
	expectBody(t, get(t, l, "/lookup?topic=u"), http.StatusOK, `{"channels":[],"producers":[]}`, "/lookup after REGISTER")
	test.Equal(t, "OK", c.Command("PING"), "PING")
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, listed, "/lookup after PING")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+nodeJSON(c, "i.example", 4150, 4151, `[false,false]`, `["t","u"]`)+`]}`, "/nodes after PING")
}

// TestHTTPExpiryIgnoresWallClockSteps checks that inactivity and tombstones
// expire on the store's monotonic reading: steps of the wall reading, as an
// NTP step or an operator's date command makes, forward or back, change
// nothing in /lookup and /nodes, while the monotonic reading passing the
// lifetime and then the timeout does.
func TestHTTPExpiryIgnoresWallClockSteps(t *testing.T) {
	const lifetime, timeout = 30 * time.Second, time.Minute
	l := startLookupd(t, withClock, func(s *setup) {
		s.opts.TombstoneLifetime = lifetime
		s.opts.InactiveProducerTimeout = timeout
	})
	a := announce(t, l, "a.example", 4150, 4151, "t")
	b := announce(t, l, "b.example", 5150, 5151, "t")
	expectPostOK(t, post(t, l, "/topic/tombstone?topic=t&node=a.example:4151"), "tombstone a")
	aPeer, bPeer := peerJSON(a, "a.example", 4150, 4151), peerJSON(b, "b.example", 5150, 5151)
	expect := func(lookup, nodes, context string) {
		t.Helper()
		expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, lookup, context+": /lookup")
		expectBody(t, get(t, l, "/nodes"), http.StatusOK, nodes, context+": /nodes")
	}
	tombstoned := func(context string) {
		t.Helper()
		expect(`{"channels":[],"producers":[`+bPeer+`]}`,
			`{"producers":[`+nodeJSON(a, "a.example", 4150, 4151, `[true]`, `["t"]`)+`,`+
				nodeJSON(b, "b.example", 5150, 5151, `[false]`, `["t"]`)+`]}`, context)
	}
	tombstoned("before any step")
	for _, step := range []time.Duration{2 * time.Hour, -4 * time.Hour, 24 * time.Hour, -24 * time.Hour} {
		l.clock.Step(step)
		tombstoned(fmt.Sprintf("after a wall step of %s", step))
	}

	l.clock.Advance(lifetime)
	expect(`{"channels":[],"producers":[`+aPeer+`,`+bPeer+`]}`,
		`{"producers":[`+nodeJSON(a, "a.example", 4150, 4151, `[false]`, `["t"]`)+`,`+
			nodeJSON(b, "b.example", 5150, 5151, `[false]`, `["t"]`)+`]}`, "once the lifetime passed")
	l.clock.Advance(timeout - lifetime + time.Nanosecond)
	expect(`{"channels":[],"producers":[]}`, `{"producers":[]}`, "once the inactivity timeout passed")
}

// TestHTTPPprof checks that the pprof routes answer.
func TestHTTPPprof(t *testing.T) {
	t.Parallel()
	l := startLookupd(t)
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
			r := get(t, l, target)
			test.Equal(t, http.StatusOK, r.status, "status; body", string(r.body))
			if len(r.body) == 0 {
				t.Fatalf("%s: empty body", target)
			}
		})
	}
	r := post(t, l, "/debug/pprof/symbol", withBody(strings.NewReader("0x0")))
	test.Equal(t, http.StatusOK, r.status, "POST symbol status")

	// A profile or trace longer than a minute is refused before it starts:
	// the client gives up long before one would end.
	quick := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/debug/pprof/profile", "/debug/pprof/trace"} {
		for _, seconds := range []string{"61", "3600", "1e9"} {
			target := path + "?seconds=" + seconds
			expectError(t, get(t, l, target, withClient(quick)), http.StatusBadRequest, "INVALID_ARG_SECONDS", target)
		}
	}
	r = get(t, l, "/debug/pprof/trace?seconds=1", withClient(quick))
	test.Equal(t, http.StatusOK, r.status, "trace of 1s; body", string(r.body))
	if len(r.body) == 0 {
		t.Fatalf("trace of 1s: empty body")
	}
}

// The §9 differences from upstream, one test each.

// TestHTTPStarTopicDeleteDeletesNothing: upstream's wildcard matcher made
// this wipe every topic and channel.
func TestHTTPStarTopicDeleteDeletesNothing(t *testing.T) {
	l := startLookupd(t)
	c := announce(t, l, "s.example", 4150, 4151, "a ch", "b")
	expectPostOK(t, post(t, l, "/channel/create?topic=c&channel=d"), "create c d")
	expectPostOK(t, post(t, l, "/topic/delete?topic=*"), "delete *")
	expectPostOK(t, post(t, l, "/topic/delete?topic=%2A"), "delete escaped *")
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["a","b","c"]}`, "/topics")
	expectBody(t, get(t, l, "/channels?topic=c"), http.StatusOK, `{"channels":["d"]}`, "/channels c")
	expectBody(t, get(t, l, "/lookup?topic=a"), http.StatusOK,
		`{"channels":["ch"],"producers":[`+peerJSON(c, "s.example", 4150, 4151)+`]}`, "/lookup a")
}

// TestHTTPStarLookupNotFound: upstream listed producers of every topic.
func TestHTTPStarLookupNotFound(t *testing.T) {
	l := startLookupd(t)
	announce(t, l, "s.example", 4150, 4151, "a ch")
	expectError(t, get(t, l, "/lookup?topic=*"), http.StatusNotFound, "TOPIC_NOT_FOUND", "/lookup *")
}

// TestHTTPStarChannelsEmpty: upstream listed the channels of every topic.
func TestHTTPStarChannelsEmpty(t *testing.T) {
	l := startLookupd(t)
	announce(t, l, "s.example", 4150, 4151, "a ch")
	expectPostOK(t, post(t, l, "/channel/create?topic=b&channel=d"), "create b d")
	expectBody(t, get(t, l, "/channels?topic=*"), http.StatusOK, `{"channels":[]}`, "/channels *")
}

// TestHTTPStarTombstoneNoEffect: upstream tombstoned the node in every topic.
func TestHTTPStarTombstoneNoEffect(t *testing.T) {
	l := startLookupd(t)
	c := announce(t, l, "s.example", 4150, 4151, "a", "b")
	expectPostOK(t, post(t, l, "/topic/tombstone?topic=*&node=s.example:4151"), "tombstone *")
	peer := peerJSON(c, "s.example", 4150, 4151)
	expectBody(t, get(t, l, "/lookup?topic=a"), http.StatusOK, `{"channels":[],"producers":[`+peer+`]}`, "/lookup a")
	expectBody(t, get(t, l, "/lookup?topic=b"), http.StatusOK, `{"channels":[],"producers":[`+peer+`]}`, "/lookup b")
	expectBody(t, get(t, l, "/nodes"), http.StatusOK,
		`{"producers":[`+nodeJSON(c, "s.example", 4150, 4151, `[false,false]`, `["a","b"]`)+`]}`, "/nodes")
}

// TestHTTPTombstoneIPv6NodeForms: nsqadmin sends "[v6]:port", which upstream
// never matched; the unbracketed form keeps working.
func TestHTTPTombstoneIPv6NodeForms(t *testing.T) {
	for _, node := range []string{"[::1]:4151", "::1:4151", "%5B::1%5D:4151"} {
		t.Run(node, func(t *testing.T) {
			l := startLookupd(t)
			v6 := announce(t, l, "::1", 4150, 4151, "t")
			v4 := announce(t, l, "127.0.0.1", 4150, 4151, "t")
			expectPostOK(t, post(t, l, "/topic/tombstone?topic=t&node="+node), "tombstone "+node)
			expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK,
				`{"channels":[],"producers":[`+peerJSON(v4, "127.0.0.1", 4150, 4151)+`]}`, "/lookup")
			// /nodes sorts by broadcast address: "1" before ":".
			expectBody(t, get(t, l, "/nodes"), http.StatusOK,
				`{"producers":[`+
					nodeJSON(v4, "127.0.0.1", 4150, 4151, `[false]`, `["t"]`)+`,`+
					nodeJSON(v6, "::1", 4150, 4151, `[true]`, `["t"]`)+`]}`,
				"/nodes")
		})
	}
	// The wrong port or a different v6 address matches nothing.
	l := startLookupd(t)
	v6 := announce(t, l, "::1", 4150, 4151, "t")
	for _, node := range []string{"[::1]:4150", "::1:4150", "[::2]:4151", "::", "[::1]"} {
		expectPostOK(t, post(t, l, "/topic/tombstone?topic=t&node="+node), "tombstone "+node)
	}
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK,
		`{"channels":[],"producers":[`+peerJSON(v6, "::1", 4150, 4151)+`]}`, "/lookup after non-matching nodes")
}

// TestHTTPEphemeralDieWithLastProducer: upstream kept ephemeral
// registrations of a disconnected nsqd listed forever.
func TestHTTPEphemeralDieWithLastProducer(t *testing.T) {
	l := startLookupd(t)
	a := announce(t, l, "a.example", 4150, 4151, "e#ephemeral ec#ephemeral", "t c#ephemeral", "t d")
	b := announce(t, l, "b.example", 4150, 4151, "e#ephemeral ec#ephemeral", "t c#ephemeral")
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["e#ephemeral","t"]}`, "/topics with both")

	closeProducer(t, l, a)
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["e#ephemeral","t"]}`, "/topics with one left")
	expectBody(t, get(t, l, "/channels?topic=t"), http.StatusOK, `{"channels":["c#ephemeral","d"]}`, "/channels t with one left")
	expectBody(t, get(t, l, "/channels?topic=e%23ephemeral"), http.StatusOK, `{"channels":["ec#ephemeral"]}`, "/channels e with one left")

	closeProducer(t, l, b)
	expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["t"]}`, "/topics after the last disconnect")
	expectBody(t, get(t, l, "/channels?topic=t"), http.StatusOK, `{"channels":["d"]}`, "/channels t after the last disconnect")
	expectBody(t, get(t, l, "/channels?topic=e%23ephemeral"), http.StatusOK, `{"channels":[]}`, "/channels e after the last disconnect")
	expectError(t, get(t, l, "/lookup?topic=e%23ephemeral"), http.StatusNotFound, "TOPIC_NOT_FOUND", "/lookup e")
	expectBody(t, get(t, l, "/lookup?topic=t"), http.StatusOK, `{"channels":["d"],"producers":[]}`, "/lookup t")
	expectBody(t, get(t, l, "/debug"), http.StatusOK, `{}`, "/debug")
}
