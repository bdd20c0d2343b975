package registry

import (
	"flag"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

var stallWorkload = flag.String("stall.workload", "100x1000x4",
	"producers x topics each x channels for BenchmarkRegisterWhileNodesPolled (200x5000x5 is the largest bench workload)")

// BenchmarkRegisterWhileNodesPolled measures how long a REGISTER waits while
// another goroutine builds /nodes answers back to back over a large store:
// the worst wait bounds how long any reader holds a lock a writer needs.
// It reports the p99 and maximum latency of a single Register next to the
// same figures with no reader running.
//
//	go test -run XXX -bench RegisterWhileNodesPolled ./internal/registry -args -stall.workload=200x5000x5
func BenchmarkRegisterWhileNodesPolled(b *testing.B) {
	var producers, topics, channels int
	if _, err := fmt.Sscanf(*stallWorkload, "%dx%dx%d", &producers, &topics, &channels); err != nil {
		b.Fatalf("bad -stall.workload %q: %v", *stallWorkload, err)
	}
	db := New(Config{InactiveTimeout: time.Hour, TombstoneLifetime: time.Minute})
	peers := make([]*Peer, producers)
	pool := producers * topics / 2
	for i := range peers {
		peers[i] = db.AddPeer(PeerInfo{RemoteAddress: fmt.Sprintf("127.0.0.1:%d", 10000+i), BroadcastAddress: "127.0.0.1", TCPPort: 4150 + i, HTTPPort: 5150 + i, Version: "1.3.0"})
		for j := 0; j < topics; j++ {
			topic := fmt.Sprintf("topic-%07d", (i*7919+j*104729)%pool)
			db.Register(peers[i], topic, "")
			for c := 0; c < channels; c++ {
				db.Register(peers[i], topic, fmt.Sprintf("c%d", c))
			}
		}
	}
	writer := peers[0]

	measure := func(b *testing.B, poll bool) {
		stop := make(chan struct{})
		var readers sync.WaitGroup
		nodesPolled := 0
		if poll {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					db.Nodes()
					nodesPolled++
				}
			}()
		}
		latencies := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			topic := fmt.Sprintf("stall-%d", i%4096)
			start := time.Now()
			db.Register(writer, topic, "c0")
			latencies = append(latencies, time.Since(start))
			if i%4096 == 4095 {
				b.StopTimer()
				for j := 0; j < 4096; j++ {
					db.UnregisterTopic(writer, fmt.Sprintf("stall-%d", j))
				}
				b.StartTimer()
			}
		}
		b.StopTimer()
		close(stop)
		readers.Wait()
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds()), "max-µs")
		if poll {
			b.ReportMetric(float64(nodesPolled), "nodes-answers")
		}
	}
	b.Run("idle", func(b *testing.B) { measure(b, false) })
	b.Run("nodes-polled", func(b *testing.B) { measure(b, true) })
}
