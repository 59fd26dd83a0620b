package token

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCache remembers the access tokens a Service has verified, by the SHA-256 of the
// token, so that the next request with the same token skips the signature check (an ES256
// verification is most of a request's CPU). Only tokens that passed every check are
// stored, with their claims; an entry serves until the token's exp plus the leeway, the
// instant the full check would start refusing it, so a hit answers exactly what a
// verification would. It is bounded: when full, expired entries go first, then arbitrary
// ones (Go's map order), down to three quarters. Whether the session behind a token is
// still live is not its business: that is checked on every request, so a revocation
// still bites at once.
type verifiedCache struct {
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]AccessClaims
	max int
}

// verifiedCacheSize bounds the entries: about 200 bytes each.
const verifiedCacheSize = 16384

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{m: make(map[[sha256.Size]byte]AccessClaims), max: max}
}

func (c *verifiedCache) get(k [sha256.Size]byte) (AccessClaims, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *verifiedCache) put(k [sha256.Size]byte, v AccessClaims, now time.Time, leeway time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.ExpiresAt.Add(leeway)) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max*3/4 {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = v
}

func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
