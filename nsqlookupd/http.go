package nsqlookupd

import (
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/nsqlookupd/nsqlookupd/internal/http_api"
	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
)

// HTTP server limits. Requests carry only a short query string; a POST body
// is read (and ignored) up to maxRequestBodySize.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 30 * time.Second
	// httpWriteTimeout leaves room for a 30s CPU profile and a large /nodes.
	httpWriteTimeout   = 60 * time.Second
	httpIdleTimeout    = 120 * time.Second
	httpMaxHeaderBytes = 64 * 1024
	maxRequestBodySize = 64 * 1024
)

// httpServer routes the HTTP API. One instance serves both the plain and
// the TLS listener.
type httpServer struct {
	nsqlookupd *NSQLookupd
	router     *httprouter.Router
	// metrics is nil unless --metrics is set.
	metrics *promMetrics
	// topicsBody caches the last /topics answer.
	topicsBody atomic.Pointer[encodedTopics]
}

var _ http.Handler = (*httpServer)(nil)

func newHTTPHandler(l *NSQLookupd, acl *adminACL, metrics *promMetrics) *httpServer {
	logf := http_api.LogFunc(l.logf)
	router := httprouter.New()
	router.HandleMethodNotAllowed = true
	router.PanicHandler = http_api.PanicHandler(logf)
	router.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http_api.RespondV1(w, http.StatusNotFound, "NOT_FOUND")
	})
	router.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http_api.RespondV1(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	})
	s := &httpServer{nsqlookupd: l, router: router, metrics: metrics}

	v1 := func(h http_api.APIHandler) httprouter.Handle {
		return http_api.Decorate(h, http_api.V1)
	}
	admin := func(h http_api.APIHandler) httprouter.Handle {
		return http_api.Decorate(acl.guard(h), http_api.V1)
	}
	router.Handle("GET", "/ping", http_api.Decorate(s.ping, http_api.PlainText))
	router.Handle("GET", "/info", v1(s.info))
	router.Handle("GET", "/debug", v1(s.debug))
	router.Handle("GET", "/lookup", s.lookup)
	router.Handle("GET", "/topics", v1(s.topics))
	router.Handle("GET", "/channels", v1(s.channels))
	router.Handle("GET", "/nodes", v1(s.nodes))
	router.Handle("POST", "/topic/create", admin(s.createTopic))
	router.Handle("POST", "/topic/delete", admin(s.deleteTopic))
	router.Handle("POST", "/channel/create", admin(s.createChannel))
	router.Handle("POST", "/channel/delete", admin(s.deleteChannel))
	router.Handle("POST", "/topic/tombstone", admin(s.tombstoneTopic))

	pprofHandler := func(h http.Handler) httprouter.Handle {
		return func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
			h.ServeHTTP(w, req)
		}
	}
	router.Handle("GET", "/debug/pprof", pprofHandler(http.HandlerFunc(pprof.Index)))
	router.Handle("GET", "/debug/pprof/cmdline", pprofHandler(http.HandlerFunc(pprof.Cmdline)))
	router.Handle("GET", "/debug/pprof/symbol", pprofHandler(http.HandlerFunc(pprof.Symbol)))
	router.Handle("POST", "/debug/pprof/symbol", pprofHandler(http.HandlerFunc(pprof.Symbol)))
	router.Handle("GET", "/debug/pprof/profile", pprofHandler(http.HandlerFunc(pprof.Profile)))
	router.Handle("GET", "/debug/pprof/trace", pprofHandler(http.HandlerFunc(pprof.Trace)))
	for _, name := range []string{"heap", "goroutine", "block", "threadcreate", "allocs", "mutex"} {
		router.Handle("GET", "/debug/pprof/"+name, pprofHandler(pprof.Handler(name)))
	}
	if metrics != nil {
		router.Handle("GET", "/metrics", pprofHandler(metrics.handler()))
	}
	return s
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
		s.nsqlookupd.logf(LOG_INFO, "%d %s %s (%s) %s", code, req.Method, req.URL.RequestURI(), req.RemoteAddr, elapsed)
	}
	if s.metrics != nil {
		s.metrics.observe(routeLabel(req.URL.Path), code, elapsed)
	}
}

func (s *httpServer) ping(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	return "OK", nil
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
func (s *httpServer) topics(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	names, gen := s.nsqlookupd.DB.TopicsSnapshot()
	if c := s.topicsBody.Load(); c != nil && c.gen == gen {
		return c.body, nil
	}
	body := make([]byte, 0, 16+len(names)*24)
	body = append(body, `{"topics":`...)
	body = http_api.AppendJSONStrings(body, names)
	body = append(body, '}')
	s.topicsBody.Store(&encodedTopics{gen: gen, body: body})
	return http_api.JSON(body), nil
}

// encodedTopics is a /topics body and the topic-set generation it encodes.
type encodedTopics struct {
	gen  uint64
	body http_api.JSON
}

func (s *httpServer) channels(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	rp, err := params(req)
	if err != nil {
		return nil, err
	}
	topic, err := requiredParam(&rp, "topic", "MISSING_ARG_TOPIC")
	if err != nil {
		return nil, err
	}
	return struct {
		Channels []string `json:"channels"`
	}{s.nsqlookupd.DB.Channels(topic)}, nil
}

// lookup answers /lookup, the endpoint every consumer polls. It reuses
// pooled buffers for the answer, so a request allocates nothing of its own
// beyond what net/http does.
func (s *httpServer) lookup(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
	rp, err := params(req)
	var topic string
	if err == nil {
		topic, err = requiredParam(&rp, "topic", "MISSING_ARG_TOPIC")
	}
	if err != nil {
		http_api.RespondError(w, err)
		return
	}
	sc := lookupScratchPool.Get().(*lookupScratch)
	channels, producers, found := s.nsqlookupd.DB.LookupAppend(topic, sc.channels[:0], sc.producers[:0])
	if !found {
		http_api.RespondError(w, http_api.Err{Code: http.StatusNotFound, Text: "TOPIC_NOT_FOUND"})
	} else {
		sc.body = appendLookupJSON(sc.body[:0], channels, producers)
		http_api.RespondV1(w, http.StatusOK, sc.body)
	}
	sc.release(channels, producers)
}

// lookupScratch holds the buffers of one /lookup answer.
type lookupScratch struct {
	channels  []string
	producers []PeerInfo
	body      http_api.JSON
}

var lookupScratchPool = sync.Pool{New: func() any { return new(lookupScratch) }}

// maxPooledLookupBody keeps an unusually large answer's buffer out of the
// pool.
const maxPooledLookupBody = 64 * 1024

// release clears the buffers (so the pool pins no peer strings) and
// returns them to the pool.
func (sc *lookupScratch) release(channels []string, producers []PeerInfo) {
	if cap(sc.body) > maxPooledLookupBody {
		return
	}
	clear(channels)
	clear(producers)
	sc.channels, sc.producers = channels[:0], producers[:0]
	lookupScratchPool.Put(sc)
}

func (s *httpServer) nodes(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	return http_api.JSON(appendNodesJSON(nil, s.nsqlookupd.DB.Nodes())), nil
}

func (s *httpServer) debug(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
	return http_api.JSON(appendDebugJSON(nil, s.nsqlookupd.DB.Debug())), nil
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
	if s.nsqlookupd.DB.CreateTopic(topic) {
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
	channels, existed := s.nsqlookupd.DB.DeleteTopic(topic)
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
	if s.nsqlookupd.DB.CreateChannel(topic, channel) {
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
	if !s.nsqlookupd.DB.DeleteChannel(topic, channel) {
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
	for _, p := range s.nsqlookupd.DB.Tombstone(topic, node) {
		s.nsqlookupd.metrics.tombstonesSet.Add(1)
		s.nsqlookupd.logf(LOG_INFO, "DB: tombstoned producer %s (%s:%d) of topic(%s)", p.ID, p.BroadcastAddress, p.HTTPPort, topic)
	}
	return nil, nil
}
