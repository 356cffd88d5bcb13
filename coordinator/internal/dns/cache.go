package dns

import (
	"sync"

	mdns "github.com/miekg/dns"
)

// maxCacheEntries bounds the answer cache; a flood of made-up names evicts
// entries at random instead of growing it.
const maxCacheEntries = 4096

// answerCache keeps the records built from the view for service and node
// names, for one catalogue index: when the index moves, everything built
// before is dropped. Records are shared by every reply that uses them and
// must never be modified; miekg/dns only reads them when packing.
//
// An entry stored under index i was built from a catalogue at index i or
// later, because the index is read before the view, and the index only
// grows; so a hit is never older than the catalogue the query saw.
type answerCache struct {
	mu      sync.RWMutex // guards index and entries
	index   uint64
	entries map[cacheKey]records
}

type cacheKey struct {
	name  string // lower case
	qtype uint16 // A, AAAA or SRV; 0 for types answered by existence only
}

// records is what a name has for one query type, with lower-case owners.
type records struct {
	exists bool
	answer []mdns.RR
	extra  []mdns.RR
}

func cacheType(qtype uint16) uint16 {
	switch qtype {
	case mdns.TypeA, mdns.TypeAAAA, mdns.TypeSRV:
		return qtype
	}
	return 0
}

func (c *answerCache) get(index uint64, k cacheKey) (records, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.index != index {
		return records{}, false
	}
	r, ok := c.entries[k]
	return r, ok
}

func (c *answerCache) put(index uint64, k cacheKey, r records) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index != index || c.entries == nil {
		c.index = index
		c.entries = make(map[cacheKey]records)
	}
	if len(c.entries) >= maxCacheEntries {
		for victim := range c.entries { // map order is random
			delete(c.entries, victim)
			break
		}
	}
	c.entries[k] = r
}
