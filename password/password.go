// Package password owns everything TokTok does with user passwords: hashing
// them with argon2id, verifying them (including the hashes inherited from
// the original Python/Flask service, so users can log in without a reset
// and be upgraded on the way), and deciding which new passwords to refuse.
//
// It exists as one package so that the security policy lives in one place:
// the hashing parameters, the cap on concurrent hashing that keeps a burst of
// logins from exhausting memory, the defence against user enumeration by
// timing, and the password rules are reviewed together.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is returned (wrapped, with detail) by Verify when the
// stored hash cannot be parsed, uses a scheme this package does not know,
// or has parameters outside the bounds it is willing to compute. It always
// means the stored value is at fault, never the password.
var ErrMalformedHash = errors.New("password: malformed or unsupported hash")

// Sizes of the salt and derived key in hashes this package creates. A stored
// argon2id hash with other sizes still verifies but is reported for rehash.
const (
	saltLen = 16
	keyLen  = 32
)

// Bounds on argon2id parameters, applied both to a Hasher's own parameters
// and to hashes presented to Verify. They are far above anything we would
// configure; their job is to stop one corrupt or planted row from pinning a
// CPU for minutes or allocating terabytes, since the memory parameter of a
// stored hash is attacker-controlled if the database ever is.
const (
	maxMemoryKiB  = 2 << 20 // 2 GiB, RFC 9106's first recommended option
	maxTime       = 64
	minArgonSalt  = 8 // libargon2's minimum
	maxArgonSalt  = 1024
	minArgonKey   = 4 // RFC 9106's minimum tag length
	maxArgonKey   = 1024
	argonIDPrefix = "$argon2id$"
)

// Params are the argon2id cost parameters. Memory is in KiB.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
}

// DefaultParams returns the parameters required by our security policy:
// m=19 MiB, t=2, p=1 (OWASP's baseline for argon2id). The memory cost of
// hashing is roughly Memory × the Hasher's concurrency.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1}
}

// Validate reports whether p can be used to create hashes that other argon2
// implementations will also accept and that this package will verify.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("password: argon2 time %d outside [1, %d]", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("password: argon2 threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		// Below 8 KiB per lane x/crypto silently raises the memory, so the
		// encoded m would lie about the work done and other implementations
		// would reject the hash.
		return fmt.Errorf("password: argon2 memory %d KiB outside [8×threads, %d]", p.Memory, maxMemoryKiB)
	}
	return nil
}

// Hasher hashes and verifies passwords, never running more than a fixed
// number of derivations at once. It is safe for concurrent use.
type Hasher struct {
	params Params
	// sem holds one token per derivation in progress. argon2id allocates
	// Params.Memory per call, so without this cap 500 concurrent logins would
	// want 500 × 19 MiB at once.
	sem chan struct{}
	// dummy is an argon2id hash with params, a random salt and a random key
	// that no password derives, verified by VerifyDummy.
	dummy string

	// floor is the least time a check (Verify, VerifyDummy) takes from the start of its
	// derivation, made up by sleeping after the slot is released (SetFloor).
	floor time.Duration

	// onSlot, when set, is told how long each derivation waited for its slot (0 when one
	// was free): SetSlotObserver.
	onSlot func(wait time.Duration)

	// Test hooks, nil in production. onWait runs when a caller finds no free
	// slot, just before it blocks; onAcquire runs while holding a slot, before
	// the derivation.
	onWait    func()
	onAcquire func()
}

// New returns a Hasher that creates hashes with p and runs at most
// concurrency Hash/Verify/VerifyDummy derivations at a time; concurrency <= 0
// means runtime.NumCPU(), as the work is CPU-bound and more would only queue
// inside the scheduler while holding memory.
//
// New panics if p is invalid (see Params.Validate): parameters come from code
// or startup configuration, so an invalid set is a programming error to
// surface immediately, not something to handle per request.
func New(p Params, concurrency int) *Hasher {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	salt := make([]byte, saltLen)
	key := make([]byte, keyLen)
	rand.Read(salt) // crypto/rand.Read never fails; it crashes the program instead.
	rand.Read(key)
	return &Hasher{
		params: p,
		sem:    make(chan struct{}, concurrency),
		dummy:  encodeArgon2id(p, salt, key),
	}
}

// SetFloor makes every check (Verify, VerifyDummy) take at least d from the start of its
// derivation, sleeping for what the work left (without holding a slot). It is for stores
// holding wrapped werkzeug hashes whose werkzeug part alone costs about an ordinary check
// or more (toktok import reports them and the figure): with d at or above their cost, no
// check is told apart by its time. 0, the default, turns it off. Call it before the
// Hasher is used.
func (h *Hasher) SetFloor(d time.Duration) { h.floor = max(d, 0) }

// pad sleeps until the check that started at start has lasted the floor, or ctx ends.
func (h *Hasher) pad(ctx context.Context, start time.Time) {
	if h.floor <= 0 {
		return
	}
	d := h.floor - time.Since(start)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Params returns the parameters the Hasher creates hashes with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns an argon2id PHC string for password with the Hasher's
// parameters and a fresh 16-byte random salt:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// It waits for a free slot first; if ctx ends during the wait (or already
// has) it returns ctx.Err() without hashing. Once started, the derivation is
// not interruptible. The password is hashed byte for byte as given.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, keyLen)
	h.release()
	return encodeArgon2id(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, which may be:
//
//   - an argon2id PHC string (v=19) with any parameters within sane bounds;
//   - a werkzeug "sha256$<salt>$<hex>" hash (HMAC-SHA256 keyed by the salt,
//     or plain SHA-256 when the salt is empty);
//   - a werkzeug "pbkdf2:sha256[:<iterations>]$<salt>$<hex>" hash, where a
//     missing iteration count means 150000, the default of the werkzeug
//     0.15–1.x releases the Flask service ran;
//   - a wrapped werkzeug hash, as the importer stores them (wrap.go): the
//     werkzeug derivation, then argon2id over its digest, under one slot.
//
// needsRehash is true only when ok is true and the hash is a legacy one or
// an argon2id one whose parameters, salt length or key length differ from
// the Hasher's; the caller should then store Hash(password). It is never
// true for a wrong password, so code that rehashes on needsRehash alone
// cannot overwrite a user's hash with an attacker's guess.
//
// A wrong password gives (false, false, nil). An unusable encoded gives an
// error wrapping ErrMalformedHash, checked before waiting for a slot. If ctx
// ends while waiting for a slot, Verify returns ctx.Err(). The only other
// error is PBKDF2 being refused in FIPS 140-only mode. Comparisons are
// constant-time.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok bool, needsRehash bool, err error) {
	var (
		derive   func() ([]byte, error)
		want     []byte
		outdated bool
	)
	if Wrapped(encoded) {
		return h.verifyWrapped(ctx, password, encoded)
	}
	if strings.HasPrefix(encoded, argonIDPrefix) {
		a, err := parseArgon2id(encoded)
		if err != nil {
			return false, false, err
		}
		derive = func() ([]byte, error) {
			return argon2.IDKey([]byte(password), a.salt, a.params.Time, a.params.Memory, a.params.Threads, uint32(len(a.key))), nil
		}
		want = a.key
		outdated = a.params != h.params || len(a.salt) != saltLen || len(a.key) != keyLen
	} else {
		w, err := parseWerkzeug(encoded)
		if err != nil {
			return false, false, err
		}
		derive = func() ([]byte, error) { return w.derive(password) }
		want = w.sum
		outdated = true
	}

	// Legacy hashes wait for a slot too: PBKDF2 at 150000 iterations costs
	// about as much CPU as argon2id, and one rule keeps ctx handling uniform.
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	start := time.Now()
	got, err := derive()
	h.release()
	if err != nil {
		return false, false, err
	}
	h.pad(ctx, start)

	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, ok && outdated, nil
}

// VerifyDummy does the work of verifying password against an argon2id hash
// with the Hasher's parameters, slot wait included, and discards the result.
// Call it when the account does not exist so that "unknown email" takes as
// long as "wrong password" and response time does not reveal which emails
// are registered. It never authenticates anyone. The dummy hash is made once
// in New, so calls cost no extra work. Its error is ctx's when no slot could be
// had, as Verify's would be, so callers can answer an unknown email exactly as
// they answer a known one that could not be checked.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// acquire takes a slot, or returns ctx.Err() if ctx ends first. An already
// ended ctx never takes a slot, even a free one, so abandoned requests do
// not start 19 MiB derivations.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.sem <- struct{}{}:
		if h.onSlot != nil {
			h.onSlot(0)
		}
	default:
		if h.onWait != nil {
			h.onWait()
		}
		start := time.Now()
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if h.onSlot != nil {
			h.onSlot(time.Since(start))
		}
	}
	if h.onAcquire != nil {
		h.onAcquire()
	}
	return nil
}

func (h *Hasher) release() { <-h.sem }

// Slots is how many derivations may run at once.
func (h *Hasher) Slots() int { return cap(h.sem) }

// Busy is how many derivations are running now.
func (h *Hasher) Busy() int { return len(h.sem) }

// SetSlotObserver makes every derivation that gets a slot report how long it waited for
// it (0 when one was free); one shed while waiting reports nothing. Call it before the
// Hasher is used.
func (h *Hasher) SetSlotObserver(f func(wait time.Duration)) { h.onSlot = f }

func encodeArgon2id(p Params, salt, key []byte) string {
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s",
		argonIDPrefix, argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

type argon2idHash struct {
	params    Params
	salt, key []byte
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, args...)...)
}

// parseArgon2id parses a PHC string. It requires an explicit v=19 (the only
// version x/crypto computes; a missing v means the older 0x10) and exactly
// the m, t and p parameters, in any order, and rejects keyid/data since
// x/crypto cannot honour them.
func parseArgon2id(s string) (argon2idHash, error) {
	var a argon2idHash
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return a, malformed("argon2id hash must have 5 $-separated fields")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return a, malformed("argon2id version %q unsupported", f[2])
	}
	var seen [3]bool
	for kv := range strings.SplitSeq(f[3], ",") {
		k, v, found := strings.Cut(kv, "=")
		if !found {
			return a, malformed("argon2id parameter %q", kv)
		}
		var (
			idx  int
			bits int
		)
		switch k {
		case "m":
			idx, bits = 0, 32
		case "t":
			idx, bits = 1, 32
		case "p":
			idx, bits = 2, 8
		default:
			return a, malformed("argon2id parameter %q unsupported", k)
		}
		if seen[idx] {
			return a, malformed("argon2id parameter %q repeated", k)
		}
		seen[idx] = true
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return a, malformed("argon2id parameter %s=%q", k, v)
		}
		switch idx {
		case 0:
			a.params.Memory = uint32(n)
		case 1:
			a.params.Time = uint32(n)
		case 2:
			a.params.Threads = uint8(n)
		}
	}
	if seen != [3]bool{true, true, true} {
		return a, malformed("argon2id hash needs m, t and p")
	}
	if err := a.params.Validate(); err != nil {
		return a, malformed("%v", err)
	}
	var err error
	if a.salt, err = base64.RawStdEncoding.DecodeString(f[4]); err != nil || len(a.salt) < minArgonSalt || len(a.salt) > maxArgonSalt {
		return a, malformed("argon2id salt must be %d–%d bytes of unpadded base64", minArgonSalt, maxArgonSalt)
	}
	if a.key, err = base64.RawStdEncoding.DecodeString(f[5]); err != nil || len(a.key) < minArgonKey || len(a.key) > maxArgonKey {
		return a, malformed("argon2id key must be %d–%d bytes of unpadded base64", minArgonKey, maxArgonKey)
	}
	return a, nil
}
