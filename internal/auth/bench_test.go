package auth

import (
	"context"
	"testing"
)

// benchmarkSetup returns an Authorizer with testQuery's answer cached, and
// the channels of a topic as the store would hand them out.
func benchmarkSetup(b *testing.B) (*Authorizer, []string) {
	server := newAuthServer(b, answerWith(200, matchingAnswer))
	a := newTestAuthorizer(b, newFakeClock(), newLogLines(b), nil, server.hostPort())
	if _, err := a.Authorize(context.Background(), testQuery()); err != nil {
		b.Fatal(err)
	}
	return a, []string{"archive", "billing", "x_eu", "live", "audit", "y_eu", "replay", "debug"}
}

// BenchmarkCachedLookup is the per-request work of /lookup with reader auth
// on and a cached secret.
func BenchmarkCachedLookup(b *testing.B) {
	a, channels := benchmarkSetup(b)
	ctx := context.Background()
	q := testQuery()
	buf := make([]string, len(channels))
	b.ReportAllocs()
	for b.Loop() {
		answer, err := a.Authorize(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if !answer.TopicAllowed("orders") {
			b.Fatal("topic not allowed")
		}
		copy(buf, channels)
		if len(answer.FilterChannels("orders", buf)) != 3 {
			b.Fatal("wrong channels")
		}
	}
}

// BenchmarkCachedLookupParallel is the same from every core at once.
func BenchmarkCachedLookupParallel(b *testing.B) {
	a, channels := benchmarkSetup(b)
	q := testQuery()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		buf := make([]string, len(channels))
		for pb.Next() {
			answer, err := a.Authorize(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			copy(buf, channels)
			if !answer.TopicAllowed("orders") || len(answer.FilterChannels("orders", buf)) != 3 {
				b.Fatal("wrong answer")
			}
		}
	})
}

// BenchmarkAuthorizeCached is the cache lookup alone: hashing the query and
// reading the map.
func BenchmarkAuthorizeCached(b *testing.B) {
	a, _ := benchmarkSetup(b)
	ctx := context.Background()
	q := testQuery()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authorize(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
