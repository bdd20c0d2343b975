package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// cacheKey identifies a query: a salted SHA-256 of (secret, client IP, tls,
// common name), so neither a memory dump nor a cache listing shows a secret.
type cacheKey [sha256.Size]byte

// keyOf hashes q's fields, each length-prefixed so no two tuples share an
// encoding. The buffer lives on the stack for all but very long fields.
func keyOf(salt *[16]byte, q *Query) cacheKey {
	var stack [256]byte
	buf := append(stack[:0], salt[:]...)
	buf = appendField(buf, q.Secret)
	buf = appendField(buf, q.RemoteIP)
	buf = appendField(buf, q.CommonName)
	if q.TLS {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	return sha256.Sum256(buf)
}

func appendField(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// answerCache holds answers until their ttl passes, at most max of them.
//
// When an answer is added to a full cache, every expired answer is dropped;
// if that frees less than an eighth of the room, arbitrary live answers
// (map iteration order) go too, down to seven eighths. The sweep is O(n),
// and happens at most once per max/8 additions: O(1) amortized.
type answerCache struct {
	max int

	// mu guards entries.
	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
}

type cacheEntry struct {
	answer  *Answer
	expires time.Time
}

func newAnswerCache(max int) *answerCache {
	return &answerCache{max: max, entries: make(map[cacheKey]cacheEntry)}
}

// get returns the answer cached for key, if it has not expired at now.
func (c *answerCache) get(key *cacheKey, now time.Time) *Answer {
	c.mu.RLock()
	e, ok := c.entries[*key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil
	}
	return e.answer
}

// put caches answer for key until now + its TTL; a zero TTL is not cached.
func (c *answerCache) put(key *cacheKey, answer *Answer, now time.Time) {
	if answer.TTL <= 0 {
		return
	}
	e := cacheEntry{answer: answer, expires: now.Add(answer.TTL)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[*key]; !ok && len(c.entries) >= c.max {
		c.makeRoomLocked(now)
	}
	c.entries[*key] = e
}

// makeRoomLocked drops expired entries, then arbitrary ones, until at most
// lowWater remain.
func (c *answerCache) makeRoomLocked(now time.Time) {
	lowWater := c.max - c.max/8
	if lowWater >= c.max {
		lowWater = c.max - 1
	}
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) <= lowWater {
			break
		}
		delete(c.entries, k)
	}
}

// len returns the number of entries, expired ones included.
func (c *answerCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
