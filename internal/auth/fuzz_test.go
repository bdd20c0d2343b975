package auth

import (
	"strings"
	"testing"
)

// validSecret says, independently of ParseBearer, which secrets a header
// must carry unchanged.
func validSecret(s string) bool {
	if s == "" || len(s) > MaxSecretBytes || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func FuzzParseBearer(f *testing.F) {
	for _, seed := range []string{
		"Bearer abc", "bearer  abc ", "Bearer", "Bearer ", "Basic abc", "Bearer a\tb",
		"Bearer " + testSecret, "BEARER caf\u00e9", "Bearer \x7f", "Bearerx y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		secret, ok := ParseBearer(header)
		if ok {
			if !validSecret(secret) {
				t.Fatalf("ParseBearer(%q) accepted the invalid secret %q", header, secret)
			}
			if !strings.EqualFold(header[:len("Bearer ")], "Bearer ") || !strings.Contains(header, secret) {
				t.Fatalf("ParseBearer(%q) = %q, not from a Bearer header", header, secret)
			}
			for _, scheme := range []string{"Bearer ", "bearer ", "BEARER  "} {
				if again, ok := ParseBearer(scheme + secret); !ok || again != secret {
					t.Fatalf("%q does not round-trip with %q: %q, %v", secret, scheme, again, ok)
				}
			}
		} else if secret != "" {
			t.Fatalf("ParseBearer(%q) refused but returned %q", header, secret)
		}
		// The input as a secret: a valid one always parses back, less the
		// spaces around it (HTTP drops those from header values anyway).
		trimmed := strings.Trim(header, " ")
		again, ok := ParseBearer("Bearer " + header)
		if validSecret(trimmed) != ok || (ok && again != trimmed) {
			t.Fatalf("secret %q (valid: %v) parsed as %q, %v", header, validSecret(trimmed), again, ok)
		}
	})
}

func FuzzParseAnswer(f *testing.F) {
	for _, seed := range []string{
		matchingAnswer,
		okAnswer(3600),
		`{}`,
		`{"ttl":-1,"authorizations":null}`,
		`{"authorizations":[{"topic":"(?i)ORD","channels":["^a$","b|c","\\x{fffd}"],"permissions":["publish"]}]}`,
		`{"authorizations":[{"topic":"[","permissions":["subscribe"]}]}`,
		`{"authorizations":[{"topic":"a","permissions":["admin"]}]}`,
	} {
		f.Add([]byte(seed), "orders_eu", "archive")
	}
	f.Fuzz(func(t *testing.T, body []byte, topic, channel string) {
		a, err := ParseAnswer(body)
		if err != nil {
			if a != nil {
				t.Fatal("an error and an answer")
			}
			return
		}
		if err := a.check(topic, channel, topic+channel, ""); err != nil {
			t.Fatal(err)
		}
		// Matching agrees with the regexps, applied as nsqd applies them.
		wantTopic, wantChannel := false, false
		for i := range a.authorizations {
			auth := &a.authorizations[i]
			if !auth.topic.re.MatchString(topic) {
				continue
			}
			wantTopic = wantTopic || auth.subscribe || auth.publish
			if auth.subscribe {
				for j := range auth.channels {
					wantChannel = wantChannel || auth.channels[j].re.MatchString(channel)
				}
			}
		}
		if got := a.TopicAllowed(topic); got != wantTopic {
			t.Fatalf("TopicAllowed(%q) = %v, want %v", topic, got, wantTopic)
		}
		if got := a.ChannelAllowed(topic, channel); got != wantChannel {
			t.Fatalf("ChannelAllowed(%q, %q) = %v, want %v", topic, channel, got, wantChannel)
		}
		if got := len(a.FilterTopics([]string{topic, topic})); got != 2*boolInt(wantTopic) {
			t.Fatalf("FilterTopics kept %d of two %q", got, topic)
		}
		if got := len(a.FilterChannels(topic, []string{channel, channel})); got != 2*boolInt(wantChannel) {
			t.Fatalf("FilterChannels kept %d of two %q", got, channel)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
