package registry

import (
	"bytes"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

// A shard keeps its registrations free of pointers. Topics live by value in
// a slab, found through a map from name hash to slot; peers and channel
// names are referred to by number. The garbage collector has nothing to
// trace in any of it, however many registrations there are: with a million
// registrations held as linked objects, tracing them was most of the work
// of every collection, and collections come as often as requests allocate.
//
// Invariants. Every rule below holds whenever no shard lock is held, and
// Store.Check verifies each of them (the number in brackets names the rule
// in Check's errors).
//
// Slab and index:
//   [slot-free]   A slot is free exactly when its nameLen is 0; every free
//                 slot is on freeTopics once, and no used slot is.
//   [slot-index]  Every used slot is reachable exactly once from
//                 index[hash(name)] through nextSameHash, and every slot on
//                 such a chain is used and has that hash; the topic hashes
//                 to this shard.
//   [overflow]    topicRec.overflowed is set exactly when overflow[slot]
//                 exists; an overflowed record keeps nothing inline.
// Producers (a topic's peers):
//   [producer]    A topic lists each peer ID at most once, and every ID
//                 names a current, not removed peer.
//   [by-peer]     byPeer[id][producer.peerIndex] is the topic's slot for
//                 every producer; byPeer lists nothing else and no empty
//                 list is kept.
//   [producer-ix] An overflow's producer index, when present, maps each
//                 producer's peer ID to its position and holds no other.
// Channels:
//   [channel]     A topic's channel names are distinct; every set bit of a
//                 producer's channelBits is below the topic's channel count;
//                 bits above 63 exist only in overflowed topics and only
//                 for peers that are producers of the topic.
//   [members]     channelEntry.peers equals the number of producers whose
//                 bit for that channel is set: a peer is in channel T C
//                 only while it is in topic T.
//   [channel-ix]  An overflow's channel index, when present, maps each
//                 channel's name ID to its position and holds no other.
//   [names]       channelNames counts, for each name ID, the channels of
//                 the shard's topics that use it; IDs of no channel are
//                 free, with an empty name.
// Tombstones:
//   [tombstone]   topicRec.lastTombstonedAt is at least every producer's
//                 tombstonedAt, and shard.lastTombstonedAt at least every
//                 topic's.
// Store-wide (checked with every shard held):
//   [counts]      Each shard's topic, channel and membership counts, each
//                 peer's registrations, and the store's count of distinct
//                 registrations equal what the shards hold.
//   [peers]       The peer table's free IDs are empty slots, and its peers
//                 are the ones counted as connected.
//   [caches]      A cached topic list, or a peer's cached topic list, whose
//                 generation is current equals a fresh rebuild.

const (
	// maxTopicName is the longest topic name the protocol allows.
	maxTopicName = 64
	// Room for producers and channels in the topic record itself; a topic
	// that outgrows either keeps both in a topicOverflow.
	inlineProducers = 4
	inlineChannels  = 8
	// indexThreshold is the list length from which an overflowed topic
	// indexes its producers or channels by ID, so that REGISTER costs the
	// same however many the topic has; shorter lists are scanned, which is
	// faster than a map.
	indexThreshold = 32
	// noSlot ends a chain of topics whose names share a hash.
	noSlot = -1
)

// shard holds the topics whose names hash to it.
type shard struct {
	// mu guards everything below except lastTombstonedAt.
	mu sync.RWMutex
	// index maps a name hash to the slot of the first topic with that hash;
	// the others are chained through topicRec.nextSameHash.
	index      map[uint64]int32
	topics     []topicRec
	freeTopics []int32
	// overflow holds the lists of topics that outgrew their records.
	overflow map[int32]*topicOverflow
	// byPeer lists, for each peer ID, the slots of the topics it is in.
	// The lists are held by pointer, so that changing one is no map write.
	byPeer map[uint32]*[]int32
	// channelNames holds the names of the channels of the shard's topics.
	channelNames nameTable
	// topicCount, channelCount and memberships count the shard's topic and
	// channel registrations and the peers in them; Stats sums the shards'.
	// Kept per shard, under its lock, they cost writers on other shards
	// nothing.
	topicCount, channelCount, memberships int64
	// lastTombstonedAt is the monotonic time of the latest tombstone in any
	// of the shard's topics, so that Nodes can skip shards without one.
	lastTombstonedAt atomic.Int64
}

// topicRec is a topic registration. A free slot has nameLen 0.
type topicRec struct {
	// lastTombstonedAt is the monotonic time of the topic's latest
	// tombstone, 0 if none: while it is older than the tombstone lifetime,
	// no producer needs checking.
	lastTombstonedAt int64
	nextSameHash     int32
	nameLen          uint8
	nProducers       uint8 // producers inline, unless overflowed
	nChannels        uint8 // channels inline, unless overflowed
	overflowed       bool
	name             [maxTopicName]byte
	producers        [inlineProducers]topicProducer
	channels         [inlineChannels]channelEntry
}

// nameIs reports whether the record is named name.
func (r *topicRec) nameIs(name string) bool {
	return string(r.name[:r.nameLen]) == name
}

// nameString returns a copy of the record's name: a slot is reused after
// its topic is deleted, so nothing may point into it.
func (r *topicRec) nameString() string {
	return string(r.name[:r.nameLen])
}

// ephemeral reports whether the topic's name ends in "#ephemeral".
func (r *topicRec) ephemeral() bool {
	return bytes.HasSuffix(r.name[:r.nameLen], []byte(ephemeralSuffix))
}

// hash returns the hash of the record's name, as topicHash computes it.
func (r *topicRec) hash(seed maphash.Seed) uint64 {
	return maphash.Bytes(seed, r.name[:r.nameLen])
}

// topicOverflow holds the lists of a topic that outgrew its record.
type topicOverflow struct {
	producers []topicProducer
	channels  []channelEntry
	// highChannels holds, per peer ID, the membership words of channel
	// indexes 64 and up (see channelBits).
	highChannels map[uint32]*[]uint64
	// producerIndex and channelIndex map a peer ID or a channel name ID to
	// its position; each exists once its list has grown past
	// indexThreshold.
	producerIndex map[uint32]int32
	channelIndex  map[uint32]int32
}

// topicProducer is one peer's membership of a topic, and of channels of
// that topic.
type topicProducer struct {
	// tombstonedAt is the monotonic time of the last tombstone, 0 if none.
	tombstonedAt int64
	peer         uint32
	// peerIndex is the topic's position in its shard's byPeer[peer].
	peerIndex int32
	// channels is the first word of the producer's channelBits.
	channels uint64
}

// channelEntry is a channel registration. Its members are recorded on their
// producers; the channel only counts them, which is all that ephemeral
// cleanup needs.
type channelEntry struct {
	nameID  uint32 // in the shard's channelNames
	members int32
}

func (s *shard) init() {
	s.index = make(map[uint64]int32)
	s.overflow = make(map[int32]*topicOverflow)
	s.byPeer = make(map[uint32]*[]int32)
}

// find returns the slot of the topic named name, whose hash is h, or
// noSlot.
func (s *shard) find(h uint64, name string) int32 {
	slot, ok := s.index[h]
	if !ok {
		return noSlot
	}
	for slot != noSlot && !s.topics[slot].nameIs(name) {
		slot = s.topics[slot].nextSameHash
	}
	return slot
}

// create adds an empty topic named name, whose hash is h, and returns its
// slot. It may move the slab: no *topicRec survives it.
func (s *shard) create(h uint64, name string) int32 {
	var slot int32
	if n := len(s.freeTopics); n > 0 {
		slot = s.freeTopics[n-1]
		s.freeTopics = s.freeTopics[:n-1]
	} else {
		slot = int32(len(s.topics))
		s.topics = append(s.topics, topicRec{})
	}
	r := &s.topics[slot]
	r.nameLen = uint8(copy(r.name[:], name))
	if head, ok := s.index[h]; ok {
		r.nextSameHash = head
	} else {
		r.nextSameHash = noSlot
	}
	s.index[h] = slot
	return slot
}

// remove deletes the topic in slot, whose name hashes to h, releasing its
// channels' names. It must have no producers.
func (s *shard) remove(h uint64, slot int32) {
	for _, c := range s.channels(slot) {
		s.channelNames.release(c.nameID)
	}
	next := s.topics[slot].nextSameHash
	if head := s.index[h]; head == slot {
		if next == noSlot {
			delete(s.index, h)
		} else {
			s.index[h] = next
		}
	} else {
		prev := head
		for s.topics[prev].nextSameHash != slot {
			prev = s.topics[prev].nextSameHash
		}
		s.topics[prev].nextSameHash = next
	}
	delete(s.overflow, slot)
	s.topics[slot] = topicRec{}
	s.freeTopics = append(s.freeTopics, slot)
}

// producers returns the topic's producer list; its elements may be
// modified in place.
func (s *shard) producers(slot int32) []topicProducer {
	r := &s.topics[slot]
	if r.overflowed {
		return s.overflow[slot].producers
	}
	return r.producers[:r.nProducers]
}

// channels returns the topic's channel list; its elements may be modified
// in place.
func (s *shard) channels(slot int32) []channelEntry {
	r := &s.topics[slot]
	if r.overflowed {
		return s.overflow[slot].channels
	}
	return r.channels[:r.nChannels]
}

// spill moves the topic's lists into a topicOverflow.
func (s *shard) spill(slot int32) *topicOverflow {
	r := &s.topics[slot]
	ov := &topicOverflow{
		producers: append(make([]topicProducer, 0, 2*inlineProducers), r.producers[:r.nProducers]...),
		channels:  append(make([]channelEntry, 0, 2*inlineChannels), r.channels[:r.nChannels]...),
	}
	r.producers, r.channels = [inlineProducers]topicProducer{}, [inlineChannels]channelEntry{}
	r.nProducers, r.nChannels = 0, 0
	r.overflowed = true
	s.overflow[slot] = ov
	return ov
}

// overflowFor returns the topic's overflow, creating it when the topic
// must grow past its record.
func (s *shard) overflowFor(slot int32) *topicOverflow {
	if ov := s.overflow[slot]; ov != nil {
		return ov
	}
	return s.spill(slot)
}

// topicsOf returns the slots of the topics peer ID id is in, nil if none.
func (s *shard) topicsOf(id uint32) []int32 {
	if list := s.byPeer[id]; list != nil {
		return *list
	}
	return nil
}

// producerOf returns the index of peer p among the topic's producers, -1
// if it is not one. It checks that p still owns its ID (see peerTable), so
// a peer that has left never finds the entries of a newer peer that was
// given the same ID.
func (s *shard) producerOf(peers *peerTable, slot int32, p *Peer) int {
	if peers.get(p.id) != p {
		return -1
	}
	return s.producerIndex(slot, p.id)
}

// producerIndex returns the index of peer ID id among the topic's
// producers, -1 if it is not one.
func (s *shard) producerIndex(slot int32, id uint32) int {
	if s.topics[slot].overflowed {
		if ix := s.overflow[slot].producerIndex; ix != nil {
			if pi, ok := ix[id]; ok {
				return int(pi)
			}
			return -1
		}
	}
	for i, tp := range s.producers(slot) {
		if tp.peer == id {
			return i
		}
	}
	return -1
}

// addProducer makes peer ID id a producer of the topic, at position
// peerIndex of its byPeer list, and returns the producer's index.
func (s *shard) addProducer(slot int32, id uint32, peerIndex int) int {
	tp := topicProducer{peer: id, peerIndex: int32(peerIndex)}
	r := &s.topics[slot]
	if !r.overflowed && r.nProducers < inlineProducers {
		r.producers[r.nProducers] = tp
		r.nProducers++
		return int(r.nProducers) - 1
	}
	ov := s.overflowFor(slot)
	return appendIndexed(&ov.producers, &ov.producerIndex, tp)
}

// removeProducerAt deletes producer pi, which must be in no channel,
// moving the last producer into its place.
func (s *shard) removeProducerAt(slot int32, pi int) {
	r := &s.topics[slot]
	if !r.overflowed {
		removeAt(r.producers[:r.nProducers], pi)
		r.nProducers--
		return
	}
	ov := s.overflow[slot]
	delete(ov.highChannels, ov.producers[pi].peer)
	removeIndexed(&ov.producers, ov.producerIndex, pi)
}

// channelIndex returns the index of the topic's channel named name, -1 if
// there is none.
func (s *shard) channelIndex(slot int32, name string) int {
	id, ok := s.channelNames.lookup(name)
	if !ok {
		return -1
	}
	if s.topics[slot].overflowed {
		if ix := s.overflow[slot].channelIndex; ix != nil {
			if ci, ok := ix[id]; ok {
				return int(ci)
			}
			return -1
		}
	}
	for i, c := range s.channels(slot) {
		if c.nameID == id {
			return i
		}
	}
	return -1
}

// addChannel adds an empty channel named name to the topic and returns its
// index.
func (s *shard) addChannel(slot int32, name string) int {
	c := channelEntry{nameID: s.channelNames.acquire(name)}
	r := &s.topics[slot]
	if !r.overflowed && r.nChannels < inlineChannels {
		r.channels[r.nChannels] = c
		r.nChannels++
		return int(r.nChannels) - 1
	}
	ov := s.overflowFor(slot)
	return appendIndexed(&ov.channels, &ov.channelIndex, c)
}

// removeChannelAt deletes channel ci, which no producer may be in, moving
// the last channel into its place and renumbering it in every producer.
func (s *shard) removeChannelAt(slot int32, ci int) {
	cs := s.channels(slot)
	s.channelNames.release(cs[ci].nameID)
	last := len(cs) - 1
	if r := &s.topics[slot]; r.overflowed {
		ov := s.overflow[slot]
		removeIndexed(&ov.channels, ov.channelIndex, ci)
	} else {
		removeAt(cs, ci)
		r.nChannels--
	}
	if ci != last {
		for pi := range s.producers(slot) {
			// Set(ci) finds the high words when ci needs them: last is
			// above ci, so it needed them too.
			if b := s.memberBits(slot, pi, 0); b.Clear(last) {
				b.Set(ci)
			}
		}
	}
}

// memberBits returns producer pi's channel memberships, ready for Set of
// index need (pass 0 when only reading or clearing).
func (s *shard) memberBits(slot int32, pi, need int) channelBits {
	ps := s.producers(slot)
	b := channelBits{first: &ps[pi].channels}
	if s.topics[slot].overflowed {
		ov := s.overflow[slot]
		b.rest = ov.highChannels[ps[pi].peer]
		if b.rest == nil && need >= 64 {
			b.rest = new([]uint64)
			if ov.highChannels == nil {
				ov.highChannels = make(map[uint32]*[]uint64)
			}
			ov.highChannels[ps[pi].peer] = b.rest
		}
	}
	return b
}

// markTombstoned records a tombstone of producer pi at time now on the
// producer, its topic and the shard.
func (s *shard) markTombstoned(slot int32, pi int, now int64) {
	s.producers(slot)[pi].tombstonedAt = now
	if r := &s.topics[slot]; now > r.lastTombstonedAt {
		r.lastTombstonedAt = now
	}
	if now > s.lastTombstonedAt.Load() {
		s.lastTombstonedAt.Store(now)
	}
}

// indexed is an element of a list an overflow may index by ID: a producer
// by its peer ID, a channel by its name ID.
type indexed interface {
	topicProducer | channelEntry
	indexKey() uint32
}

func (tp topicProducer) indexKey() uint32 { return tp.peer }
func (c channelEntry) indexKey() uint32   { return c.nameID }

// appendIndexed appends item to *list and returns its position, keeping
// *index, which exists once the list has grown past indexThreshold,
// mapping each item's key to its position.
func appendIndexed[T indexed](list *[]T, index *map[uint32]int32, item T) int {
	*list = append(*list, item)
	pos := len(*list) - 1
	switch {
	case *index != nil:
		(*index)[item.indexKey()] = int32(pos)
	case len(*list) > indexThreshold:
		*index = make(map[uint32]int32, len(*list))
		for i, it := range *list {
			(*index)[it.indexKey()] = int32(i)
		}
	}
	return pos
}

// removeIndexed deletes element i of *list, moving the last one into its
// place, and keeps index (nil if there is none) right.
func removeIndexed[T indexed](list *[]T, index map[uint32]int32, i int) {
	gone := (*list)[i].indexKey()
	*list = removeAt(*list, i)
	if index != nil {
		delete(index, gone)
		if i < len(*list) {
			index[(*list)[i].indexKey()] = int32(i)
		}
	}
}

// removeAt removes element i of s by moving the last element into its
// place, and returns the shorter slice.
func removeAt[T any](s []T, i int) []T {
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
	}
	var zero T
	s[last] = zero
	return s[:last]
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

// topicHash hashes a topic name: its top bits choose the shard, all of it
// keys the shard's index.
func topicHash(seed maphash.Seed, name string) uint64 {
	return maphash.String(seed, name)
}

// ephemeralSuffix marks topics and channels deleted with their last peer.
const ephemeralSuffix = "#ephemeral"

func isEphemeral(name string) bool {
	return strings.HasSuffix(name, ephemeralSuffix)
}
