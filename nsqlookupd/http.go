package nsqlookupd

import (
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/nsqlookupd/nsqlookupd/internal/auth"
	"github.com/nsqlookupd/nsqlookupd/internal/http_api"
	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/registry"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
)

// HTTP server limits. Requests carry only a short query string; a POST body
// is read (and ignored) up to maxRequestBodySize.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 30 * time.Second
	// httpWriteTimeout leaves room for a large /nodes; pprof extends it by
	// the duration of a profile or trace.
	httpWriteTimeout   = 60 * time.Second
	httpIdleTimeout    = 120 * time.Second
	httpMaxHeaderBytes = 64 * 1024
	maxRequestBodySize = 64 * 1024
	// maxProfileSeconds bounds the seconds of a CPU profile or trace (pprof
	// extends the write deadline by what is asked), so an operator is never
	// locked out of profiling for long (SPEC §11).
	maxProfileSeconds = 60
)

// httpServer routes the HTTP API. One instance serves both the plain and
// the TLS listener.
type httpServer struct {
	nsqlookupd *NSQLookupd
	router     *httprouter.Router
	access     *accessControl
	// metrics is nil unless --metrics is set.
	metrics *promMetrics
	// topicsBody caches the last /topics answer.
	topicsBody atomic.Pointer[encodedTopics]
	// streams holds a token for each /nodes or /debug answer being built.
	streams chan struct{}
}

var _ http.Handler = (*httpServer)(nil)

// access is who may call a route (SPEC §10).
type access int

const (
	// accessOpen routes answer everyone: /ping, /info.
	accessOpen access = iota
	// accessRead routes serve consumers: while reader auth is on, a client
	// that is not an operator needs a secret, and sees what it grants.
	accessRead
	// accessOperator routes administer the daemon or expose all of it:
	// only operators may call them.
	accessOperator
)

// route is one endpoint of the HTTP API. Adding an endpoint is adding a row
// to routes: the row registers it, names it in metrics and sets who may
// call it.
type route struct {
	methods []string
	path    string
	// label names the route in metrics; the path if empty. Rows sharing a
	// label share the series, which keeps the label set small.
	label  string
	access access
	// handler serves the route; read routes have read instead.
	handler http_api.APIHandler
	read    readHandler
}

// metricLabel returns the route's label in metrics.
func (rt *route) metricLabel() string {
	if rt.label != "" {
		return rt.label
	}
	return rt.path
}

// Method sets of the route table.
var (
	methodsGET     = []string{http.MethodGet}
	methodsPOST    = []string{http.MethodPost}
	methodsGETPOST = []string{http.MethodGet, http.MethodPost}
)

// pprofLabel is the one metric label of every pprof route.
const pprofLabel = "/debug/pprof"

// routes is the route table of the HTTP API.
func (s *httpServer) routes() []route {
	rows := []route{
		{methods: methodsGET, path: "/ping", access: accessOpen, handler: s.ping},
		{methods: methodsGET, path: "/info", access: accessOpen, handler: s.info},
		{methods: methodsGET, path: "/lookup", access: accessRead, read: s.lookup},
		{methods: methodsGET, path: "/topics", access: accessRead, read: s.topics},
		{methods: methodsGET, path: "/channels", access: accessRead, read: s.channels},
		{methods: methodsGET, path: "/nodes", access: accessOperator, handler: s.nodes},
		{methods: methodsGET, path: "/debug", access: accessOperator, handler: s.debug},
		{methods: methodsPOST, path: "/topic/create", access: accessOperator, handler: s.createTopic},
		{methods: methodsPOST, path: "/topic/delete", access: accessOperator, handler: s.deleteTopic},
		{methods: methodsPOST, path: "/channel/create", access: accessOperator, handler: s.createChannel},
		{methods: methodsPOST, path: "/channel/delete", access: accessOperator, handler: s.deleteChannel},
		{methods: methodsPOST, path: "/topic/tombstone", access: accessOperator, handler: s.tombstoneTopic},
		{methods: methodsGET, path: "/debug/pprof", label: pprofLabel, access: accessOperator, handler: serveHTTPHandler(http.HandlerFunc(pprof.Index))},
		{methods: methodsGET, path: "/debug/pprof/cmdline", label: pprofLabel, access: accessOperator, handler: serveHTTPHandler(http.HandlerFunc(pprof.Cmdline))},
		{methods: methodsGETPOST, path: "/debug/pprof/symbol", label: pprofLabel, access: accessOperator, handler: serveHTTPHandler(http.HandlerFunc(pprof.Symbol))},
		{methods: methodsGET, path: "/debug/pprof/profile", label: pprofLabel, access: accessOperator, handler: limitProfileSeconds(serveHTTPHandler(http.HandlerFunc(pprof.Profile)))},
		{methods: methodsGET, path: "/debug/pprof/trace", label: pprofLabel, access: accessOperator, handler: limitProfileSeconds(serveHTTPHandler(http.HandlerFunc(pprof.Trace)))},
	}
	for _, name := range []string{"heap", "goroutine", "block", "threadcreate", "allocs", "mutex"} {
		rows = append(rows, route{methods: methodsGET, path: "/debug/pprof/" + name, label: pprofLabel, access: accessOperator, handler: serveHTTPHandler(pprof.Handler(name))})
	}
	if s.metrics != nil {
		rows = append(rows, route{methods: methodsGET, path: "/metrics", access: accessOperator, handler: serveHTTPHandler(s.metrics.handler())})
	}
	return rows
}

func newHTTPHandler(l *NSQLookupd, access *accessControl, metrics *promMetrics) *httpServer {
	router := httprouter.New()
	router.HandleMethodNotAllowed = true
	router.PanicHandler = http_api.PanicHandler(l.logf)
	router.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http_api.RespondV1(w, http.StatusNotFound, "NOT_FOUND")
	})
	router.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http_api.RespondV1(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	})
	s := &httpServer{nsqlookupd: l, router: router, access: access, metrics: metrics, streams: make(chan struct{}, maxStreams)}
	for _, rt := range s.routes() {
		handle := s.handle(&rt)
		for _, method := range rt.methods {
			router.Handle(method, rt.path, handle)
		}
	}
	return s
}

// handle is the one decorator chain every route goes through: the route's
// metric label is recorded, the access check of its class runs, then the
// handler, whose result V1 writes.
func (s *httpServer) handle(rt *route) httprouter.Handle {
	h := rt.handler
	switch rt.access {
	case accessRead:
		h = s.access.reader(rt.read)
	case accessOperator:
		h = s.access.operatorOnly(h)
	}
	respond := http_api.V1(h)
	label := rt.metricLabel()
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) {
		if rec, ok := w.(*http_api.StatusRecorder); ok {
			rec.Route = label
		}
		respond(w, req, ps)
	}
}

// serveHTTPHandler adapts a handler that writes its own response (pprof,
// Prometheus) to the API handler signature.
func serveHTTPHandler(h http.Handler) http_api.APIHandler {
	return func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) (interface{}, error) {
		h.ServeHTTP(w, req)
		return http_api.Written{}, nil
	}
}

// limitProfileSeconds refuses a CPU profile or trace asked to run longer
// than maxProfileSeconds with 400 INVALID_ARG_SECONDS, before it starts. A
// value that is not a number is left to pprof, which uses its default.
func limitProfileSeconds(h http_api.APIHandler) http_api.APIHandler {
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
		rp, err := params(req)
		if err != nil {
			return nil, err
		}
		if v, ok := rp.Get("seconds"); ok && !profileSecondsAllowed(v) {
			return nil, http_api.Err{Code: http.StatusBadRequest, Text: "INVALID_ARG_SECONDS"}
		}
		return h(w, req, ps)
	}
}

// profileSecondsAllowed reports whether a seconds parameter may reach pprof:
// anything that is not a number (pprof then uses its default), or a number
// of at most maxProfileSeconds. NaN and infinities are refused.
func profileSecondsAllowed(v string) bool {
	seconds, err := strconv.ParseFloat(v, 64)
	return err != nil || seconds <= maxProfileSeconds
}

// newHTTPServer returns an http.Server with the daemon's limits for handler.
func newHTTPServer(l *NSQLookupd, handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          newStdLogAdapter(l),
	}
}

// ServeHTTP bounds the request body, routes, then logs the request and
// records it in the metrics.
func (s *httpServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	logRequest := s.nsqlookupd.logEnabled(LOG_INFO)
	var start time.Time
	if logRequest || s.metrics != nil {
		start = time.Now()
	}
	rec := &http_api.StatusRecorder{ResponseWriter: w}
	if req.ContentLength != 0 {
		// The limit must see net/http's own writer: that is how the server
		// learns to close the connection instead of draining the rest of
		// the body.
		req.Body = http.MaxBytesReader(w, req.Body, maxRequestBodySize)
	}
	s.router.ServeHTTP(rec, req)
	if !logRequest && s.metrics == nil {
		return
	}
	elapsed := time.Since(start)
	code := rec.Status()
	if logRequest {
		if rec.Identity != "" {
			s.nsqlookupd.logf(LOG_INFO, "%d %s %s (%s) %s identity=%q", code, req.Method, req.URL.RequestURI(), req.RemoteAddr, elapsed, rec.Identity)
		} else {
			s.nsqlookupd.logf(LOG_INFO, "%d %s %s (%s) %s", code, req.Method, req.URL.RequestURI(), req.RemoteAddr, elapsed)
		}
	}
	if s.metrics != nil {
		label := rec.Route
		if label == "" {
			// No route served it (404, 405, OPTIONS, a redirect): one
			// label for all keeps the series count bounded.
			label = "other"
		}
		s.metrics.observe(label, code, elapsed)
	}
}

func (s *httpServer) ping(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	return http_api.PlainText("OK"), nil
}

func (s *httpServer) info(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	return struct {
		Version string `json:"version"`
	}{version.Binary}, nil
}

// params parses the query string and drains the (ignored) body, as NSQ
// clients send parameters in the URL even on POST.
func params(req *http.Request) (http_api.ReqParams, error) {
	if req.ContentLength == 0 {
		return http_api.NewReqParams(req)
	}
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http_api.ReqParams{}, http_api.Err{Code: http.StatusRequestEntityTooLarge, Text: "BODY_TOO_LARGE"}
		}
		return http_api.ReqParams{}, http_api.Err{Code: http.StatusBadRequest, Text: "INVALID_REQUEST"}
	}
	return http_api.NewReqParams(req)
}

// tooManyRegistrations answers a create over --max-registrations.
var tooManyRegistrations = http_api.Err{Code: http.StatusServiceUnavailable, Text: "TOO_MANY_REGISTRATIONS"}

// requiredParam returns the named parameter or 400 MISSING_ARG_<NAME>.
func requiredParam(rp *http_api.ReqParams, name, missing string) (string, error) {
	v, ok := rp.Get(name)
	if !ok {
		return "", http_api.Err{Code: http.StatusBadRequest, Text: missing}
	}
	return v, nil
}

// topicChannelArgs returns a valid topic and channel, or the 400 naming what
// is missing or invalid.
func topicChannelArgs(rp *http_api.ReqParams) (string, string, error) {
	topic, err := requiredParam(rp, "topic", "MISSING_ARG_TOPIC")
	if err != nil {
		return "", "", err
	}
	if !protocol.IsValidTopicName(topic) {
		return "", "", http_api.Err{Code: http.StatusBadRequest, Text: "INVALID_ARG_TOPIC"}
	}
	channel, err := requiredParam(rp, "channel", "MISSING_ARG_CHANNEL")
	if err != nil {
		return "", "", err
	}
	if !protocol.IsValidChannelName(channel) {
		return "", "", http_api.Err{Code: http.StatusBadRequest, Text: "INVALID_ARG_CHANNEL"}
	}
	return topic, channel, nil
}

// topics answers from an encoded body cached per generation of the topic
// set, so a large, stable cluster pays for encoding once.
func (s *httpServer) topics(w http.ResponseWriter, req *http.Request, ps httprouter.Params, grant *auth.Answer) (interface{}, error) {
	if grant != nil {
		// A reader's list is its own: only the topics it was granted.
		return http_api.JSON(appendTopicsJSON(nil, grant.FilterTopics(s.nsqlookupd.db.Topics()))), nil
	}
	gen := s.nsqlookupd.db.TopicsGeneration()
	if c := s.topicsBody.Load(); c != nil && c.gen == gen {
		return c, nil
	}
	// The list may be newer than gen; caching it under gen is still right,
	// as a later change moves the generation past it.
	names := s.nsqlookupd.db.Topics()
	c := &encodedTopics{gen: gen, body: appendTopicsJSON(make([]byte, 0, 16+len(names)*24), names)}
	s.topicsBody.Store(c)
	return c, nil
}

// appendTopicsJSON encodes a /topics answer: {"topics":[...]}.
func appendTopicsJSON(dst []byte, names []string) []byte {
	dst = append(dst, `{"topics":`...)
	dst = http_api.AppendJSONStrings(dst, names)
	return append(dst, '}')
}

// encodedTopics is a /topics body and the topic-set generation it encodes.
// It is shared by every request it answers and never changes.
type encodedTopics struct {
	gen  uint64
	body []byte
}

// JSON implements http_api.Body.
func (c *encodedTopics) JSON() []byte { return c.body }

// Release implements http_api.Body; a shared body has nothing to release.
func (c *encodedTopics) Release() {}

func (s *httpServer) channels(w http.ResponseWriter, req *http.Request, ps httprouter.Params, grant *auth.Answer) (interface{}, error) {
	rp, err := params(req)
	if err != nil {
		return nil, err
	}
	topic, err := requiredParam(&rp, "topic", "MISSING_ARG_TOPIC")
	if err != nil {
		return nil, err
	}
	if grant != nil && !grant.TopicAllowed(topic) {
		// Decided before the topic is looked up, so the answer does not
		// tell whether it exists.
		return nil, errForbidden
	}
	channels := s.nsqlookupd.db.Channels(topic)
	if grant != nil {
		channels = grant.FilterChannels(topic, channels)
	}
	return struct {
		Channels []string `json:"channels"`
	}{channels}, nil
}

// errTopicNotFound is boxed once: /lookup of an absent topic is common
// enough (a consumer started before any producer) to keep allocation-free.
var errTopicNotFound error = http_api.Err{Code: http.StatusNotFound, Text: "TOPIC_NOT_FOUND"}

// lookup answers /lookup, the endpoint every consumer polls. The answer is
// encoded into pooled buffers, which the response writer releases after
// writing, so a request allocates nothing of its own beyond what net/http
// does.
func (s *httpServer) lookup(w http.ResponseWriter, req *http.Request, _ httprouter.Params, grant *auth.Answer) (interface{}, error) {
	rp, err := params(req)
	if err != nil {
		return nil, err
	}
	topic, err := requiredParam(&rp, "topic", "MISSING_ARG_TOPIC")
	if err != nil {
		return nil, err
	}
	if grant != nil && !grant.TopicAllowed(topic) {
		// Decided before the topic is looked up, so the answer does not
		// tell whether it exists.
		return nil, errForbidden
	}
	sc := lookupScratchPool.Get().(*lookupScratch)
	channels, producers, found := s.nsqlookupd.db.LookupAppend(topic, sc.channels[:0], sc.producers[:0])
	if !found {
		sc.Release()
		return nil, errTopicNotFound
	}
	if grant != nil {
		channels = grant.FilterChannels(topic, channels)
	}
	sc.channels, sc.producers = channels, producers
	sc.body = appendLookupJSON(sc.body[:0], channels, producers)
	return sc, nil
}

// lookupScratch holds the buffers of one /lookup answer; it is the
// http_api.Body of the answer.
type lookupScratch struct {
	channels  []string
	producers []registry.PeerInfo
	body      []byte
}

var lookupScratchPool = sync.Pool{New: func() any { return new(lookupScratch) }}

// maxPooledLookupBody keeps an unusually large answer's buffer out of the
// pool.
const maxPooledLookupBody = 64 * 1024

// JSON implements http_api.Body.
func (sc *lookupScratch) JSON() []byte { return sc.body }

// Release implements http_api.Body: it clears the buffers (so the pool pins
// no peer strings) and returns them to the pool.
func (sc *lookupScratch) Release() {
	if cap(sc.body) > maxPooledLookupBody {
		return
	}
	clear(sc.channels)
	clear(sc.producers)
	sc.channels, sc.producers = sc.channels[:0], sc.producers[:0]
	lookupScratchPool.Put(sc)
}

// nodes streams /nodes: the store hands over one peer at a time, so the
// answer takes a bounded amount of memory whatever its size.
func (s *httpServer) nodes(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	return s.stream(w, req, func(w io.Writer) error { return writeNodesJSON(w, s.nsqlookupd.db.EachNode) })
}

// debug streams /debug: the store hands over one registration at a time.
func (s *httpServer) debug(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	return s.stream(w, req, func(w io.Writer) error { return writeDebugJSON(w, s.nsqlookupd.db.EachDebug) })
}

// maxStreams bounds the /nodes and /debug answers built at once: each walks
// the whole store, so more at once would only share the same CPU.
const maxStreams = 4

// stream writes a 200 JSON answer with write, once one of maxStreams places
// is free. An error while writing (the client went away) ends the answer
// there; the status is already sent.
func (s *httpServer) stream(w http.ResponseWriter, req *http.Request, write func(io.Writer) error) (interface{}, error) {
	select {
	case s.streams <- struct{}{}:
	case <-req.Context().Done():
		return nil, http_api.Err{Code: http.StatusServiceUnavailable, Text: "CANCELED"}
	}
	defer func() { <-s.streams }()
	http_api.StartV1JSON(w)
	write(w)
	return http_api.Written{}, nil
}

func (s *httpServer) createTopic(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	rp, err := params(req)
	if err != nil {
		return nil, err
	}
	topic, err := requiredParam(&rp, "topic", "MISSING_ARG_TOPIC")
	if err != nil {
		return nil, err
	}
	if !protocol.IsValidTopicName(topic) {
		return nil, http_api.Err{Code: http.StatusBadRequest, Text: "INVALID_ARG_TOPIC"}
	}
	created, err := s.nsqlookupd.db.CreateTopic(topic)
	if err != nil {
		s.nsqlookupd.registrationRefused(err, req.RemoteAddr)
		return nil, tooManyRegistrations
	}
	if created {
		s.nsqlookupd.logf(LOG_INFO, "DB: adding topic(%s)", topic)
	}
	return nil, nil
}

func (s *httpServer) deleteTopic(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	rp, err := params(req)
	if err != nil {
		return nil, err
	}
	topic, err := requiredParam(&rp, "topic", "MISSING_ARG_TOPIC")
	if err != nil {
		return nil, err
	}
	channels, existed := s.nsqlookupd.db.DeleteTopic(topic)
	for _, c := range channels {
		s.nsqlookupd.logf(LOG_INFO, "DB: removing channel(%s) from topic(%s)", c, topic)
	}
	if existed {
		s.nsqlookupd.logf(LOG_INFO, "DB: removing topic(%s)", topic)
	}
	return nil, nil
}

func (s *httpServer) createChannel(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	rp, err := params(req)
	if err != nil {
		return nil, err
	}
	topic, channel, err := topicChannelArgs(&rp)
	if err != nil {
		return nil, err
	}
	created, err := s.nsqlookupd.db.CreateChannel(topic, channel)
	if err != nil {
		s.nsqlookupd.registrationRefused(err, req.RemoteAddr)
		return nil, tooManyRegistrations
	}
	if created {
		s.nsqlookupd.logf(LOG_INFO, "DB: adding channel(%s) in topic(%s)", channel, topic)
	}
	return nil, nil
}

func (s *httpServer) deleteChannel(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	rp, err := params(req)
	if err != nil {
		return nil, err
	}
	topic, channel, err := topicChannelArgs(&rp)
	if err != nil {
		return nil, err
	}
	if !s.nsqlookupd.db.DeleteChannel(topic, channel) {
		return nil, http_api.Err{Code: http.StatusNotFound, Text: "CHANNEL_NOT_FOUND"}
	}
	s.nsqlookupd.logf(LOG_INFO, "DB: removing channel(%s) from topic(%s)", channel, topic)
	return nil, nil
}

func (s *httpServer) tombstoneTopic(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	rp, err := params(req)
	if err != nil {
		return nil, err
	}
	topic, err := requiredParam(&rp, "topic", "MISSING_ARG_TOPIC")
	if err != nil {
		return nil, err
	}
	node, err := requiredParam(&rp, "node", "MISSING_ARG_NODE")
	if err != nil {
		return nil, err
	}
	s.nsqlookupd.logf(LOG_INFO, "DB: setting tombstone for producer@%s of topic(%s)", node, topic)
	for _, p := range s.nsqlookupd.db.Tombstone(topic, node) {
		s.nsqlookupd.metrics.tombstonesSet.Add(1)
		s.nsqlookupd.logf(LOG_INFO, "DB: tombstoned producer %s (%s:%d) of topic(%s)", p.RemoteAddress, p.BroadcastAddress, p.HTTPPort, topic)
	}
	return nil, nil
}
