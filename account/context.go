package account

import (
	"context"

	"github.com/toktok/toktok/token"
)

// Kind says what the request's bearer token turned out to be.
type Kind int

// The kinds of bearer credential a request can carry.
const (
	KindNone      Kind = iota // no Authorization header
	KindAnonymous             // a valid anonymous token
	KindAccess                // a valid access token (its session is checked later)
	KindInvalid               // something was presented and it did not verify
)

// Auth is what the HTTP middleware found in the Authorization header. It never fails a
// request itself: each operation decides what it needs.
type Auth struct {
	Kind   Kind
	Access token.AccessClaims
	Anon   token.AnonymousClaims
}

// Client is the request's origin as the audit log and sessions record it.
type Client struct {
	IP        string
	UserAgent string
}

type authKey struct{}
type clientKey struct{}
type principalKey struct{}

// WithAuth returns ctx carrying a.
func WithAuth(ctx context.Context, a Auth) context.Context {
	return context.WithValue(ctx, authKey{}, a)
}

// AuthFrom returns the request's Auth (KindNone when absent).
func AuthFrom(ctx context.Context) Auth {
	a, _ := ctx.Value(authKey{}).(Auth)
	return a
}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the request's Client (zero when absent).
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// WithPrincipal returns ctx carrying the authenticated caller, so the resolvers under an
// @auth field do not authenticate twice.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller set by WithPrincipal.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
