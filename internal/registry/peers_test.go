package registry

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestSameRemoteAddress: two connections with one remote ip:port (a daemon
// listening on several local addresses) are two peers; neither hides the
// other, and each leaves cleanly.
func TestSameRemoteAddress(t *testing.T) {
	db, _ := newClockedDB()
	info := namedPeerInfo("a")
	first := db.AddPeer(info)
	info.TCPPort = 5150
	second := db.AddPeer(info)
	db.Register(first, "t", "c")
	db.Register(second, "t", "d")

	st := dbSnapshot(t, db)
	test.Equal(t, []string{"a", "a"}, st.Producers["t"], "both producers of t")
	test.Equal(t, []string{"a: t", "a: t"}, st.Nodes, "both nodes")
	test.Equal(t, []string{"channel:t:c a", "channel:t:d a", "client:: a,a", "topic:t: a,a"}, st.Debug, "Debug")
	test.Equal(t, 2, st.Stats.Peers, "peers")

	test.Equal(t, Removed{Topics: 1, Channels: 1}, db.RemovePeer(first), "first leaves")
	st = dbSnapshot(t, db)
	test.Equal(t, []string{"a"}, st.Producers["t"], "producers after the first left")
	test.Equal(t, 5150, db.Nodes()[0].TCPPort, "the second peer is the one left")
	test.Equal(t, Removed{}, db.RemovePeer(first), "a second RemovePeer of the same peer")
	test.Equal(t, Removed{Topics: 1, Channels: 1}, db.RemovePeer(second), "second leaves")
	st = dbSnapshot(t, db)
	test.Equal(t, []string{}, st.Nodes, "nodes at the end")
	test.Equal(t, 0, st.Stats.Peers, "peers at the end")
}

// TestReusedPeerIDNotConfused: once a peer has left, its ID goes to the next
// peer; the old handle must then see none of the new peer's entries, such as
// its tombstones, which a /nodes answer being built for the old peer would
// otherwise report.
func TestReusedPeerIDNotConfused(t *testing.T) {
	db, clk := newClockedDB()
	old := db.AddPeer(namedPeerInfo("a"))
	db.Register(old, "t", "")
	db.RemovePeer(old)
	fresh := db.AddPeer(namedPeerInfo("b"))
	test.Equal(t, old.id, fresh.id, "the ID is reused")
	db.Register(fresh, "t", "")
	db.Tombstone("t", "nsqd.example:4151")

	h, sh := db.locate("t")
	now := clk.Mono()
	test.Equal(t, true, db.peerTombstoned(sh, h, "t", fresh, now), "the new peer is tombstoned")
	test.Equal(t, false, db.peerTombstoned(sh, h, "t", old, now), "the old handle sees the new peer's tombstone")
	test.Equal(t, 0, len(db.peerTopics(old).names), "the old handle lists the new peer's topics")
	test.Equal(t, false, db.UnregisterChannel(old, "t", "c"), "the old handle unregisters from the new peer's topic")
	if _, removed := db.UnregisterTopic(old, "t"); removed {
		t.Errorf("the old handle took the new peer out of topic t")
	}
	test.Equal(t, []string{"t"}, db.peerTopics(fresh).names, "the new peer's topics")
	checkStore(t, db)
}

// TestManyProducers: a topic with more producers than indexThreshold finds
// them through its index; they leave in random order.
func TestManyProducers(t *testing.T) {
	db, _ := newClockedDB()
	const n = 3 * indexThreshold
	peers := make([]*Peer, n)
	for i := range peers {
		peers[i] = db.AddPeer(PeerInfo{RemoteAddress: fmt.Sprintf("10.0.0.1:%d", 1000+i), BroadcastAddress: "n", TCPPort: 4150, HTTPPort: 4151})
		db.Register(peers[i], "t", fmt.Sprintf("c%d", i%3))
		checkStore(t, db)
	}
	h, sh := db.locate("t")
	if ov := sh.overflow[sh.find(h, "t")]; ov == nil || ov.producerIndex == nil {
		t.Fatalf("a topic of %d producers has no producer index", n)
	}
	r := rand.New(rand.NewPCG(3, 3))
	for k, i := range r.Perm(n) {
		switch k % 3 {
		case 0:
			db.RemovePeer(peers[i])
		case 1:
			db.UnregisterTopic(peers[i], "t")
		default:
			db.UnregisterChannel(peers[i], "t", fmt.Sprintf("c%d", i%3))
			db.UnregisterTopic(peers[i], "t")
		}
		checkStore(t, db)
		_, producers, _ := db.Lookup("t")
		test.Equal(t, n-k-1, len(producers), "producers left")
	}
}

// TestChannelBits covers the membership bit set across its two tiers.
func TestChannelBits(t *testing.T) {
	var first uint64
	rest := new([]uint64)
	b := channelBits{first: &first, rest: rest}
	idx := []int{0, 5, 63, 64, 127, 128, 700}
	for _, i := range idx {
		test.Equal(t, false, b.Has(i), fmt.Sprintf("Has(%d) before Set", i))
		test.Equal(t, true, b.Set(i), fmt.Sprintf("Set(%d)", i))
		test.Equal(t, false, b.Set(i), fmt.Sprintf("Set(%d) again", i))
	}
	var got []int
	b.ForEach(func(i int) { got = append(got, i) })
	test.Equal(t, idx, got, "ForEach")
	test.Equal(t, len(idx), b.Len(), "Len")
	for _, i := range []int{1, 62, 65, 129, 699, 701, 100000} {
		test.Equal(t, false, b.Has(i), fmt.Sprintf("Has(%d) never set", i))
		test.Equal(t, false, b.Clear(i), fmt.Sprintf("Clear(%d) never set", i))
	}
	test.Equal(t, true, b.Clear(64), "Clear(64)")
	test.Equal(t, false, b.Has(64), "Has(64) after Clear")
	test.Equal(t, true, b.Has(63) && b.Has(127), "neighbours of a cleared index")
	low := channelBits{first: &first}
	test.Equal(t, false, low.Has(700), "Has above 63 without high words")
	test.Equal(t, true, low.Has(63), "Has below 64 without high words")
}
