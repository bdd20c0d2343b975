package registry

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestPeerLimit: a peer holds at most MaxPeerRegistrations topic and channel
// memberships; a REGISTER that would pass the cap changes nothing, whatever
// it would have added, and leaving makes room again.
func TestPeerLimit(t *testing.T) {
	db := New(Config{InactiveTimeout: dbInactiveTimeout, TombstoneLifetime: dbTombstoneLifetime, MaxPeerRegistrations: 3, Clock: test.NewClock()})
	a := db.AddPeer(namedPeerInfo("a"))
	b := db.AddPeer(namedPeerInfo("b"))
	steps := []struct {
		peer           *Peer
		topic, channel string
		want           Added
		err            error
	}{
		{a, "t", "c", Added{true, true}, nil},           // a holds 2
		{a, "t", "c", Added{}, nil},                     // repeats are free
		{a, "u", "c", Added{}, ErrPeerLimit},            // would make 4
		{a, "u", "", Added{Topic: true}, nil},           // a holds 3: at the cap
		{a, "u", "", Added{}, nil},                      // a repeat at the cap
		{a, "t", "d", Added{}, ErrPeerLimit},            // one over
		{b, "t", "d", Added{true, true}, nil},           // other peers are not limited by a
		{a, "v", "", Added{}, ErrPeerLimit},             // still over
		{a, "t", "d", Added{}, ErrPeerLimit},            // still over
		{b, "w", "x", Added{Topic: true}, ErrPeerLimit}, // b would hold 4
	}
	for i, st := range steps {
		got, err := db.Register(st.peer, st.topic, st.channel)
		if !errors.Is(err, st.err) || (err == nil && got != st.want) {
			t.Fatalf("step %d: Register(%s, %q, %q) = %+v, %v; want %+v, %v", i, st.peer.info.RemoteAddress, st.topic, st.channel, got, err, st.want, st.err)
		}
		checkStore(t, db)
	}
	test.Equal(t, []string{"t", "u"}, db.Topics(), "topics: refused REGISTERs created nothing")
	test.Equal(t, []string{"c", "d"}, db.Channels("t"), "channels of t")

	db.UnregisterChannel(a, "t", "c")
	added, err := db.Register(a, "v", "")
	test.Nil(t, err, "Register after leaving a channel")
	test.Equal(t, Added{Topic: true}, added, "Register after leaving a channel")
	db.DeleteTopic("v")
	added, err = db.Register(a, "t", "c")
	test.Nil(t, err, "Register after an HTTP delete took a membership away")
	test.Equal(t, Added{Channel: true}, added, "Register after an HTTP delete")
	checkStore(t, db)
}

// TestStoreLimit: the store holds at most MaxRegistrations distinct topic and
// channel registrations, however they are made; deleting makes room.
func TestStoreLimit(t *testing.T) {
	db := New(Config{InactiveTimeout: dbInactiveTimeout, TombstoneLifetime: dbTombstoneLifetime, MaxRegistrations: 4, Clock: test.NewClock()})
	a := db.AddPeer(namedPeerInfo("a"))
	b := db.AddPeer(namedPeerInfo("b"))

	_, err := db.Register(a, "t", "c") // 2
	test.Nil(t, err, "Register t c")
	ok, err := db.CreateTopic("u") // 3
	test.Equal(t, true, ok && err == nil, "CreateTopic u")
	_, err = db.CreateChannel("v", "c")
	test.Equal(t, ErrStoreLimit, err, "CreateChannel of a new topic and channel, one over")
	ok, err = db.CreateChannel("u", "c") // 4: at the cap
	test.Equal(t, true, ok && err == nil, "CreateChannel u c at the cap")

	refused := []struct {
		peer           *Peer
		topic, channel string
	}{
		{a, "w", ""},
		{b, "t", "d"},
		{b, "w", "c"},
	}
	for _, r := range refused {
		added, err := db.Register(r.peer, r.topic, r.channel)
		if !errors.Is(err, ErrStoreLimit) || added != (Added{}) {
			t.Errorf("Register(%s, %q, %q) at the cap = %+v, %v; want ErrStoreLimit", r.peer.info.RemoteAddress, r.topic, r.channel, added, err)
		}
	}
	ok, err = db.CreateTopic("w")
	test.Equal(t, ErrStoreLimit, err, "CreateTopic at the cap")
	test.Equal(t, false, ok, "CreateTopic at the cap created")
	// Joining what exists is not a new registration.
	added, err := db.Register(b, "t", "c")
	test.Nil(t, err, "joining existing registrations at the cap")
	test.Equal(t, Added{true, true}, added, "joining existing registrations at the cap")
	ok, err = db.CreateTopic("t")
	test.Equal(t, false, ok, "CreateTopic of an existing topic")
	test.Nil(t, err, "CreateTopic of an existing topic at the cap")

	db.DeleteChannel("u", "c")
	added, err = db.Register(a, "w", "")
	test.Nil(t, err, "Register after a delete made room")
	test.Equal(t, Added{Topic: true}, added, "Register after a delete made room")
	test.Equal(t, 4, db.Stats().Topics+db.Stats().Channels, "registrations at the end")
	checkStore(t, db)
}

// TestStoreLimitConcurrent: writers racing for the last registrations never
// take the store past its cap.
func TestStoreLimitConcurrent(t *testing.T) {
	const limit, writers, each = 100, 8, 40
	db := New(Config{InactiveTimeout: dbInactiveTimeout, TombstoneLifetime: dbTombstoneLifetime, MaxRegistrations: limit, Clock: test.NewClock()})
	var wg sync.WaitGroup
	refusals := make([]int, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := db.AddPeer(namedPeerInfo(string(rune('a' + w))))
			for i := range each {
				if _, err := db.Register(p, fmt.Sprintf("t%d-%d", w, i), ""); errors.Is(err, ErrStoreLimit) {
					refusals[w]++
				}
			}
		}()
	}
	wg.Wait()
	checkStore(t, db)
	refused := 0
	for _, n := range refusals {
		refused += n
	}
	test.Equal(t, limit, db.Stats().Topics, "topics made")
	test.Equal(t, writers*each-limit, refused, "REGISTERs refused")
}
