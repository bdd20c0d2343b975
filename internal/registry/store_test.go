package registry

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

const (
	dbInactiveTimeout   = 300 * time.Second
	dbTombstoneLifetime = 45 * time.Second
)

// newClockedDB returns an empty store on a test clock.
func newClockedDB() (*Store, *test.Clock) {
	clk := test.NewClock()
	return New(Config{InactiveTimeout: dbInactiveTimeout, TombstoneLifetime: dbTombstoneLifetime, Clock: clk}), clk
}

// lookupNames returns the names (see namedPeerOf) of topic's producers as
// Lookup lists them, failing the test if the topic is not found.
func lookupNames(t testing.TB, db *Store, topic string) []string {
	t.Helper()
	_, producers, found := db.Lookup(topic)
	test.Equal(t, true, found, "Lookup("+topic+") found")
	names := []string{}
	for _, p := range producers {
		names = append(names, namedPeerOf(p.RemoteAddress))
	}
	return names
}

// nodeNames returns the names of the peers Nodes lists, in its order.
func nodeNames(db *Store) []string {
	names := []string{}
	for _, n := range db.Nodes() {
		names = append(names, namedPeerOf(n.RemoteAddress))
	}
	return names
}

// checkStore fails the test now if the store's invariants do not hold.
func checkStore(t testing.TB, db *Store) {
	t.Helper()
	if err := db.Check(); err != nil {
		t.Fatalf("store invariants: %v", err)
	}
}

// created returns what CreateTopic or CreateChannel reported, failing the
// test on an error.
func created(t testing.TB) func(bool, error) bool {
	return func(ok bool, err error) bool {
		t.Helper()
		test.Nil(t, err, "create")
		return ok
	}
}

// namedPeerInfo is the PeerInfo of the peer the table tests call name (one
// lower-case letter). Every such peer announces the same broadcast address
// and ports, as several connections from one nsqd do, so only the ID tells
// them apart.
func namedPeerInfo(name string) PeerInfo {
	addr := fmt.Sprintf("192.0.2.1:%d", 50000+int(name[0]-'a'))
	return PeerInfo{
		RemoteAddress:    addr,
		Hostname:         "nsqd.example",
		BroadcastAddress: "nsqd.example",
		TCPPort:          4150,
		HTTPPort:         4151,
		Version:          "1.3.0",
	}
}

// namedPeerOf maps an ID made by namedPeerInfo back to its name.
func namedPeerOf(id string) string {
	_, port, _ := strings.Cut(id, ":")
	n, err := strconv.Atoi(port)
	if err != nil || n < 50000 || n > 50025 {
		return id
	}
	return string(rune('a' + n - 50000))
}

// dbScript applies commands to db, written like the protocol they stand for:
//
//	"a REGISTER t [c]"    peer a (connected on first mention) registers
//	"a UNREGISTER t [c]"  peer a unregisters
//	"a CLOSE"             peer a disconnects; a later mention reconnects it
//	"a PING"              peer a touches its last-seen time
//	"CREATE t [c]"        HTTP /topic/create or /channel/create
//	"DELETE t [c]"        HTTP /topic/delete or /channel/delete
//	"TOMBSTONE t node"    HTTP /topic/tombstone
type dbScript struct {
	db    *Store
	peers map[string]*Peer
}

func newDBScript(db *Store) *dbScript {
	return &dbScript{db: db, peers: make(map[string]*Peer)}
}

func (s *dbScript) peer(name string) *Peer {
	p := s.peers[name]
	if p == nil {
		p = s.db.AddPeer(namedPeerInfo(name))
		s.peers[name] = p
	}
	return p
}

func (s *dbScript) run(t *testing.T, cmds ...string) {
	t.Helper()
	for _, cmd := range cmds {
		f := strings.Fields(cmd)
		arg := func(i int) string {
			if i < len(f) {
				return f[i]
			}
			return ""
		}
		switch {
		case len(f) == 0:
			t.Fatalf("empty dbScript command")
		case f[0] == "CREATE" && len(f) == 2:
			s.db.CreateTopic(f[1])
		case f[0] == "CREATE" && len(f) == 3:
			s.db.CreateChannel(f[1], f[2])
		case f[0] == "DELETE" && len(f) == 2:
			s.db.DeleteTopic(f[1])
		case f[0] == "DELETE" && len(f) == 3:
			s.db.DeleteChannel(f[1], f[2])
		case f[0] == "TOMBSTONE" && len(f) == 3:
			s.db.Tombstone(f[1], f[2])
		case (len(f) == 3 || len(f) == 4) && f[1] == "REGISTER":
			s.db.Register(s.peer(f[0]), arg(2), arg(3))
		case len(f) == 3 && f[1] == "UNREGISTER":
			s.db.UnregisterTopic(s.peer(f[0]), f[2])
		case len(f) == 4 && f[1] == "UNREGISTER":
			s.db.UnregisterChannel(s.peer(f[0]), f[2], f[3])
		case len(f) == 2 && f[1] == "CLOSE":
			if p := s.peers[f[0]]; p != nil {
				s.db.RemovePeer(p)
				delete(s.peers, f[0])
			}
		case len(f) == 2 && f[1] == "PING":
			s.db.Touch(s.peer(f[0]))
		default:
			t.Fatalf("bad dbScript command %q", cmd)
		}
	}
}

// dbState is everything the store shows through its public methods, with
// peers reduced to their names.
type dbState struct {
	Topics    []string
	Channels  map[string][]string // Channels(T) for each topic
	Producers map[string][]string // Lookup(T) producers for each topic
	Nodes     []string            // "peer: topic topic ..." in Nodes order
	Debug     []string            // "category:key:subkey peer,peer" in Debug order
	Stats     Stats
}

// dbSnapshot reads db's state through its public methods, checking along the
// way that the methods agree with each other and that the internal indexes
// are consistent.
func dbSnapshot(t *testing.T, db *Store) dbState {
	t.Helper()
	checkStore(t, db)
	st := dbState{
		Topics:    slices.Clone(db.Topics()),
		Channels:  map[string][]string{},
		Producers: map[string][]string{},
		Nodes:     []string{},
		Debug:     []string{},
		Stats:     db.Stats(),
	}
	for _, topic := range st.Topics {
		st.Channels[topic] = db.Channels(topic)
		channels, producers, found := db.Lookup(topic)
		if !found {
			t.Fatalf("Topics lists %q but Lookup does not find it", topic)
		}
		test.Equal(t, st.Channels[topic], channels, "Lookup channels of "+topic)
		st.Producers[topic] = []string{}
		for _, p := range producers {
			st.Producers[topic] = append(st.Producers[topic], namedPeerOf(p.RemoteAddress))
		}
	}
	for _, n := range db.Nodes() {
		if len(n.Topics) != len(n.Tombstones) {
			t.Fatalf("node %s: %d topics but %d tombstones", n.RemoteAddress, len(n.Topics), len(n.Tombstones))
		}
		st.Nodes = append(st.Nodes, strings.TrimSpace(namedPeerOf(n.RemoteAddress)+": "+strings.Join(n.Topics, " ")))
	}
	debugPeers := 0
	prevKey := ""
	for _, reg := range db.Debug() {
		if key := reg.Category + ":" + reg.Key + ":" + reg.SubKey; key <= prevKey {
			t.Fatalf("Debug key %q after %q", key, prevKey)
		} else {
			prevKey = key
		}
		var names []string
		for _, p := range reg.Producers {
			names = append(names, namedPeerOf(p.RemoteAddress))
		}
		debugPeers += len(names)
		st.Debug = append(st.Debug, reg.Category+":"+reg.Key+":"+reg.SubKey+" "+strings.Join(names, ","))
	}
	test.Equal(t, debugPeers, st.Stats.Registrations, "Stats.Registrations vs peers listed by Debug")
	test.Equal(t, len(st.Topics), st.Stats.Topics, "Stats.Topics vs Topics()")
	channels := 0
	for _, cs := range st.Channels {
		channels += len(cs)
	}
	test.Equal(t, channels, st.Stats.Channels, "Stats.Channels vs Channels()")
	return st
}

func TestRegistrationDBSemantics(t *testing.T) {
	tests := []struct {
		name string
		cmds []string
		want dbState
	}{
		{
			name: "empty",
			want: dbState{Topics: []string{}, Channels: map[string][]string{}, Producers: map[string][]string{},
				Nodes: []string{}, Debug: []string{}},
		},
		{
			name: "identified peer without registrations",
			cmds: []string{"a PING"},
			want: dbState{Topics: []string{}, Channels: map[string][]string{}, Producers: map[string][]string{},
				Nodes: []string{"a:"}, Debug: []string{"client:: a"}, Stats: Stats{Peers: 1}},
		},
		{
			name: "REGISTER T C adds to channel and topic",
			cmds: []string{"a REGISTER t c"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"c"}},
				Producers: map[string][]string{"t": {"a"}},
				Nodes:     []string{"a: t"},
				Debug:     []string{"channel:t:c a", "client:: a", "topic:t: a"},
				Stats:     Stats{Peers: 1, Topics: 1, Channels: 1},
			},
		},
		{
			name: "an ephemeral channel created over HTTP survives others' leaving",
			cmds: []string{"CREATE t e#ephemeral", "a REGISTER t c", "b REGISTER t d#ephemeral", "a UNREGISTER t c", "b CLOSE", "a CLOSE"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"c", "e#ephemeral"}},
				Producers: map[string][]string{"t": {}},
				Nodes:     []string{},
				Debug:     []string{},
				Stats:     Stats{Topics: 1, Channels: 2},
			},
		},
		{
			name: "REGISTER T adds to topic only",
			cmds: []string{"a REGISTER t"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {}},
				Producers: map[string][]string{"t": {"a"}},
				Nodes:     []string{"a: t"},
				Debug:     []string{"client:: a", "topic:t: a"},
				Stats:     Stats{Peers: 1, Topics: 1},
			},
		},
		{
			name: "registering twice is harmless",
			cmds: []string{"a REGISTER t c", "a REGISTER t c", "a REGISTER t", "a REGISTER t c"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"c"}},
				Producers: map[string][]string{"t": {"a"}},
				Nodes:     []string{"a: t"},
				Debug:     []string{"channel:t:c a", "client:: a", "topic:t: a"},
				Stats:     Stats{Peers: 1, Topics: 1, Channels: 1},
			},
		},
		{
			name: "two peers with one broadcast address are distinct",
			cmds: []string{"b REGISTER t c", "a REGISTER t", "c REGISTER u"},
			want: dbState{
				Topics:    []string{"t", "u"},
				Channels:  map[string][]string{"t": {"c"}, "u": {}},
				Producers: map[string][]string{"t": {"a", "b"}, "u": {"c"}},
				Nodes:     []string{"a: t", "b: t", "c: u"},
				Debug:     []string{"channel:t:c b", "client:: a,b,c", "topic:t: a,b", "topic:u: c"},
				Stats:     Stats{Peers: 3, Topics: 2, Channels: 1},
			},
		},
		{
			name: "UNREGISTER T C keeps a non-ephemeral channel, empty",
			cmds: []string{"a REGISTER t c", "a UNREGISTER t c"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"c"}},
				Producers: map[string][]string{"t": {"a"}},
				Nodes:     []string{"a: t"},
				Debug:     []string{"client:: a", "topic:t: a"},
				Stats:     Stats{Peers: 1, Topics: 1, Channels: 1},
			},
		},
		{
			name: "UNREGISTER T C deletes an ephemeral channel left empty",
			cmds: []string{"a REGISTER t c#ephemeral", "a REGISTER t d", "a UNREGISTER t c#ephemeral"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"d"}},
				Producers: map[string][]string{"t": {"a"}},
				Nodes:     []string{"a: t"},
				Debug:     []string{"channel:t:d a", "client:: a", "topic:t: a"},
				Stats:     Stats{Peers: 1, Topics: 1, Channels: 1},
			},
		},
		{
			name: "UNREGISTER T C keeps an ephemeral channel another peer is in",
			cmds: []string{"a REGISTER t c#ephemeral", "b REGISTER t c#ephemeral", "a UNREGISTER t c#ephemeral"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"c#ephemeral"}},
				Producers: map[string][]string{"t": {"a", "b"}},
				Nodes:     []string{"a: t", "b: t"},
				Debug:     []string{"channel:t:c#ephemeral b", "client:: a,b", "topic:t: a,b"},
				Stats:     Stats{Peers: 2, Topics: 1, Channels: 1},
			},
		},
		{
			name: "UNREGISTER T C of a channel the peer is not in changes nothing",
			cmds: []string{"a REGISTER t c", "b REGISTER t", "b UNREGISTER t c", "b UNREGISTER x c"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"c"}},
				Producers: map[string][]string{"t": {"a", "b"}},
				Nodes:     []string{"a: t", "b: t"},
				Debug:     []string{"channel:t:c a", "client:: a,b", "topic:t: a,b"},
				Stats:     Stats{Peers: 2, Topics: 1, Channels: 1},
			},
		},
		{
			name: "UNREGISTER T leaves every channel of T and the topic",
			cmds: []string{
				"a REGISTER t c1", "a REGISTER t c2", "a REGISTER t e#ephemeral", "a REGISTER u c1",
				"b REGISTER t c2", "a UNREGISTER t",
			},
			want: dbState{
				Topics:    []string{"t", "u"},
				Channels:  map[string][]string{"t": {"c1", "c2"}, "u": {"c1"}},
				Producers: map[string][]string{"t": {"b"}, "u": {"a"}},
				Nodes:     []string{"a: u", "b: t"},
				Debug:     []string{"channel:t:c2 b", "channel:u:c1 a", "client:: a,b", "topic:t: b", "topic:u: a"},
				Stats:     Stats{Peers: 2, Topics: 2, Channels: 3},
			},
		},
		{
			name: "UNREGISTER T keeps a non-ephemeral topic, empty",
			cmds: []string{"a REGISTER t c", "a UNREGISTER t"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"c"}},
				Producers: map[string][]string{"t": {}},
				Nodes:     []string{"a:"},
				Debug:     []string{"client:: a"},
				Stats:     Stats{Peers: 1, Topics: 1, Channels: 1},
			},
		},
		{
			name: "UNREGISTER T deletes an ephemeral topic left without peers, with its channels",
			cmds: []string{
				"CREATE t#ephemeral http-made",
				"a REGISTER t#ephemeral c", "a REGISTER t#ephemeral d#ephemeral", "a REGISTER u",
				"a UNREGISTER t#ephemeral",
			},
			want: dbState{
				Topics:    []string{"u"},
				Channels:  map[string][]string{"u": {}},
				Producers: map[string][]string{"u": {"a"}},
				Nodes:     []string{"a: u"},
				Debug:     []string{"client:: a", "topic:u: a"},
				Stats:     Stats{Peers: 1, Topics: 1},
			},
		},
		{
			name: "UNREGISTER T keeps an ephemeral topic another peer is in",
			cmds: []string{"a REGISTER t#ephemeral c", "b REGISTER t#ephemeral", "a UNREGISTER t#ephemeral"},
			want: dbState{
				Topics:    []string{"t#ephemeral"},
				Channels:  map[string][]string{"t#ephemeral": {"c"}},
				Producers: map[string][]string{"t#ephemeral": {"b"}},
				Nodes:     []string{"a:", "b: t#ephemeral"},
				Debug:     []string{"client:: a,b", "topic:t#ephemeral: b"},
				Stats:     Stats{Peers: 2, Topics: 1, Channels: 1},
			},
		},
		{
			name: "disconnect leaves every registration, non-ephemeral ones stay empty",
			cmds: []string{"a REGISTER t c", "a REGISTER u", "b REGISTER v", "a CLOSE"},
			want: dbState{
				Topics:    []string{"t", "u", "v"},
				Channels:  map[string][]string{"t": {"c"}, "u": {}, "v": {}},
				Producers: map[string][]string{"t": {}, "u": {}, "v": {"b"}},
				Nodes:     []string{"b: v"},
				Debug:     []string{"client:: b", "topic:v: b"},
				Stats:     Stats{Peers: 1, Topics: 3, Channels: 1},
			},
		},
		{
			name: "disconnect deletes ephemeral registrations left without peers",
			cmds: []string{
				"a REGISTER t#ephemeral c", "a REGISTER t#ephemeral d#ephemeral",
				"a REGISTER u c#ephemeral", "a REGISTER u c", "a CLOSE",
			},
			want: dbState{
				Topics:    []string{"u"},
				Channels:  map[string][]string{"u": {"c"}},
				Producers: map[string][]string{"u": {}},
				Nodes:     []string{},
				Debug:     []string{},
				Stats:     Stats{Topics: 1, Channels: 1},
			},
		},
		{
			name: "disconnect keeps ephemeral registrations another peer is in",
			cmds: []string{
				"a REGISTER t#ephemeral c#ephemeral", "b REGISTER t#ephemeral c#ephemeral",
				"a REGISTER t#ephemeral d#ephemeral", "a CLOSE",
			},
			want: dbState{
				Topics:    []string{"t#ephemeral"},
				Channels:  map[string][]string{"t#ephemeral": {"c#ephemeral"}},
				Producers: map[string][]string{"t#ephemeral": {"b"}},
				Nodes:     []string{"b: t#ephemeral"},
				Debug:     []string{"channel:t#ephemeral:c#ephemeral b", "client:: b", "topic:t#ephemeral: b"},
				Stats:     Stats{Peers: 1, Topics: 1, Channels: 1},
			},
		},
		{
			name: "a reconnected peer starts without registrations",
			cmds: []string{"a REGISTER t c", "a CLOSE", "a REGISTER u"},
			want: dbState{
				Topics:    []string{"t", "u"},
				Channels:  map[string][]string{"t": {"c"}, "u": {}},
				Producers: map[string][]string{"t": {}, "u": {"a"}},
				Nodes:     []string{"a: u"},
				Debug:     []string{"client:: a", "topic:u: a"},
				Stats:     Stats{Peers: 1, Topics: 2, Channels: 1},
			},
		},
		{
			name: "a tombstone hides producers from Lookup only, in that topic only",
			cmds: []string{"a REGISTER t c", "a REGISTER u", "TOMBSTONE t nsqd.example:4151", "a REGISTER t"},
			want: dbState{
				Topics:    []string{"t", "u"},
				Channels:  map[string][]string{"t": {"c"}, "u": {}},
				Producers: map[string][]string{"t": {}, "u": {"a"}},
				Nodes:     []string{"a: t u"},
				Debug:     []string{"channel:t:c a", "client:: a", "topic:t: a", "topic:u: a"},
				Stats:     Stats{Peers: 1, Topics: 2, Channels: 1},
			},
		},
		{
			name: "HTTP create makes registrations without peers",
			cmds: []string{"CREATE t", "CREATE u c", "CREATE u c", "CREATE e#ephemeral f#ephemeral"},
			want: dbState{
				Topics:    []string{"e#ephemeral", "t", "u"},
				Channels:  map[string][]string{"e#ephemeral": {"f#ephemeral"}, "t": {}, "u": {"c"}},
				Producers: map[string][]string{"e#ephemeral": {}, "t": {}, "u": {}},
				Nodes:     []string{},
				Debug:     []string{},
				Stats:     Stats{Topics: 3, Channels: 2},
			},
		},
		{
			name: "HTTP topic delete removes the topic, its channels and their peers",
			cmds: []string{"a REGISTER t c", "a REGISTER t d", "b REGISTER t c", "a REGISTER u c", "DELETE t", "DELETE nope"},
			want: dbState{
				Topics:    []string{"u"},
				Channels:  map[string][]string{"u": {"c"}},
				Producers: map[string][]string{"u": {"a"}},
				Nodes:     []string{"a: u", "b:"},
				Debug:     []string{"channel:u:c a", "client:: a,b", "topic:u: a"},
				Stats:     Stats{Peers: 2, Topics: 1, Channels: 1},
			},
		},
		{
			name: "HTTP channel delete leaves the topic membership",
			cmds: []string{"a REGISTER t c", "a REGISTER t d", "DELETE t c", "DELETE t nope"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"d"}},
				Producers: map[string][]string{"t": {"a"}},
				Nodes:     []string{"a: t"},
				Debug:     []string{"channel:t:d a", "client:: a", "topic:t: a"},
				Stats:     Stats{Peers: 1, Topics: 1, Channels: 1},
			},
		},
		{
			name: "registering again after an HTTP delete",
			cmds: []string{"a REGISTER t c", "DELETE t", "a REGISTER t", "a UNREGISTER t", "a REGISTER t d"},
			want: dbState{
				Topics:    []string{"t"},
				Channels:  map[string][]string{"t": {"d"}},
				Producers: map[string][]string{"t": {"a"}},
				Nodes:     []string{"a: t"},
				Debug:     []string{"channel:t:d a", "client:: a", "topic:t: a"},
				Stats:     Stats{Peers: 1, Topics: 1, Channels: 1},
			},
		},
		{
			name: "wildcard names are ordinary",
			cmds: []string{"a REGISTER t c", "a REGISTER u", "DELETE *", "DELETE t *", "a UNREGISTER * *", "a UNREGISTER *"},
			want: dbState{
				Topics:    []string{"t", "u"},
				Channels:  map[string][]string{"t": {"c"}, "u": {}},
				Producers: map[string][]string{"t": {"a"}, "u": {"a"}},
				Nodes:     []string{"a: t u"},
				Debug:     []string{"channel:t:c a", "client:: a", "topic:t: a", "topic:u: a"},
				Stats:     Stats{Peers: 1, Topics: 2, Channels: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every peer membership shows in /debug, so the expected
			// Debug lines give the expected membership count.
			for _, line := range tt.want.Debug {
				_, peers, _ := strings.Cut(line, " ")
				tt.want.Stats.Registrations += len(strings.Split(peers, ","))
			}
			db, _ := newClockedDB()
			newDBScript(db).run(t, tt.cmds...)
			test.Equal(t, tt.want, dbSnapshot(t, db), "state")
		})
	}
}

func TestRegistrationDBResults(t *testing.T) {
	db, clk := newClockedDB()
	a := db.AddPeer(namedPeerInfo("a"))
	b := db.AddPeer(namedPeerInfo("b"))

	type added struct{ Topic, Channel bool }
	regs := []struct {
		peer           *Peer
		topic, channel string
		want           added
	}{
		{a, "t", "", added{true, false}},
		{a, "t", "", added{false, false}},
		{a, "t", "c1", added{false, true}},
		{a, "t", "c1", added{false, false}},
		{b, "t", "c1", added{true, true}},
		{a, "u", "c2", added{true, true}},
		{a, "t", "c3", added{false, true}},
		{a, "t", "c0#ephemeral", added{false, true}},
	}
	for _, r := range regs {
		got, err := db.Register(r.peer, r.topic, r.channel)
		test.Nil(t, err, "Register")
		test.Equal(t, r.want, added(got),
			fmt.Sprintf("Register(%s, %q, %q)", r.peer.info.RemoteAddress, r.topic, r.channel))
	}

	for _, tc := range []struct {
		peer           *Peer
		topic, channel string
		want           bool
	}{
		{b, "t", "c3", false},
		{b, "nope", "c1", false},
		{b, "t", "nope", false},
		{b, "t", "c1", true},
		{b, "t", "c1", false},
	} {
		test.Equal(t, tc.want, db.UnregisterChannel(tc.peer, tc.topic, tc.channel),
			fmt.Sprintf("UnregisterChannel(%s, %q, %q)", tc.peer.info.RemoteAddress, tc.topic, tc.channel))
	}

	type unreg struct {
		Channels []string
		Removed  bool
	}
	for _, tc := range []struct {
		peer  *Peer
		topic string
		want  unreg
	}{
		{a, "nope", unreg{nil, false}},
		{a, "t", unreg{[]string{"c0#ephemeral", "c1", "c3"}, true}},
		{a, "t", unreg{nil, false}},
		{b, "t", unreg{nil, true}},
	} {
		channels, removed := db.UnregisterTopic(tc.peer, tc.topic)
		test.Equal(t, tc.want, unreg{channels, removed}, fmt.Sprintf("UnregisterTopic(%s, %q)", tc.peer.info.RemoteAddress, tc.topic))
	}

	test.Equal(t, true, created(t)(db.CreateTopic("v")), "CreateTopic new")
	test.Equal(t, false, created(t)(db.CreateTopic("v")), "CreateTopic again")
	test.Equal(t, false, created(t)(db.CreateTopic("u")), "CreateTopic of a registered topic")
	test.Equal(t, true, created(t)(db.CreateChannel("w", "c")), "CreateChannel new topic")
	test.Equal(t, false, created(t)(db.CreateChannel("w", "c")), "CreateChannel again")
	test.Equal(t, true, created(t)(db.CreateChannel("w", "b")), "CreateChannel second channel")
	test.Equal(t, false, created(t)(db.CreateChannel("u", "c2")), "CreateChannel of a registered channel")

	type del struct {
		Channels []string
		Existed  bool
	}
	channels, existed := db.DeleteTopic("w")
	test.Equal(t, del{[]string{"b", "c"}, true}, del{channels, existed}, "DeleteTopic(w)")
	channels, existed = db.DeleteTopic("w")
	test.Equal(t, del{nil, false}, del{channels, existed}, "DeleteTopic(w) again")
	channels, existed = db.DeleteTopic("v")
	test.Equal(t, del{nil, true}, del{channels, existed}, "DeleteTopic(v) without channels")

	test.Equal(t, false, db.DeleteChannel("u", "nope"), "DeleteChannel of an absent channel")
	test.Equal(t, false, db.DeleteChannel("nope", "c2"), "DeleteChannel of an absent topic")
	db.Register(a, "u", "c4")
	test.Equal(t, true, db.DeleteChannel("u", "c4"), "DeleteChannel")
	test.Equal(t, []string{"c2"}, db.Channels("u"), "channels after DeleteChannel")

	clk.Advance(7 * time.Second)
	test.Equal(t, 7*time.Second, db.Touch(a), "Touch after 7s")
	test.Equal(t, time.Duration(0), db.Touch(a), "Touch again")

	db.Register(a, "t", "c1")
	db.Register(a, "t", "c2")
	db.Register(a, "x#ephemeral", "c#ephemeral")
	test.Equal(t, Removed{Topics: 3, Channels: 4}, db.RemovePeer(a), "RemovePeer(a)")
	test.Equal(t, Removed{}, db.RemovePeer(b), "RemovePeer(b) without registrations")
	test.Equal(t, Stats{Peers: 0, Topics: 2, Channels: 4}, db.Stats(), "Stats at the end")
	checkStore(t, db)
}

// TestRegistrationDBReusedID covers a client port reused by a new connection
// before the old connection's disconnect was processed: the old peer's
// removal must not take the new peer with it.
func TestRegistrationDBReusedID(t *testing.T) {
	db, _ := newClockedDB()
	info := namedPeerInfo("a")
	old := db.AddPeer(info)
	db.Register(old, "t", "c")
	info.Version = "1.3.1"
	fresh := db.AddPeer(info)
	db.Register(fresh, "u", "")

	test.Equal(t, Removed{Topics: 1, Channels: 1}, db.RemovePeer(old), "RemovePeer(old)")
	st := dbSnapshot(t, db)
	test.Equal(t, []string{"a: u"}, st.Nodes, "Nodes after the old connection left")
	test.Equal(t, []string{"client:: a", "topic:u: a"}, st.Debug, "Debug after the old connection left")
	test.Equal(t, map[string][]string{"t": {}, "u": {"a"}}, st.Producers, "producers after the old connection left")
	test.Equal(t, "1.3.1", db.Nodes()[0].Version, "the new connection's peer is kept")
}

func TestRegistrationDBLookupUnknown(t *testing.T) {
	db, _ := newClockedDB()
	a := db.AddPeer(namedPeerInfo("a"))
	db.Register(a, "t", "c")

	for _, topic := range []string{"nope", "T", "t ", "*", ""} {
		channels, producers, found := db.Lookup(topic)
		if found || channels != nil || producers != nil {
			t.Errorf("Lookup(%q) = %v, %v, %v; want nothing, not found", topic, channels, producers, found)
		}
		test.Equal(t, []string{}, db.Channels(topic), fmt.Sprintf("Channels(%q)", topic))
	}

	channels, producers, found := db.Lookup("t")
	test.Equal(t, true, found, "Lookup(t) found")
	test.Equal(t, []string{"c"}, channels, "Lookup(t) channels")
	test.Equal(t, []PeerInfo{namedPeerInfo("a")}, producers, "Lookup(t) producers carry every field")
}

func TestRegistrationDBLookupOrder(t *testing.T) {
	db, _ := newClockedDB()
	infos := []PeerInfo{
		{RemoteAddress: "10.0.0.9:1", BroadcastAddress: "b.example", TCPPort: 4150},
		{RemoteAddress: "10.0.0.1:2", BroadcastAddress: "a.example", TCPPort: 4250},
		{RemoteAddress: "10.0.0.3:1", BroadcastAddress: "a.example", TCPPort: 4150},
		{RemoteAddress: "10.0.0.2:1", BroadcastAddress: "a.example", TCPPort: 4150},
	}
	for _, info := range infos {
		db.Register(db.AddPeer(info), "t", "")
	}
	_, producers, _ := db.Lookup("t")
	var got []string
	for _, p := range producers {
		got = append(got, p.RemoteAddress)
	}
	want := []string{"10.0.0.2:1", "10.0.0.3:1", "10.0.0.1:2", "10.0.0.9:1"}
	test.Equal(t, want, got, "Lookup producers by broadcast address, TCP port, ID")
	got = nil
	for _, n := range db.Nodes() {
		got = append(got, n.RemoteAddress)
	}
	test.Equal(t, want, got, "Nodes in the same order")
}

func TestRegistrationDBTombstone(t *testing.T) {
	db, clk := newClockedDB()
	s := newDBScript(db)
	// a and b are two connections from one nsqd; c is another nsqd.
	s.run(t, "a REGISTER t c", "a REGISTER u", "b REGISTER t", "a REGISTER v")
	c := db.AddPeer(PeerInfo{RemoteAddress: "192.0.2.9:1", BroadcastAddress: "other.example", TCPPort: 4150, HTTPPort: 4151})
	db.Register(c, "t", "")

	lookup := func() []string { return lookupNames(t, db, "t") }
	tombstones := func(id string) map[string]bool {
		t.Helper()
		for _, n := range db.Nodes() {
			if n.RemoteAddress == id {
				m := map[string]bool{}
				for i, topic := range n.Topics {
					m[topic] = n.Tombstones[i]
				}
				return m
			}
		}
		t.Fatalf("Nodes does not list %s", id)
		return nil
	}
	aID := namedPeerInfo("a").RemoteAddress

	test.Equal(t, []PeerInfo(nil), db.Tombstone("nope", "nsqd.example:4151"), "Tombstone of an unknown topic")
	test.Equal(t, []PeerInfo(nil), db.Tombstone("t", "nsqd.example:4150"), "Tombstone with the TCP port")
	test.Equal(t, []string{"a", "b", "192.0.2.9:1"}, lookup(), "before the tombstone")

	at := clk.Wall()
	marked := db.Tombstone("t", "nsqd.example:4151")
	test.Equal(t, []string{aID, namedPeerInfo("b").RemoteAddress}, sortedPeerIDs(marked), "tombstoned peers")
	test.Equal(t, []string{"192.0.2.9:1"}, lookup(), "tombstoned producers hidden from Lookup")
	test.Equal(t, map[string]bool{"t": true, "u": false, "v": false}, tombstones(aID), "Nodes tombstones of a")
	_, uProducers, _ := db.Lookup("u")
	test.Equal(t, 1, len(uProducers), "other topic of the tombstoned peer unaffected")

	// /debug shows the tombstone on that topic only, with its time.
	for _, reg := range db.Debug() {
		for _, p := range reg.Producers {
			wantAt, wantTombstoned := zeroTimeUnixNano, false
			if reg.Category == "topic" && reg.Key == "t" && p.BroadcastAddress == "nsqd.example" {
				wantAt, wantTombstoned = at, true
			}
			test.Equal(t, wantTombstoned, p.Tombstoned, "Debug tombstoned of "+p.RemoteAddress+" in "+reg.Category+":"+reg.Key)
			test.Equal(t, wantAt, p.TombstonedAt, "Debug tombstoned_at of "+p.RemoteAddress+" in "+reg.Category+":"+reg.Key)
		}
	}

	// A repeated REGISTER keeps the tombstone.
	s.run(t, "a REGISTER t", "a REGISTER t c", "a REGISTER t d", "a PING")
	test.Equal(t, []string{"192.0.2.9:1"}, lookup(), "tombstone survives a repeated REGISTER")

	clk.Advance(dbTombstoneLifetime - 1)
	test.Equal(t, []string{"192.0.2.9:1"}, lookup(), "still hidden just before the lifetime ends")
	clk.Advance(1)
	test.Equal(t, []string{"a", "b", "192.0.2.9:1"}, lookup(), "back after the lifetime")
	test.Equal(t, map[string]bool{"t": false, "u": false, "v": false}, tombstones(aID), "Nodes tombstones after the lifetime")

	// A new tombstone, then UNREGISTER T and REGISTER T: the new entry is
	// not tombstoned, while b's is.
	db.Tombstone("t", "nsqd.example:4151")
	s.run(t, "a UNREGISTER t", "a REGISTER t")
	test.Equal(t, []string{"a", "192.0.2.9:1"}, lookup(), "tombstone gone with UNREGISTER T")
	test.Equal(t, map[string]bool{"t": false, "u": false, "v": false}, tombstones(aID), "Nodes tombstones after UNREGISTER")
	test.Equal(t, map[string]bool{"t": true}, tombstones(namedPeerInfo("b").RemoteAddress), "Nodes tombstones of b")

	// A reconnected peer does not inherit the old connection's tombstone.
	s.run(t, "b CLOSE", "b REGISTER t")
	test.Equal(t, []string{"a", "b", "192.0.2.9:1"}, lookup(), "tombstone gone with the connection")
}

// Tombstones at different times in one topic each last their own lifetime,
// whichever was set first, and in topics of every name length.
func TestRegistrationDBStaggeredTombstones(t *testing.T) {
	for _, topic := range []string{"t", strings.Repeat("x", 64)} {
		t.Run(fmt.Sprintf("name of %d bytes", len(topic)), func(t *testing.T) {
			db, clk := newClockedDB()
			older := db.AddPeer(PeerInfo{RemoteAddress: "192.0.2.1:1", BroadcastAddress: "older.example", TCPPort: 4150, HTTPPort: 4151})
			newer := db.AddPeer(PeerInfo{RemoteAddress: "192.0.2.2:1", BroadcastAddress: "newer.example", TCPPort: 4150, HTTPPort: 4151})
			db.Register(older, topic, "")
			db.Register(newer, topic, "")
			lookup := func() []string {
				t.Helper()
				_, producers, found := db.Lookup(topic)
				test.Equal(t, true, found, "Lookup found")
				ids := []string{}
				for _, p := range producers {
					ids = append(ids, p.BroadcastAddress)
				}
				return ids
			}

			test.Equal(t, 1, len(db.Tombstone(topic, "newer.example:4151")), "first tombstone")
			clk.Advance(dbTombstoneLifetime / 3)
			test.Equal(t, 1, len(db.Tombstone(topic, "older.example:4151")), "second tombstone")
			test.Equal(t, []string{}, lookup(), "both hidden")
			clk.Advance(dbTombstoneLifetime - dbTombstoneLifetime/3)
			test.Equal(t, []string{"newer.example"}, lookup(), "first tombstone over, second still on")
			clk.Advance(dbTombstoneLifetime/3 - 1)
			test.Equal(t, []string{"newer.example"}, lookup(), "second tombstone just before its end")
			clk.Advance(1)
			test.Equal(t, []string{"newer.example", "older.example"}, lookup(), "both over")
			test.Equal(t, []string{topic}, db.Topics(), "topic name kept whole")
		})
	}
}

// A topic name longer than the protocol allows is never stored: callers
// validate names, and the store holds them in fixed room.
func TestRegistrationDBOverlongTopic(t *testing.T) {
	db, _ := newClockedDB()
	p := db.AddPeer(namedPeerInfo("a"))
	long := strings.Repeat("y", 65)
	added, err := db.Register(p, long, "c")
	test.Nil(t, err, "Register")
	test.Equal(t, Added{}, added, "Register reports a registration")
	test.Equal(t, false, created(t)(db.CreateTopic(long)), "CreateTopic")
	test.Equal(t, false, created(t)(db.CreateChannel(long, "c")), "CreateChannel")
	test.Equal(t, []string{}, slices.Clone(db.Topics()), "Topics")
	checkStore(t, db)
}

func sortedPeerIDs(infos []PeerInfo) []string {
	ids := []string{}
	for _, info := range infos {
		ids = append(ids, info.RemoteAddress)
	}
	sort.Strings(ids)
	return ids
}

func TestRegistrationDBTombstoneNodeForms(t *testing.T) {
	peers := []PeerInfo{
		{RemoteAddress: "10.0.0.1:1", BroadcastAddress: "10.1.2.3", TCPPort: 4150, HTTPPort: 4151},
		{RemoteAddress: "10.0.0.2:1", BroadcastAddress: "fd00::1", TCPPort: 4150, HTTPPort: 4151},
		{RemoteAddress: "10.0.0.3:1", BroadcastAddress: "nsqd.example", TCPPort: 4150, HTTPPort: 4151},
		{RemoteAddress: "10.0.0.4:1", BroadcastAddress: "nsqd.example", TCPPort: 5150, HTTPPort: 5151},
		{RemoteAddress: "10.0.0.5:1", BroadcastAddress: "::1", TCPPort: 4150, HTTPPort: 4151},
	}
	tests := []struct {
		node string
		want []string
	}{
		{"10.1.2.3:4151", []string{"10.0.0.1:1"}},
		{"[10.1.2.3]:4151", []string{"10.0.0.1:1"}},
		{"10.1.2.3:4150", []string{}},
		{"10.1.2.3", []string{}},
		{"10.1.2.33:4151", []string{}},
		{"[fd00::1]:4151", []string{"10.0.0.2:1"}},
		{"fd00::1:4151", []string{"10.0.0.2:1"}},
		{"[fd00::1]:4150", []string{}},
		{"fd00::1", []string{}},
		{"[fd00::1]", []string{}},
		{"[fd00:0::1]:4151", []string{}}, // names are compared as text
		{"[::1]:4151", []string{"10.0.0.5:1"}},
		{"::1:4151", []string{"10.0.0.5:1"}},
		{"nsqd.example:4151", []string{"10.0.0.3:1"}},
		{"nsqd.example:5151", []string{"10.0.0.4:1"}},
		{"[nsqd.example]:5151", []string{"10.0.0.4:1"}},
		{"nsqd.example", []string{}},
		{"*", []string{}},
		{"", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			db, _ := newClockedDB()
			for _, info := range peers {
				p := db.AddPeer(info)
				db.Register(p, "t", "")
				db.Register(p, "other", "")
			}
			test.Equal(t, tt.want, sortedPeerIDs(db.Tombstone("t", tt.node)), "Tombstone result")
			_, producers, _ := db.Lookup("t")
			test.Equal(t, len(peers)-len(tt.want), len(producers), "Lookup(t) producers left")
			for _, p := range producers {
				if slices.Contains(tt.want, p.RemoteAddress) {
					t.Errorf("tombstoned %s still in Lookup(t)", p.RemoteAddress)
				}
			}
			_, producers, _ = db.Lookup("other")
			test.Equal(t, len(peers), len(producers), "Lookup(other) untouched")
		})
	}
}

func TestRegistrationDBInactivity(t *testing.T) {
	db, clk := newClockedDB()
	s := newDBScript(db)
	s.run(t, "a REGISTER t c", "b REGISTER t")

	lookup := func() []string { return lookupNames(t, db, "t") }
	nodes := func() []string { return nodeNames(db) }

	clk.Advance(dbInactiveTimeout / 2)
	s.run(t, "b PING")
	clk.Advance(dbInactiveTimeout / 2)
	test.Equal(t, []string{"a", "b"}, lookup(), "active at exactly the timeout")
	test.Equal(t, []string{"a", "b"}, nodes(), "Nodes at exactly the timeout")

	clk.Advance(1)
	filtered := db.InactiveFiltered()
	test.Equal(t, []string{"b"}, lookup(), "a inactive")
	test.Equal(t, filtered+1, db.InactiveFiltered(), "InactiveFiltered after Lookup")
	test.Equal(t, []string{"b"}, nodes(), "Nodes without the inactive peer")
	test.Equal(t, filtered+2, db.InactiveFiltered(), "InactiveFiltered after Nodes")
	// REGISTER does not count as activity.
	s.run(t, "a REGISTER t", "a REGISTER u")
	test.Equal(t, []string{"b"}, lookup(), "REGISTER does not refresh")

	// Inactive peers are kept, and /debug shows them.
	debug := dbSnapshot(t, db).Debug
	test.Equal(t, []string{"channel:t:c a", "client:: a,b", "topic:t: a,b", "topic:u: a"}, debug, "Debug is not filtered")

	test.Equal(t, dbInactiveTimeout+1, db.Touch(s.peer("a")), "Touch reports the silence")
	test.Equal(t, []string{"a", "b"}, lookup(), "Touch brings a back")
	test.Equal(t, []string{"a", "b"}, nodes(), "Nodes lists a again")
	for _, n := range db.Nodes() {
		if namedPeerOf(n.RemoteAddress) == "a" {
			test.Equal(t, []string{"t", "u"}, n.Topics, "a's topics kept while inactive")
		}
	}

	clk.Advance(dbInactiveTimeout + 1)
	test.Equal(t, []string{}, lookup(), "everyone inactive")
	test.Equal(t, []string{}, nodes(), "Nodes empty")
}

func TestRegistrationDBTopicsCache(t *testing.T) {
	db, _ := newClockedDB()
	a := db.AddPeer(namedPeerInfo("a"))
	b := db.AddPeer(namedPeerInfo("b"))

	var held [][]string
	var heldWant [][]string
	steps := []struct {
		name string
		op   func()
		want []string
	}{
		{"empty", func() {}, []string{}},
		{"register", func() { db.Register(a, "zeta", "c"); db.Register(a, "alpha", ""); db.Register(b, "mid", "") }, []string{"alpha", "mid", "zeta"}},
		{"repeated register", func() { db.Register(a, "zeta", "d"); db.Register(b, "zeta", "") }, []string{"alpha", "mid", "zeta"}},
		{"create topic", func() { db.CreateTopic("beta") }, []string{"alpha", "beta", "mid", "zeta"}},
		{"create channel", func() { db.CreateChannel("omega", "c") }, []string{"alpha", "beta", "mid", "omega", "zeta"}},
		{"delete topic", func() { db.DeleteTopic("mid") }, []string{"alpha", "beta", "omega", "zeta"}},
		{"ephemeral register", func() { db.Register(b, "eph#ephemeral", "") }, []string{"alpha", "beta", "eph#ephemeral", "omega", "zeta"}},
		{"ephemeral unregister", func() { db.UnregisterTopic(b, "eph#ephemeral") }, []string{"alpha", "beta", "omega", "zeta"}},
		{"ephemeral disconnect", func() { db.Register(b, "eph#ephemeral", ""); db.Topics(); db.RemovePeer(b) }, []string{"alpha", "beta", "omega", "zeta"}},
		{"non-ephemeral unregister", func() { db.UnregisterTopic(a, "alpha") }, []string{"alpha", "beta", "omega", "zeta"}},
		{"delete channel", func() { db.DeleteChannel("zeta", "c") }, []string{"alpha", "beta", "omega", "zeta"}},
	}
	var prevGen uint64
	var prev []string
	for i, step := range steps {
		step.op()
		gen := db.TopicsGeneration()
		got := db.Topics()
		test.Equal(t, step.want, got, "Topics after "+step.name)
		cached := db.topicsCache.Load()
		test.Equal(t, got, db.Topics(), "Topics again after "+step.name)
		if db.topicsCache.Load() != cached {
			t.Errorf("after %s: unchanged store rebuilt the topic list", step.name)
		}
		test.Equal(t, gen, db.TopicsGeneration(), "generation of an unchanged store after "+step.name)
		if i > 0 && !slices.Equal(prev, got) && gen == prevGen {
			t.Errorf("after %s: topic list changed but its generation %d did not", step.name, gen)
		}
		prev, prevGen = slices.Clone(got), gen
		checkStore(t, db)
		if len(got) > 0 {
			got[0] = "changed by the caller"
		}
		held = append(held, db.Topics())
		heldWant = append(heldWant, slices.Clone(step.want))
	}
	// Lists handed out are copies, never modified by later changes, and a
	// caller's change to one does not reach the store.
	test.Equal(t, heldWant, held, "earlier Topics results")
}

func TestRegistrationDBNodesCache(t *testing.T) {
	db, _ := newClockedDB()
	a := db.AddPeer(namedPeerInfo("a"))
	b := db.AddPeer(namedPeerInfo("b"))
	c := db.AddPeer(PeerInfo{RemoteAddress: "192.0.2.9:1", BroadcastAddress: "other.example", TCPPort: 4150, HTTPPort: 4151})

	type node struct {
		Topics     []string
		Tombstones []bool
	}
	nodes := func() map[string]node {
		m := map[string]node{}
		for _, n := range db.Nodes() {
			m[namedPeerOf(n.RemoteAddress)] = node{n.Topics, n.Tombstones}
		}
		return m
	}
	steps := []struct {
		name string
		op   func()
		want map[string]node
	}{
		{"no registrations", func() {}, map[string]node{
			"a": {[]string{}, []bool{}}, "b": {[]string{}, []bool{}}, "192.0.2.9:1": {[]string{}, []bool{}},
		}},
		{"register", func() {
			// Enough topics to spread over several shards.
			for _, topic := range []string{"t9", "t3", "t7", "t1", "t5", "t2", "t8", "t4", "t6", "t0"} {
				db.Register(a, topic, "c")
			}
			db.Register(b, "t5", "")
			db.Register(c, "t5", "")
		}, map[string]node{
			"a":           {[]string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"}, make([]bool, 10)},
			"b":           {[]string{"t5"}, []bool{false}},
			"192.0.2.9:1": {[]string{"t5"}, []bool{false}},
		}},
		{"tombstone", func() { db.Tombstone("t5", "nsqd.example:4151"); db.Tombstone("t2", "nsqd.example:4151") }, map[string]node{
			"a":           {[]string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"}, []bool{false, false, true, false, false, true, false, false, false, false}},
			"b":           {[]string{"t5"}, []bool{true}},
			"192.0.2.9:1": {[]string{"t5"}, []bool{false}},
		}},
		{"unregister topic", func() { db.UnregisterTopic(a, "t2"); db.UnregisterTopic(a, "t6") }, map[string]node{
			"a":           {[]string{"t0", "t1", "t3", "t4", "t5", "t7", "t8", "t9"}, []bool{false, false, false, false, true, false, false, false}},
			"b":           {[]string{"t5"}, []bool{true}},
			"192.0.2.9:1": {[]string{"t5"}, []bool{false}},
		}},
		{"unregister channel keeps topic", func() { db.UnregisterChannel(a, "t0", "c") }, map[string]node{
			"a":           {[]string{"t0", "t1", "t3", "t4", "t5", "t7", "t8", "t9"}, []bool{false, false, false, false, true, false, false, false}},
			"b":           {[]string{"t5"}, []bool{true}},
			"192.0.2.9:1": {[]string{"t5"}, []bool{false}},
		}},
		{"delete topic", func() { db.DeleteTopic("t5"); db.DeleteTopic("t9") }, map[string]node{
			"a":           {[]string{"t0", "t1", "t3", "t4", "t7", "t8"}, make([]bool, 6)},
			"b":           {[]string{}, []bool{}},
			"192.0.2.9:1": {[]string{}, []bool{}},
		}},
		{"register again", func() { db.Register(a, "t2", ""); db.Register(a, "t5", "d"); db.Register(c, "a0", "") }, map[string]node{
			"a":           {[]string{"t0", "t1", "t2", "t3", "t4", "t5", "t7", "t8"}, make([]bool, 8)},
			"b":           {[]string{}, []bool{}},
			"192.0.2.9:1": {[]string{"a0"}, []bool{false}},
		}},
		{"disconnect", func() { db.RemovePeer(b); db.RemovePeer(c) }, map[string]node{
			"a": {[]string{"t0", "t1", "t2", "t3", "t4", "t5", "t7", "t8"}, make([]bool, 8)},
		}},
	}
	for _, step := range steps {
		step.op()
		test.Equal(t, step.want, nodes(), "Nodes after "+step.name)
		test.Equal(t, step.want, nodes(), "Nodes again after "+step.name)
	}

	// The lists handed out are copies: changing them changes nothing.
	n := db.Nodes()
	n[0].Topics[0] = "changed"
	n[0].Tombstones[0] = true
	test.Equal(t, "t0", db.Nodes()[0].Topics[0], "Nodes topic after the caller modified its copy")
	test.Equal(t, false, db.Nodes()[0].Tombstones[0], "Nodes tombstone after the caller modified its copy")
}

func TestRegistrationDBDebug(t *testing.T) {
	db, clk := newClockedDB()
	s := newDBScript(db)
	start := clk.Wall()
	s.run(t, "b REGISTER t c", "a REGISTER t", "CREATE empty", "CREATE t unused")
	clk.Advance(time.Second)
	s.run(t, "b PING")
	db.Tombstone("t", "nsqd.example:4151")

	regs := db.Debug()
	keys := []string{}
	for _, reg := range regs {
		keys = append(keys, reg.Category+":"+reg.Key+":"+reg.SubKey)
	}
	test.Equal(t, []string{"channel:t:c", "client::", "topic:t:"}, keys, "Debug keys")

	a, b := namedPeerInfo("a"), namedPeerInfo("b")
	tombAt := start + int64(time.Second)
	want := []DebugRegistration{
		{Category: "channel", Key: "t", SubKey: "c", Producers: []DebugProducer{
			{PeerInfo: b, LastUpdate: start + int64(time.Second), TombstonedAt: zeroTimeUnixNano},
		}},
		{Category: "client", Producers: []DebugProducer{
			{PeerInfo: a, LastUpdate: start, TombstonedAt: zeroTimeUnixNano},
			{PeerInfo: b, LastUpdate: start + int64(time.Second), TombstonedAt: zeroTimeUnixNano},
		}},
		{Category: "topic", Key: "t", Producers: []DebugProducer{
			{PeerInfo: a, LastUpdate: start, Tombstoned: true, TombstonedAt: tombAt},
			{PeerInfo: b, LastUpdate: start + int64(time.Second), Tombstoned: true, TombstonedAt: tombAt},
		}},
	}
	test.Equal(t, want, regs, "Debug")
	test.Equal(t, int64(-6795364578871345152), zeroTimeUnixNano, "zero time in unix ns")

	// No activity or tombstone filtering, and no keys once nobody is left.
	clk.Advance(dbInactiveTimeout + dbTombstoneLifetime)
	test.Equal(t, want, db.Debug(), "Debug after every peer went inactive")
	s.run(t, "a CLOSE", "b CLOSE")
	test.Equal(t, []DebugRegistration(nil), db.Debug(), "Debug without peers")
}

func TestRegistrationDBStats(t *testing.T) {
	db, _ := newClockedDB()
	s := newDBScript(db)
	steps := []struct {
		cmd  string
		want Stats
	}{
		{"a PING", Stats{Peers: 1, Registrations: 1}},
		{"a REGISTER t c", Stats{Peers: 1, Topics: 1, Channels: 1, Registrations: 3}},
		{"a REGISTER t c", Stats{Peers: 1, Topics: 1, Channels: 1, Registrations: 3}},
		{"b REGISTER t d", Stats{Peers: 2, Topics: 1, Channels: 2, Registrations: 6}},
		{"b REGISTER t c", Stats{Peers: 2, Topics: 1, Channels: 2, Registrations: 7}},
		{"b REGISTER u#ephemeral e#ephemeral", Stats{Peers: 2, Topics: 2, Channels: 3, Registrations: 9}},
		{"CREATE u#ephemeral f", Stats{Peers: 2, Topics: 2, Channels: 4, Registrations: 9}},
		{"CREATE v", Stats{Peers: 2, Topics: 3, Channels: 4, Registrations: 9}},
		{"a UNREGISTER t c", Stats{Peers: 2, Topics: 3, Channels: 4, Registrations: 8}},
		{"a UNREGISTER t c", Stats{Peers: 2, Topics: 3, Channels: 4, Registrations: 8}},
		{"a REGISTER v w", Stats{Peers: 2, Topics: 3, Channels: 5, Registrations: 10}},
		{"b CLOSE", Stats{Peers: 1, Topics: 2, Channels: 3, Registrations: 4}},
		{"a REGISTER t d", Stats{Peers: 1, Topics: 2, Channels: 3, Registrations: 5}},
		{"DELETE t d", Stats{Peers: 1, Topics: 2, Channels: 2, Registrations: 4}},
		{"DELETE t", Stats{Peers: 1, Topics: 1, Channels: 1, Registrations: 3}},
		{"a UNREGISTER v", Stats{Peers: 1, Topics: 1, Channels: 1, Registrations: 1}},
		{"a CLOSE", Stats{Topics: 1, Channels: 1}},
	}
	for _, step := range steps {
		s.run(t, step.cmd)
		test.Equal(t, step.want, db.Stats(), "Stats after "+step.cmd)
		checkStore(t, db)
	}
}

// TestRegistrationDBConcurrent runs writers that connect, register,
// unregister and disconnect peers while readers query the store, then checks
// that the store holds exactly what the surviving peers registered.
func TestRegistrationDBConcurrent(t *testing.T) {
	const (
		writers        = 6
		opsPerWriter   = 400
		readers        = 3
		maxReaderLoops = 20000
	)
	db, clk := newClockedDB()

	var topics []string
	for i := range 8 {
		topics = append(topics, fmt.Sprintf("t%d", i))
	}
	for i := range 4 {
		topics = append(topics, fmt.Sprintf("e%d#ephemeral", i))
	}
	// Ephemeral topics get ephemeral channels only: a non-ephemeral channel
	// of an ephemeral topic lives or dies with the topic, which depends on
	// the interleaving.
	channelsOf := func(topic string) []string {
		if protocol.IsEphemeral(topic) {
			return []string{"y0#ephemeral", "y1#ephemeral"}
		}
		return []string{"c0", "c1", "x#ephemeral"}
	}

	// model is what one peer has registered.
	type model struct {
		p        *Peer
		topics   map[string]bool
		channels map[string]map[string]bool
	}
	type writerResult struct {
		live         []*model
		everTopics   map[string]bool            // non-ephemeral topics registered
		everChannels map[string]map[string]bool // non-ephemeral channels registered
	}
	results := make([]writerResult, writers)

	var writersWG, readersWG sync.WaitGroup
	// start releases every goroutine at once, so that readers overlap
	// writers; done tells readers the writers have finished.
	start, done := make(chan struct{}), make(chan struct{})
	for w := range writers {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			<-start
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			res := writerResult{everTopics: map[string]bool{}, everChannels: map[string]map[string]bool{}}
			nextPort := 0
			connect := func() {
				nextPort++
				addr := fmt.Sprintf("10.%d.0.1:%d", w, nextPort)
				p := db.AddPeer(PeerInfo{RemoteAddress: addr, BroadcastAddress: fmt.Sprintf("nsqd-%d", w),
					TCPPort: 4150, HTTPPort: 4151, Version: "1.3.0"})
				res.live = append(res.live, &model{p: p, topics: map[string]bool{}, channels: map[string]map[string]bool{}})
			}
			for range opsPerWriter {
				if len(res.live) == 0 || (len(res.live) < 4 && rng.IntN(20) == 0) {
					connect()
				}
				i := rng.IntN(len(res.live))
				m := res.live[i]
				topic := topics[rng.IntN(len(topics))]
				chans := channelsOf(topic)
				channel := chans[rng.IntN(len(chans))]
				switch r := rng.IntN(100); {
				case r < 45:
					if r < 15 {
						channel = ""
					}
					db.Register(m.p, topic, channel)
					m.topics[topic] = true
					if !protocol.IsEphemeral(topic) {
						res.everTopics[topic] = true
					}
					if channel != "" {
						if m.channels[topic] == nil {
							m.channels[topic] = map[string]bool{}
						}
						m.channels[topic][channel] = true
						if !protocol.IsEphemeral(channel) {
							if res.everChannels[topic] == nil {
								res.everChannels[topic] = map[string]bool{}
							}
							res.everChannels[topic][channel] = true
						}
					}
				case r < 65:
					db.UnregisterChannel(m.p, topic, channel)
					delete(m.channels[topic], channel)
				case r < 85:
					db.UnregisterTopic(m.p, topic)
					delete(m.topics, topic)
					delete(m.channels, topic)
				case r < 92:
					db.RemovePeer(m.p)
					res.live = slices.Delete(res.live, i, i+1)
				default:
					db.Touch(m.p)
				}
			}
			results[w] = res
		}()
	}
	readerOps := make([]int, readers)
	for r := range readers {
		readersWG.Add(1)
		go func() {
			defer readersWG.Done()
			<-start
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for n := range maxReaderLoops {
				select {
				case <-done:
					readerOps[r] = n
					return
				default:
				}
				topic := topics[rng.IntN(len(topics))]
				switch rng.IntN(8) {
				case 0:
					channels, producers, found := db.Lookup(topic)
					if found && (channels == nil || producers == nil) {
						t.Errorf("Lookup(%s) found with nil lists", topic)
					}
				case 1:
					for _, n := range db.Nodes() {
						if len(n.Topics) != len(n.Tombstones) || !slices.IsSorted(n.Topics) {
							t.Errorf("Nodes: %s topics %v tombstones %v", n.RemoteAddress, n.Topics, n.Tombstones)
						}
					}
				case 2:
					if names := db.Topics(); !slices.IsSorted(names) {
						t.Errorf("Topics not sorted: %v", names)
					}
				case 3:
					for _, reg := range db.Debug() {
						if len(reg.Producers) == 0 {
							t.Errorf("Debug key %s:%s:%s without producers", reg.Category, reg.Key, reg.SubKey)
						}
					}
				case 4:
					if names := db.Channels(topic); !slices.IsSorted(names) {
						t.Errorf("Channels(%s) not sorted: %v", topic, names)
					}
				case 5:
					db.Tombstone(topic, fmt.Sprintf("nsqd-%d:4151", rng.IntN(writers)))
				case 6:
					db.CheckLocks()
				default:
					db.Stats()
				}
			}
			readerOps[r] = maxReaderLoops
		}()
	}
	close(start)
	writersWG.Wait()
	close(done)
	readersWG.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("reader operations: %v", readerOps)

	// Let every tombstone expire; the peers stay active.
	clk.Advance(dbTombstoneLifetime)

	topicPeers := map[string][]string{}
	wantTopics := map[string]bool{}
	wantChannels := map[string]map[string]bool{}
	addChannel := func(topic, channel string) {
		if wantChannels[topic] == nil {
			wantChannels[topic] = map[string]bool{}
		}
		wantChannels[topic][channel] = true
	}
	wantNodes := map[string][]string{}
	wantDebug := map[string][]string{}
	livePeers := 0
	for _, res := range results {
		for topic := range res.everTopics {
			wantTopics[topic] = true
		}
		for topic, cs := range res.everChannels {
			for channel := range cs {
				addChannel(topic, channel)
			}
		}
		for _, m := range res.live {
			livePeers++
			id := m.p.info.RemoteAddress
			wantDebug["client::"] = append(wantDebug["client::"], id)
			wantNodes[id] = []string{}
			for topic := range m.topics {
				wantTopics[topic] = true
				topicPeers[topic] = append(topicPeers[topic], id)
				wantNodes[id] = append(wantNodes[id], topic)
				wantDebug["topic:"+topic+":"] = append(wantDebug["topic:"+topic+":"], id)
			}
			sort.Strings(wantNodes[id])
			for topic, cs := range m.channels {
				for channel := range cs {
					addChannel(topic, channel)
					key := "channel:" + topic + ":" + channel
					wantDebug[key] = append(wantDebug[key], id)
				}
			}
		}
	}
	wantRegistrations := 0
	for _, ids := range wantDebug {
		sort.Strings(ids)
		wantRegistrations += len(ids)
	}

	checkStore(t, db)
	gotTopics := db.Topics()
	test.Equal(t, slices.Sorted(maps.Keys(wantTopics)), gotTopics, "Topics")
	wantChannelCount := 0
	for _, topic := range topics {
		wantList := []string{}
		for channel := range wantChannels[topic] {
			wantList = append(wantList, channel)
		}
		sort.Strings(wantList)
		wantChannelCount += len(wantList)
		test.Equal(t, wantList, db.Channels(topic), "Channels("+topic+")")

		channels, producers, found := db.Lookup(topic)
		test.Equal(t, wantTopics[topic], found, "Lookup("+topic+") found")
		if !found {
			continue
		}
		test.Equal(t, wantList, channels, "Lookup("+topic+") channels")
		ids := []string{}
		for _, p := range producers {
			ids = append(ids, p.RemoteAddress)
		}
		sort.Strings(ids)
		want := append([]string{}, topicPeers[topic]...)
		sort.Strings(want)
		test.Equal(t, want, ids, "Lookup("+topic+") producers")
	}

	gotNodes := map[string][]string{}
	for _, n := range db.Nodes() {
		gotNodes[n.RemoteAddress] = n.Topics
		test.Equal(t, make([]bool, len(n.Topics)), n.Tombstones, "Nodes tombstones of "+n.RemoteAddress+" after the lifetime")
	}
	test.Equal(t, wantNodes, gotNodes, "Nodes")

	gotDebug := map[string][]string{}
	for _, reg := range db.Debug() {
		ids := []string{}
		for _, p := range reg.Producers {
			ids = append(ids, p.RemoteAddress)
		}
		sort.Strings(ids)
		gotDebug[reg.Category+":"+reg.Key+":"+reg.SubKey] = ids
	}
	test.Equal(t, wantDebug, gotDebug, "Debug")

	test.Equal(t, Stats{Peers: livePeers, Topics: len(wantTopics), Channels: wantChannelCount, Registrations: wantRegistrations},
		db.Stats(), "Stats")

	// Disconnecting every survivor leaves only the non-ephemeral
	// registrations ever made, empty.
	for _, res := range results {
		for _, m := range res.live {
			db.RemovePeer(m.p)
		}
	}
	checkStore(t, db)
	for _, topic := range db.Topics() {
		if protocol.IsEphemeral(topic) {
			t.Errorf("ephemeral topic %s left after every peer disconnected", topic)
		}
		for _, channel := range db.Channels(topic) {
			if protocol.IsEphemeral(channel) {
				t.Errorf("ephemeral channel %s %s left after every peer disconnected", topic, channel)
			}
		}
	}
	test.Equal(t, []DebugRegistration(nil), db.Debug(), "Debug after every peer disconnected")
	test.Equal(t, 0, db.Stats().Peers, "peers after every peer disconnected")
}

// storeModel is a plain statement of the registration semantics, for
// TestRegistrationDBAgainstModel.
type storeModel struct {
	peers  map[string]bool
	topics map[string]*modelTopic
}

type modelTopic struct {
	channels map[string]bool
	members  map[string]map[string]bool // peer -> channels it is in
}

func (m *storeModel) topic(name string) *modelTopic {
	mt := m.topics[name]
	if mt == nil {
		mt = &modelTopic{channels: map[string]bool{}, members: map[string]map[string]bool{}}
		m.topics[name] = mt
	}
	return mt
}

// leaveChannel takes peer out of channel c of topic mt, deleting the
// channel if it is ephemeral and left without members.
func (mt *modelTopic) leaveChannel(peer, c string) {
	delete(mt.members[peer], c)
	if !protocol.IsEphemeral(c) {
		return
	}
	for _, in := range mt.members {
		if in[c] {
			return
		}
	}
	delete(mt.channels, c)
}

// leaveTopic takes peer out of topic name and its channels, deleting the
// topic if it is ephemeral and left without members.
func (m *storeModel) leaveTopic(peer, name string) {
	mt := m.topics[name]
	for c := range mt.members[peer] {
		mt.leaveChannel(peer, c)
	}
	delete(mt.members, peer)
	if protocol.IsEphemeral(name) && len(mt.members) == 0 {
		delete(m.topics, name)
	}
}

func (m *storeModel) apply(cmd string) {
	f := strings.Fields(cmd)
	switch {
	case f[0] == "CREATE":
		mt := m.topic(f[1])
		if len(f) == 3 {
			mt.channels[f[2]] = true
		}
	case f[0] == "DELETE" && len(f) == 2:
		delete(m.topics, f[1])
	case f[0] == "DELETE":
		if mt := m.topics[f[1]]; mt != nil {
			delete(mt.channels, f[2])
			for _, in := range mt.members {
				delete(in, f[2])
			}
		}
	case f[1] == "CLOSE":
		if m.peers[f[0]] {
			for name, mt := range m.topics {
				if mt.members[f[0]] != nil {
					m.leaveTopic(f[0], name)
				}
			}
		}
		delete(m.peers, f[0])
	default:
		m.peers[f[0]] = true
		switch {
		case f[1] == "REGISTER":
			mt := m.topic(f[2])
			if mt.members[f[0]] == nil {
				mt.members[f[0]] = map[string]bool{}
			}
			if len(f) == 4 {
				mt.channels[f[3]] = true
				mt.members[f[0]][f[3]] = true
			}
		case f[1] == "UNREGISTER" && len(f) == 3:
			if mt := m.topics[f[2]]; mt != nil {
				if mt.members[f[0]] != nil {
					m.leaveTopic(f[0], f[2])
				} else if protocol.IsEphemeral(f[2]) && len(mt.members) == 0 {
					delete(m.topics, f[2])
				}
			}
		case f[1] == "UNREGISTER":
			if mt := m.topics[f[2]]; mt != nil && mt.members[f[0]][f[3]] {
				mt.leaveChannel(f[0], f[3])
			}
		}
	}
}

// state is what the store should show, in dbState's terms. Peers are named
// so that their order is their name's.
func (m *storeModel) state() dbState {
	st := dbState{Channels: map[string][]string{}, Producers: map[string][]string{}}
	st.Stats.Peers = len(m.peers)
	st.Stats.Registrations = len(m.peers)
	peerTopics := map[string][]string{}
	for name, mt := range m.topics {
		st.Topics = append(st.Topics, name)
		st.Channels[name] = append([]string{}, slices.Sorted(maps.Keys(mt.channels))...)
		st.Producers[name] = append([]string{}, slices.Sorted(maps.Keys(mt.members))...)
		if len(mt.members) > 0 {
			st.Debug = append(st.Debug, "topic:"+name+": "+strings.Join(st.Producers[name], ","))
		}
		for c := range mt.channels {
			var in []string
			for peer, chans := range mt.members {
				if chans[c] {
					in = append(in, peer)
				}
			}
			if len(in) > 0 {
				slices.Sort(in)
				st.Debug = append(st.Debug, "channel:"+name+":"+c+" "+strings.Join(in, ","))
			}
			st.Stats.Registrations += len(in)
		}
		for peer := range mt.members {
			peerTopics[peer] = append(peerTopics[peer], name)
		}
		st.Stats.Registrations += len(mt.members)
		st.Stats.Channels += len(mt.channels)
	}
	st.Stats.Topics = len(st.Topics)
	if len(m.peers) > 0 {
		st.Debug = append(st.Debug, "client:: "+strings.Join(slices.Sorted(maps.Keys(m.peers)), ","))
	}
	for _, peer := range slices.Sorted(maps.Keys(m.peers)) {
		slices.Sort(peerTopics[peer])
		st.Nodes = append(st.Nodes, strings.TrimSpace(peer+": "+strings.Join(peerTopics[peer], " ")))
	}
	slices.Sort(st.Topics)
	slices.Sort(st.Debug)
	if st.Topics == nil {
		st.Topics = []string{}
	}
	if st.Nodes == nil {
		st.Nodes = []string{}
	}
	if st.Debug == nil {
		st.Debug = []string{}
	}
	return st
}

// TestRegistrationDBAgainstModel runs random command sequences, with topics
// of over 128 channels and of more producers than fit their records, and
// ephemeral topics and channels coming and going, and compares everything
// the store shows with the model after each step.
func TestRegistrationDBAgainstModel(t *testing.T) {
	const channelNames = 260
	topics := []string{"t", "e#ephemeral"}
	channel := func(r *rand.Rand) string {
		n := r.IntN(channelNames)
		if n%3 == 0 {
			return "c" + strconv.Itoa(n) + "#ephemeral"
		}
		return "c" + strconv.Itoa(n)
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0))
			db, _ := newClockedDB()
			s := newDBScript(db)
			m := &storeModel{peers: map[string]bool{}, topics: map[string]*modelTopic{}}
			most, mostProducers := 0, 0 // channels and producers of the widest topics seen
			for step := 0; step < 3000; step++ {
				peer := string(rune('a' + r.IntN(6)))
				topic := topics[r.IntN(len(topics))]
				var cmd string
				switch op := r.IntN(1000); {
				case op < 500:
					cmd = peer + " REGISTER " + topic + " " + channel(r)
				case op < 540:
					cmd = peer + " REGISTER " + topic
				case op < 760:
					cmd = peer + " UNREGISTER " + topic + " " + channel(r)
				case op < 790:
					cmd = peer + " UNREGISTER " + topic
				case op < 810:
					cmd = peer + " CLOSE"
				case op < 830:
					cmd = "DELETE " + topic + " " + channel(r)
				case op < 831:
					cmd = "DELETE " + topic
				case op < 930:
					cmd = "CREATE " + topic + " " + channel(r)
				default:
					cmd = peer + " PING"
				}
				s.run(t, cmd)
				m.apply(cmd)
				want := m.state()
				if got := dbSnapshot(t, db); !reflect.DeepEqual(got, want) {
					t.Fatalf("after step %d %q:\n got %+v\nwant %+v", step, cmd, got, want)
				}
				for _, cs := range want.Channels {
					most = max(most, len(cs))
				}
				for _, ps := range want.Producers {
					mostProducers = max(mostProducers, len(ps))
				}
			}
			if mostProducers <= inlineProducers {
				t.Errorf("no topic had more than %d producers (most: %d); the test missed producer overflow", inlineProducers, mostProducers)
			}
			if most <= 128 {
				t.Errorf("no topic reached more than 128 channels (most: %d); the test missed the wide channel sets", most)
			}
		})
	}
}

// Topics whose names hash alike share a chain in their shard's index; each
// stays findable, and removal from any place in the chain keeps the rest.
func TestShardHashChain(t *testing.T) {
	const h = 42
	names := []string{"a", "b", "c", "d"}
	for _, removeOrder := range [][]string{{"a", "b", "c", "d"}, {"d", "c", "b", "a"}, {"b", "d", "a", "c"}} {
		t.Run(strings.Join(removeOrder, ""), func(t *testing.T) {
			var s shard
			s.init()
			slots := map[string]int32{}
			for _, name := range names {
				slots[name] = s.create(h, name)
			}
			gone := map[string]bool{}
			for _, victim := range removeOrder {
				s.remove(h, slots[victim])
				gone[victim] = true
				for _, name := range names {
					want := slots[name]
					if gone[name] {
						want = noSlot
					}
					test.Equal(t, want, s.find(h, name), fmt.Sprintf("find(%s) after removing %v", name, removeOrder))
				}
			}
			test.Equal(t, 0, len(s.index), "index entries left")
			test.Equal(t, len(names), len(s.freeTopics), "free slots")
		})
	}
}

// A peer holds several topics in each shard; leaving them in any order
// keeps its per-shard index right, which checkDBInvariants verifies.
func TestRegistrationDBManyTopicsPerShard(t *testing.T) {
	db, _ := newClockedDB()
	s := newDBScript(db)
	const topics = 300 // about 5 per shard
	for i := range topics {
		s.run(t, fmt.Sprintf("a REGISTER t%d c", i), fmt.Sprintf("b REGISTER t%d", i))
	}
	checkStore(t, db)
	r := rand.New(rand.NewPCG(7, 7))
	for n, i := range r.Perm(topics) {
		switch n % 3 {
		case 0:
			s.run(t, fmt.Sprintf("a UNREGISTER t%d", i))
		case 1:
			s.run(t, fmt.Sprintf("DELETE t%d", i))
		default:
			s.run(t, fmt.Sprintf("b UNREGISTER t%d", i), fmt.Sprintf("a UNREGISTER t%d", i))
		}
		checkStore(t, db)
	}
	// b stays only in the topics a alone left.
	test.Equal(t, Stats{Peers: 2, Topics: topics - topics/3, Channels: topics - topics/3, Registrations: 2 + topics/3}, db.Stats(), "Stats at the end")
}
