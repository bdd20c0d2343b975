// Package auth asks NSQ auth servers whether a reader's secret may see which
// topics and channels, caches the answers, and matches names against them.
//
// It speaks the protocol nsqd speaks to the same servers: a GET (or, with
// RequestMethod "post", a form POST) carrying remote_ip, tls, secret and
// common_name, answered by JSON naming a ttl, an identity and a list of
// authorizations (a topic regexp, channel regexps, permissions).
//
// # Contract with the HTTP layer
//
// The HTTP layer reads the secret with [ParseBearer], asks [Authorizer.Authorize],
// and maps the outcome to the access-control table of the specification:
//
//   - ParseBearer reports !ok (no header, another scheme, an empty, over-long
//     or malformed secret): 401 {"message":"AUTH_REQUIRED"} with
//     WWW-Authenticate: Bearer realm="nsqlookupd".
//   - errors.Is(err, ErrFailed): an auth server answered, but not 200
//     (4xx, 3xx: redirects are not followed), or 200 with an invalid body:
//     403 {"message":"AUTH_FAILED"}.
//   - errors.Is(err, ErrUnavailable): no auth server answered — refused,
//     timed out, 5xx from every server — or the caller's context ended while
//     waiting: 503 {"message":"AUTH_UNAVAILABLE"} (fail closed).
//   - An [Answer]: [Answer.TopicAllowed] false for the asked topic gives 403
//     {"message":"FORBIDDEN"} before the topic is looked up;
//     [Answer.FilterTopics] and [Answer.FilterChannels] trim /topics,
//     /channels and the channels of /lookup.
//
// A 5xx answer counts as not answering: the next server is tried. Any other
// non-200 answer is definitive and no further server is asked.
//
// The secret never appears in an error, a log line or an Answer; the only
// place it goes is the request sent to the auth server. Error texts may be
// logged as they are.
package auth
