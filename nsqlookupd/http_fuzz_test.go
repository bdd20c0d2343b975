package nsqlookupd_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/registry"
	"github.com/nsqlookupd/nsqlookupd/internal/test/spec"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// fuzzHTTPMaxRequests bounds the requests one fuzz input may send.
const fuzzHTTPMaxRequests = 12

// fuzzHTTPPadding is appended to request bodies (up to its length), so that
// inputs can cross the body limit without carrying 64 KiB themselves.
var fuzzHTTPPadding = make([]byte, math.MaxUint16)

// fuzzHTTPStatus maps each status the API may answer to whether it is
// allowed; 403 only comes with an admin allow-list, which is not set here.
var fuzzHTTPStatus = map[int]bool{
	http.StatusOK:                    true,
	http.StatusMovedPermanently:      true,
	http.StatusTemporaryRedirect:     true,
	http.StatusBadRequest:            true,
	http.StatusNotFound:              true,
	http.StatusMethodNotAllowed:      true,
	http.StatusRequestEntityTooLarge: true,
}

// fuzzHTTPErrorStatus is the status each API error code must come with.
var fuzzHTTPErrorStatus = map[string]int{
	"INVALID_REQUEST":     http.StatusBadRequest,
	"MISSING_ARG_TOPIC":   http.StatusBadRequest,
	"MISSING_ARG_CHANNEL": http.StatusBadRequest,
	"MISSING_ARG_NODE":    http.StatusBadRequest,
	"INVALID_ARG_TOPIC":   http.StatusBadRequest,
	"INVALID_ARG_CHANNEL": http.StatusBadRequest,
	"TOPIC_NOT_FOUND":     http.StatusNotFound,
	"CHANNEL_NOT_FOUND":   http.StatusNotFound,
	"NOT_FOUND":           http.StatusNotFound,
	"METHOD_NOT_ALLOWED":  http.StatusMethodNotAllowed,
	"BODY_TOO_LARGE":      http.StatusRequestEntityTooLarge,
}

// FuzzHTTPHandler sends scripts of requests ("METHOD target" per line, the
// same body on each) through the daemon's HTTP handler, with peers whose
// IDENTIFY fields are fuzzed too. Every answer must be an allowed status
// (never 500), carry the API headers and a JSON body that matches what
// encoding/json would write, and the store must match a model of the
// topics and channels the requests created and deleted.
func FuzzHTTPHandler(f *testing.F) {
	seeds := []struct {
		script string
		body   string
		pad    uint16
		text   string
		port   int
	}{
		{"GET /topics\nGET /nodes\nGET /lookup?topic=t1", "", 0, "host.example", 4150},
		{"POST /topic/create?topic=new\nPOST /channel/create?topic=new&channel=c\nGET /channels?topic=new\nPOST /channel/delete?topic=new&channel=c\nPOST /channel/delete?topic=new&channel=c", "", 0, "h", 1},
		{"POST /topic/delete?topic=t1\nGET /lookup?topic=t1\nGET /nodes\nPOST /topic/create?topic=t1", "", 0, "h", 4150},
		{"POST /topic/tombstone?topic=t2&node=" + url.QueryEscape("<\"zone\">:4151") + "\nGET /lookup?topic=t2\nGET /nodes", "", 0, "<\"zone\">", 4151},
		{"POST /topic/tombstone?topic=t1&node=[::1]:4151\nPOST /topic/tombstone?topic=t1&node=::1:4151\nGET /nodes\nGET /debug", "", 0, "\u2028\x00\xff", -1},
		{"POST /topic/delete?topic=*\nGET /lookup?topic=*\nGET /channels?topic=*\nPOST /topic/tombstone?topic=*&node=node1.example:4151", "", 0, "", 0},
		{"POST /topic/create?topic=big", "x", math.MaxUint16, "h", 4150},
		{"POST /topic/create?topic=%zz\nGET /lookup?topic=a;b\nPOST /channel/create?topic=a&channel=%", "", 0, "h", 4150},
		{"POST /topic/create?topic=\nPOST /topic/create?topic=%23ephemeral\nPOST /channel/create?topic=t&channel=\nPOST /channel/create?topic=t", "", 0, "h", 4150},
		{"HEAD /lookup?topic=t1\nOPTIONS /topic/create\nBREW /ping\nGET /lookup/?topic=t1\nPOST /topic/create/?topic=x\nGET /LOOKUP?topic=t1", "", 0, "h", 4150},
		{"GET *\nOPTIONS *\nCONNECT 127.0.0.1:1\nGET http://lookupd/topics", "", 0, "h", 4150},
		{"GET /ping\nGET /info\nGET /nope\nPOST /topic/create?topic=a&topic=b\nGET /topics", "body", 0, "h", 4150},
		{"POST /topic/delete?topic=e%23ephemeral\nPOST /channel/delete?topic=t1&channel=c2%23ephemeral\nGET /lookup?topic=t1", "", 0, "h", 4150},
	}
	for _, s := range seeds {
		f.Add(s.script, []byte(s.body), s.pad, s.text, s.port)
	}
	f.Fuzz(func(t *testing.T, script string, body []byte, pad uint16, text string, port int) {
		h := newFuzzHTTP(t, text, port)
		lines := strings.Split(script, "\n")
		if len(lines) > fuzzHTTPMaxRequests {
			lines = lines[:fuzzHTTPMaxRequests]
		}
		for _, line := range lines {
			h.send(line, body, int(pad))
		}
		h.checkStore()
	})
}

// fuzzHTTP is one daemon, not serving, whose HTTP handler is called
// directly, plus the model of its topics and their channels.
type fuzzHTTP struct {
	t       *testing.T
	l       *daemon
	handler http.Handler
	model   map[string]map[string]bool
}

// newFuzzHTTP starts from a fresh daemon holding three peers: two with
// fuzzed IDENTIFY fields, one of them over IPv6.
func newFuzzHTTP(t *testing.T, text string, port int) *fuzzHTTP {
	l := startLookupd(t, notServing, func(s *setup) {
		// Fuzzing runs many inputs: keep the log quiet.
		s.opts.Logger = lg.NilLogger{}
		s.opts.LogLevel = lg.FATAL
	})
	db := l.store()
	p1 := db.AddPeer(registry.PeerInfo{RemoteAddress: "10.0.0.1:50001", Hostname: text,
		BroadcastAddress: "node1.example", TCPPort: port, HTTPPort: 4151, Version: "1.3.0", TopologyZone: text, TopologyRegion: "r1"})
	db.Register(p1, "t1", "c1")
	db.Register(p1, "t2", "")
	db.Register(p1, "e#ephemeral", "c#ephemeral")
	p2 := db.AddPeer(registry.PeerInfo{RemoteAddress: "[::1]:50002", Hostname: "v6",
		BroadcastAddress: "::1", TCPPort: 4150, HTTPPort: 4151, Version: text})
	db.Register(p2, "t1", "c2#ephemeral")
	p3 := db.AddPeer(registry.PeerInfo{RemoteAddress: "10.0.0.3:50003", Hostname: "h3",
		BroadcastAddress: text, TCPPort: 4150, HTTPPort: port, Version: "1.2.0", TopologyRegion: text})
	db.Register(p3, "t2", "c1")
	return &fuzzHTTP{
		t:       t,
		l:       l,
		handler: nsqlookupd.HTTPHandler(l.NSQLookupd),
		model: map[string]map[string]bool{
			"t1":          {"c1": true, "c2#ephemeral": true},
			"t2":          {"c1": true},
			"e#ephemeral": {"c#ephemeral": true},
		},
	}
}

// send parses line as net/http's server would and, if it would reach the
// handler, serves it and checks the answer. pprof routes are skipped: a CPU
// profile or trace runs for seconds.
func (h *fuzzHTTP) send(line string, body []byte, pad int) {
	method, target, ok := strings.Cut(line, " ")
	if !ok {
		method, target = "GET", line
	}
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: lookupd\r\nContent-Length: %d\r\n\r\n", method, target, len(body)+pad)
	raw := io.MultiReader(strings.NewReader(head), bytes.NewReader(body), bytes.NewReader(fuzzHTTPPadding[:pad]))
	req, err := http.ReadRequest(bufio.NewReader(raw))
	if err != nil {
		return // net/http answers 400 itself
	}
	if strings.HasPrefix(req.URL.Path, "/debug/pprof") {
		return
	}
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	h.check(req, rec.Code, rec.Header(), rec.Body.Bytes())
}

// check asserts one answer and updates the model from its effect.
func (h *fuzzHTTP) check(req *http.Request, status int, header http.Header, body []byte) {
	t := h.t
	t.Helper()
	what := fmt.Sprintf("%q %q -> %d %q", req.Method, req.URL.RequestURI(), status, body)
	if !fuzzHTTPStatus[status] {
		t.Fatalf("%s: status not allowed", what)
	}
	switch {
	case status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect:
		if header.Get("Location") == "" {
			t.Fatalf("%s: redirect without Location", what)
		}
		return
	case req.Method == "OPTIONS" && status == http.StatusOK:
		if header.Get("Allow") == "" || len(body) != 0 {
			t.Fatalf("%s: OPTIONS answer without Allow or with a body", what)
		}
		return
	case req.Method == "GET" && req.URL.Path == "/ping" && status == http.StatusOK:
		if string(body) != "OK" || header.Get("X-NSQ-Content-Type") != "" {
			t.Fatalf("%s: bad /ping answer, headers %v", what, header)
		}
		return
	}

	if got := header.Get("X-NSQ-Content-Type"); got != apiNSQContentType {
		t.Fatalf("%s: X-NSQ-Content-Type %q", what, got)
	}
	query, queryErr := url.ParseQuery(req.URL.RawQuery)
	first := func(key string) string {
		if v := query[key]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	route := req.Method + " " + req.URL.Path
	if status == http.StatusOK && req.Method == "POST" {
		if len(body) != 0 || header.Get("Content-Type") != "" {
			t.Fatalf("%s: POST success with a body or Content-Type %q", what, header.Get("Content-Type"))
		}
		if queryErr != nil {
			t.Fatalf("%s: success despite a malformed query: %v", what, queryErr)
		}
		h.applyPost(what, route, first("topic"), first("channel"))
		return
	}

	if got := header.Get("Content-Type"); got != apiJSONContentType {
		t.Fatalf("%s: Content-Type %q", what, got)
	}
	var decoded interface{}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&decoded); err != nil || dec.More() {
		t.Fatalf("%s: body is not one JSON value: %v", what, err)
	}
	if bytes.Contains(body, []byte(":null")) {
		t.Fatalf("%s: null in body", what)
	}

	if status != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || fuzzHTTPErrorStatus[e.Message] != status {
			t.Fatalf("%s: not a known error for this status", what)
		}
		if status == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
			t.Fatalf("%s: 405 without Allow", what)
		}
		switch {
		case e.Message == "TOPIC_NOT_FOUND" && h.model[first("topic")] != nil:
			t.Fatalf("%s: topic %q is registered", what, first("topic"))
		case e.Message == "CHANNEL_NOT_FOUND" && h.model[first("topic")][first("channel")]:
			t.Fatalf("%s: channel is registered", what)
		}
		return
	}

	switch route {
	case "GET /topics":
		h.expectBody(what, body, map[string]interface{}{"topics": h.modelTopics()})
	case "GET /channels":
		h.expectBody(what, body, map[string]interface{}{"channels": h.modelChannels(first("topic"))})
	case "GET /lookup":
		h.checkLookup(what, first("topic"), body)
	case "GET /nodes":
		h.checkNodes(what, body)
	case "GET /debug":
		var regs spec.Debug
		if err := spec.DecodeStrict(body, &regs); err != nil {
			t.Fatalf("%s: /debug shape: %v", what, err)
		}
		for key := range regs {
			if strings.Count(key, ":") < 2 {
				t.Fatalf("%s: /debug key %q", what, key)
			}
		}
		h.expectBody(what, body, spec.DebugOf(h.l.store().Debug()))
	case "GET /info":
	default:
		t.Fatalf("%s: 200 from an unexpected route", what)
	}
}

// applyPost records the effect of a successful POST in the model.
func (h *fuzzHTTP) applyPost(what, route, topic, channel string) {
	t := h.t
	switch route {
	case "POST /topic/create":
		if !protocol.IsValidTopicName(topic) {
			t.Fatalf("%s: created invalid topic %q", what, topic)
		}
		if h.model[topic] == nil {
			h.model[topic] = map[string]bool{}
		}
	case "POST /topic/delete":
		delete(h.model, topic)
	case "POST /channel/create":
		if !protocol.IsValidTopicName(topic) || !protocol.IsValidChannelName(channel) {
			t.Fatalf("%s: created invalid channel %q %q", what, topic, channel)
		}
		if h.model[topic] == nil {
			h.model[topic] = map[string]bool{}
		}
		h.model[topic][channel] = true
	case "POST /channel/delete":
		if !h.model[topic][channel] {
			t.Fatalf("%s: deleted channel %q %q that is not registered", what, topic, channel)
		}
		delete(h.model[topic], channel)
	case "POST /topic/tombstone":
	default:
		t.Fatalf("%s: 200 from an unexpected route", what)
	}
}

func (h *fuzzHTTP) modelTopics() []string {
	topics := make([]string, 0, len(h.model))
	for topic := range h.model {
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	return topics
}

func (h *fuzzHTTP) modelChannels(topic string) []string {
	channels := make([]string, 0, len(h.model[topic]))
	for c := range h.model[topic] {
		channels = append(channels, c)
	}
	slices.Sort(channels)
	return channels
}

// expectBody fails unless body is exactly encoding/json's encoding of want.
func (h *fuzzHTTP) expectBody(what string, body []byte, want interface{}) {
	h.t.Helper()
	data, err := json.Marshal(want)
	if err != nil {
		h.t.Fatalf("%s: encoding the expected body: %v", what, err)
	}
	if !bytes.Equal(data, body) {
		h.t.Fatalf("%s: body differs from\n%s", what, data)
	}
}

// checkLookup compares a /lookup body with the model's channels and the
// store's producers, encoded by encoding/json.
func (h *fuzzHTTP) checkLookup(what, topic string, body []byte) {
	if h.model[topic] == nil {
		h.t.Fatalf("%s: topic %q is not registered", what, topic)
	}
	_, producers, _ := h.l.store().Lookup(topic)
	h.expectBody(what, body, spec.Lookup{Channels: h.modelChannels(topic), Producers: spec.PeersOf(producers)})
}

// checkNodes compares a /nodes body with the store's nodes, encoded by
// encoding/json, and checks tombstones parallel topics that are registered.
func (h *fuzzHTTP) checkNodes(what string, body []byte) {
	infos := h.l.store().Nodes()
	for _, n := range infos {
		if len(n.Topics) != len(n.Tombstones) {
			h.t.Fatalf("%s: node %s has %d topics, %d tombstones", what, n.RemoteAddress, len(n.Topics), len(n.Tombstones))
		}
		for _, topic := range n.Topics {
			if h.model[topic] == nil {
				h.t.Fatalf("%s: node %s lists unregistered topic %q", what, n.RemoteAddress, topic)
			}
		}
	}
	h.expectBody(what, body, spec.NodesOf(infos))
}

// checkStore compares the whole store, through the API, with the model.
func (h *fuzzHTTP) checkStore() {
	t := h.t
	get := func(target string) {
		req, err := http.NewRequest("GET", target, http.NoBody)
		if err != nil {
			t.Fatalf("request %s: %v", target, err)
		}
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s after the script: %d %q", target, rec.Code, rec.Body.Bytes())
		}
		h.check(req, rec.Code, rec.Header(), rec.Body.Bytes())
	}
	get("/topics")
	get("/nodes")
	get("/debug")
	channels := 0
	for _, topic := range h.modelTopics() {
		get("/channels?topic=" + url.QueryEscape(topic))
		get("/lookup?topic=" + url.QueryEscape(topic))
		channels += len(h.model[topic])
	}
	stats := h.l.store().Stats()
	if stats.Topics != len(h.model) || stats.Channels != channels || stats.Peers != 3 {
		t.Fatalf("store counts %+v, want %d topics, %d channels, 3 peers", stats, len(h.model), channels)
	}
}
