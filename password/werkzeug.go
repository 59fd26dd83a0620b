package password

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Werkzeug hashes are "<method>$<salt>$<hex digest>", where the salt is used
// as its UTF-8 bytes (werkzeug generated alphanumeric salts) and the digest
// is SHA-256 sized. Only the two methods the Flask service used are read.
const (
	// werkzeugDefaultIterations is what werkzeug 0.15 to 1.x used for
	// "pbkdf2:sha256" without an iteration count (0.x before 0.15 used
	// 50000, 2.0–2.2 used 260000). werkzeug always wrote the count it used
	// into the hash, so a hash without one was written by hand or by other
	// code and is read the way the service's werkzeug read it.
	werkzeugDefaultIterations = 150000
	// maxPBKDF2Iterations bounds the CPU a stored hash can demand; werkzeug's
	// highest default so far is 1000000.
	maxPBKDF2Iterations = 10_000_000
)

type werkzeugHash struct {
	pbkdf2     bool
	iterations int
	salt       string
	sum        []byte
}

func parseWerkzeug(s string) (werkzeugHash, error) {
	var w werkzeugHash
	method, rest, ok1 := strings.Cut(s, "$")
	salt, digest, ok2 := strings.Cut(rest, "$")
	if !ok1 || !ok2 {
		return w, malformed("not an argon2id or werkzeug hash")
	}
	w.salt = salt
	switch {
	case method == "sha256":
		// Empty salt is valid: werkzeug then used plain SHA-256.
	case method == "pbkdf2:sha256":
		w.pbkdf2, w.iterations = true, werkzeugDefaultIterations
	case strings.HasPrefix(method, "pbkdf2:sha256:"):
		n, err := strconv.Atoi(strings.TrimPrefix(method, "pbkdf2:sha256:"))
		// Atoi accepts a sign; werkzeug 2.x would reject 0 and negatives.
		if err != nil || n < 1 || n > maxPBKDF2Iterations {
			return w, malformed("pbkdf2 iteration count in %q", method)
		}
		w.pbkdf2, w.iterations = true, n
	default:
		return w, malformed("werkzeug method %q unsupported", method)
	}
	if w.pbkdf2 && salt == "" {
		return w, malformed("pbkdf2 hash without salt") // werkzeug refused these too
	}
	sum, err := hex.DecodeString(digest)
	if err != nil || len(sum) != sha256.Size {
		return w, malformed("werkzeug digest must be %d hex characters", 2*sha256.Size)
	}
	w.sum = sum
	return w, nil
}

// derive recomputes the digest werkzeug stored for password.
func (w werkzeugHash) derive(password string) ([]byte, error) {
	switch {
	case w.pbkdf2:
		// Key fails only in FIPS 140-only mode, which refuses werkzeug's
		// 8-character salts; that must surface rather than look like a
		// wrong password.
		return pbkdf2.Key(sha256.New, password, []byte(w.salt), w.iterations, sha256.Size)
	case w.salt == "":
		s := sha256.Sum256([]byte(password))
		return s[:], nil
	default:
		m := hmac.New(sha256.New, []byte(w.salt))
		m.Write([]byte(password))
		return m.Sum(nil), nil
	}
}
