package account

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/text/unicode/norm"

	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/tracing"
)

// hashing bounds how long a request may wait for one of the hasher's slots. Without a
// bound, a burst larger than the machine can hash queues without end and every request
// times out late; with it, the excess answers UNAVAILABLE at once (load shedding) and the
// requests that are served are served in time. The bound covers the wait for a slot, not
// the hashing, and an unknown address (the dummy check) is shed exactly like a known one,
// so overload does not reveal which addresses exist.
type hashing struct {
	h      passwordHasher
	wait   time.Duration // 0: wait as long as the request lives
	tracer trace.Tracer  // a span per hash or check (its wait for a slot included)
}

// bound starts the span of one hash or check, named name, and applies the wait bound.
// The span never says which check was a dummy: a trace must not tell apart known and
// unknown addresses any more than the response does.
func (b hashing) bound(ctx context.Context, name string) (context.Context, func(error)) {
	ctx, span := b.tracer.Start(ctx, name)
	if b.wait <= 0 {
		return ctx, func(err error) { tracing.End(span, err) }
	}
	c, cancel := context.WithTimeout(ctx, b.wait)
	return c, func(err error) { cancel(); tracing.End(span, err) }
}

// Hash hashes pw under the wait bound.
func (b hashing) Hash(ctx context.Context, pw string) (string, error) {
	c, end := b.bound(ctx, "password.hash")
	h, err := b.h.Hash(c, pw)
	end(err)
	return h, err
}

// Verify checks pw under the wait bound.
func (b hashing) Verify(ctx context.Context, pw, encoded string) (bool, bool, error) {
	c, end := b.bound(ctx, "password.verify")
	ok, rehash, err := b.h.Verify(c, pw, encoded)
	end(err)
	return ok, rehash, err
}

// VerifyDummy spends a verification's work under the wait bound, failing as Verify would.
func (b hashing) VerifyDummy(ctx context.Context, pw string) error {
	c, end := b.bound(ctx, "password.verify")
	err := b.h.VerifyDummy(c, pw)
	end(err)
	return err
}

// verifyStored checks a password as the user typed it (decrypted, not normalized) against
// a stored hash. Every argon2id hash this service writes is of a password in NFC, so those
// verify the NFC form. A legacy werkzeug hash (plain or wrapped by the importer) holds
// whatever bytes the Flask service got, which may be decomposed (NFD, as macOS types
// accents): it verifies the password as typed and, when that fails and the NFC form
// differs, the NFC form (DECISIONS.md). A password stored in NFD and typed in NFC therefore
// does not verify; once the user signs in with the stored form, the hash is upgraded to
// argon2id of the NFC form (needsRehash), which verifies either form from then on.
func (b hashing) verifyStored(ctx context.Context, typed, encoded string) (ok, needsRehash bool, err error) {
	nfc := norm.NFC.String(typed)
	if !legacyHash(encoded) {
		return b.Verify(ctx, nfc, encoded)
	}
	ok, needsRehash, err = b.Verify(ctx, typed, encoded)
	if err != nil || ok || nfc == typed {
		return ok, needsRehash, err
	}
	return b.Verify(ctx, nfc, encoded)
}

// checkLogin is the uniform check of a sign-in: whatever the stored hash, a wrong
// password costs the same work as on any other account, and as on an address nobody
// registered (dummyLogin), so its timing tells nothing about the account:
//
//   - one ordinary argon2id check for a password whose NFC form is what was typed, and
//     two when they differ: an argon2id account spends a dummy check on top of its own,
//     as a legacy one tries both forms;
//   - a wrapped werkzeug hash (what the importer stores) costs one ordinary check by
//     construction (password.Wrapper);
//   - a plain werkzeug hash (stored by other means than the importer) spends the dummy
//     check on top of its own, which makes a sha256 one uniform and a pbkdf2 one slower
//     than the others by its pbkdf2 work: wrap them (toktok import does).
func (b hashing) checkLogin(ctx context.Context, typed, encoded string) (ok, needsRehash bool, err error) {
	if ok, needsRehash, err = b.verifyStored(ctx, typed, encoded); err != nil {
		return false, false, err
	}
	nfc := norm.NFC.String(typed)
	switch {
	case !legacyHash(encoded):
		if nfc != typed {
			err = b.VerifyDummy(ctx, typed)
		}
	case !password.Wrapped(encoded):
		err = b.VerifyDummy(ctx, nfc)
	}
	if err != nil {
		return false, false, err
	}
	return ok, needsRehash, nil
}

// dummyLogin spends what checkLogin spends on a wrong password, for an address nobody
// registered (or input that cannot name an account).
func (b hashing) dummyLogin(ctx context.Context, typed string) error {
	nfc := norm.NFC.String(typed)
	if err := b.VerifyDummy(ctx, nfc); err != nil || nfc == typed {
		return err
	}
	return b.VerifyDummy(ctx, typed)
}

// legacyHash reports whether encoded is not one of the argon2id hashes this service writes
// (a werkzeug hash of the Flask service, plain or wrapped, or a malformed value Verify
// refuses).
func legacyHash(encoded string) bool { return !strings.HasPrefix(encoded, "$argon2id$") }
