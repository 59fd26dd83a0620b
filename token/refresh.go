package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// MaxSessionIDLen is the longest session id a refresh token can carry.
const MaxSessionIDLen = 64

const (
	refreshPrefix = "rt1_" // versioned, and lets scanners and humans spot leaked tokens
	counterLen    = 8
	// refreshMACLen truncates HMAC-SHA256 to 128 bits: a forger's chance per
	// attempt is 2^-128, and the token stays short.
	refreshMACLen = 16
	// refreshContext separates refresh-token MACs from every other use of the
	// secret. It contains characters that cannot occur in a JWS signing
	// input, so even a secret shared with an HS256 key is safe.
	refreshContext = "toktok refresh token v1\x00"

	minRefreshRaw = counterLen + 1 + refreshMACLen
	maxRefreshRaw = counterLen + MaxSessionIDLen + refreshMACLen
)

// RefreshCodec encodes and authenticates refresh tokens. A refresh token is
// deliberately not a JWT: it is only ever read by TokTok, so it needs no
// public format, no algorithm agility and no claims, just a session id and a
// rotation counter that the server checks against its session store (which
// is where revocation and reuse detection happen; the codec only guarantees
// that the pair was issued by a holder of the secret).
//
// Format: "rt1_" + base64url without padding of
// counter (8 bytes, big-endian) || session id || HMAC-SHA256(secret,
// context || counter || session id) truncated to 16 bytes.
//
// A RefreshCodec is immutable and safe for concurrent use.
type RefreshCodec struct {
	secret []byte
}

// NewRefreshCodec returns a codec keyed with secret, which must be at least
// 32 bytes. The secret is copied.
func NewRefreshCodec(secret []byte) (*RefreshCodec, error) {
	if len(secret) < minHMACBytes {
		return nil, fmt.Errorf("token: refresh secret is %d bytes, need at least %d", len(secret), minHMACBytes)
	}
	return &RefreshCodec{secret: append([]byte(nil), secret...)}, nil
}

// Encode returns the refresh token for a session at a rotation counter.
// sessionID must be 1 to MaxSessionIDLen bytes; anything else is a
// programming error and panics, because no caller can handle an error from
// minting a token for an id it created itself.
func (c *RefreshCodec) Encode(sessionID string, counter int64) string {
	if sessionID == "" || len(sessionID) > MaxSessionIDLen {
		panic(fmt.Sprintf("token: refresh session id of %d bytes, want 1 to %d", len(sessionID), MaxSessionIDLen))
	}
	raw := make([]byte, counterLen, counterLen+len(sessionID)+refreshMACLen)
	binary.BigEndian.PutUint64(raw, uint64(counter))
	raw = append(raw, sessionID...)
	raw = append(raw, c.mac(raw)...)
	return refreshPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// Decode authenticates a refresh token and returns its session id and
// counter. Any malformed, truncated, extended or forged input fails with an
// error matching ErrInvalid. The MAC is compared in constant time.
func (c *RefreshCodec) Decode(tok string) (sessionID string, counter int64, err error) {
	enc, ok := strings.CutPrefix(tok, refreshPrefix)
	if !ok {
		return "", 0, fmt.Errorf("%w: not a refresh token", ErrInvalid)
	}
	if len(enc) > base64.RawURLEncoding.EncodedLen(maxRefreshRaw) {
		return "", 0, fmt.Errorf("%w: refresh token too long", ErrInvalid)
	}
	// Strict rejects set padding bits and the length check rejects the CR
	// and LF the decoder would skip, so each token has a single spelling.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(enc) != base64.RawURLEncoding.EncodedLen(len(raw)) {
		return "", 0, fmt.Errorf("%w: malformed refresh token", ErrInvalid)
	}
	if len(raw) < minRefreshRaw || len(raw) > maxRefreshRaw {
		return "", 0, fmt.Errorf("%w: refresh token of wrong length", ErrInvalid)
	}
	body, tag := raw[:len(raw)-refreshMACLen], raw[len(raw)-refreshMACLen:]
	if !hmac.Equal(tag, c.mac(body)) {
		return "", 0, fmt.Errorf("%w: refresh token MAC mismatch", ErrInvalid)
	}
	return string(body[counterLen:]), int64(binary.BigEndian.Uint64(body)), nil
}

func (c *RefreshCodec) mac(body []byte) []byte {
	h := hmac.New(sha256.New, c.secret)
	h.Write([]byte(refreshContext))
	h.Write(body)
	return h.Sum(nil)[:refreshMACLen]
}
