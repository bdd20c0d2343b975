package registry

import (
	"errors"
	"fmt"
	"slices"
)

// maxCheckErrors bounds the violations one Check reports.
const maxCheckErrors = 20

// Check verifies every invariant listed at the top of shard.go, and that
// each cache whose generation is current equals a fresh rebuild. It holds
// every shard lock at once (read locks, taken in index order), so it sees
// one consistent state; tests call it after every step, fuzzers after every
// input. It returns nil, or an error listing the violations found, each
// prefixed with the name of the rule it breaks.
func (s *Store) Check() error {
	c := checker{s: s}
	for i := range s.shards {
		s.shards[i].mu.RLock()
	}
	defer func() {
		for i := range s.shards {
			s.shards[i].mu.RUnlock()
		}
	}()
	c.peerMembers = map[*Peer]int64{}
	peers := c.peerTable()
	for i := range s.shards {
		c.shard(i, &s.shards[i])
	}
	c.counts(peers)
	c.caches(peers)
	return errors.Join(c.errs...)
}

// checker accumulates what Check finds.
type checker struct {
	s    *Store
	errs []error

	// topics, channels and memberships count what the shard being checked
	// holds; distinct sums topics and channels over every shard.
	topics, channels, memberships int64
	distinct                      int64
	// peerMembers counts each peer's memberships found in the shards.
	peerMembers map[*Peer]int64
}

func (c *checker) failf(rule, format string, args ...any) {
	if len(c.errs) < maxCheckErrors {
		c.errs = append(c.errs, fmt.Errorf("["+rule+"] "+format, args...))
	}
}

// peerTable checks the peer table and returns its current peers.
func (c *checker) peerTable() []*Peer {
	pt := &c.s.peers
	pt.mu.Lock()
	defer pt.mu.Unlock()
	free := map[uint32]bool{}
	for _, id := range pt.free {
		if free[id] || pt.get(id) != nil {
			c.failf("peers", "free peer ID %d listed twice or in use", id)
		}
		free[id] = true
	}
	var peers []*Peer
	for id := uint32(0); id < pt.next; id++ {
		p := pt.get(id)
		switch {
		case p == nil && !free[id]:
			c.failf("peers", "peer ID %d neither used nor free", id)
		case p != nil && p.id != id:
			c.failf("peers", "peer %s recorded under ID %d holds ID %d", p.info.RemoteAddress, id, p.id)
		case p != nil:
			peers = append(peers, p)
		}
	}
	return peers
}

func (c *checker) shard(i int, sh *shard) {
	s := c.s
	c.topics, c.channels, c.memberships = 0, 0, 0
	defer func() {
		if c.topics != sh.topicCount || c.channels != sh.channelCount || c.memberships != sh.memberships {
			c.failf("counts", "shard %d counts %d topics, %d channels, %d memberships; holds %d, %d, %d",
				i, sh.topicCount, sh.channelCount, sh.memberships, c.topics, c.channels, c.memberships)
		}
		c.distinct += c.topics + c.channels
	}()
	free := map[int32]bool{}
	for _, slot := range sh.freeTopics {
		if free[slot] || sh.topics[slot].nameLen != 0 {
			c.failf("slot-free", "shard %d: free slot %d listed twice or in use", i, slot)
		}
		free[slot] = true
	}
	chained := 0
	for h, head := range sh.index {
		for slot := head; slot != noSlot; slot = sh.topics[slot].nextSameHash {
			chained++
			if r := &sh.topics[slot]; r.nameLen == 0 || r.hash(s.seed) != h {
				c.failf("slot-index", "shard %d: slot %d chained under a hash not its name's", i, slot)
				break
			}
		}
	}
	used := 0
	nameRefs := map[uint32]int32{}
	producersByPeer := map[uint32]int{}
	for si := range sh.topics {
		slot := int32(si)
		r := &sh.topics[slot]
		if r.nameLen == 0 {
			if !free[slot] {
				c.failf("slot-free", "shard %d: slot %d neither used nor free", i, slot)
			}
			continue
		}
		used++
		name := r.nameString()
		if h, home := s.locate(name); home != sh || sh.find(h, name) != slot {
			c.failf("slot-index", "topic %q in slot %d of shard %d is not found there", name, slot, i)
		}
		c.topic(sh, slot, name, nameRefs, producersByPeer)
	}
	if chained != used {
		c.failf("slot-index", "shard %d: %d topics, %d reachable through the index", i, used, chained)
	}
	c.names(i, &sh.channelNames, nameRefs)
	indexed := 0
	for id, list := range sh.byPeer {
		slots := *list
		if len(slots) == 0 {
			c.failf("by-peer", "shard %d: empty list kept for peer ID %d", i, id)
		}
		for k, slot := range slots {
			indexed++
			if sh.topics[slot].nameLen == 0 {
				c.failf("by-peer", "shard %d: peer ID %d lists free slot %d", i, id, slot)
				continue
			}
			if pi := sh.producerIndex(slot, id); pi < 0 || int(sh.producers(slot)[pi].peerIndex) != k {
				c.failf("by-peer", "shard %d: entry %d of peer ID %d (slot %d) is stale", i, k, id, slot)
			}
		}
		if len(slots) != producersByPeer[id] {
			c.failf("by-peer", "shard %d: peer ID %d lists %d topics, is a producer of %d", i, id, len(slots), producersByPeer[id])
		}
	}
	total := 0
	for _, n := range producersByPeer {
		total += n
	}
	if indexed != total {
		c.failf("by-peer", "shard %d: %d indexed memberships, %d producers", i, indexed, total)
	}
	for si := range sh.topics {
		if at := sh.topics[si].lastTombstonedAt; at > sh.lastTombstonedAt.Load() {
			c.failf("tombstone", "shard %d: topic in slot %d tombstoned after the shard's latest", i, si)
		}
	}
}

// topic checks one topic's producers and channels.
func (c *checker) topic(sh *shard, slot int32, name string, nameRefs map[uint32]int32, producersByPeer map[uint32]int) {
	s := c.s
	r := &sh.topics[slot]
	ov, hasOverflow := sh.overflow[slot]
	if hasOverflow != r.overflowed || (r.overflowed && (r.nProducers != 0 || r.nChannels != 0)) {
		c.failf("overflow", "topic %q: overflowed %v, overflow record %v, %d/%d inline", name, r.overflowed, hasOverflow, r.nProducers, r.nChannels)
		return
	}
	c.topics++
	ps, cs := sh.producers(slot), sh.channels(slot)
	c.channels += int64(len(cs))
	seen := map[uint32]bool{}
	for pi, tp := range ps {
		p := s.peers.get(tp.peer)
		if p == nil || p.removed.Load() || seen[tp.peer] {
			c.failf("producer", "topic %q: peer ID %d unknown, removed or listed twice", name, tp.peer)
			continue
		}
		seen[tp.peer] = true
		producersByPeer[tp.peer]++
		c.peerMembers[p]++
		if list := sh.topicsOf(tp.peer); int(tp.peerIndex) >= len(list) || list[tp.peerIndex] != slot {
			c.failf("by-peer", "topic %q: producer %s is missing from its peer's list", name, p.info.RemoteAddress)
		}
		if tp.tombstonedAt > r.lastTombstonedAt {
			c.failf("tombstone", "topic %q: producer %s tombstoned after the topic's latest", name, p.info.RemoteAddress)
		}
		sh.memberBits(slot, pi, 0).ForEach(func(ci int) {
			if ci >= len(cs) {
				c.failf("channel", "topic %q: producer %s holds channel index %d of %d", name, p.info.RemoteAddress, ci, len(cs))
			}
		})
	}
	c.memberships += int64(len(ps))
	if hasOverflow {
		for id := range ov.highChannels {
			if !seen[id] {
				c.failf("channel", "topic %q: channel bits kept for peer ID %d, not a producer", name, id)
			}
		}
		if ov.producerIndex != nil {
			for id, pi := range ov.producerIndex {
				if int(pi) >= len(ps) || ps[pi].peer != id {
					c.failf("producer-ix", "topic %q: index puts peer ID %d at %d", name, id, pi)
				}
			}
			if len(ov.producerIndex) != len(ps) {
				c.failf("producer-ix", "topic %q: index holds %d peers, the topic %d", name, len(ov.producerIndex), len(ps))
			}
		}
		if ov.channelIndex != nil {
			for id, ci := range ov.channelIndex {
				if int(ci) >= len(cs) || cs[ci].nameID != id {
					c.failf("channel-ix", "topic %q: index puts channel name ID %d at %d", name, id, ci)
				}
			}
			if len(ov.channelIndex) != len(cs) {
				c.failf("channel-ix", "topic %q: index holds %d channels, the topic %d", name, len(ov.channelIndex), len(cs))
			}
		}
	} else {
		for pi := range ps {
			if rest := sh.memberBits(slot, pi, 0).rest; rest != nil {
				c.failf("channel", "topic %q: high channel bits without an overflow", name)
			}
		}
	}
	seenNames := map[uint32]bool{}
	for ci, ch := range cs {
		nameRefs[ch.nameID]++
		if seenNames[ch.nameID] {
			c.failf("channel", "topic %q: channel name ID %d listed twice", name, ch.nameID)
		}
		seenNames[ch.nameID] = true
		members := int32(0)
		for pi, tp := range ps {
			if sh.memberBits(slot, pi, 0).Has(ci) {
				members++
				if p := s.peers.get(tp.peer); p != nil {
					c.peerMembers[p]++
				}
			}
		}
		if members != ch.members {
			c.failf("members", "topic %q: channel %q counts %d members, %d producers hold it",
				name, sh.channelNames.names[ch.nameID], ch.members, members)
		}
		c.memberships += int64(members)
	}
}

// names checks a shard's channel name table against the references its
// channels make.
func (c *checker) names(i int, nt *nameTable, refs map[uint32]int32) {
	if len(nt.ids)+len(nt.free) != len(nt.names) || len(nt.refs) != len(nt.names) {
		c.failf("names", "shard %d: %d names, %d in use, %d free", i, len(nt.names), len(nt.ids), len(nt.free))
	}
	for name, id := range nt.ids {
		if int(id) >= len(nt.names) || nt.names[id] != name || nt.refs[id] != refs[id] || refs[id] == 0 {
			c.failf("names", "shard %d: channel name %q (ID %d) is miscounted", i, name, id)
		}
	}
	for _, id := range nt.free {
		if int(id) >= len(nt.names) || nt.names[id] != "" || nt.refs[id] != 0 || refs[id] != 0 {
			c.failf("names", "shard %d: free channel name ID %d is in use", i, id)
		}
	}
}

func (c *checker) counts(peers []*Peer) {
	s := c.s
	live := int64(0)
	for _, p := range peers {
		if !p.removed.Load() {
			live++
		}
		if got, want := p.registrations.Load(), c.peerMembers[p]; got != want {
			c.failf("counts", "peer %s counts %d registrations, holds %d", p.info.RemoteAddress, got, want)
		}
	}
	if live != s.peerCount.Load() {
		c.failf("peers", "%d peers counted, the table holds %d", s.peerCount.Load(), live)
	}
	if c.distinct != s.distinct.Load() {
		c.failf("counts", "%d distinct registrations counted, the shards hold %d", s.distinct.Load(), c.distinct)
	}
}

// caches compares every current cache with a rebuild from the shards,
// which Check holds.
func (c *checker) caches(peers []*Peer) {
	s := c.s
	if tl := s.topicsCache.Load(); tl != nil && tl.gen == s.topicsGen.Load() {
		var names []string
		for i := range s.shards {
			for si := range s.shards[i].topics {
				if r := &s.shards[i].topics[si]; r.nameLen > 0 {
					names = append(names, r.nameString())
				}
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, tl.names) {
			c.failf("caches", "cached topic list of %d names differs from the %d topics held", len(tl.names), len(names))
		}
	}
	for _, p := range peers {
		pt := p.sortedTopics.Load()
		if pt == nil || pt.gen != p.topicsGen.Load() || p.removed.Load() {
			continue
		}
		var names []string
		for i := range s.shards {
			for _, slot := range s.shards[i].topicsOf(p.id) {
				names = append(names, s.shards[i].topics[slot].nameString())
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, pt.names) {
			c.failf("caches", "peer %s: cached topics %v, holds %v", p.info.RemoteAddress, pt.names, names)
		}
		for j, name := range pt.names {
			if pt.hashes[j] != topicHash(s.seed, name) {
				c.failf("caches", "peer %s: cached hash of %q is wrong", p.info.RemoteAddress, name)
			}
		}
	}
}
