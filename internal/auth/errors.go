package auth

import (
	"errors"
	"net/url"
	"strings"
)

// ErrFailed is the kind of error returned when an auth server answered, but
// not with 200, or with an invalid body. The HTTP layer answers 403
// AUTH_FAILED.
var ErrFailed = errors.New("auth failed")

// ErrUnavailable is the kind of error returned when no auth server answered
// (connection refused, timed out, 5xx from every server) or the caller gave
// up waiting. The HTTP layer answers 503 AUTH_UNAVAILABLE.
var ErrUnavailable = errors.New("auth unavailable")

// Error is an Authorize failure: its Kind (ErrFailed or ErrUnavailable,
// matched with errors.Is) and what happened. Detail never contains the
// secret.
type Error struct {
	// Kind is ErrFailed or ErrUnavailable.
	Kind error
	// Detail says what happened, naming the servers asked (without any
	// password in their URLs).
	Detail string
}

// Error returns the kind followed by the detail.
func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Detail }

// Unwrap returns the kind, so errors.Is(err, ErrFailed) works.
func (e *Error) Unwrap() error { return e.Kind }

// newError builds an Error whose detail has every form of secret that could
// appear in it replaced. The texts it is built from come from the transport
// and the auth server, not from this package, hence the scrub.
func newError(kind error, detail, secret string) *Error {
	return &Error{Kind: kind, Detail: redact(detail, secret)}
}

// redactedSecret replaces the secret in texts.
const redactedSecret = "[secret]"

// redact removes secret, and its URL-escaped forms, from s.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	for _, form := range [...]string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		if strings.Contains(s, form) {
			s = strings.ReplaceAll(s, form, redactedSecret)
		}
	}
	return s
}
