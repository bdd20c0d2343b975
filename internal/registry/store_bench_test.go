package registry

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRegistrationDB runs the store's hot operations against stores of
// several total sizes, one sub-benchmark per size. Per-topic and per-peer
// operations (Register, UnregisterTopic, RemovePeer, Lookup, Channels) should
// cost the same at every size, and so should Topics, answered from its cache;
// Nodes walks every registration and grows with the store. (A Topics rebuild
// after a change of the topic set, a scan and sort of every name, is left
// out: at 100k topics it would dominate the run.)
//
//	go test -run XXX -bench RegistrationDB -benchmem ./internal/registry
//
// Each size's store is built once, untimed, and released before the next
// one, so that the garbage collector runs the testing package forces
// between benchmarks only ever scan one store.
func BenchmarkRegistrationDB(b *testing.B) {
	sizes := []struct {
		name   string
		topics int
	}{
		{"topics=1k", 1_000},
		{"topics=10k", 10_000},
		{"topics=100k", 100_000},
	}
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			f := newDBBenchFixture(b, size.topics)
			for _, bm := range registrationDBBenchmarks {
				b.Run(bm.name, func(b *testing.B) {
					b.ReportAllocs()
					bm.fn(b, f)
				})
			}
		})
	}
}

const (
	// dbBenchPeers is the number of nsqd connections in a fixture; every
	// topic is carried by two of them.
	dbBenchPeers = 100
	// dbBenchProbes is the number of fixture topics the per-topic benchmarks
	// cycle through, spread over the store, so that the working set is the
	// same at every size. It is also how many registrations are made or
	// undone between two pauses of the timer.
	dbBenchProbes = 256
	// dbBenchPeerTopics is how many topics the peer removed by the RemovePeer
	// benchmark is registered in, each with one channel.
	dbBenchPeerTopics = 100
)

// dbBenchFixture is a store of a given size that every benchmark leaves as it
// found it.
type dbBenchFixture struct {
	db     *Store
	probes []string
}

// newDBBenchFixture builds a store of topics "topic-NNNNNN", each carried by
// two of dbBenchPeers peers, one in channel "ch-a" and one in "ch-b".
func newDBBenchFixture(b *testing.B, topics int) *dbBenchFixture {
	b.Helper()
	// Peers stay active through any benchmark run; tombstones are unused.
	db := New(Config{InactiveTimeout: 24 * time.Hour, TombstoneLifetime: time.Minute})
	peers := make([]*Peer, dbBenchPeers)
	for i := range peers {
		peers[i] = db.AddPeer(dbBenchPeerInfo(fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)))
	}
	f := &dbBenchFixture{db: db}
	stride := topics / dbBenchProbes
	for i := range topics {
		name := fmt.Sprintf("topic-%06d", i)
		db.Register(peers[i%dbBenchPeers], name, "ch-a")
		db.Register(peers[(i+1)%dbBenchPeers], name, "ch-b")
		if i%stride == 0 && len(f.probes) < dbBenchProbes {
			f.probes = append(f.probes, name)
		}
	}
	if got := db.Stats(); got.Topics != topics || len(f.probes) != dbBenchProbes {
		b.Fatalf("fixture of %d topics holds %d topics and %d probes", topics, got.Topics, len(f.probes))
	}
	return f
}

// dbBenchPeerSeq numbers the peers benchmarks connect, for distinct IDs.
var dbBenchPeerSeq atomic.Int64

// dbBenchPeerInfo describes a peer on host with a client port of its own.
func dbBenchPeerInfo(host string) PeerInfo {
	id := fmt.Sprintf("%s:%d", host, 1024+dbBenchPeerSeq.Add(1)%60000)
	return PeerInfo{
		RemoteAddress:    id,
		Hostname:         host,
		BroadcastAddress: host,
		TCPPort:          4150,
		HTTPPort:         4151,
		Version:          "1.3.0",
	}
}

// newDBBenchPeer connects a peer that is in no registration yet.
func newDBBenchPeer(db *Store) *Peer {
	return db.AddPeer(dbBenchPeerInfo("192.0.2.1"))
}

// dbBenchNewTopics are ephemeral topic names absent from every fixture, so
// that registering one creates it and unregistering it deletes it again.
var dbBenchNewTopics = func() []string {
	names := make([]string, dbBenchProbes)
	for i := range names {
		names[i] = fmt.Sprintf("bench-new-%03d#ephemeral", i)
	}
	return names
}()

var registrationDBBenchmarks = []struct {
	name string
	fn   func(b *testing.B, f *dbBenchFixture)
}{
	{"Register/new-topic", benchDBRegisterNewTopic},
	{"Register/join", benchDBRegisterJoin},
	{"Register/repeat", benchDBRegisterRepeat},
	{"UnregisterTopic", benchDBUnregisterTopic},
	{"RemovePeer", benchDBRemovePeer},
	{"Lookup", benchDBLookup},
	{"Channels", benchDBChannels},
	{"Nodes", benchDBNodes},
	{"Topics", benchDBTopics},
}

// benchDBRegisterNewTopic measures REGISTER T C creating topic T and channel
// C; the topics are removed again, untimed, in batches.
func benchDBRegisterNewTopic(b *testing.B, f *dbBenchFixture) {
	p := newDBBenchPeer(f.db)
	for i := range b.N {
		j := i % dbBenchProbes
		if added, _ := f.db.Register(p, dbBenchNewTopics[j], "ch#ephemeral"); !added.Topic {
			b.Fatal("Register of a new topic added nothing")
		}
		if j == dbBenchProbes-1 || i == b.N-1 {
			b.StopTimer()
			for _, topic := range dbBenchNewTopics[:j+1] {
				f.db.UnregisterTopic(p, topic)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	f.db.RemovePeer(p)
}

// benchDBRegisterJoin measures REGISTER T C joining an existing topic and
// channel; the peer leaves them again, untimed, in batches.
func benchDBRegisterJoin(b *testing.B, f *dbBenchFixture) {
	p := newDBBenchPeer(f.db)
	for i := range b.N {
		j := i % dbBenchProbes
		if added, _ := f.db.Register(p, f.probes[j], "ch-a"); !added.Topic {
			b.Fatal("Register joining a topic added nothing")
		}
		if j == dbBenchProbes-1 || i == b.N-1 {
			b.StopTimer()
			for _, topic := range f.probes[:j+1] {
				f.db.UnregisterTopic(p, topic)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	f.db.RemovePeer(p)
}

// benchDBRegisterRepeat measures a REGISTER T C the peer has already made, as
// nsqd repeats them.
func benchDBRegisterRepeat(b *testing.B, f *dbBenchFixture) {
	b.StopTimer()
	p := newDBBenchPeer(f.db)
	for _, topic := range f.probes {
		f.db.Register(p, topic, "ch-a")
	}
	b.StartTimer()
	for i := range b.N {
		if added, _ := f.db.Register(p, f.probes[i%dbBenchProbes], "ch-a"); added != (Added{}) {
			b.Fatal("repeated Register added a registration")
		}
	}
	b.StopTimer()
	f.db.RemovePeer(p)
}

// benchDBUnregisterTopic measures UNREGISTER T of a topic that other peers
// keep carrying, by a peer in one of its channels; the peer joins the topics,
// untimed, in batches.
func benchDBUnregisterTopic(b *testing.B, f *dbBenchFixture) {
	b.StopTimer()
	p := newDBBenchPeer(f.db)
	for i := range b.N {
		j := i % dbBenchProbes
		if j == 0 {
			b.StopTimer()
			for _, topic := range f.probes[:min(dbBenchProbes, b.N-i)] {
				f.db.Register(p, topic, "ch-a")
			}
			b.StartTimer()
		}
		if _, removed := f.db.UnregisterTopic(p, f.probes[j]); !removed {
			b.Fatal("UnregisterTopic removed nothing")
		}
	}
	b.StopTimer()
	f.db.RemovePeer(p)
}

// benchDBRemovePeer measures the disconnect of a peer in dbBenchPeerTopics
// topics and as many channels, registered untimed.
func benchDBRemovePeer(b *testing.B, f *dbBenchFixture) {
	for range b.N {
		b.StopTimer()
		p := newDBBenchPeer(f.db)
		for j := range dbBenchPeerTopics {
			f.db.Register(p, f.probes[j*dbBenchProbes/dbBenchPeerTopics], "ch-a")
		}
		b.StartTimer()
		if removed := f.db.RemovePeer(p); removed.Topics != dbBenchPeerTopics {
			b.Fatalf("RemovePeer removed %+v", removed)
		}
	}
}

// benchDBLookup measures /lookup of a topic with two producers and two
// channels.
func benchDBLookup(b *testing.B, f *dbBenchFixture) {
	for i := range b.N {
		if _, producers, _ := f.db.Lookup(f.probes[i%dbBenchProbes]); len(producers) != 2 {
			b.Fatalf("Lookup found %d producers", len(producers))
		}
	}
}

// benchDBChannels measures /channels of a topic with two channels.
func benchDBChannels(b *testing.B, f *dbBenchFixture) {
	for i := range b.N {
		if channels := f.db.Channels(f.probes[i%dbBenchProbes]); len(channels) != 2 {
			b.Fatalf("Channels found %d channels", len(channels))
		}
	}
}

// benchDBNodes measures the walk behind /nodes: every peer with its topics,
// so its cost grows with the number of registrations.
func benchDBNodes(b *testing.B, f *dbBenchFixture) {
	f.db.Nodes() // the first call sorts and caches each peer's topics
	b.ResetTimer()
	for range b.N {
		nodes := 0
		f.db.EachNode(func(*NodeInfo) error { nodes++; return nil })
		if nodes != dbBenchPeers {
			b.Fatalf("EachNode listed %d peers", nodes)
		}
	}
}

// benchDBTopics measures Topics of an unchanged store: a copy of the cached
// list.
func benchDBTopics(b *testing.B, f *dbBenchFixture) {
	f.db.Topics()
	b.ResetTimer()
	for range b.N {
		f.db.Topics()
	}
}

// BenchmarkRegisterExistingChannel measures a REGISTER T C joining channel C
// of a topic with 1, 1,000 and 100,000 channels: finding the channel must
// not scan the topic's channels, so all three cost the same.
//
//	go test -run XXX -bench RegisterExistingChannel -benchmem ./internal/registry
func BenchmarkRegisterExistingChannel(b *testing.B) {
	for _, channels := range []int{1, 1_000, 100_000} {
		b.Run(fmt.Sprintf("channels=%d", channels), func(b *testing.B) {
			db := New(Config{InactiveTimeout: time.Hour, TombstoneLifetime: time.Minute})
			names := make([]string, channels)
			for i := range names {
				names[i] = fmt.Sprintf("channel-%06d", i)
				created, err := db.CreateChannel("wide", names[i])
				if !created || err != nil {
					b.Fatalf("CreateChannel %s: %v %v", names[i], created, err)
				}
			}
			// dbBenchProbes producers of the topic take turns, so that
			// every size makes the same number of joins between two
			// untimed cleanups; each joins one of the last-created
			// channels, which a scan would find last.
			peers := make([]*Peer, dbBenchProbes)
			for i := range peers {
				peers[i] = db.AddPeer(dbBenchPeerInfo("192.0.2.1"))
				db.Register(peers[i], "wide", "")
			}
			probes := names[len(names)-min(len(names), 16):]
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				j := i % dbBenchProbes
				if added, _ := db.Register(peers[j], "wide", probes[j%len(probes)]); !added.Channel {
					b.Fatal("Register joined no channel")
				}
				if j == dbBenchProbes-1 || i == b.N-1 {
					b.StopTimer()
					for k, p := range peers[:j+1] {
						db.UnregisterChannel(p, "wide", probes[k%len(probes)])
					}
					b.StartTimer()
				}
			}
		})
	}
}
