package token

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verification errors. Every rejected token yields an error matching exactly
// one of them under errors.Is. The wrapped text says why, for logs only:
// clients should see a single generic message either way, so that they learn
// nothing about which check failed.
var (
	// ErrInvalid: malformed, forged, wrong kind, wrong issuer or audience,
	// unknown key, disallowed algorithm or header, or otherwise unacceptable.
	ErrInvalid = errors.New("token: invalid token")
	// ErrExpired: a genuine token of the right kind whose only fault is
	// that it expired (beyond the leeway). Separate so logs can tell routine
	// expiry from attacks.
	ErrExpired = errors.New("token: expired token")
)

const (
	typAccess    = "at+jwt" // RFC 9068 §2.1
	typAnonymous = "anon+jwt"
	anonPrefix   = "anon_"

	// maxTokenLen bounds the work an unauthenticated caller can cause. Our
	// largest token (RS256/PS256 signature) is well under 1 KiB.
	maxTokenLen = 8 << 10

	defaultAccessTTL = 15 * time.Minute
	defaultAnonTTL   = 12 * time.Hour
	defaultLeeway    = 30 * time.Second
)

// Config holds the token parameters. The zero value of a duration field
// selects its default.
type Config struct {
	Issuer    string        // "iss" of every token; required
	Audience  string        // "aud" of access tokens; required. Anonymous tokens use Audience + ":anonymous".
	AccessTTL time.Duration // lifetime of access tokens; default 15m
	AnonTTL   time.Duration // lifetime of anonymous tokens; default 12h
	Leeway    time.Duration // clock skew tolerated on exp and iat; default 30s
}

// Kind is the kind of a token, as told by its "typ" header.
type Kind int

// Kinds of token. The zero Kind is no kind, so an unset Kind never passes
// for a real one.
const (
	KindAccess Kind = iota + 1
	KindAnonymous
)

func (k Kind) String() string {
	switch k {
	case KindAccess:
		return "access"
	case KindAnonymous:
		return "anonymous"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// AccessClaims are the claims of an access token: what IssueAccess put in
// and what VerifyAccess returns. Times are UTC with whole seconds, the
// precision of JWT NumericDate, so issued and verified claims compare equal.
type AccessClaims struct {
	UserID        string // "sub"
	SessionID     string // "sid": lets a session's revocation reach its access tokens
	Role          string // "role"
	EmailVerified bool   // "email_verified"
	// AAL is the session's assurance level ("aal1", "aal2") and AMR the methods behind it
	// ("pwd", "otp", "recovery", "webauthn"), RFC 8176's claim with the API's values.
	AAL       string   // "aal"
	AMR       []string // "amr"
	ID        string   // "jti": random, unique per token
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// AnonymousClaims are the claims of an anonymous token, which identifies a
// not-logged-in visitor (for rate limiting, carts, drafts) without any
// account behind it.
type AnonymousClaims struct {
	Subject   string // "sub": random, starts with "anon_"
	ID        string // "jti"
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Service issues and verifies access and anonymous tokens. It is immutable
// after New and safe for concurrent use.
type Service struct {
	cfg     Config
	anonAud string
	signer  *Key
	method  jwt.SigningMethod
	keys    map[string]*Key // by kid: the signing key and the extra verify keys
	methods []string        // the algorithms of keys, for jwt.WithValidMethods
	jwks    []byte
	cache   *verifiedCache // access tokens already verified (cache.go)
}

// New returns a Service that signs with key and verifies tokens signed by key
// or by any of extraVerifyKeys, which are typically the public halves of
// recently retired keys: during a rotation, tokens signed by the old key stay
// valid until they expire, and the JWKS keeps publishing the old public key
// for resource servers that cache it.
//
// key must be a signing key. Each verification key is pinned to its own Alg
// (a token is checked with the algorithm of the key its kid names, and no
// other), so extra keys may use a different asymmetric algorithm than key,
// which permits rotating algorithms too. HS256 and asymmetric keys cannot be
// mixed, and kids must be distinct.
func New(cfg Config, key *Key, extraVerifyKeys ...*Key) (*Service, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("token: Config.Issuer and Config.Audience are required")
	}
	for _, d := range []*time.Duration{&cfg.AccessTTL, &cfg.AnonTTL, &cfg.Leeway} {
		if *d < 0 {
			return nil, errors.New("token: Config durations must not be negative")
		}
	}
	cfg.AccessTTL = cmp.Or(cfg.AccessTTL, defaultAccessTTL)
	cfg.AnonTTL = cmp.Or(cfg.AnonTTL, defaultAnonTTL)
	cfg.Leeway = cmp.Or(cfg.Leeway, defaultLeeway)
	if key == nil {
		return nil, errors.New("token: nil signing key")
	}
	if key.signer == nil {
		return nil, fmt.Errorf("token: %v cannot sign", key)
	}

	s := &Service{
		cfg:     cfg,
		anonAud: cfg.Audience + ":anonymous",
		signer:  key,
		method:  key.alg.method(),
		keys:    make(map[string]*Key, 1+len(extraVerifyKeys)),
		cache:   newVerifiedCache(verifiedCacheSize),
	}
	set := struct {
		Keys []*jwk `json:"keys"`
	}{Keys: []*jwk{}}
	for i, k := range append([]*Key{key}, extraVerifyKeys...) {
		if k == nil {
			return nil, fmt.Errorf("token: extra verify key %d is nil", i-1)
		}
		if (k.alg == HS256) != (key.alg == HS256) {
			return nil, fmt.Errorf("token: %v cannot be combined with signing key %v: HS256 and asymmetric keys don't mix", k, key)
		}
		if _, dup := s.keys[k.kid]; dup {
			return nil, fmt.Errorf("token: two keys with kid %s (one key per algorithm)", k.kid)
		}
		s.keys[k.kid] = k.Public()
		if !slices.Contains(s.methods, string(k.alg)) {
			s.methods = append(s.methods, string(k.alg))
		}
		if k.jwk != nil {
			set.Keys = append(set.Keys, k.jwk)
		}
	}
	var err error
	if s.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("token: encoding JWKS: %w", err)
	}
	return s, nil
}

// JWKS returns the RFC 7517 JSON Web Key Set of the public verification keys
// ({"keys":[...]}, the signing key first), for serving at the JWKS endpoint.
// HS256 keys are secrets and never published, so an HS256 service returns
// {"keys":[]}. The document is built once in New; each call returns a fresh
// copy that the caller may keep or modify.
func (s *Service) JWKS() []byte { return bytes.Clone(s.jwks) }

// accessJWT is the wire form of an access token's claims (RFC 9068 §2.2).
type accessJWT struct {
	jwt.RegisteredClaims
	SessionID     string   `json:"sid"`
	Role          string   `json:"role"`
	EmailVerified bool     `json:"email_verified"`
	AAL           string   `json:"aal,omitempty"`
	AMR           []string `json:"amr,omitempty"`
}

// Validate adds the presence checks jwt's validator has no option for; it is
// called by the parser after the signature was verified.
func (c *accessJWT) Validate() error {
	if err := requireClaims(&c.RegisteredClaims); err != nil {
		return err
	}
	if c.SessionID == "" {
		return errors.New("sid claim is required")
	}
	return nil
}

type anonJWT struct {
	jwt.RegisteredClaims
}

func (c *anonJWT) Validate() error {
	if !strings.HasPrefix(c.Subject, anonPrefix) {
		return errors.New("anonymous sub lacks the anon_ prefix")
	}
	return requireClaims(&c.RegisteredClaims)
}

// requireClaims checks that sub, jti and iat are present; exp, iss and aud
// are enforced by parser options.
func requireClaims(c *jwt.RegisteredClaims) error {
	if c.IssuedAt == nil {
		return errors.New("iat claim is required")
	}
	if c.Subject == "" {
		return errors.New("sub claim is required")
	}
	if c.ID == "" {
		return errors.New("jti claim is required")
	}
	return nil
}

// IssueAccess signs an access token for a user's session, valid from now
// (truncated to the second) for Config.AccessTTL, and returns it with its
// claims. userID and sessionID must not be empty: every access token belongs
// to a session, so that ending the session can be enforced. The token says "aal1" and
// names no method: IssueAccessLevel says more.
func (s *Service) IssueAccess(userID, sessionID, role string, emailVerified bool, now time.Time) (token string, claims AccessClaims, err error) {
	return s.IssueAccessLevel(userID, sessionID, role, emailVerified, "aal1", nil, now)
}

// IssueAccessLevel is IssueAccess for a session at assurance level aal reached by the
// methods amr: the token carries both ("aal", "amr"), so a relying service can require a
// second factor without asking TokTok.
func (s *Service) IssueAccessLevel(userID, sessionID, role string, emailVerified bool, aal string, amr []string, now time.Time) (token string, claims AccessClaims, err error) {
	if userID == "" || sessionID == "" {
		return "", AccessClaims{}, errors.New("token: IssueAccess needs a user id and a session id")
	}
	iat, exp, err := lifetime(now, s.cfg.AccessTTL)
	if err != nil {
		return "", AccessClaims{}, err
	}
	claims = AccessClaims{
		UserID:        userID,
		SessionID:     sessionID,
		Role:          role,
		EmailVerified: emailVerified,
		AAL:           aal,
		AMR:           amr,
		ID:            rand.Text(),
		IssuedAt:      iat,
		ExpiresAt:     exp,
	}
	token, err = s.sign(typAccess, &accessJWT{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        claims.ID,
		},
		SessionID:     sessionID,
		Role:          role,
		EmailVerified: emailVerified,
		AAL:           aal,
		AMR:           amr,
	})
	if err != nil {
		return "", AccessClaims{}, err
	}
	return token, claims, nil
}

// IssueAnonymous signs a token for a new anonymous visitor with a fresh
// random subject, valid from now for Config.AnonTTL.
func (s *Service) IssueAnonymous(now time.Time) (token string, claims AnonymousClaims, err error) {
	iat, exp, err := lifetime(now, s.cfg.AnonTTL)
	if err != nil {
		return "", AnonymousClaims{}, err
	}
	claims = AnonymousClaims{
		Subject:   anonPrefix + rand.Text(),
		ID:        rand.Text(),
		IssuedAt:  iat,
		ExpiresAt: exp,
	}
	token, err = s.sign(typAnonymous, &anonJWT{jwt.RegisteredClaims{
		Issuer:    s.cfg.Issuer,
		Subject:   claims.Subject,
		Audience:  jwt.ClaimStrings{s.anonAud},
		ExpiresAt: jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(iat),
		ID:        claims.ID,
	}})
	if err != nil {
		return "", AnonymousClaims{}, err
	}
	return token, claims, nil
}

// lifetime truncates to whole seconds up front, because that is all a JWT
// NumericDate carries; the returned claims then equal the verified ones.
func lifetime(now time.Time, ttl time.Duration) (iat, exp time.Time, err error) {
	if now.IsZero() {
		return time.Time{}, time.Time{}, errors.New("token: zero issue time")
	}
	iat = now.Truncate(time.Second).UTC()
	return iat, iat.Add(ttl).Truncate(time.Second), nil
}

func (s *Service) sign(typ string, claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(s.method, claims)
	t.Header["typ"] = typ
	t.Header["kid"] = s.signer.kid
	tok, err := t.SignedString(s.signer.signer)
	if err != nil {
		return "", fmt.Errorf("token: signing: %w", err)
	}
	return tok, nil
}

// VerifyAccess verifies an access token at time now and returns its claims.
// It fails with ErrExpired if the token is genuine but expired, and with
// ErrInvalid for everything else, including a valid anonymous token.
//
// A token verified before is answered from a cache (cache.go) until its exp plus the
// leeway, with the same claims and the same verdicts.
func (s *Service) VerifyAccess(tok string, now time.Time) (AccessClaims, error) {
	if len(tok) > maxTokenLen {
		return AccessClaims{}, fmt.Errorf("%w: token longer than %d bytes", ErrInvalid, maxTokenLen)
	}
	key := sha256.Sum256([]byte(tok))
	if c, ok := s.cache.get(key); ok {
		switch {
		case !now.Before(c.ExpiresAt.Add(s.cfg.Leeway)): // jwt: valid while now < exp + leeway
			return AccessClaims{}, fmt.Errorf("%w: token expired at %s", ErrExpired, c.ExpiresAt.Format(time.RFC3339))
		case !c.IssuedAt.After(now.Add(s.cfg.Leeway)):
			return c, nil
		}
		// Issued in the future of now (a clock set back): the full check decides.
	}
	c, err := s.VerifyAccessFull(tok, now)
	if err == nil {
		s.cache.put(key, c, now, s.cfg.Leeway)
	}
	return c, err
}

// VerifyAccessFull is VerifyAccess without its cache: every check, the signature
// included, every time. The service uses VerifyAccess; this is for the benchmarks' floor
// (a bare handler that verifies a token) and for tools.
func (s *Service) VerifyAccessFull(tok string, now time.Time) (AccessClaims, error) {
	var c accessJWT
	if err := s.verify(tok, now, typAccess, s.cfg.Audience, &c); err != nil {
		return AccessClaims{}, err
	}
	return AccessClaims{
		UserID:        c.Subject,
		SessionID:     c.SessionID,
		Role:          c.Role,
		EmailVerified: c.EmailVerified,
		AAL:           c.AAL,
		AMR:           c.AMR,
		ID:            c.ID,
		IssuedAt:      c.IssuedAt.UTC(),
		ExpiresAt:     c.ExpiresAt.UTC(),
	}, nil
}

// VerifyAnonymous verifies an anonymous token at time now and returns its
// claims. It fails with ErrExpired if the token is genuine but expired, and
// with ErrInvalid for everything else, including a valid access token.
func (s *Service) VerifyAnonymous(tok string, now time.Time) (AnonymousClaims, error) {
	var c anonJWT
	if err := s.verify(tok, now, typAnonymous, s.anonAud, &c); err != nil {
		return AnonymousClaims{}, err
	}
	return AnonymousClaims{
		Subject:   c.Subject,
		ID:        c.ID,
		IssuedAt:  c.IssuedAt.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(),
	}, nil
}

// verify applies the RFC 8725 checks. Kinds are kept apart twice over, by
// typ and by aud, so that neither check alone has to be perfect.
func (s *Service) verify(tok string, now time.Time, typ, aud string, claims jwt.Claims) error {
	if len(tok) > maxTokenLen {
		return fmt.Errorf("%w: token longer than %d bytes", ErrInvalid, maxTokenLen)
	}
	// The base64 decoder skips CR and LF, so without this check one token
	// would have many spellings; only the canonical one is accepted.
	if !jwsAlphabet(tok) {
		return fmt.Errorf("%w: characters outside the base64url alphabet", ErrInvalid)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods(s.methods),
		jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(aud),
		jwt.WithLeeway(s.cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := p.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		return s.keyFor(t, typ)
	})
	switch {
	case err == nil:
		return nil
	case onlyExpired(err):
		return fmt.Errorf("%w: %v", ErrExpired, err)
	default:
		// %v, not %w: callers must not come to depend on jwt's errors.
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
}

// keyFor checks the header of a token whose alg is already known to be one
// of s.methods and returns the verification key its kid selects.
func (s *Service) keyFor(t *jwt.Token, typ string) (any, error) {
	// Only the headers we emit are accepted. In particular jwk, jku, x5u
	// and x5c would let the token name its own verification key, and crit
	// demands extensions we don't implement (RFC 7515 §4.1.11).
	for name := range t.Header {
		if name != "alg" && name != "kid" && name != "typ" {
			return nil, fmt.Errorf("header %.32q not accepted", name)
		}
	}
	if got, _ := t.Header["typ"].(string); !typIs(got, typ) {
		return nil, fmt.Errorf("typ %.32q, want %q", got, typ)
	}
	kid, ok := t.Header["kid"].(string)
	if !ok {
		return nil, errors.New("no kid")
	}
	k := s.keys[kid]
	if k == nil {
		return nil, fmt.Errorf("unknown kid %.64q", kid)
	}
	if t.Method.Alg() != string(k.alg) {
		return nil, fmt.Errorf("alg %s is not the alg of key %s", t.Method.Alg(), kid)
	}
	return k.verify, nil
}

// typIs compares typ header values the way RFC 7515 §4.1.9 says: case-
// insensitively, with an optional "application/" prefix.
func typIs(got, want string) bool {
	return strings.EqualFold(got, want) || strings.EqualFold(got, "application/"+want)
}

func jwsAlphabet(tok string) bool {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// onlyExpired reports whether err is a claims-validation failure whose only
// cause is expiry. jwt reports all failed claims together, and a token that
// is both expired and for another audience must count as invalid, not
// expired. Claims are validated only after the signature, so an expired
// result always concerns a genuine token.
func onlyExpired(err error) bool {
	expired := false
	var walk func(error) bool
	walk = func(e error) bool {
		switch x := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				if !walk(c) {
					return false
				}
			}
			return true
		case interface{ Unwrap() error }:
			return walk(x.Unwrap())
		}
		switch e {
		case jwt.ErrTokenExpired:
			expired = true
			return true
		case jwt.ErrTokenInvalidClaims:
			return true
		}
		return false
	}
	return walk(err) && expired
}

// KindOf reports which kind of token tok claims to be, from its unverified
// "typ" header, so a caller accepting either kind knows which Verify method
// to call. The answer is not to be trusted any further than that: the Verify
// method checks typ again, along with everything else.
func KindOf(tok string) (Kind, bool) {
	if len(tok) > maxTokenLen {
		return 0, false
	}
	head, _, ok := strings.Cut(tok, ".")
	if !ok {
		return 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return 0, false
	}
	var h struct {
		Typ string `json:"typ"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return 0, false
	}
	switch {
	case typIs(h.Typ, typAccess):
		return KindAccess, true
	case typIs(h.Typ, typAnonymous):
		return KindAnonymous, true
	}
	return 0, false
}
