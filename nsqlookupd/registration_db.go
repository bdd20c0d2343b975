package nsqlookupd

import (
	"cmp"
	"math/bits"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
)

// PeerInfo describes an identified nsqd connection: what it sent in
// IDENTIFY, plus the connection's remote address, which is its identity.
type PeerInfo struct {
	// ID identifies the peer; it is the connection's remote ip:port.
	ID               string `json:"-"`
	RemoteAddress    string `json:"remote_address"`
	Hostname         string `json:"hostname"`
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
	TopologyZone     string `json:"topology_zone"`
	TopologyRegion   string `json:"topology_region"`
}

// NodeInfo is one identified peer as listed by /nodes: its PeerInfo and the
// topics it is registered in, in sorted order, with whether the peer is
// currently tombstoned in each.
type NodeInfo struct {
	PeerInfo
	Topics     []string
	Tombstones []bool
}

// DebugProducer is one peer's entry in one registration, as /debug shows it.
type DebugProducer struct {
	PeerInfo
	LastUpdate   int64
	Tombstoned   bool
	TombstonedAt int64
}

// DebugRegistration is one non-empty registration and its peers.
type DebugRegistration struct {
	Category, Key, SubKey string
	Producers             []DebugProducer
}

// Stats counts what the store holds.
type Stats struct {
	Peers    int // identified peers (the client registration)
	Topics   int // topic registrations
	Channels int // channel registrations
	// Registrations counts peer memberships of all registrations: one per
	// identified peer, plus one per peer in each topic and channel.
	Registrations int
}

// shardCount splits the topic space so that whole-store scans (/topics,
// /nodes, /debug, a peer's disconnect) take each lock for a bounded share of
// the work instead of stalling every writer at once.
const shardCount = 64

// zeroTimeUnixNano is time.Time{}.UnixNano(), reported as tombstoned_at for a
// producer never tombstoned.
var zeroTimeUnixNano = time.Time{}.UnixNano()

// RegistrationDB maps registrations (client, topic T, channel T C) to the
// peers that announced them.
//
// Locking: peersMu and the shards' mu are never held together, and no
// operation holds two shards at once, so there is no lock order to keep.
// Every reader copies what it needs under a lock and works on the copy
// after; whole-store scans take one shard at a time.
type RegistrationDB struct {
	inactiveTimeout   time.Duration
	tombstoneLifetime time.Duration
	now               func() time.Time

	// peersMu guards peers, the "client" registration.
	peersMu sync.RWMutex
	peers   map[string]*peerEntry

	shards [shardCount]shard

	// topicsGen changes whenever any shard's topic set changes; topicsCache
	// holds the sorted topic list built at some generation.
	topicsGen   atomic.Uint64
	topicsCache atomic.Pointer[namesCache]

	topicCount   atomic.Int64
	channelCount atomic.Int64
	// memberships counts peers in topic and channel registrations.
	memberships atomic.Int64
	// inactiveFiltered counts peers left out of answers for inactivity.
	inactiveFiltered atomic.Uint64
	peerSeq          atomic.Uint64
}

type namesCache struct {
	gen   uint64
	names []string
}

// shard holds the topics whose names hash to it, and for each peer the
// topics of the shard it is in.
type shard struct {
	// mu guards topics, byPeer and everything reachable from them, except
	// topicEntry.lastTombstonedAt, which is atomic.
	mu     sync.RWMutex
	topics map[string]*topicEntry
	byPeer map[*peerEntry][]*topicEntry
	// channelNames holds the names of the channels of the shard's topics.
	channelNames nameTable
}

// nameTable interns channel names, counting references. The same few names
// recur across topics, and a channel that holds an ID instead of a string
// has no pointer for the garbage collector to trace.
type nameTable struct {
	ids   map[string]uint32
	names []string
	refs  []int32
	free  []uint32
}

// acquire returns the ID of name, adding a reference.
func (nt *nameTable) acquire(name string) uint32 {
	if id, ok := nt.ids[name]; ok {
		nt.refs[id]++
		return id
	}
	name = strings.Clone(name)
	var id uint32
	if n := len(nt.free); n > 0 {
		id = nt.free[n-1]
		nt.free = nt.free[:n-1]
		nt.names[id], nt.refs[id] = name, 1
	} else {
		id = uint32(len(nt.names))
		nt.names = append(nt.names, name)
		nt.refs = append(nt.refs, 1)
	}
	if nt.ids == nil {
		nt.ids = make(map[string]uint32)
	}
	nt.ids[name] = id
	return id
}

// release drops a reference to ID id, forgetting the name with the last.
func (nt *nameTable) release(id uint32) {
	if nt.refs[id]--; nt.refs[id] == 0 {
		delete(nt.ids, nt.names[id])
		nt.names[id] = ""
		nt.free = append(nt.free, id)
	}
}

// lookup returns the ID of name, if it has one.
func (nt *nameTable) lookup(name string) (uint32, bool) {
	id, ok := nt.ids[name]
	return id, ok
}

// topicEntry is a topic registration, holding its members by value. A store
// of a million registrations is mostly these, and what the garbage collector
// has to trace grows with the number of objects and pointers in it: so a
// topic with a few producers and channels is one object, its name and its
// first producers and channels inline, and membership is recorded in bit
// sets rather than in objects of its own. Producers and channels are kept
// in slices rather than maps; removal is by index (swap with the last).
type topicEntry struct {
	producers []topicProducer
	// channels are held by value: no object of their own to trace.
	// Producers refer to them by index.
	channels []channelEntry
	// lastTombstonedAt is the unix-ns time of the topic's latest tombstone,
	// 0 if none: while it is older than the tombstone lifetime, readers know
	// no producer is tombstoned without looking.
	lastTombstonedAt atomic.Int64
	// shard is the index of the shard the topic is filed in.
	shard uint8
	// nameLen is the length of the name in nameBuf; a longer name than
	// nameBuf holds is in longName instead.
	nameLen  uint8
	longName string

	// Inline storage for the name and the first producers and channels,
	// sized so that the entry fills the 320-byte allocation class.
	nameBuf     [maxInlineName]byte
	producerBuf [inlineProducers]topicProducer
	channelBuf  [inlineChannels]channelEntry
}

const (
	maxInlineName   = 64 // topic names are at most 64 bytes
	inlineProducers = 2
	inlineChannels  = 8
)

// topicProducer is one peer's membership of a topic, and of channels of
// that topic: a peer is in channel T C only while it is in topic T, since
// REGISTER T C joins both and UNREGISTER T leaves both.
type topicProducer struct {
	peer *peerEntry
	// tombstonedAt is the unix-ns time of the last tombstone, 0 if none.
	tombstonedAt int64
	// peerIndex is the topic's position in its shard's byPeer[peer].
	peerIndex int32
	// channels holds the indexes of the topic's channels the peer is in.
	channels channelSet
}

// newTopicEntry returns an empty topic registration named name, filed in
// shard number shardIndex. It holds its own copy of the name, so that it
// does not pin the command line the name was cut from.
func newTopicEntry(name string, shardIndex int) *topicEntry {
	t := &topicEntry{shard: uint8(shardIndex)}
	if len(name) <= maxInlineName {
		t.nameLen = uint8(copy(t.nameBuf[:], name))
	} else {
		t.longName = strings.Clone(name)
	}
	t.producers = t.producerBuf[:0]
	t.channels = t.channelBuf[:0]
	return t
}

// name returns the topic's name. It is built on each call rather than kept
// in a field, where it would be a pointer for the garbage collector to trace;
// nameBuf is never written again after creation, so it stays immutable.
func (t *topicEntry) name() string {
	if t.longName != "" {
		return t.longName
	}
	return unsafe.String(&t.nameBuf[0], int(t.nameLen))
}

// producerIndex returns the index of the peer in the topic's producers, -1
// if it is not in.
func (t *topicEntry) producerIndex(p *peerEntry) int {
	for i := range t.producers {
		if t.producers[i].peer == p {
			return i
		}
	}
	return -1
}

// channelIndex returns the index of the named channel registration, -1 if
// there is none.
func (t *topicEntry) channelIndex(names *nameTable, name string) int {
	if id, ok := names.lookup(name); ok {
		for i := range t.channels {
			if t.channels[i].name == id {
				return i
			}
		}
	}
	return -1
}

// removeChannel deletes channel ci, which no producer may hold, moving the
// last channel into its place and renumbering that one in every producer.
func (t *topicEntry) removeChannel(names *nameTable, ci int) {
	names.release(t.channels[ci].name)
	last := len(t.channels) - 1
	t.channels = removeAt(t.channels, ci, func(channelEntry, int) {})
	if ci != last {
		for j := range t.producers {
			t.producers[j].channels.move(last, ci)
		}
	}
}

// dropChannelIfEphemeralEmpty deletes channel ci if it is ephemeral and has
// no peers left, reporting whether it did.
func (t *topicEntry) dropChannelIfEphemeralEmpty(names *nameTable, ci int) bool {
	c := &t.channels[ci]
	if c.peers > 0 || !protocol.IsEphemeral(names.names[c.name]) {
		return false
	}
	t.removeChannel(names, ci)
	return true
}

// leaveAllChannels takes producer i out of every channel of the topic,
// deleting the ephemeral ones it leaves empty. It returns how many channels
// it left and how many it deleted.
func (t *topicEntry) leaveAllChannels(names *nameTable, i int) (left, dropped int) {
	var buf [16]int
	members := t.producers[i].channels.appendIndexes(buf[:0])
	t.producers[i].channels = channelSet{}
	// Highest index first: deleting channel ci moves the last channel into
	// ci, and every channel above ci is already done.
	for k := len(members) - 1; k >= 0; k-- {
		ci := members[k]
		t.channels[ci].peers--
		if t.dropChannelIfEphemeralEmpty(names, ci) {
			dropped++
		}
	}
	return len(members), dropped
}

// removeAt removes element i of s by moving the last element into its
// place, telling that element its new index, and returns the shorter slice.
func removeAt[T any](s []T, i int, reindex func(moved T, i int)) []T {
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
		reindex(s[i], i)
	}
	var zero T
	s[last] = zero
	return s[:last]
}

// channelEntry is a channel registration. Its members are recorded on
// their producers (topicProducer.channels); the channel only counts them,
// which is all that ephemeral cleanup needs.
type channelEntry struct {
	name  uint32 // ID in the shard's channelNames
	peers int32
}

// channelSet is a set of channel indexes: a bit mask, with more words only
// for topics of over 64 channels.
type channelSet struct {
	low  uint64
	high []uint64 // bits 64 and up
}

func (cs *channelSet) has(i int) bool {
	if i < 64 {
		return cs.low&(1<<i) != 0
	}
	w := i/64 - 1
	return w < len(cs.high) && cs.high[w]&(1<<(i%64)) != 0
}

func (cs *channelSet) add(i int) {
	if i < 64 {
		cs.low |= 1 << i
		return
	}
	w := i/64 - 1
	for len(cs.high) <= w {
		cs.high = append(cs.high, 0)
	}
	cs.high[w] |= 1 << (i % 64)
}

func (cs *channelSet) remove(i int) {
	if i < 64 {
		cs.low &^= 1 << i
		return
	}
	if w := i/64 - 1; w < len(cs.high) {
		cs.high[w] &^= 1 << (i % 64)
	}
}

// move renumbers member from as to, which must not be a member.
func (cs *channelSet) move(from, to int) {
	if cs.has(from) {
		cs.remove(from)
		cs.add(to)
	}
}

// appendIndexes appends the members to dst in increasing order.
func (cs *channelSet) appendIndexes(dst []int) []int {
	for b := cs.low; b != 0; b &= b - 1 {
		dst = append(dst, bits.TrailingZeros64(b))
	}
	for w, word := range cs.high {
		for b := word; b != 0; b &= b - 1 {
			dst = append(dst, 64*(w+1)+bits.TrailingZeros64(b))
		}
	}
	return dst
}

type peerEntry struct {
	// seq numbers peers in order of arrival.
	seq        uint64
	info       PeerInfo
	lastUpdate atomic.Int64
	removed    atomic.Bool

	// topicsGen changes whenever the peer's topic set changes;
	// sortedTopics caches its topics in name order for /nodes.
	topicsGen    atomic.Uint64
	sortedTopics atomic.Pointer[peerTopicsCache]
}

type peerTopicsCache struct {
	gen    uint64
	topics []*topicEntry
}

// NewRegistrationDB returns an empty store. Peers whose last IDENTIFY or PING
// is older than inactiveTimeout are left out of Lookup and Nodes; a
// tombstone hides a producer from Lookup for tombstoneLifetime.
func NewRegistrationDB(inactiveTimeout, tombstoneLifetime time.Duration) *RegistrationDB {
	db := &RegistrationDB{
		inactiveTimeout:   inactiveTimeout,
		tombstoneLifetime: tombstoneLifetime,
		now:               time.Now,
		peers:             make(map[string]*peerEntry),
	}
	for i := range db.shards {
		db.shards[i].topics = make(map[string]*topicEntry)
		db.shards[i].byPeer = make(map[*peerEntry][]*topicEntry)
	}
	return db
}

// shardFor hashes a topic name (FNV-1a) to its shard.
func (db *RegistrationDB) shardFor(topic string) *shard {
	return &db.shards[shardIndex(topic)]
}

func shardIndex(topic string) int {
	h := uint32(2166136261)
	for i := 0; i < len(topic); i++ {
		h ^= uint32(topic[i])
		h *= 16777619
	}
	return int(h % shardCount)
}

// AddPeer adds an identified peer to the client registration, with its
// last-seen time set to now, and returns the handle its connection uses for
// every later call.
func (db *RegistrationDB) AddPeer(info PeerInfo) *peerEntry {
	p := &peerEntry{seq: db.peerSeq.Add(1), info: info}
	p.lastUpdate.Store(db.now().UnixNano())
	db.peersMu.Lock()
	db.peers[info.ID] = p
	db.peersMu.Unlock()
	return p
}

// Touch sets the peer's last-seen time to now and returns the time since the
// previous one.
func (db *RegistrationDB) Touch(p *peerEntry) time.Duration {
	now := db.now().UnixNano()
	prev := p.lastUpdate.Swap(now)
	return time.Duration(now - prev)
}

// Register adds the peer to topic T and, when channel is not empty, to
// channel T C, reporting which registrations were new for the peer.
func (db *RegistrationDB) Register(p *peerEntry, topic, channel string) (topicAdded, channelAdded bool) {
	s := db.shardFor(topic)
	s.mu.Lock()
	t := s.topics[topic]
	if t == nil {
		t = db.createTopicLocked(s, topic)
	}
	i := t.producerIndex(p)
	if i < 0 {
		i = len(t.producers)
		t.producers = append(t.producers, topicProducer{peer: p, peerIndex: int32(len(s.byPeer[p]))})
		s.byPeer[p] = append(s.byPeer[p], t)
		p.topicsGen.Add(1)
		topicAdded = true
	}
	if channel != "" {
		ci := t.channelIndex(&s.channelNames, channel)
		if ci < 0 {
			ci = db.createChannelLocked(s, t, channel)
		}
		if members := &t.producers[i].channels; !members.has(ci) {
			members.add(ci)
			t.channels[ci].peers++
			channelAdded = true
		}
	}
	s.mu.Unlock()
	if topicAdded {
		db.memberships.Add(1)
	}
	if channelAdded {
		db.memberships.Add(1)
	}
	return topicAdded, channelAdded
}

// UnregisterChannel removes the peer from channel T C, deleting an ephemeral
// channel left without peers. It reports whether the peer was there.
func (db *RegistrationDB) UnregisterChannel(p *peerEntry, topic, channel string) bool {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return false
	}
	ci := t.channelIndex(&s.channelNames, channel)
	i := t.producerIndex(p)
	if ci < 0 || i < 0 || !t.producers[i].channels.has(ci) {
		return false
	}
	t.producers[i].channels.remove(ci)
	t.channels[ci].peers--
	db.memberships.Add(-1)
	if t.dropChannelIfEphemeralEmpty(&s.channelNames, ci) {
		db.channelCount.Add(-1)
	}
	return true
}

// UnregisterTopic removes the peer from topic T and from every channel of T,
// deleting ephemeral registrations left without peers. It returns the
// channels the peer was removed from and whether it was in the topic.
func (db *RegistrationDB) UnregisterTopic(p *peerEntry, topic string) (channels []string, removed bool) {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return nil, false
	}
	if i := t.producerIndex(p); i >= 0 {
		for _, ci := range t.producers[i].channels.appendIndexes(nil) {
			channels = append(channels, s.channelNames.names[t.channels[ci].name])
		}
		db.removeProducerLocked(s, t, i)
		removed = true
	}
	db.dropTopicIfEphemeralEmptyLocked(s, t)
	slices.Sort(channels)
	return channels, removed
}

// RemovedRegistrations counts what a disconnect took away.
type RemovedRegistrations struct {
	Topics, Channels int
}

// RemovePeer removes a disconnected peer from every registration it was in,
// deleting ephemeral registrations left without peers. Its cost is
// proportional to the peer's own registrations.
func (db *RegistrationDB) RemovePeer(p *peerEntry) RemovedRegistrations {
	p.removed.Store(true)
	db.peersMu.Lock()
	if db.peers[p.info.ID] == p {
		delete(db.peers, p.info.ID)
	}
	db.peersMu.Unlock()

	var removed RemovedRegistrations
	// Start at a shard of the peer's own, so that many peers leaving at
	// once spread over the shards instead of queueing on each in turn.
	first := int(p.seq % shardCount)
	for n := 0; n < shardCount; n++ {
		s := &db.shards[(first+n)%shardCount]
		s.mu.Lock()
		for _, t := range s.byPeer[p] {
			i := t.producerIndex(p)
			left, dropped := t.leaveAllChannels(&s.channelNames, i)
			t.producers = removeAt(t.producers, i, func(topicProducer, int) {})
			removed.Topics++
			removed.Channels += left
			db.channelCount.Add(-int64(dropped))
			db.dropTopicIfEphemeralEmptyLocked(s, t)
		}
		delete(s.byPeer, p)
		s.mu.Unlock()
	}
	p.topicsGen.Add(1)
	db.memberships.Add(-int64(removed.Topics + removed.Channels))
	return removed
}

// CreateTopic registers topic T with no producers; it reports whether it was
// new.
func (db *RegistrationDB) CreateTopic(topic string) bool {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics[topic] != nil {
		return false
	}
	db.createTopicLocked(s, topic)
	return true
}

// CreateChannel registers channel T C and topic T; it reports whether the
// channel was new.
func (db *RegistrationDB) CreateChannel(topic, channel string) bool {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		t = db.createTopicLocked(s, topic)
	}
	if t.channelIndex(&s.channelNames, channel) >= 0 {
		return false
	}
	db.createChannelLocked(s, t, channel)
	return true
}

// DeleteTopic deletes topic T and all of its channel registrations, with
// every peer's membership of them. It returns the deleted channel names and
// whether the topic existed.
func (db *RegistrationDB) DeleteTopic(topic string) (channels []string, existed bool) {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return nil, false
	}
	for i := range t.channels {
		channels = append(channels, s.channelNames.names[t.channels[i].name])
	}
	for i := len(t.producers) - 1; i >= 0; i-- {
		db.removeProducerLocked(s, t, i)
	}
	db.deleteTopicLocked(s, t)
	slices.Sort(channels)
	return channels, true
}

// DeleteChannel deletes channel T C; it reports whether it existed.
func (db *RegistrationDB) DeleteChannel(topic, channel string) bool {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return false
	}
	ci := t.channelIndex(&s.channelNames, channel)
	if ci < 0 {
		return false
	}
	for j := range t.producers {
		if members := &t.producers[j].channels; members.has(ci) {
			members.remove(ci)
			db.memberships.Add(-1)
		}
	}
	t.removeChannel(&s.channelNames, ci)
	db.channelCount.Add(-1)
	return true
}

// Tombstone marks, at now, every producer of topic T whose
// broadcast_address:http_port is node. node may be "host:port",
// "[v6host]:port" or the unbracketed "v6host:port". It returns the peers
// tombstoned.
func (db *RegistrationDB) Tombstone(topic, node string) []PeerInfo {
	host, port, splitErr := net.SplitHostPort(node)
	now := db.now().UnixNano()
	var marked []PeerInfo
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return nil
	}
	for j := range t.producers {
		tp := &t.producers[j]
		info := &tp.peer.info
		httpPort := strconv.Itoa(info.HTTPPort)
		matches := node == info.BroadcastAddress+":"+httpPort ||
			(splitErr == nil && host == info.BroadcastAddress && port == httpPort)
		if matches {
			tp.tombstonedAt = now
			marked = append(marked, *info)
		}
	}
	if len(marked) > 0 && now > t.lastTombstonedAt.Load() {
		// Tombstones of one topic are serialized by the shard lock.
		t.lastTombstonedAt.Store(now)
	}
	return marked
}

// Topics returns every registered topic, sorted. The slice is shared with
// other callers and must not be modified.
func (db *RegistrationDB) Topics() []string {
	names, _ := db.TopicsSnapshot()
	return names
}

// TopicsSnapshot is Topics plus the generation of the topic set it
// reflects: equal generations mean equal lists, so callers may cache
// anything derived from the list under its generation.
func (db *RegistrationDB) TopicsSnapshot() ([]string, uint64) {
	gen := db.topicsGen.Load()
	if c := db.topicsCache.Load(); c != nil && c.gen == gen {
		return c.names, gen
	}
	names := make([]string, 0, db.topicCount.Load())
	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		for name := range s.topics {
			names = append(names, name)
		}
		s.mu.RUnlock()
	}
	slices.Sort(names)
	// A change during the scan bumped topicsGen past gen, so this list is
	// never mistaken for a newer one.
	db.topicsCache.Store(&namesCache{gen: gen, names: names})
	return names, gen
}

// Channels returns the sorted channel names of topic T (empty if none).
func (db *RegistrationDB) Channels(topic string) []string {
	s := db.shardFor(topic)
	s.mu.RLock()
	t := s.topics[topic]
	var names []string
	if t != nil {
		names = make([]string, 0, len(t.channels))
		for _, c := range t.channels {
			names = append(names, s.channelNames.names[c.name])
		}
	}
	s.mu.RUnlock()
	if names == nil {
		return []string{}
	}
	slices.Sort(names)
	return names
}

// Lookup returns the sorted channels of topic T and its producers that are
// active and not tombstoned, sorted by broadcast address, TCP port and
// remote address. found is false when topic T is not registered.
func (db *RegistrationDB) Lookup(topic string) (channels []string, producers []PeerInfo, found bool) {
	return db.LookupAppend(topic, nil, nil)
}

// LookupAppend is Lookup appending to the given slices, so a caller can
// reuse them.
func (db *RegistrationDB) LookupAppend(topic string, channels []string, producers []PeerInfo) ([]string, []PeerInfo, bool) {
	now := db.now().UnixNano()
	s := db.shardFor(topic)
	s.mu.RLock()
	t := s.topics[topic]
	if t == nil {
		s.mu.RUnlock()
		return nil, nil, false
	}
	if channels == nil {
		channels = make([]string, 0, len(t.channels))
	}
	for _, c := range t.channels {
		channels = append(channels, s.channelNames.names[c.name])
	}
	if producers == nil {
		producers = make([]PeerInfo, 0, len(t.producers))
	}
	recentTombstone := db.recentTombstone(t, now)
	for j := range t.producers {
		tp := &t.producers[j]
		if db.isActive(tp.peer, now) && !(recentTombstone && db.isTombstoned(tp.tombstonedAt, now)) {
			producers = append(producers, tp.peer.info)
		}
	}
	s.mu.RUnlock()
	slices.Sort(channels)
	slices.SortFunc(producers, comparePeers)
	return channels, producers, true
}

func comparePeers(a, b PeerInfo) int {
	if c := cmp.Compare(a.BroadcastAddress, b.BroadcastAddress); c != 0 {
		return c
	}
	if c := cmp.Compare(a.TCPPort, b.TCPPort); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Nodes returns every active identified peer, tombstoned or not, with its
// topics in sorted order, sorted like Lookup's producers.
func (db *RegistrationDB) Nodes() []NodeInfo {
	now := db.now().UnixNano()
	db.peersMu.RLock()
	peers := make([]*peerEntry, 0, len(db.peers))
	for _, p := range db.peers {
		if db.isActive(p, now) {
			peers = append(peers, p)
		}
	}
	db.peersMu.RUnlock()
	slices.SortFunc(peers, func(a, b *peerEntry) int { return comparePeers(a.info, b.info) })

	nodes := make([]NodeInfo, len(peers))
	for i, p := range peers {
		topics := db.peerTopics(p)
		node := NodeInfo{
			PeerInfo:   p.info,
			Topics:     make([]string, len(topics)),
			Tombstones: make([]bool, len(topics)),
		}
		for j, t := range topics {
			node.Topics[j] = t.name()
			node.Tombstones[j] = db.recentTombstone(t, now) && db.peerTombstoned(t, p, now)
		}
		nodes[i] = node
	}
	return nodes
}

// peerTopics returns the peer's topics sorted by name, rebuilding the peer's
// cached order only when its topic set has changed. Topic names never
// change, so the entries' names are safe to read without the shard locks.
func (db *RegistrationDB) peerTopics(p *peerEntry) []*topicEntry {
	gen := p.topicsGen.Load()
	if c := p.sortedTopics.Load(); c != nil && c.gen == gen {
		return c.topics
	}
	var topics []*topicEntry
	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		topics = append(topics, s.byPeer[p]...)
		s.mu.RUnlock()
	}
	slices.SortFunc(topics, func(a, b *topicEntry) int { return cmp.Compare(a.name(), b.name()) })
	p.sortedTopics.Store(&peerTopicsCache{gen: gen, topics: topics})
	return topics
}

// peerTombstoned reports whether the peer is tombstoned in topic t.
func (db *RegistrationDB) peerTombstoned(t *topicEntry, p *peerEntry, now int64) bool {
	s := &db.shards[t.shard]
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := t.producerIndex(p)
	return i >= 0 && db.isTombstoned(t.producers[i].tombstonedAt, now)
}

// Debug returns every registration that has peers, with no activity or
// tombstone filtering, sorted by category, key and subkey.
func (db *RegistrationDB) Debug() []DebugRegistration {
	var regs []DebugRegistration
	db.peersMu.RLock()
	if len(db.peers) > 0 {
		reg := DebugRegistration{Category: "client"}
		for _, p := range db.peers {
			reg.Producers = append(reg.Producers, debugProducer(p, 0))
		}
		regs = append(regs, reg)
	}
	db.peersMu.RUnlock()

	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		for _, t := range s.topics {
			if len(t.producers) > 0 {
				reg := DebugRegistration{Category: "topic", Key: t.name()}
				for j := range t.producers {
					reg.Producers = append(reg.Producers, debugProducer(t.producers[j].peer, t.producers[j].tombstonedAt))
				}
				regs = append(regs, reg)
			}
			for ci := range t.channels {
				c := &t.channels[ci]
				if c.peers > 0 {
					reg := DebugRegistration{Category: "channel", Key: t.name(), SubKey: s.channelNames.names[c.name]}
					for j := range t.producers {
						if t.producers[j].channels.has(ci) {
							reg.Producers = append(reg.Producers, debugProducer(t.producers[j].peer, 0))
						}
					}
					regs = append(regs, reg)
				}
			}
		}
		s.mu.RUnlock()
	}
	for _, reg := range regs {
		slices.SortFunc(reg.Producers, func(a, b DebugProducer) int { return comparePeers(a.PeerInfo, b.PeerInfo) })
	}
	slices.SortFunc(regs, func(a, b DebugRegistration) int {
		return cmp.Or(cmp.Compare(a.Category, b.Category), cmp.Compare(a.Key, b.Key), cmp.Compare(a.SubKey, b.SubKey))
	})
	return regs
}

func debugProducer(p *peerEntry, tombstonedAt int64) DebugProducer {
	d := DebugProducer{
		PeerInfo:     p.info,
		LastUpdate:   p.lastUpdate.Load(),
		Tombstoned:   tombstonedAt != 0,
		TombstonedAt: tombstonedAt,
	}
	if tombstonedAt == 0 {
		d.TombstonedAt = zeroTimeUnixNano
	}
	return d
}

// CheckLocks takes and releases every lock of the store in turn. It blocks
// while any of them is wedged, which is what a liveness watchdog wants to
// notice.
func (db *RegistrationDB) CheckLocks() {
	db.peersMu.RLock()
	db.peersMu.RUnlock()
	for i := range db.shards {
		db.shards[i].mu.RLock()
		db.shards[i].mu.RUnlock()
	}
}

// Stats returns the current counts.
func (db *RegistrationDB) Stats() Stats {
	db.peersMu.RLock()
	peers := len(db.peers)
	db.peersMu.RUnlock()
	return Stats{
		Peers:         peers,
		Topics:        int(db.topicCount.Load()),
		Channels:      int(db.channelCount.Load()),
		Registrations: peers + int(db.memberships.Load()),
	}
}

// InactiveFiltered returns how many times a peer was left out of a Lookup or
// Nodes answer because it had been silent for too long.
func (db *RegistrationDB) InactiveFiltered() uint64 {
	return db.inactiveFiltered.Load()
}

func (db *RegistrationDB) isActive(p *peerEntry, now int64) bool {
	if p.removed.Load() {
		return false
	}
	if time.Duration(now-p.lastUpdate.Load()) > db.inactiveTimeout {
		db.inactiveFiltered.Add(1)
		return false
	}
	return true
}

// isTombstoned reports whether a tombstone set at unix-ns time at (0 for
// none) is still in force at now.
func (db *RegistrationDB) isTombstoned(at, now int64) bool {
	return at != 0 && time.Duration(now-at) < db.tombstoneLifetime
}

// recentTombstone reports whether any producer of t may be tombstoned at
// now, which is what makes it worth looking at each one.
func (db *RegistrationDB) recentTombstone(t *topicEntry, now int64) bool {
	return db.isTombstoned(t.lastTombstonedAt.Load(), now)
}

func (db *RegistrationDB) createTopicLocked(s *shard, name string) *topicEntry {
	t := newTopicEntry(name, shardIndex(name))
	s.topics[t.name()] = t
	db.topicCount.Add(1)
	db.topicsGen.Add(1)
	return t
}

// createChannelLocked adds channel name to t, a topic of shard s, and
// returns its index.
func (db *RegistrationDB) createChannelLocked(s *shard, t *topicEntry, name string) int {
	t.channels = append(t.channels, channelEntry{name: s.channelNames.acquire(name)})
	db.channelCount.Add(1)
	return len(t.channels) - 1
}

func (db *RegistrationDB) deleteTopicLocked(s *shard, t *topicEntry) {
	for _, c := range t.channels {
		s.channelNames.release(c.name)
	}
	delete(s.topics, t.name())
	db.topicCount.Add(-1)
	db.channelCount.Add(-int64(len(t.channels)))
	db.topicsGen.Add(1)
}

// removeProducerLocked takes producer i out of topic t and t out of the
// peer's index in shard s (both swap-removes, keeping indexes right).
func (db *RegistrationDB) removeProducerLocked(s *shard, t *topicEntry, i int) {
	p := t.producers[i].peer
	left, dropped := t.leaveAllChannels(&s.channelNames, i)
	db.memberships.Add(-1 - int64(left))
	db.channelCount.Add(-int64(dropped))
	topics := removeAt(s.byPeer[p], int(t.producers[i].peerIndex), func(moved *topicEntry, k int) {
		moved.producers[moved.producerIndex(p)].peerIndex = int32(k)
	})
	if len(topics) == 0 {
		delete(s.byPeer, p)
	} else {
		s.byPeer[p] = topics
	}
	t.producers = removeAt(t.producers, i, func(topicProducer, int) {})
	p.topicsGen.Add(1)
}

// dropTopicIfEphemeralEmptyLocked deletes an ephemeral topic left without
// producers, with its channels: none of them can have peers, as a peer in a
// channel is always in its topic.
func (db *RegistrationDB) dropTopicIfEphemeralEmptyLocked(s *shard, t *topicEntry) {
	if len(t.producers) == 0 && protocol.IsEphemeral(t.name()) && s.topics[t.name()] == t {
		db.deleteTopicLocked(s, t)
	}
}
