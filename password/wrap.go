package password

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// A wrapped hash is how an imported werkzeug hash is stored: argon2id over the werkzeug
// digest, so that checking a password against it is the werkzeug derivation followed by
// one argon2id derivation, and no longer the werkzeug derivation alone:
//
//	$werkzeug-argon2id$<method>$<werkzeug salt>$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>
//
// where <method> is "sha256" or "pbkdf2:sha256:<iterations>" (always with its count) and
// key = argon2id(werkzeug digest, salt, m, t, p). The werkzeug digest itself is not stored.
//
// Why: an account still on the Flask service's hash must not be told apart from an
// argon2id account, or from an address nobody registered (whose check is the dummy
// argon2id), by how long a wrong password takes. The argon2id part of a wrapped hash is
// made cheaper by exactly what the werkzeug part costs (Wrapper calibrates it on the
// machine that imports), so the whole check costs one ordinary argon2id check. The
// combination is also stronger offline than the werkzeug hash it replaces: a guess costs
// the werkzeug work plus argon2id work.
//
// A wrapped hash verifies like any legacy hash (needsRehash at the first success, when the
// caller stores an ordinary argon2id hash of the password).
const wrappedPrefix = "$werkzeug-argon2id$"

// Wrapped reports whether encoded is a wrapped werkzeug hash (it may still be malformed).
func Wrapped(encoded string) bool { return strings.HasPrefix(encoded, wrappedPrefix) }

// minWrapMemory is the least memory, in KiB, a wrapped hash's argon2id part is given, however
// costly its werkzeug part.
const minWrapMemory = 1024

type wrappedHash struct {
	legacy werkzeugHash // sum unused
	method string       // canonical: "sha256" or "pbkdf2:sha256:N"
	argon  argon2idHash
}

func parseWrapped(s string) (wrappedHash, error) {
	var w wrappedHash
	// "", "werkzeug-argon2id", method, wsalt, "v=19", params, salt, key
	f := strings.Split(s, "$")
	if len(f) != 8 || f[0] != "" || f[1] != "werkzeug-argon2id" {
		return w, malformed("wrapped werkzeug hash must have 7 $-separated fields")
	}
	// Parse the werkzeug part with a placeholder digest: only method and salt are kept.
	lw, err := parseWerkzeug(f[2] + "$" + f[3] + "$" + strings.Repeat("00", 32))
	if err != nil {
		return w, err
	}
	if f[2] != lw.method() {
		return w, malformed("wrapped werkzeug method %q must be written in full", f[2])
	}
	a, err := parseArgon2id("$argon2id$" + strings.Join(f[4:], "$"))
	if err != nil {
		return w, err
	}
	return wrappedHash{legacy: lw, method: f[2], argon: a}, nil
}

// method is the canonical method string of w: its iteration count always written.
func (w werkzeugHash) method() string {
	if w.pbkdf2 {
		return "pbkdf2:sha256:" + strconv.Itoa(w.iterations)
	}
	return "sha256"
}

func encodeWrapped(method, wsalt string, p Params, salt, key []byte) string {
	return wrappedPrefix + method + "$" + wsalt + "$" + strings.TrimPrefix(encodeArgon2id(p, salt, key), argonIDPrefix)
}

// verifyWrapped is Verify for a wrapped hash: both derivations under one slot.
func (h *Hasher) verifyWrapped(ctx context.Context, password, encoded string) (bool, bool, error) {
	w, err := parseWrapped(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	start := time.Now()
	digest, err := w.legacy.derive(password)
	var got []byte
	if err == nil {
		a := w.argon
		got = argon2.IDKey(digest, a.salt, a.params.Time, a.params.Memory, a.params.Threads, uint32(len(a.key)))
	}
	h.release()
	if err != nil {
		return false, false, err
	}
	h.pad(ctx, start)
	ok := subtle.ConstantTimeCompare(got, w.argon.key) == 1
	return ok, ok, nil
}

// Wrapper turns werkzeug hashes into wrapped hashes whose check costs what an ordinary
// check of its Hasher costs. It measures, once per werkzeug method, the werkzeug
// derivation against an argon2id derivation at the Hasher's parameters on this machine,
// and gives the argon2id part the memory left over. It is safe for concurrent use.
type Wrapper struct {
	h *Hasher
	// The measurements (fastest of five runs); tests replace them with a cost model.
	timeArgon  func(Params) time.Duration
	timeLegacy func(werkzeugHash) (time.Duration, error)

	mu    sync.Mutex
	costs map[string]*WrapCost
	base  time.Duration // an ordinary check, measured once
}

// WrapCost is what calibration found for one werkzeug method.
type WrapCost struct {
	Method   string        // "sha256" or "pbkdf2:sha256:N"
	Legacy   time.Duration // the werkzeug derivation
	Ordinary time.Duration // an argon2id derivation at the Hasher's parameters
	Params   Params        // of the wrapped hashes' argon2id part
	Wrapped  time.Duration // a whole check of a wrapped hash, measured with Params
	// Equal reports whether Wrapped is within 10% of Ordinary. It is false only when the
	// werkzeug derivation alone costs about as much as an ordinary check or more (a
	// pbkdf2 count far above werkzeug 1.x's 150 000 on this machine): those accounts stay
	// slower to check until their first sign-in replaces the hash.
	Equal bool
	Count int // hashes wrapped with these parameters
}

// NewWrapper returns a Wrapper for h's parameters.
func (h *Hasher) NewWrapper() *Wrapper {
	return &Wrapper{h: h, timeArgon: timeArgon, timeLegacy: timeLegacy, costs: map[string]*WrapCost{}}
}

// fastest times f once to warm up (the first derivation of a size also pays for the
// memory's first touch), then five times, and returns the fastest: noise on a machine only
// ever adds time, so the minimum is the best estimate of the work itself.
func fastest(f func()) time.Duration {
	f()
	best := time.Duration(math.MaxInt64)
	for range 5 {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	return best
}

func timeArgon(p Params) time.Duration {
	in, salt := make([]byte, sha256.Size), make([]byte, saltLen)
	return fastest(func() { argon2.IDKey(in, salt, p.Time, p.Memory, p.Threads, keyLen) })
}

func timeLegacy(lw werkzeugHash) (time.Duration, error) {
	var err error
	d := fastest(func() {
		if _, e := lw.derive("calibration"); e != nil {
			err = e
		}
	})
	return d, err
}

// Wrap returns the wrapped form of a werkzeug hash (an error wrapping ErrMalformedHash for
// anything else, an argon2id hash included). It waits for a slot of the Hasher like
// Verify; the first hash of each method also pays the calibration (a few checks' work).
func (w *Wrapper) Wrap(ctx context.Context, legacy string) (string, error) {
	lw, err := parseWerkzeug(legacy)
	if err != nil {
		return "", err
	}
	c, err := w.cost(ctx, lw)
	if err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	if err := w.h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey(lw.sum, salt, c.Params.Time, c.Params.Memory, c.Params.Threads, keyLen)
	w.h.release()
	w.mu.Lock()
	c.Count++
	w.mu.Unlock()
	return encodeWrapped(lw.method(), lw.salt, c.Params, salt, key), nil
}

// Costs returns what calibration found, one entry per werkzeug method seen, by method.
func (w *Wrapper) Costs() []WrapCost {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]WrapCost, 0, len(w.costs))
	for _, c := range w.costs {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b WrapCost) int { return strings.Compare(a.Method, b.Method) })
	return out
}

// cost calibrates lw's method once, holding one of the Hasher's slots while it measures
// so that the figures are not those of a machine busy with other checks.
func (w *Wrapper) cost(ctx context.Context, lw werkzeugHash) (*WrapCost, error) {
	m := lw.method()
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.costs[m]; ok {
		return c, nil
	}
	if err := w.h.acquire(ctx); err != nil {
		return nil, err
	}
	defer w.h.release()
	p := w.h.params
	if w.base == 0 {
		w.base = w.timeArgon(p)
	}
	c := &WrapCost{Method: m, Ordinary: w.base, Params: p}
	var err error
	if c.Legacy, err = w.timeLegacy(lw); err != nil {
		return nil, fmt.Errorf("password: calibrating %s: %w", m, err)
	}
	// argon2id's cost is proportional to its memory at a given t: give the argon2id part
	// the share of memory the werkzeug part leaves, then correct once by measuring (the
	// proportion is not exact at small sizes).
	if c.Legacy*20 > c.Ordinary { // more than 5%: worth shrinking
		budget := c.Ordinary - c.Legacy
		q := p
		q.Memory = clampMemory(float64(p.Memory)*float64(budget)/float64(c.Ordinary), p)
		if budget > 0 && q.Memory > minWrapMemory {
			if got := w.timeArgon(q); got > 0 {
				q.Memory = clampMemory(float64(q.Memory)*float64(budget)/float64(got), p)
			}
		}
		c.Params = q
	}
	c.Wrapped = c.Legacy + w.timeArgon(c.Params)
	diff := c.Wrapped - c.Ordinary
	c.Equal = diff*10 <= c.Ordinary && -diff*10 <= c.Ordinary
	w.costs[m] = c
	return c, nil
}

// clampMemory rounds kib into [minWrapMemory (and 8 per lane), p.Memory]; the floor is
// p.Memory itself when that is lower (test settings).
func clampMemory(kib float64, p Params) uint32 {
	least := min(max(uint32(minWrapMemory), 8*uint32(p.Threads)), p.Memory)
	switch {
	case kib >= float64(p.Memory):
		return p.Memory
	case kib <= float64(least):
		return least
	}
	return uint32(kib)
}

// Werkzeug reports whether encoded is a werkzeug hash Wrap accepts.
func Werkzeug(encoded string) bool {
	_, err := parseWerkzeug(encoded)
	return err == nil
}
