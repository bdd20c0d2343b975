// Package registry is nsqlookupd's registration store: which identified
// nsqd peers announced which topics and channels, with their tombstones and
// last-seen times.
//
// A Store is safe for concurrent use. Its answers are copies (or, for the
// streaming walks, values valid during a callback); nothing it returns
// points into its state. Costs: REGISTER, UNREGISTER and lookups of one
// topic cost the same however many topics the store holds and however many
// channels the topic has; a disconnect costs O(the peer's registrations);
// the whole-store answers (Topics, Nodes, Debug) take one shard lock at a
// time, for one topic's or one peer's share of the work.
package registry

import (
	"errors"
	"hash/maphash"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Config sets a Store's timeouts and limits.
type Config struct {
	// InactiveTimeout: a peer whose last IDENTIFY or PING is older is left
	// out of Lookup and Nodes (not deleted).
	InactiveTimeout time.Duration
	// TombstoneLifetime is how long a tombstone hides a producer from
	// Lookup.
	TombstoneLifetime time.Duration
	// MaxRegistrations caps the distinct topic and channel registrations
	// in the store; 0 means unlimited.
	MaxRegistrations int
	// MaxPeerRegistrations caps the topic and channel memberships one peer
	// holds; 0 means unlimited.
	MaxPeerRegistrations int
	// Clock reads time; nil means SystemClock().
	Clock Clock
}

// Errors of Register, CreateTopic and CreateChannel when a limit of the
// Config would be exceeded. Nothing is changed then.
var (
	ErrStoreLimit = errors.New("the store holds MaxRegistrations registrations")
	ErrPeerLimit  = errors.New("the peer holds MaxPeerRegistrations registrations")
)

// Added reports which registrations a Register call made new for the peer.
type Added struct {
	Topic, Channel bool
}

// Removed counts what a disconnect took away.
type Removed struct {
	Topics, Channels int
}

// NodeInfo is one identified peer as Nodes lists it: its PeerInfo and the
// topics it is in, in sorted order, with whether it is currently
// tombstoned in each.
type NodeInfo struct {
	PeerInfo
	Topics     []string
	Tombstones []bool
}

// DebugProducer is one peer's entry in one registration, as Debug shows it.
type DebugProducer struct {
	PeerInfo
	// LastUpdate is the wall-clock time of the peer's last IDENTIFY or
	// PING, in Unix nanoseconds.
	LastUpdate int64
	// Tombstoned is set once the peer was tombstoned in the topic, even
	// after the tombstone's lifetime.
	Tombstoned bool
	// TombstonedAt is the wall-clock time of the tombstone in Unix
	// nanoseconds, that of the zero time.Time when there is none.
	TombstonedAt int64
}

// DebugRegistration is one registration that has peers, with them.
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

// shardCount splits the topic space so that whole-store walks take each
// lock for a bounded share of the work instead of stalling every writer.
const (
	shardBits  = 6
	shardCount = 1 << shardBits
)

// zeroTimeUnixNano is time.Time{}.UnixNano(), reported as tombstoned_at for a
// producer never tombstoned.
var zeroTimeUnixNano = time.Time{}.UnixNano()

// Store maps registrations (client, topic T, channel T C) to the peers that
// announced them.
//
// Locking: each shard's mu guards its topics; the peer table's mutex guards
// ID allocation. Operations take one of these at a time and never two, so
// there is no lock order to keep; only Check holds every shard at once, in
// index order. Readers copy what they need under a lock and work on the
// copy after. Peers are found by ID without a lock (see peerTable).
type Store struct {
	cfg   Config
	clock Clock
	seed  maphash.Seed

	peers     peerTable
	peerSeq   atomic.Uint64
	peerCount atomic.Int64

	shards [shardCount]shard

	// topicsGen changes whenever any shard's topic set changes; topicsCache
	// holds the sorted topic list built at some generation.
	topicsGen   atomic.Uint64
	topicsCache atomic.Pointer[topicList]

	// distinct counts topic plus channel registrations, reserved before
	// they are made so that MaxRegistrations holds under concurrency.
	distinct atomic.Int64
	// inactiveFiltered counts peers left out of answers for inactivity.
	inactiveFiltered atomic.Uint64
	// wallMinusMono converts monotonic readings to wall-clock ones.
	wallMinusMono atomic.Int64
}

// topicList is the sorted topic list at one generation of the topic set.
type topicList struct {
	gen   uint64
	names []string
}

// New returns an empty store.
func New(cfg Config) *Store {
	s := &Store{cfg: cfg, clock: cfg.Clock, seed: maphash.MakeSeed()}
	if s.clock == nil {
		s.clock = SystemClock()
	}
	s.wallMinusMono.Store(s.clock.Wall() - s.clock.Mono())
	for i := range s.shards {
		s.shards[i].init()
	}
	return s
}

// locate returns the hash of a topic name and its shard.
func (s *Store) locate(topic string) (uint64, *shard) {
	h := topicHash(s.seed, topic)
	return h, s.shardOf(h)
}

func (s *Store) shardOf(h uint64) *shard {
	return &s.shards[h>>(64-shardBits)]
}

// AddPeer adds an identified peer to the client registration, with its
// last-seen time set to now, and returns the handle its connection uses for
// every later call.
func (s *Store) AddPeer(info PeerInfo) *Peer {
	p := &Peer{seq: s.peerSeq.Add(1), info: info}
	p.lastSeen.Store(s.clock.Mono())
	s.peers.add(p)
	s.peerCount.Add(1)
	return p
}

// Touch sets the peer's last-seen time to now and returns the time since the
// previous one.
func (s *Store) Touch(p *Peer) time.Duration {
	now := s.clock.Mono()
	return time.Duration(now - p.lastSeen.Swap(now))
}

// Register adds the peer to topic T and, when channel is not empty, to
// channel T C, reporting which were new for the peer. Over a limit it
// returns ErrPeerLimit or ErrStoreLimit and changes nothing. Topic names
// longer than the protocol allows are not registered.
func (s *Store) Register(p *Peer, topic, channel string) (Added, error) {
	if len(topic) == 0 || len(topic) > maxTopicName || p.removed.Load() {
		return Added{}, nil
	}
	h, sh := s.locate(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	slot, pi, ci := sh.find(h, topic), -1, -1
	if slot != noSlot {
		pi = sh.producerIndex(slot, p.id)
		if channel != "" {
			ci = sh.channelIndex(slot, channel)
		}
	}
	add := Added{
		Topic:   pi < 0,
		Channel: channel != "" && (pi < 0 || ci < 0 || !sh.memberBits(slot, pi, 0).Has(ci)),
	}
	newTopic, newChannel := slot == noSlot, channel != "" && ci < 0
	if s.cfg.MaxPeerRegistrations > 0 &&
		p.registrations.Load()+count(add.Topic)+count(add.Channel) > int64(s.cfg.MaxPeerRegistrations) {
		return Added{}, ErrPeerLimit
	}
	if err := s.reserve(count(newTopic) + count(newChannel)); err != nil {
		return Added{}, err
	}
	if newTopic {
		slot = s.createTopicLocked(sh, h, topic)
	}
	if add.Topic {
		pi = s.joinTopicLocked(sh, slot, p)
	}
	if newChannel {
		ci = s.createChannelLocked(sh, slot, channel)
	}
	if add.Channel {
		sh.memberBits(slot, pi, ci).Set(ci)
		sh.channels(slot)[ci].members++
		sh.memberships++
		p.registrations.Add(1)
	}
	return add, nil
}

func count(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// reserve claims n new distinct registrations under MaxRegistrations.
func (s *Store) reserve(n int64) error {
	if n == 0 {
		return nil
	}
	if s.cfg.MaxRegistrations <= 0 {
		s.distinct.Add(n)
		return nil
	}
	for {
		cur := s.distinct.Load()
		if cur+n > int64(s.cfg.MaxRegistrations) {
			return ErrStoreLimit
		}
		if s.distinct.CompareAndSwap(cur, cur+n) {
			return nil
		}
	}
}

// UnregisterChannel removes the peer from channel T C, deleting an ephemeral
// channel left without peers. It reports whether the peer was there.
func (s *Store) UnregisterChannel(p *Peer, topic, channel string) bool {
	if p.removed.Load() {
		return false
	}
	h, sh := s.locate(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	slot := sh.find(h, topic)
	if slot == noSlot {
		return false
	}
	ci, pi := sh.channelIndex(slot, channel), sh.producerIndex(slot, p.id)
	if ci < 0 || pi < 0 || !sh.memberBits(slot, pi, 0).Clear(ci) {
		return false
	}
	p.registrations.Add(-1)
	sh.memberships--
	sh.channels(slot)[ci].members--
	s.dropChannelIfEphemeralEmptyLocked(sh, slot, ci)
	return true
}

// UnregisterTopic removes the peer from topic T and from every channel of T,
// deleting ephemeral registrations left without peers. It returns the
// channels the peer was removed from, sorted, and whether it was in the
// topic.
func (s *Store) UnregisterTopic(p *Peer, topic string) (channels []string, removed bool) {
	if p.removed.Load() {
		return nil, false
	}
	h, sh := s.locate(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	slot := sh.find(h, topic)
	if slot == noSlot {
		return nil, false
	}
	if pi := sh.producerIndex(slot, p.id); pi >= 0 {
		cs := sh.channels(slot)
		sh.memberBits(slot, pi, 0).ForEach(func(ci int) {
			channels = append(channels, sh.channelNames.names[cs[ci].nameID])
		})
		s.leaveTopicLocked(sh, slot, pi)
		removed = true
	}
	s.dropTopicIfEphemeralEmptyLocked(sh, slot)
	slices.Sort(channels)
	return channels, removed
}

// RemovePeer removes a disconnected peer from every registration it was in,
// deleting ephemeral registrations left without peers. Its cost is
// proportional to the peer's own registrations.
func (s *Store) RemovePeer(p *Peer) Removed {
	if p.removed.Swap(true) {
		return Removed{}
	}
	s.peerCount.Add(-1)
	var removed Removed
	// Start at a shard of the peer's own, so that many peers leaving at
	// once spread over the shards instead of queueing on each in turn.
	first := int(p.seq % shardCount)
	for n := range shardCount {
		sh := &s.shards[(first+n)%shardCount]
		sh.mu.Lock()
		// Last first: leaving the last topic of the list moves no other.
		if list := sh.byPeer[p.id]; list != nil {
			for len(*list) > 0 {
				slot := (*list)[len(*list)-1]
				removed.Channels += s.leaveTopicLocked(sh, slot, sh.producerIndex(slot, p.id))
				removed.Topics++
				s.dropTopicIfEphemeralEmptyLocked(sh, slot)
			}
		}
		sh.mu.Unlock()
	}
	s.peers.remove(p)
	return removed
}

// CreateTopic registers topic T with no producers; it reports whether it
// was new, or ErrStoreLimit.
func (s *Store) CreateTopic(topic string) (bool, error) {
	if len(topic) == 0 || len(topic) > maxTopicName {
		return false, nil
	}
	h, sh := s.locate(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.find(h, topic) != noSlot {
		return false, nil
	}
	if err := s.reserve(1); err != nil {
		return false, err
	}
	s.createTopicLocked(sh, h, topic)
	return true, nil
}

// CreateChannel registers channel T C and topic T; it reports whether the
// channel was new, or ErrStoreLimit.
func (s *Store) CreateChannel(topic, channel string) (bool, error) {
	if len(topic) == 0 || len(topic) > maxTopicName {
		return false, nil
	}
	h, sh := s.locate(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	slot := sh.find(h, topic)
	if slot != noSlot && sh.channelIndex(slot, channel) >= 0 {
		return false, nil
	}
	if err := s.reserve(count(slot == noSlot) + 1); err != nil {
		return false, err
	}
	if slot == noSlot {
		slot = s.createTopicLocked(sh, h, topic)
	}
	s.createChannelLocked(sh, slot, channel)
	return true, nil
}

// DeleteTopic deletes topic T and all of its channel registrations, with
// every peer's membership of them. It returns the deleted channel names,
// sorted, and whether the topic existed.
func (s *Store) DeleteTopic(topic string) (channels []string, existed bool) {
	h, sh := s.locate(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	slot := sh.find(h, topic)
	if slot == noSlot {
		return nil, false
	}
	for _, c := range sh.channels(slot) {
		channels = append(channels, sh.channelNames.names[c.nameID])
	}
	for pi := len(sh.producers(slot)) - 1; pi >= 0; pi-- {
		s.leaveTopicLocked(sh, slot, pi)
	}
	s.deleteTopicLocked(sh, h, slot)
	slices.Sort(channels)
	return channels, true
}

// DeleteChannel deletes channel T C; it reports whether it existed.
func (s *Store) DeleteChannel(topic, channel string) bool {
	h, sh := s.locate(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	slot := sh.find(h, topic)
	if slot == noSlot {
		return false
	}
	ci := sh.channelIndex(slot, channel)
	if ci < 0 {
		return false
	}
	ps := sh.producers(slot)
	for pi := range ps {
		if sh.memberBits(slot, pi, 0).Clear(ci) {
			s.peers.get(ps[pi].peer).registrations.Add(-1)
			sh.memberships--
		}
	}
	sh.channels(slot)[ci].members = 0
	s.deleteChannelLocked(sh, slot, ci)
	return true
}

// Tombstone marks, at now, every producer of topic T whose
// broadcast_address:http_port is node. node may be "host:port",
// "[v6host]:port" or the unbracketed "v6host:port". It returns the peers
// tombstoned.
func (s *Store) Tombstone(topic, node string) []PeerInfo {
	host, port, splitErr := net.SplitHostPort(node)
	now := s.clock.Mono()
	var marked []PeerInfo
	h, sh := s.locate(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	slot := sh.find(h, topic)
	if slot == noSlot {
		return nil
	}
	for pi, tp := range sh.producers(slot) {
		info := &s.peers.get(tp.peer).info
		httpPort := strconv.Itoa(info.HTTPPort)
		matches := node == info.BroadcastAddress+":"+httpPort ||
			(splitErr == nil && host == info.BroadcastAddress && port == httpPort)
		if matches {
			sh.markTombstoned(slot, pi, now)
			marked = append(marked, *info)
		}
	}
	return marked
}

// Topics returns every registered topic, sorted.
func (s *Store) Topics() []string {
	return slices.Clone(s.sortedTopics().names)
}

// TopicsGeneration changes whenever the set of topics changes; a caller
// may keep anything derived from Topics for as long as it stays the same.
func (s *Store) TopicsGeneration() uint64 {
	return s.topicsGen.Load()
}

// sortedTopics returns the sorted topic list, rebuilding the cached one
// only when the topic set has changed. The list is shared: never modify it.
func (s *Store) sortedTopics() *topicList {
	gen := s.topicsGen.Load()
	if c := s.topicsCache.Load(); c != nil && c.gen == gen {
		return c
	}
	var names nameCollector
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for slot := range sh.topics {
			if r := &sh.topics[slot]; r.nameLen > 0 {
				names.add(r)
			}
		}
		sh.mu.RUnlock()
	}
	// A change during the scan bumped topicsGen past gen, so this list is
	// never mistaken for a newer one.
	c := &topicList{gen: gen, names: names.sorted()}
	s.topicsCache.Store(c)
	return c
}

// nameCollector gathers topic names into one allocation, so that a cached
// list is two objects for the garbage collector rather than one per name.
type nameCollector struct {
	buf  []byte
	ends []int
}

func (c *nameCollector) add(r *topicRec) {
	c.buf = append(c.buf, r.name[:r.nameLen]...)
	c.ends = append(c.ends, len(c.buf))
}

// sorted returns the names gathered, in sorted order.
func (c *nameCollector) sorted() []string {
	blob := string(c.buf)
	names := make([]string, len(c.ends))
	start := 0
	for i, end := range c.ends {
		names[i] = blob[start:end]
		start = end
	}
	slices.Sort(names)
	return names
}

// Channels returns the sorted channel names of topic T (empty if none).
func (s *Store) Channels(topic string) []string {
	h, sh := s.locate(topic)
	names := []string{}
	sh.mu.RLock()
	if slot := sh.find(h, topic); slot != noSlot {
		cs := sh.channels(slot)
		names = make([]string, 0, len(cs))
		for _, c := range cs {
			names = append(names, sh.channelNames.names[c.nameID])
		}
	}
	sh.mu.RUnlock()
	slices.Sort(names)
	return names
}

// Lookup returns the sorted channels of topic T and its producers that are
// active and not tombstoned, sorted by broadcast address, TCP port and
// remote address. found is false when topic T is not registered.
func (s *Store) Lookup(topic string) (channels []string, producers []PeerInfo, found bool) {
	return s.LookupAppend(topic, nil, nil)
}

// LookupAppend is Lookup appending to the given slices, so that a caller
// can reuse them.
func (s *Store) LookupAppend(topic string, channels []string, producers []PeerInfo) ([]string, []PeerInfo, bool) {
	now := s.clock.Mono()
	h, sh := s.locate(topic)
	sh.mu.RLock()
	slot := sh.find(h, topic)
	if slot == noSlot {
		sh.mu.RUnlock()
		return nil, nil, false
	}
	cs, ps := sh.channels(slot), sh.producers(slot)
	if channels == nil {
		channels = make([]string, 0, len(cs))
	}
	for _, c := range cs {
		channels = append(channels, sh.channelNames.names[c.nameID])
	}
	if producers == nil {
		producers = make([]PeerInfo, 0, len(ps))
	}
	recentTombstone := s.isTombstoned(sh.topics[slot].lastTombstonedAt, now)
	for _, tp := range ps {
		p := s.peers.get(tp.peer)
		if s.isActive(p, now) && !(recentTombstone && s.isTombstoned(tp.tombstonedAt, now)) {
			producers = append(producers, p.info)
		}
	}
	sh.mu.RUnlock()
	slices.Sort(channels)
	slices.SortFunc(producers, func(a, b PeerInfo) int { return comparePeerInfo(&a, &b) })
	return channels, producers, true
}

// activePeers returns the active identified peers, sorted as Lookup sorts
// producers.
func (s *Store) activePeers(now int64) []*Peer {
	peers := s.peers.all()
	peers = slices.DeleteFunc(peers, func(p *Peer) bool { return !s.isActive(p, now) })
	slices.SortFunc(peers, comparePeers)
	return peers
}

// EachNode calls fn with every active identified peer, tombstoned or not,
// sorted as Lookup sorts producers, with its topics in sorted order. The
// NodeInfo and its slices are valid only during the call and must not be
// modified. It stops at the first error fn returns, and returns it.
func (s *Store) EachNode(fn func(*NodeInfo) error) error {
	now := s.clock.Mono()
	var node NodeInfo
	for _, p := range s.activePeers(now) {
		topics := s.peerTopics(p)
		node.PeerInfo = p.info
		node.Topics = topics.names
		node.Tombstones = slices.Grow(node.Tombstones[:0], len(topics.names))[:len(topics.names)]
		clear(node.Tombstones)
		for j, h := range topics.hashes {
			if sh := s.shardOf(h); s.isTombstoned(sh.lastTombstonedAt.Load(), now) {
				node.Tombstones[j] = s.peerTombstoned(sh, h, topics.names[j], p, now)
			}
		}
		if err := fn(&node); err != nil {
			return err
		}
	}
	return nil
}

// Nodes collects what EachNode walks.
func (s *Store) Nodes() []NodeInfo {
	var nodes []NodeInfo
	s.EachNode(func(n *NodeInfo) error {
		nodes = append(nodes, NodeInfo{
			PeerInfo:   n.PeerInfo,
			Topics:     append([]string{}, n.Topics...),
			Tombstones: append([]bool{}, n.Tombstones...),
		})
		return nil
	})
	return nodes
}

// peerTopics returns the peer's topics sorted by name, rebuilding the peer's
// cached list only when its topic set has changed.
func (s *Store) peerTopics(p *Peer) *peerTopics {
	gen := p.topicsGen.Load()
	if c := p.sortedTopics.Load(); c != nil && c.gen == gen {
		return c
	}
	var names nameCollector
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		if s.peers.get(p.id) != p {
			// The peer is gone and its ID may be another's by now.
			sh.mu.RUnlock()
			return &peerTopics{gen: gen}
		}
		for _, slot := range sh.topicsOf(p.id) {
			names.add(&sh.topics[slot])
		}
		sh.mu.RUnlock()
	}
	c := &peerTopics{gen: gen, names: names.sorted()}
	c.hashes = make([]uint64, len(c.names))
	for i, name := range c.names {
		c.hashes[i] = topicHash(s.seed, name)
	}
	p.sortedTopics.Store(c)
	return c
}

// peerTombstoned reports whether the peer is tombstoned in topic name,
// whose hash h puts it in shard sh.
func (s *Store) peerTombstoned(sh *shard, h uint64, name string, p *Peer, now int64) bool {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	slot := sh.find(h, name)
	if slot == noSlot || !s.isTombstoned(sh.topics[slot].lastTombstonedAt, now) {
		return false
	}
	pi := sh.producerOf(&s.peers, slot, p)
	return pi >= 0 && s.isTombstoned(sh.producers(slot)[pi].tombstonedAt, now)
}

// EachDebug calls fn with every registration that has peers, with no
// activity or tombstone filtering, in the byte order of their keys
// "category:key:subkey" (the order of a JSON object's sorted keys), each
// with its peers sorted as Lookup sorts producers. The registration and its
// slice are valid only during the call. It stops at the first error fn
// returns, and returns it.
func (s *Store) EachDebug(fn func(*DebugRegistration) error) error {
	w := debugWalk{s: s, fn: fn, offset: s.wallOffset()}
	topics := s.sortedTopics().names
	// "channel:…" < "client::" < "topic:…".
	if err := forEachInKeyOrder(topics, w.channels); err != nil {
		return err
	}
	if err := w.clients(); err != nil {
		return err
	}
	return forEachInKeyOrder(topics, w.topic)
}

// Debug collects what EachDebug walks.
func (s *Store) Debug() []DebugRegistration {
	var regs []DebugRegistration
	s.EachDebug(func(r *DebugRegistration) error {
		c := *r
		c.Producers = slices.Clone(r.Producers)
		regs = append(regs, c)
		return nil
	})
	return regs
}

// forEachInKeyOrder calls fn with each of the sorted names in the order of
// name+":", which is how the names sort inside /debug's keys: "a" comes
// after "a-b" and "a.b" there, as '-' and '.' sort before ':'. A name is
// held back while the names that follow extend it with such a character;
// the held names form a chain of prefixes, at most as deep as the longest
// name.
func forEachInKeyOrder(names []string, fn func(name string) error) error {
	var held []string
	for _, name := range names {
		for len(held) > 0 {
			top := held[len(held)-1]
			if strings.HasPrefix(name, top) && name[len(top)] < ':' {
				break
			}
			if err := fn(top); err != nil {
				return err
			}
			held = held[:len(held)-1]
		}
		held = append(held, name)
	}
	for i := len(held) - 1; i >= 0; i-- {
		if err := fn(held[i]); err != nil {
			return err
		}
	}
	return nil
}

// debugWalk builds EachDebug's registrations one topic at a time, reusing
// its buffers.
type debugWalk struct {
	s      *Store
	fn     func(*DebugRegistration) error
	offset int64 // wall minus monotonic, one reading for the whole walk

	reg       DebugRegistration
	members   []debugMember
	channelAt []channelMembers
}

// debugMember is a producer copied out of a topic.
type debugMember struct {
	peer         *Peer
	tombstonedAt int64
}

// channelMembers is one channel copied out of a topic: its name and its
// members' range in debugWalk.members.
type channelMembers struct {
	name       string
	start, end int
}

func (w *debugWalk) producer(m debugMember) DebugProducer {
	d := DebugProducer{
		PeerInfo:     m.peer.info,
		LastUpdate:   m.peer.lastSeen.Load() + w.offset,
		Tombstoned:   m.tombstonedAt != 0,
		TombstonedAt: zeroTimeUnixNano,
	}
	if m.tombstonedAt != 0 {
		d.TombstonedAt = m.tombstonedAt + w.offset
	}
	return d
}

// emit sends the registration made of members to fn, sorted.
func (w *debugWalk) emit(category, key, subKey string, members []debugMember) error {
	w.reg.Category, w.reg.Key, w.reg.SubKey = category, key, subKey
	w.reg.Producers = w.reg.Producers[:0]
	for _, m := range members {
		w.reg.Producers = append(w.reg.Producers, w.producer(m))
	}
	slices.SortFunc(w.reg.Producers, func(a, b DebugProducer) int { return comparePeerInfo(&a.PeerInfo, &b.PeerInfo) })
	return w.fn(&w.reg)
}

// channels emits the channel registrations of topic name that have peers,
// in channel name order.
func (w *debugWalk) channels(name string) error {
	s := w.s
	h, sh := s.locate(name)
	w.members, w.channelAt = w.members[:0], w.channelAt[:0]
	sh.mu.RLock()
	if slot := sh.find(h, name); slot != noSlot {
		ps := sh.producers(slot)
		for ci, c := range sh.channels(slot) {
			if c.members == 0 {
				continue
			}
			start := len(w.members)
			for pi, tp := range ps {
				if sh.memberBits(slot, pi, 0).Has(ci) {
					w.members = append(w.members, debugMember{peer: s.peers.get(tp.peer)})
				}
			}
			w.channelAt = append(w.channelAt, channelMembers{sh.channelNames.names[c.nameID], start, len(w.members)})
		}
	}
	sh.mu.RUnlock()
	slices.SortFunc(w.channelAt, func(a, b channelMembers) int { return strings.Compare(a.name, b.name) })
	for _, c := range w.channelAt {
		if err := w.emit("channel", name, c.name, w.members[c.start:c.end]); err != nil {
			return err
		}
	}
	return nil
}

// clients emits the client registration: every identified peer.
func (w *debugWalk) clients() error {
	w.members = w.members[:0]
	for _, p := range w.s.peers.all() {
		if !p.removed.Load() {
			w.members = append(w.members, debugMember{peer: p})
		}
	}
	if len(w.members) == 0 {
		return nil
	}
	return w.emit("client", "", "", w.members)
}

// topic emits topic registration name if it has peers.
func (w *debugWalk) topic(name string) error {
	s := w.s
	h, sh := s.locate(name)
	w.members = w.members[:0]
	sh.mu.RLock()
	if slot := sh.find(h, name); slot != noSlot {
		for _, tp := range sh.producers(slot) {
			w.members = append(w.members, debugMember{peer: s.peers.get(tp.peer), tombstonedAt: tp.tombstonedAt})
		}
	}
	sh.mu.RUnlock()
	if len(w.members) == 0 {
		return nil
	}
	return w.emit("topic", name, "", w.members)
}

// CheckLocks takes and releases every lock of the store in turn. It blocks
// while any of them is wedged, which is what a liveness watchdog wants to
// notice.
func (s *Store) CheckLocks() {
	s.peers.mu.Lock()
	//lint:ignore SA2001 taking the lock is the check
	s.peers.mu.Unlock()
	for i := range s.shards {
		s.shards[i].mu.RLock()
		//lint:ignore SA2001 taking the lock is the check
		s.shards[i].mu.RUnlock()
	}
}

// Stats returns the current counts, summed over the shards one at a time.
func (s *Store) Stats() Stats {
	st := Stats{Peers: int(s.peerCount.Load())}
	st.Registrations = st.Peers
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		st.Topics += int(sh.topicCount)
		st.Channels += int(sh.channelCount)
		st.Registrations += int(sh.memberships)
		sh.mu.RUnlock()
	}
	return st
}

// InactiveFiltered returns how many times a peer was left out of a Lookup or
// Nodes answer because it had been silent for too long.
func (s *Store) InactiveFiltered() uint64 {
	return s.inactiveFiltered.Load()
}

func (s *Store) isActive(p *Peer, now int64) bool {
	if p.removed.Load() {
		return false
	}
	if time.Duration(now-p.lastSeen.Load()) > s.cfg.InactiveTimeout {
		s.inactiveFiltered.Add(1)
		return false
	}
	return true
}

// isTombstoned reports whether a tombstone set at monotonic time at (0 for
// none) is still in force at now.
func (s *Store) isTombstoned(at, now int64) bool {
	return at != 0 && time.Duration(now-at) < s.cfg.TombstoneLifetime
}

// The methods below are the only ones that change the counters and
// generations; every mutation goes through them.

// createTopicLocked adds topic name, whose registration must be reserved.
func (s *Store) createTopicLocked(sh *shard, h uint64, name string) int32 {
	slot := sh.create(h, name)
	sh.topicCount++
	s.topicsGen.Add(1)
	return slot
}

// createChannelLocked adds channel name to the topic in slot, whose
// registration must be reserved, and returns its index.
func (s *Store) createChannelLocked(sh *shard, slot int32, name string) int {
	sh.channelCount++
	return sh.addChannel(slot, name)
}

// deleteChannelLocked deletes channel ci, which must have no members.
func (s *Store) deleteChannelLocked(sh *shard, slot int32, ci int) {
	sh.removeChannelAt(slot, ci)
	sh.channelCount--
	s.distinct.Add(-1)
}

// deleteTopicLocked deletes the topic in slot, which must have no
// producers, with its channels.
func (s *Store) deleteTopicLocked(sh *shard, h uint64, slot int32) {
	channels := int64(len(sh.channels(slot)))
	sh.remove(h, slot)
	sh.topicCount--
	sh.channelCount -= channels
	s.distinct.Add(-1 - channels)
	s.topicsGen.Add(1)
}

// joinTopicLocked makes p a producer of the topic in slot and returns its
// index.
func (s *Store) joinTopicLocked(sh *shard, slot int32, p *Peer) int {
	list := sh.byPeer[p.id]
	if list == nil {
		list = new([]int32)
		sh.byPeer[p.id] = list
	}
	pi := sh.addProducer(slot, p.id, len(*list))
	*list = append(*list, slot)
	p.topicsGen.Add(1)
	p.registrations.Add(1)
	sh.memberships++
	return pi
}

// leaveTopicLocked takes producer pi out of every channel of the topic in
// slot (deleting the ephemeral ones it leaves empty) and out of the topic,
// and the topic out of the peer's index. It is the one way a membership
// ends. It returns how many channels the producer left.
func (s *Store) leaveTopicLocked(sh *shard, slot int32, pi int) int {
	tp := sh.producers(slot)[pi]
	p := s.peers.get(tp.peer)

	var buf [16]int
	bits := sh.memberBits(slot, pi, 0)
	members := bits.AppendTo(buf[:0])
	*bits.first = 0
	if bits.rest != nil {
		delete(sh.overflow[slot].highChannels, tp.peer)
	}
	// Highest index first: deleting channel ci moves the last channel into
	// ci, and every channel above ci is already done.
	for k := len(members) - 1; k >= 0; k-- {
		ci := members[k]
		sh.channels(slot)[ci].members--
		s.dropChannelIfEphemeralEmptyLocked(sh, slot, ci)
	}

	k := int(tp.peerIndex)
	list := sh.byPeer[tp.peer]
	*list = removeAt(*list, k)
	if k < len(*list) {
		// The peer's last topic moved into position k.
		moved := (*list)[k]
		sh.producers(moved)[sh.producerIndex(moved, tp.peer)].peerIndex = int32(k)
	}
	if len(*list) == 0 {
		delete(sh.byPeer, tp.peer)
	}
	sh.removeProducerAt(slot, pi)

	left := int64(len(members))
	p.topicsGen.Add(1)
	p.registrations.Add(-1 - left)
	sh.memberships -= 1 + left
	return len(members)
}

// dropChannelIfEphemeralEmptyLocked deletes channel ci if it is ephemeral
// and has no members left.
func (s *Store) dropChannelIfEphemeralEmptyLocked(sh *shard, slot int32, ci int) {
	c := sh.channels(slot)[ci]
	if c.members == 0 && isEphemeral(sh.channelNames.names[c.nameID]) {
		s.deleteChannelLocked(sh, slot, ci)
	}
}

// dropTopicIfEphemeralEmptyLocked deletes an ephemeral topic left without
// producers, with its channels: none of them can have members, as a peer in
// a channel is always in its topic.
func (s *Store) dropTopicIfEphemeralEmptyLocked(sh *shard, slot int32) {
	if r := &sh.topics[slot]; len(sh.producers(slot)) == 0 && r.ephemeral() {
		s.deleteTopicLocked(sh, r.hash(s.seed), slot)
	}
}
