package registry

import (
	"fmt"
	"strings"
	"testing"
)

// checkFixture is a store holding every kind of record Check looks at: an
// inline topic with channels, an overflowed topic with producer and channel
// indexes and high channel bits, a tombstone and both caches.
func checkFixture(t *testing.T) (*Store, *shard, int32, *shard, int32) {
	t.Helper()
	db, _ := newClockedDB()
	s := newDBScript(db)
	s.run(t, "a REGISTER t c", "b REGISTER t d", "a REGISTER u")
	wide := make([]*Peer, indexThreshold+4)
	for i := range wide {
		wide[i] = db.AddPeer(PeerInfo{RemoteAddress: fmt.Sprintf("10.0.0.1:%d", 1000+i), BroadcastAddress: "wide.example"})
	}
	for i := range 2*indexThreshold + 10 { // channel indexes past 63
		db.Register(wide[i%len(wide)], "wide", fmt.Sprintf("c%d", i))
	}
	db.Tombstone("t", "nsqd.example:4151")
	db.Topics()
	db.Nodes()
	checkStore(t, db)
	ht, st := db.locate("t")
	hw, sw := db.locate("wide")
	return db, st, st.find(ht, "t"), sw, sw.find(hw, "wide")
}

// TestCheckFindsBrokenRules breaks each rule of the Invariants block on
// purpose and expects Check to name it.
func TestCheckFindsBrokenRules(t *testing.T) {
	tests := []struct {
		rule    string
		corrupt func(db *Store, st *shard, t int32, sw *shard, w int32)
	}{
		{"slot-free", func(db *Store, st *shard, t int32, _ *shard, _ int32) {
			st.freeTopics = append(st.freeTopics, t)
		}},
		{"slot-index", func(db *Store, st *shard, t int32, _ *shard, _ int32) {
			delete(st.index, topicHash(db.seed, "t"))
		}},
		{"overflow", func(_ *Store, _ *shard, _ int32, sw *shard, w int32) {
			sw.topics[w].overflowed = false
		}},
		{"producer", func(db *Store, st *shard, t int32, _ *shard, _ int32) {
			st.topics[t].producers[1].peer = st.topics[t].producers[0].peer
		}},
		{"by-peer", func(_ *Store, st *shard, t int32, _ *shard, _ int32) {
			st.topics[t].producers[0].peerIndex += 5
		}},
		{"producer-ix", func(_ *Store, _ *shard, _ int32, sw *shard, w int32) {
			ov := sw.overflow[w]
			ov.producerIndex[ov.producers[0].peer] = 1
		}},
		{"channel", func(_ *Store, st *shard, t int32, _ *shard, _ int32) {
			st.topics[t].producers[0].channels |= 1 << 7
		}},
		{"members", func(_ *Store, st *shard, t int32, _ *shard, _ int32) {
			st.topics[t].channels[0].members++
		}},
		{"channel-ix", func(_ *Store, _ *shard, _ int32, sw *shard, w int32) {
			ov := sw.overflow[w]
			delete(ov.channelIndex, ov.channels[3].nameID)
		}},
		{"names", func(_ *Store, st *shard, t int32, _ *shard, _ int32) {
			st.channelNames.refs[st.topics[t].channels[0].nameID]++
		}},
		{"tombstone", func(_ *Store, st *shard, t int32, _ *shard, _ int32) {
			st.topics[t].producers[0].tombstonedAt = st.topics[t].lastTombstonedAt + 1
		}},
		{"counts", func(_ *Store, st *shard, _ int32, _ *shard, _ int32) {
			st.memberships++
		}},
		{"counts", func(db *Store, _ *shard, _ int32, _ *shard, _ int32) {
			db.distinct.Add(1)
		}},
		{"peers", func(db *Store, _ *shard, _ int32, _ *shard, _ int32) {
			db.peerCount.Add(1)
		}},
		{"caches", func(db *Store, _ *shard, _ int32, _ *shard, _ int32) {
			c := db.topicsCache.Load()
			db.topicsCache.Store(&topicList{gen: c.gen, names: c.names[1:]})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			db, st, ts, sw, ws := checkFixture(t)
			tt.corrupt(db, st, ts, sw, ws)
			err := db.Check()
			if err == nil {
				t.Fatalf("Check found nothing after breaking [%s]", tt.rule)
			}
			if !strings.Contains(err.Error(), "["+tt.rule+"]") {
				t.Errorf("Check after breaking [%s] reports: %v", tt.rule, err)
			}
		})
	}
}
