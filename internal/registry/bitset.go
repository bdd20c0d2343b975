package registry

import "math/bits"

// channelBits is one producer's memberships of its topic's channels: bit i
// is set while the producer is in the channel at index i. The first word
// lives in the producer record; the words for indexes 64 and up, which only
// topics of that many channels need, live in the topic's overflow, one
// slice per peer. This is the only code that does the word arithmetic.
type channelBits struct {
	first *uint64
	// rest holds the words for indexes 64 and up (rest[w] holds indexes
	// 64(w+1) to 64(w+1)+63); nil when the topic has none for this peer.
	rest *[]uint64
}

// Has reports whether index i is in the set.
func (b channelBits) Has(i int) bool {
	if i < 64 {
		return *b.first&(1<<i) != 0
	}
	if b.rest == nil {
		return false
	}
	w := i/64 - 1
	return w < len(*b.rest) && (*b.rest)[w]&(1<<(i%64)) != 0
}

// Set adds index i, reporting whether it was not in the set before. An
// index of 64 or more needs rest (see shard.memberBits).
func (b channelBits) Set(i int) bool {
	word := b.first
	if i >= 64 {
		w := i/64 - 1
		if w >= len(*b.rest) {
			*b.rest = append(*b.rest, make([]uint64, w+1-len(*b.rest))...)
		}
		word = &(*b.rest)[w]
	}
	bit := uint64(1) << (i % 64)
	added := *word&bit == 0
	*word |= bit
	return added
}

// Clear removes index i, reporting whether it was in the set.
func (b channelBits) Clear(i int) bool {
	if !b.Has(i) {
		return false
	}
	if i < 64 {
		*b.first &^= 1 << i
	} else {
		(*b.rest)[i/64-1] &^= 1 << (i % 64)
	}
	return true
}

// ForEach calls fn with every index in the set, in increasing order.
func (b channelBits) ForEach(fn func(i int)) {
	for word := *b.first; word != 0; word &= word - 1 {
		fn(bits.TrailingZeros64(word))
	}
	if b.rest == nil {
		return
	}
	for w, word := range *b.rest {
		for ; word != 0; word &= word - 1 {
			fn(64*(w+1) + bits.TrailingZeros64(word))
		}
	}
}

// AppendTo appends the indexes in the set to dst, in increasing order:
// ForEach without a closure, for the hot paths.
func (b channelBits) AppendTo(dst []int) []int {
	for word := *b.first; word != 0; word &= word - 1 {
		dst = append(dst, bits.TrailingZeros64(word))
	}
	if b.rest != nil {
		for w, word := range *b.rest {
			for ; word != 0; word &= word - 1 {
				dst = append(dst, 64*(w+1)+bits.TrailingZeros64(word))
			}
		}
	}
	return dst
}

// Len returns the number of indexes in the set.
func (b channelBits) Len() int {
	n := bits.OnesCount64(*b.first)
	if b.rest != nil {
		for _, word := range *b.rest {
			n += bits.OnesCount64(word)
		}
	}
	return n
}
