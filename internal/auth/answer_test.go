package auth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// matchingAnswer grants:
//   - subscribe on topics containing "orders", channels containing
//     "archive" or ending in "_eu";
//   - publish only on topics matching ^metrics\.;
//   - subscribe on topics starting "logs", any channel;
//   - nothing (no permission) on "secret".
const matchingAnswer = `{"ttl":60,"identity":"alice","authorizations":[
	{"topic":"orders","channels":["archive",".*_eu$"],"permissions":["subscribe"]},
	{"topic":"^metrics\\.","channels":[".*"],"permissions":["publish"]},
	{"topic":"^logs","channels":[""],"permissions":["subscribe","publish"]},
	{"topic":"secret","channels":[".*"],"permissions":[]}
]}`

func mustParse(t testing.TB, body string) *Answer {
	t.Helper()
	a, err := ParseAnswer([]byte(body))
	test.Nil(t, err, "ParseAnswer")
	test.Nil(t, a.check("", "orders", "x_eu"), "invariants")
	return a
}

func TestTopicAllowed(t *testing.T) {
	a := mustParse(t, matchingAnswer)
	for topic, want := range map[string]bool{
		"orders":         true,
		"orders_eu":      true, // unanchored
		"old_orders":     true, // unanchored
		"Orders":         false,
		"order":          false,
		"metrics.cpu":    true, // publish counts for topics
		"x_metrics.cpu":  false,
		"metricsXcpu":    false,
		"logs":           true,
		"logs#ephemeral": true,
		"secret":         false, // no permission
		"":               false,
	} {
		test.Equal(t, want, a.TopicAllowed(topic), topic)
	}
}

func TestChannelAllowed(t *testing.T) {
	a := mustParse(t, matchingAnswer)
	for _, tc := range []struct {
		topic, channel string
		want           bool
	}{
		{"orders", "archive", true},
		{"orders", "archive2", true}, // unanchored
		{"orders_us", "billing_eu", true},
		{"orders", "billing_eu2", false}, // $ anchors
		{"orders", "billing", false},
		{"metrics.cpu", "anything", false}, // publish only: no channels
		{"logs", "anything", true},         // empty pattern matches all
		{"secret", "anything", false},      // no permission
		{"other", "archive", false},
	} {
		test.Equal(t, tc.want, a.ChannelAllowed(tc.topic, tc.channel), tc.topic+"/"+tc.channel)
	}
}

func TestFilter(t *testing.T) {
	a := mustParse(t, matchingAnswer)
	topics := []string{"orders", "metrics.cpu", "secret", "logs", "billing", "orders_eu"}
	got := a.FilterTopics(topics)
	test.Equal(t, []string{"orders", "metrics.cpu", "logs", "orders_eu"}, got, "topics")
	test.Equal(t, []string{"", ""}, topics[len(got):], "cleared tail")

	channels := []string{"archive", "billing", "x_eu", "live"}
	test.Equal(t, []string{"archive", "x_eu"}, a.FilterChannels("orders", slices.Clone(channels)), "orders channels")
	test.Equal(t, []string{}, a.FilterChannels("metrics.cpu", slices.Clone(channels)), "publish-only topic")
	test.Equal(t, channels, a.FilterChannels("logs", slices.Clone(channels)), "logs channels")
	test.Equal(t, []string(nil), a.FilterChannels("orders", nil), "nil")
}

func TestFilterManyAuthorizations(t *testing.T) {
	// More matching authorizations than FilterChannels keeps on its stack.
	var b strings.Builder
	b.WriteString(`{"authorizations":[`)
	for i := 0; i < 40; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"topic":"t","channels":["c` + string(rune('A'+i%26)) + `$"],"permissions":["subscribe"]}`)
	}
	b.WriteString(`]}`)
	a := mustParse(t, b.String())
	test.Equal(t, []string{"cA", "cZ"}, a.FilterChannels("t", []string{"cA", "c", "cZ"}), "channels")
}

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		wantTTL    time.Duration
		wantErr    string
	}{
		{"minimal", `{}`, 0, ""},
		{"null authorizations", `{"ttl":5,"authorizations":null}`, 5 * time.Second, ""},
		{"negative ttl", `{"ttl":-1}`, 0, ""},
		{"huge ttl", `{"ttl":9000000000000}`, MaxTTL, ""},
		{"unknown fields", `{"ttl":1,"extra":[1,2]}`, time.Second, ""},
		{"ttl overflow", `{"ttl":1e30}`, 0, "not the protocol's JSON"},
		{"string ttl", `{"ttl":"60"}`, 0, "not the protocol's JSON"},
		{"permission case", `{"authorizations":[{"topic":"a","permissions":["Subscribe"]}]}`, 0, `unknown permission "Subscribe"`},
		{"bad regexp", `{"authorizations":[{"topic":"a","permissions":[]},{"topic":"a","channels":["*"],"permissions":[]}]}`, 0, "authorization 1: channel pattern"},
		{"too many authorizations", `{"authorizations":[` + strings.Repeat(`{},`, MaxAuthorizations) + `{}]}`, 0, "authorizations, over"},
		{"too many patterns", `{"authorizations":[{"channels":[` + strings.Repeat(`"",`, MaxPatterns-1) + `""]}]}`, 0, "patterns, over"},
		{"empty", ``, 0, "not the protocol's JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAnswer([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error containing %q, got %v", tc.wantErr, err)
				}
				return
			}
			test.Nil(t, err, "ParseAnswer")
			test.Equal(t, tc.wantTTL, a.TTL, "ttl")
			test.Nil(t, a.check(), "invariants")
		})
	}
}

func TestFasterForms(t *testing.T) {
	samples := []string{"", "a", "orders", "orders_eu", "x_eu", "x_eu2", "a\nb_eu", "ORDERS", "a.b", "axb", "\xff"}
	for _, tc := range []struct {
		expr, trimmed string
	}{
		{".*", ""},
		{".*.*_eu$", "_eu$"},
		{".*_eu$", "_eu$"},
		{".*?_eu", ".*?_eu"},
		{".**", ".**"},
		{".*+", ".*+"},
		{".*a|b", "a|b"},
		{".*^orders", "^orders"},
		{"(?s).*x", "(?s).*x"},
		{"x.*", "x.*"},
	} {
		test.Equal(t, tc.trimmed, trimLeadingDotStar(tc.expr), tc.expr)
		p, err := compilePattern(tc.expr)
		if err != nil {
			continue // the invalid ones stay invalid
		}
		test.Nil(t, p.check(samples), tc.expr)
	}
}

func TestShapes(t *testing.T) {
	samples := []string{"", "orders", "orders_eu", "old_orders", "x\norders", "orders\n", "ORDERS", "a.b", "axb", "\ufffd", "\xff"}
	for _, tc := range []struct {
		expr    string
		kind    matchKind
		literal string
	}{
		{"orders", matchContains, "orders"},
		{"", matchContains, ""},
		{".*", matchContains, ""},
		{`a\.b`, matchContains, "a.b"},
		{".*orders.*", matchContains, "orders"},
		{"x*orders(ab)?", matchContains, "orders"},
		{"^orders", matchPrefix, "orders"},
		{`\Aorders`, matchPrefix, "orders"},
		{".*^orders", matchPrefix, "orders"},
		{"^orders.*", matchPrefix, "orders"},
		{"orders$", matchSuffix, "orders"},
		{`orders\z`, matchSuffix, "orders"},
		{"orders$.*", matchSuffix, "orders"},
		{"^orders$", matchEqual, "orders"},
		{"^$", matchEqual, ""},
		{"^.*orders", matchRegexp, ""},
		{"orders.*$", matchRegexp, ""},
		{"(?m)^orders", matchRegexp, ""},
		{"(?m)orders$", matchRegexp, ""},
		{"^^orders", matchRegexp, ""},
		{"a.b", matchRegexp, ""},
		{"(?i)orders", matchRegexp, ""},
		{"(?i)123", matchRegexp, ""},
		{"ord|ers", matchRegexp, ""},
		{"a+orders", matchRegexp, ""},
		{"\ufffd", matchRegexp, ""},
	} {
		kind, literal := shapeOf(tc.expr)
		test.Equal(t, tc.kind, kind, tc.expr)
		test.Equal(t, tc.literal, literal, tc.expr)
		p, err := compilePattern(tc.expr)
		test.Nil(t, err, tc.expr)
		test.Nil(t, p.check(samples), tc.expr)
	}
}
