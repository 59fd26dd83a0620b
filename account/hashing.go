package account

import (
	"context"
	"time"
)

// hashing bounds how long a request may wait for one of the hasher's slots. Without a
// bound, a burst larger than the machine can hash queues without end and every request
// times out late; with it, the excess answers UNAVAILABLE at once (load shedding) and the
// requests that are served are served in time. The bound covers the wait for a slot, not
// the hashing, and an unknown address (the dummy check) is shed exactly like a known one,
// so overload does not reveal which addresses exist.
type hashing struct {
	h    passwordHasher
	wait time.Duration // 0: wait as long as the request lives
}

func (b hashing) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if b.wait <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.wait)
}

// Hash hashes pw under the wait bound.
func (b hashing) Hash(ctx context.Context, pw string) (string, error) {
	c, cancel := b.bound(ctx)
	defer cancel()
	return b.h.Hash(c, pw)
}

// Verify checks pw under the wait bound.
func (b hashing) Verify(ctx context.Context, pw, encoded string) (bool, bool, error) {
	c, cancel := b.bound(ctx)
	defer cancel()
	return b.h.Verify(c, pw, encoded)
}

// VerifyDummy spends a verification's work under the wait bound, failing as Verify would.
func (b hashing) VerifyDummy(ctx context.Context, pw string) error {
	c, cancel := b.bound(ctx)
	defer cancel()
	return b.h.VerifyDummy(c, pw)
}
