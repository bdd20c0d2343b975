package nsqlookupd_test

import (
	"net/http"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestRegistrationLimits: at its limit a client still repeats what it holds;
// one more gets the frame naming the limit and is closed, which takes its
// registrations with it, while other clients' stay. HTTP creates count
// towards --max-registrations and get 503 over it. Each refusal is counted
// and logged.
func TestRegistrationLimits(t *testing.T) {
	l := startLookupd(t, withMetrics, func(s *setup) {
		s.opts.MaxRegistrationsPerClient = 3
		s.opts.MaxRegistrations = 6
	})
	logger := l.log

	other := identified(t, l)
	other.Send("REGISTER kept c\n")
	other.ExpectFrame("OK") // 2 registrations in the store

	greedy := identified(t, l)
	for _, cmd := range []string{"REGISTER t c", "REGISTER u", "REGISTER t c", "REGISTER u", "REGISTER kept"} {
		greedy.Send(cmd + "\n")
		if cmd == "REGISTER kept" {
			break
		}
		greedy.ExpectFrame("OK") // t, t:c and u: 3 memberships, 5 in the store
	}
	greedy.ExpectError("E_TOO_MANY_REGISTRATIONS REGISTER max-registrations-per-client (3) reached")
	test.Eventually(t, waitTimeout, func() bool { return l.store().Stats().Peers == 1 }, "the greedy client gone")
	_, producers, _ := l.store().Lookup("kept")
	test.Equal(t, 1, len(producers), "the other client's registration")

	expectPostOK(t, post(t, l, "/topic/create?topic=v"), "create at 6 registrations")
	expectError(t, post(t, l, "/topic/create?topic=w"), http.StatusServiceUnavailable, "TOO_MANY_REGISTRATIONS", "create over 6")
	expectError(t, post(t, l, "/channel/create?topic=kept&channel=d"), http.StatusServiceUnavailable, "TOO_MANY_REGISTRATIONS", "channel create over 6")
	expectPostOK(t, post(t, l, "/channel/create?topic=kept&channel=c"), "create of an existing channel at the limit")
	other.Send("REGISTER new\n")
	other.ExpectError("E_TOO_MANY_REGISTRATIONS REGISTER max-registrations (6) reached")
	test.Equal(t, []string{"kept", "t", "u", "v"}, l.store().Topics(), "topics at the end")

	expectSeries(t, l, map[string]float64{
		`nsqlookupd_registrations_refused_total{limit="max_registrations_per_client"}`: 1,
		`nsqlookupd_registrations_refused_total{limit="max_registrations"}`:            3,
	}, "refusals counted")
	for _, text := range []string{"max-registrations-per-client (3) reached", "max-registrations (6) reached"} {
		if warnLines(logger, text) == 0 {
			t.Errorf("no WARNING line with %q", text)
		}
	}
}
