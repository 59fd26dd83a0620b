// Package token issues and verifies TokTok's bearer credentials: short-lived
// JWT access tokens (RFC 9068 "at+jwt"), anonymous-visitor JWTs, and opaque
// refresh tokens. It also loads signing keys and publishes their public
// halves as a JWKS so resource servers can verify access tokens offline.
//
// It exists as one package so that every security decision about tokens
// (which algorithms, which headers, which claims, which key) lives in one
// place that can be audited against RFC 8725 (JWT Best Current Practices),
// instead of being spread over HTTP handlers. Callers get typed claims and
// two errors, never a *jwt.Token, so they cannot forget a check.
package token
