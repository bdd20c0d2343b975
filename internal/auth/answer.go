package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds on an auth server's answer. They keep a broken or hostile server
// from making the daemon read, compile or cache without limit; real answers
// are far smaller.
const (
	// MaxAnswerBytes bounds the body read from an auth server.
	MaxAnswerBytes = 1 << 20
	// MaxAuthorizations bounds the authorizations in one answer.
	MaxAuthorizations = 1000
	// MaxPatterns bounds the topic and channel patterns in one answer,
	// counted together.
	MaxPatterns = 1000
	// MaxTTL bounds how long an answer is cached, whatever ttl it names, so
	// a revoked secret is asked about again at least once a day.
	MaxTTL = 24 * time.Hour
)

// The permissions an authorization may grant.
const (
	PermissionSubscribe = "subscribe"
	PermissionPublish   = "publish"
)

// Answer is an auth server's accepted answer for one secret: who it is and
// what it may see. It is immutable and safe for concurrent use; its patterns
// are compiled once, when it is parsed.
//
// Invariants (checked by check): every authorization's topic and channel
// patterns are compiled, and each pattern's faster form matches exactly the
// names its regexp matches.
type Answer struct {
	// Identity is the name the auth server gave the secret's owner, as
	// sent (quote it when logging it).
	Identity string
	// IdentityURL is the auth server's link for the identity, as sent.
	IdentityURL string
	// TTL is how long the answer may be cached: the answer's ttl, with a
	// negative one taken as 0 and a long one cut to MaxTTL.
	TTL time.Duration

	authorizations []authorization
}

// authorization is one entry of an answer, compiled.
type authorization struct {
	topic     pattern
	channels  []pattern
	subscribe bool
	publish   bool
}

// pattern is a compiled topic or channel regexp, with a faster equivalent
// for matching. Only whether a pattern matches somewhere in a name counts
// (unanchored MatchString), which lets the common shapes skip the regexp
// engine: "orders" is strings.Contains, "^orders" HasPrefix, "_eu$"
// HasSuffix, "^orders$" equality. Other patterns lose a leading ".*", which
// cannot change whether a name matches somewhere.
type pattern struct {
	// re is the pattern as the auth server sent it.
	re *regexp.Regexp
	// kind says how match works; search serves matchRegexp, literal the
	// others.
	kind    matchKind
	search  *regexp.Regexp
	literal string
}

// matchKind is how a pattern is matched.
type matchKind uint8

const (
	matchRegexp   matchKind = iota // search.MatchString
	matchContains                  // strings.Contains(name, literal)
	matchPrefix                    // strings.HasPrefix(name, literal)
	matchSuffix                    // strings.HasSuffix(name, literal)
	matchEqual                     // name == literal
)

// answerJSON is the wire form of an answer.
type answerJSON struct {
	TTL            int64               `json:"ttl"`
	Identity       string              `json:"identity"`
	IdentityURL    string              `json:"identity_url"`
	Authorizations []authorizationJSON `json:"authorizations"`
}

type authorizationJSON struct {
	Topic       string   `json:"topic"`
	Channels    []string `json:"channels"`
	Permissions []string `json:"permissions"`
}

// ParseAnswer parses and compiles the body of an auth server's 200 answer.
// An answer is invalid, as a whole, if it is not the JSON object of the
// protocol, grants an unknown permission, holds a pattern that is not a Go
// regexp, or exceeds the bounds above. A missing ttl means 0 (not cached); a
// negative ttl is taken as 0, as nsqd does in effect.
func ParseAnswer(body []byte) (*Answer, error) {
	if len(body) > MaxAnswerBytes {
		return nil, fmt.Errorf("answer is over %d bytes", MaxAnswerBytes)
	}
	var raw answerJSON
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("answer is not the protocol's JSON: %v", err)
	}
	if len(raw.Authorizations) > MaxAuthorizations {
		return nil, fmt.Errorf("answer has %d authorizations, over %d", len(raw.Authorizations), MaxAuthorizations)
	}
	patterns := 0
	for _, a := range raw.Authorizations {
		patterns += 1 + len(a.Channels)
	}
	if patterns > MaxPatterns {
		return nil, fmt.Errorf("answer has %d patterns, over %d", patterns, MaxPatterns)
	}

	answer := &Answer{
		Identity:       raw.Identity,
		IdentityURL:    raw.IdentityURL,
		TTL:            clampTTL(raw.TTL),
		authorizations: make([]authorization, 0, len(raw.Authorizations)),
	}
	// All channel patterns share one backing array: one allocation.
	channels := make([]pattern, 0, patterns-len(raw.Authorizations))
	for i, a := range raw.Authorizations {
		var auth authorization
		for _, p := range a.Permissions {
			switch p {
			case PermissionSubscribe:
				auth.subscribe = true
			case PermissionPublish:
				auth.publish = true
			default:
				return nil, fmt.Errorf("authorization %d: unknown permission %q", i, p)
			}
		}
		var err error
		if auth.topic, err = compilePattern(a.Topic); err != nil {
			return nil, fmt.Errorf("authorization %d: topic pattern: %v", i, err)
		}
		start := len(channels)
		for _, c := range a.Channels {
			p, err := compilePattern(c)
			if err != nil {
				return nil, fmt.Errorf("authorization %d: channel pattern: %v", i, err)
			}
			channels = append(channels, p)
		}
		auth.channels = channels[start:len(channels):len(channels)]
		answer.authorizations = append(answer.authorizations, auth)
	}
	return answer, nil
}

// clampTTL turns the answer's ttl in seconds into a cache lifetime.
func clampTTL(seconds int64) time.Duration {
	if seconds <= 0 {
		return 0
	}
	if seconds >= int64(MaxTTL/time.Second) {
		return MaxTTL
	}
	return time.Duration(seconds) * time.Second
}

// compilePattern compiles expr as nsqd does (regexp.Compile), and its
// faster equivalent.
func compilePattern(expr string) (pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return pattern{}, err
	}
	p := pattern{re: re, search: re}
	if p.kind, p.literal = shapeOf(expr); p.kind != matchRegexp {
		p.search = nil
		return p, nil
	}
	if trimmed := trimLeadingDotStar(expr); trimmed != expr {
		if search, err := regexp.Compile(trimmed); err == nil {
			p.search = search
		}
	}
	return p, nil
}

// trimLeadingDotStar drops leading ".*" from expr. ".*R" matches somewhere
// in s exactly when R does (let ".*" match the empty string), whatever R
// is, even an alternation. A ".*" followed by a repetition operator is not
// a ".*" (".*?" is lazy), and stays.
func trimLeadingDotStar(expr string) string {
	for strings.HasPrefix(expr, ".*") {
		rest := expr[2:]
		if rest != "" && strings.IndexByte("?*+{", rest[0]) >= 0 {
			break
		}
		expr = rest
	}
	return expr
}

// shapeOf reports whether expr, matched anywhere in a name, is a plain
// string test, and with which literal. It looks at the parsed pattern:
// optional elements (x*, x?) at either end are dropped, since they can
// match the empty string and so never decide whether a match exists; then
// "^" (\A) and "$" (\z, or $ outside multi-line mode) at the ends, around
// one case-sensitive literal or nothing, make the shape. A literal holding
// U+FFFD is left to the regexp, which also matches invalid UTF-8 there.
func shapeOf(expr string) (matchKind, string) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return matchRegexp, ""
	}
	re = re.Simplify()
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	for len(parts) > 0 && canBeEmpty(parts[0]) {
		parts = parts[1:]
	}
	for len(parts) > 0 && canBeEmpty(parts[len(parts)-1]) {
		parts = parts[:len(parts)-1]
	}
	begin := len(parts) > 0 && parts[0].Op == syntax.OpBeginText
	if begin {
		parts = parts[1:]
	}
	end := len(parts) > 0 && parts[len(parts)-1].Op == syntax.OpEndText
	if end {
		parts = parts[:len(parts)-1]
	}
	var literal string
	switch {
	case len(parts) == 0:
	case len(parts) == 1 && parts[0].Op == syntax.OpEmptyMatch:
	case len(parts) == 1 && parts[0].Op == syntax.OpLiteral && parts[0].Flags&syntax.FoldCase == 0:
		literal = string(parts[0].Rune)
		if strings.ContainsRune(literal, utf8.RuneError) {
			return matchRegexp, ""
		}
	default:
		return matchRegexp, ""
	}
	switch {
	case begin && end:
		return matchEqual, literal
	case begin:
		return matchPrefix, literal
	case end:
		return matchSuffix, literal
	}
	return matchContains, literal
}

// canBeEmpty reports whether re is a repetition that may match nothing.
func canBeEmpty(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpRepeat:
		return re.Min == 0
	}
	return false
}

// match reports whether s contains a match of the pattern (unanchored, as
// regexp.MatchString).
func (p *pattern) match(s string) bool {
	switch p.kind {
	case matchContains:
		return strings.Contains(s, p.literal)
	case matchPrefix:
		return strings.HasPrefix(s, p.literal)
	case matchSuffix:
		return strings.HasSuffix(s, p.literal)
	case matchEqual:
		return s == p.literal
	}
	return p.search.MatchString(s)
}

// TopicAllowed reports whether some authorization granting subscribe or
// publish has a topic pattern matching topic.
func (a *Answer) TopicAllowed(topic string) bool {
	for i := range a.authorizations {
		auth := &a.authorizations[i]
		if (auth.subscribe || auth.publish) && auth.topic.match(topic) {
			return true
		}
	}
	return false
}

// ChannelAllowed reports whether some authorization granting subscribe has a
// topic pattern matching topic and a channel pattern matching channel.
func (a *Answer) ChannelAllowed(topic, channel string) bool {
	for i := range a.authorizations {
		auth := &a.authorizations[i]
		if !auth.subscribe || !auth.topic.match(topic) {
			continue
		}
		for j := range auth.channels {
			if auth.channels[j].match(channel) {
				return true
			}
		}
	}
	return false
}

// FilterTopics keeps the topics TopicAllowed allows, in order. Like
// slices.DeleteFunc it works in place: it returns a prefix of topics and
// clears the rest, so pass a slice the caller owns.
func (a *Answer) FilterTopics(topics []string) []string {
	kept := topics[:0]
	for _, t := range topics {
		if a.TopicAllowed(t) {
			kept = append(kept, t)
		}
	}
	clear(topics[len(kept):])
	return kept
}

// FilterChannels keeps the channels ChannelAllowed allows for topic, in
// order. Like FilterTopics it works in place.
func (a *Answer) FilterChannels(topic string, channels []string) []string {
	// Match the topic once, not once per channel. Answers with more
	// subscribe authorizations than fit here are rare; the slice then
	// grows on the heap.
	var stack [16]*authorization
	matching := stack[:0]
	for i := range a.authorizations {
		auth := &a.authorizations[i]
		if auth.subscribe && len(auth.channels) > 0 && auth.topic.match(topic) {
			matching = append(matching, auth)
		}
	}
	kept := channels[:0]
	for _, c := range channels {
		if channelMatches(matching, c) {
			kept = append(kept, c)
		}
	}
	clear(channels[len(kept):])
	return kept
}

// channelMatches reports whether one of auths' channel patterns matches c.
func channelMatches(auths []*authorization, c string) bool {
	for _, auth := range auths {
		for j := range auth.channels {
			if auth.channels[j].match(c) {
				return true
			}
		}
	}
	return false
}

// errBrokenAnswer reports a violated Answer invariant.
var errBrokenAnswer = errors.New("broken answer")

// check verifies the Answer invariants; samples are names on which each
// pattern's faster form must agree with its regexp.
func (a *Answer) check(samples ...string) error {
	if a.TTL < 0 || a.TTL > MaxTTL {
		return fmt.Errorf("%w: ttl %s out of range", errBrokenAnswer, a.TTL)
	}
	for i := range a.authorizations {
		auth := &a.authorizations[i]
		if err := auth.topic.check(samples); err != nil {
			return fmt.Errorf("authorization %d topic: %w", i, err)
		}
		for j := range auth.channels {
			if err := auth.channels[j].check(samples); err != nil {
				return fmt.Errorf("authorization %d channel %d: %w", i, j, err)
			}
		}
	}
	return nil
}

func (p *pattern) check(samples []string) error {
	if p.re == nil || (p.kind == matchRegexp) != (p.search != nil) {
		return fmt.Errorf("%w: pattern not compiled", errBrokenAnswer)
	}
	for _, s := range samples {
		if p.match(s) != p.re.MatchString(s) {
			return fmt.Errorf("%w: pattern %q and its faster form disagree on %q", errBrokenAnswer, p.re, s)
		}
	}
	return nil
}
