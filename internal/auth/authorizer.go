package auth

import (
	"context"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
)

// Query is what an auth server is asked about.
type Query struct {
	// Secret is the reader's secret, from its Bearer header.
	Secret string
	// RemoteIP is the client's IP address, without port.
	RemoteIP string
	// TLS tells whether the client connected over TLS.
	TLS bool
	// CommonName is the CN of the client's verified certificate, or empty.
	CommonName string
}

// Authorizer asks auth servers about secrets and caches their answers. It is
// safe for concurrent use.
type Authorizer struct {
	servers        []*url.URL
	method         string
	requestTimeout time.Duration
	client         *http.Client
	now            func() time.Time
	log            *lg.Limiter
	logf           lg.LogFunc
	// salt makes cache keys useless for guessing secrets offline.
	salt    [16]byte
	cache   *answerCache
	flights singleflight.Group

	// afterJoin, when set (by tests), runs once a caller has joined or
	// started a request to the auth servers.
	afterJoin func()
}

// New checks opts and returns an Authorizer. Errors name the bad option and
// value.
func New(opts *Options) (*Authorizer, error) {
	if len(opts.Addresses) == 0 {
		return nil, errors.New("auth: no auth-http-address")
	}
	a := &Authorizer{
		requestTimeout: opts.RequestTimeout,
		now:            opts.Now,
	}
	for _, addr := range opts.Addresses {
		u, err := ParseAddress(addr)
		if err != nil {
			return nil, err
		}
		a.servers = append(a.servers, u)
	}
	method := opts.RequestMethod
	if method == "" {
		method = DefaultRequestMethod
	}
	var err error
	if a.method, err = ParseRequestMethod(method); err != nil {
		return nil, err
	}
	connectTimeout := opts.ConnectTimeout
	switch {
	case connectTimeout < 0:
		return nil, fmt.Errorf("invalid http-client-connect-timeout %s: negative", connectTimeout)
	case connectTimeout == 0:
		connectTimeout = DefaultConnectTimeout
	}
	switch {
	case a.requestTimeout < 0:
		return nil, fmt.Errorf("invalid http-client-request-timeout %s: negative", a.requestTimeout)
	case a.requestTimeout == 0:
		a.requestTimeout = DefaultRequestTimeout
	}
	maxEntries := opts.CacheMaxEntries
	switch {
	case maxEntries < 0:
		return nil, fmt.Errorf("invalid auth cache size %d: negative", maxEntries)
	case maxEntries == 0:
		maxEntries = DefaultCacheMaxEntries
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.cache = newAnswerCache(maxEntries)
	a.log, a.logf = lg.NewLimiter(logInterval, a.now), opts.Logf
	if _, err := cryptorand.Read(a.salt[:]); err != nil {
		return nil, fmt.Errorf("auth: salting the cache: %w", err)
	}

	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	// The request timeout is a context deadline per server (askOne), which
	// covers headers and body alike.
	transport := &http.Transport{
		// No proxy from the environment: the request carries the secret,
		// it goes straight to the configured server.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     opts.TLSConfig.Clone(),
		TLSHandshakeTimeout: connectTimeout,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	a.client = &http.Client{
		Transport: transport,
		// A redirect is an answer that is not 200; following it would
		// send the secret somewhere the operator did not name.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return a, nil
}

// Close drops idle connections to the auth servers. Requests in flight end
// on their own, within the request timeout.
func (a *Authorizer) Close() {
	a.client.CloseIdleConnections()
}

// Authorize returns the answer for q: from the cache while its ttl lasts,
// otherwise from the auth servers, asked in random order until one answers.
// Identical queries in flight at once share one request. The error is an
// *Error of kind ErrFailed or ErrUnavailable (see the package doc). If ctx
// ends first, Authorize returns ErrUnavailable; the shared request goes on
// for the other callers.
func (a *Authorizer) Authorize(ctx context.Context, q Query) (*Answer, error) {
	if q.Secret == "" {
		return nil, &Error{Kind: ErrFailed, Detail: "empty secret"}
	}
	key := keyOf(&a.salt, &q)
	if answer := a.cache.get(&key, a.now()); answer != nil {
		return answer, nil
	}
	return a.authorizeMiss(ctx, q, key)
}

// Internal methods

// authorizeMiss joins or starts the request for q. It is apart from
// Authorize so that the cached path keeps q and key on the stack.
func (a *Authorizer) authorizeMiss(ctx context.Context, q Query, key cacheKey) (*Answer, error) {
	results := a.flights.DoChan(string(key[:]), func() (interface{}, error) {
		return a.ask(context.WithoutCancel(ctx), &q, &key)
	})
	if a.afterJoin != nil {
		a.afterJoin()
	}
	select {
	case r := <-results:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Answer), nil
	case <-ctx.Done():
		return nil, newError(ErrUnavailable, "gave up waiting for the auth server: "+ctx.Err().Error(), q.Secret)
	}
}

// ask asks the servers in random order until one answers, and caches the
// answer.
func (a *Authorizer) ask(ctx context.Context, q *Query, key *cacheKey) (*Answer, error) {
	// A flight that ended just before this one began may have cached the
	// answer.
	if answer := a.cache.get(key, a.now()); answer != nil {
		return answer, nil
	}
	order := []int{0}
	if len(a.servers) > 1 {
		order = rand.Perm(len(a.servers))
	}
	var unanswered []string
	for _, i := range order {
		server := a.servers[i]
		answer, err := a.askOne(ctx, server, q)
		if err == nil {
			a.cache.put(key, answer, a.now())
			return answer, nil
		}
		var notAnswered *noAnswerError
		if !errors.As(err, &notAnswered) {
			return nil, err
		}
		unanswered = append(unanswered, notAnswered.detail)
	}
	return nil, newError(ErrUnavailable, "no auth server answered: "+strings.Join(unanswered, "; "), q.Secret)
}

// noAnswerError is a server that did not answer; the next one is tried.
type noAnswerError struct{ detail string }

func (e *noAnswerError) Error() string { return e.detail }

// askOne sends q to one server. It returns a *noAnswerError if the server
// did not answer, an *Error of kind ErrFailed if it answered no.
func (a *Authorizer) askOne(ctx context.Context, server *url.URL, q *Query) (*Answer, error) {
	name := server.Redacted()
	ctx, cancel := context.WithTimeout(ctx, a.requestTimeout)
	defer cancel()

	req, err := a.newRequest(ctx, server, q)
	if err != nil {
		// Only an unusable URL gets here, and ParseAddress rejects those.
		return nil, newError(ErrFailed, name+": "+err.Error(), q.Secret)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, a.noAnswer(name, transportError(err, ctx), q)
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 500 {
		// Drain a little so the connection can be reused.
		io.CopyN(io.Discard, resp.Body, 4096)
		return nil, a.noAnswer(name, "answered "+strconv.Itoa(resp.StatusCode), q)
	}
	if resp.StatusCode != http.StatusOK {
		io.CopyN(io.Discard, resp.Body, 4096)
		return nil, newError(ErrFailed, name+" answered "+strconv.Itoa(resp.StatusCode), q.Secret)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return nil, a.noAnswer(name, "reading the answer: "+transportError(err, ctx), q)
	}
	answer, err := ParseAnswer(body)
	if err != nil {
		e := newError(ErrFailed, name+" sent an invalid answer: "+err.Error(), q.Secret)
		a.logLimited("invalid "+name, lg.ERROR, "AUTH: "+e.Detail)
		return nil, e
	}
	return answer, nil
}

// logInterval is the least time between two log lines of one cause.
const logInterval = time.Second

// logLimited writes line, already free of secrets, at most once per
// logInterval for cause, counting the lines it leaves out.
func (a *Authorizer) logLimited(cause string, level lg.LogLevel, line string) {
	if a.logf != nil {
		a.log.Logf(a.logf, cause, level, "%s", line)
	}
}

// noAnswer logs that a server did not answer and returns the error that
// makes ask try the next.
func (a *Authorizer) noAnswer(name, why string, q *Query) error {
	detail := redact(name+": "+why, q.Secret)
	a.logLimited("unavailable "+name, lg.WARN, "AUTH: no answer from "+detail)
	return &noAnswerError{detail: detail}
}

// newRequest builds the request for q: the fields in the query string for
// GET, in a form body for POST. The URL is assembled, not parsed, so no
// parse error can quote it.
func (a *Authorizer) newRequest(ctx context.Context, server *url.URL, q *Query) (*http.Request, error) {
	fields := url.Values{}
	fields.Set("remote_ip", q.RemoteIP)
	fields.Set("tls", strconv.FormatBool(q.TLS))
	fields.Set("secret", q.Secret)
	fields.Set("common_name", q.CommonName)

	u := *server
	var body io.Reader
	if a.method == http.MethodGet {
		query := u.Query()
		for k, v := range fields {
			query[k] = v
		}
		u.RawQuery = query.Encode()
	} else {
		body = strings.NewReader(fields.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, a.method, server.String(), body)
	if err != nil {
		return nil, err
	}
	req.URL = &u
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, nil
}

// transportError describes a failed request without its URL (with GET the
// URL holds the secret).
func transportError(err error, ctx context.Context) string {
	if ctx.Err() == context.DeadlineExceeded {
		return "no answer within the request timeout"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return err.Error()
}
