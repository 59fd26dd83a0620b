package account

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/toktok/toktok/store"
)

// The staff API: roles, and what STAFF and ADMIN may read (one user, the users listing,
// the audit log). Every method takes the Principal that Authorize returned and checks its
// role again, so a resolver wired without the @hasRole directive still refuses.

// ErrForbidden: the caller is signed in, but its current role is below the operation's.
var ErrForbidden = &Error{Code: CodeForbidden, Message: "your role does not allow this operation"}

// Page sizes of the listings: first's default and its cap.
const (
	DefaultUsersPage = 20
	DefaultAuditPage = 50
	MaxPage          = 100
)

// roleRank orders the roles: USER < STAFF < ADMIN. Any other value ranks below USER.
func roleRank(r store.Role) int {
	switch r {
	case store.RoleUser:
		return 1
	case store.RoleStaff:
		return 2
	case store.RoleAdmin:
		return 3
	}
	return 0
}

// RoleAtLeast reports whether have is want or above. An unknown want is above every
// role, so a mistyped requirement refuses everyone rather than no one.
func RoleAtLeast(have, want store.Role) bool {
	w := roleRank(want)
	return w > 0 && roleRank(have) >= w
}

// Authorize is Authenticate, then the role rule: the caller's current role, as the store
// holds it now (read with the account by Authenticate, so a promotion, a demotion or a
// disabling counts from the next request, whatever the access token says), must be
// least or above. UNAUTHENTICATED without a live session of a usable account, FORBIDDEN
// below least.
func (s *Service) Authorize(ctx context.Context, least store.Role) (Principal, error) {
	p, err := s.Authenticate(ctx)
	if err != nil {
		return Principal{}, err
	}
	if !RoleAtLeast(p.User.Role, least) {
		return Principal{}, ErrForbidden.with(fmt.Errorf("role %s, needs %s", p.User.Role, least))
	}
	return p, nil
}

// maxIDLen bounds the IDs worth a lookup; TokTok's are 26 characters.
const maxIDLen = 256

// UserForStaff returns the user with that ID, nil when there is none (an unknown or
// malformed ID alike). STAFF and above.
func (s *Service) UserForStaff(ctx context.Context, p Principal, id string) (*store.User, error) {
	if !RoleAtLeast(p.User.Role, store.RoleStaff) {
		return nil, ErrForbidden
	}
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return nil, nil
	}
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// UsersQuery is a request for one page of the users listing.
type UsersQuery struct {
	Filter store.UserFilter
	First  *int    // page size; nil: DefaultUsersPage
	After  *string // the previous page's EndCursor; nil: the first page
	// Count asks for TotalCount, a count over every page (its cost grows with the
	// matches, so it is read only when asked for).
	Count bool
}

// UsersPage is one page of the users listing.
type UsersPage struct {
	Users       []store.User
	HasNextPage bool
	EndCursor   string // "" on an empty page
	TotalCount  int    // when the query asked for it
}

// Users returns a page of the users matching q.Filter, by creation (oldest first). STAFF
// and above. BAD_USER_INPUT for a first below 1 (field "first") or a cursor this service
// did not issue for this listing (field "after"); a first above MaxPage is MaxPage.
func (s *Service) Users(ctx context.Context, p Principal, q UsersQuery) (UsersPage, error) {
	if !RoleAtLeast(p.User.Role, store.RoleStaff) {
		return UsersPage{}, ErrForbidden
	}
	n, err := pageSize(q.First, DefaultUsersPage)
	if err != nil {
		return UsersPage{}, err
	}
	var after *store.UserKey
	if q.After != nil {
		at, id, err := decodeCursor(cursorUsers, *q.After)
		if err != nil {
			return UsersPage{}, err
		}
		after = &store.UserKey{CreatedAt: at, ID: id}
	}
	// One more than the page tells whether there is a next page.
	users, err := s.store.ListUsers(ctx, q.Filter, after, n+1)
	if err != nil {
		return UsersPage{}, err
	}
	page := UsersPage{Users: users}
	if len(users) > n {
		page.Users, page.HasNextPage = users[:n], true
	}
	if len(page.Users) > 0 {
		last := page.Users[len(page.Users)-1]
		page.EndCursor = encodeCursor(cursorUsers, last.CreatedAt, last.ID)
	}
	if q.Count {
		if page.TotalCount, err = s.store.CountUsers(ctx, q.Filter); err != nil {
			return UsersPage{}, err
		}
	}
	return page, nil
}

// AuditQuery is a request for one page of the audit log.
type AuditQuery struct {
	UserID *string // only this user's events; nil: everyone's
	First  *int    // page size; nil: DefaultAuditPage
	After  *string // the previous page's EndCursor
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	Events      []store.AuditEvent
	HasNextPage bool
	EndCursor   string // "" on an empty page
}

// AuditLog returns a page of the audit log, newest first. ADMIN only. BAD_USER_INPUT for
// an empty userId (field "userId"), first below 1 ("first") or a foreign cursor ("after").
func (s *Service) AuditLog(ctx context.Context, p Principal, q AuditQuery) (AuditPage, error) {
	if !RoleAtLeast(p.User.Role, store.RoleAdmin) {
		return AuditPage{}, ErrForbidden
	}
	userID := ""
	if q.UserID != nil {
		// The store reads "" as everyone's: an empty ID asked for must not widen the
		// answer to the whole log.
		if *q.UserID == "" {
			return AuditPage{}, badInput("userId", "the user ID must not be empty")
		}
		userID = *q.UserID
	}
	n, err := pageSize(q.First, DefaultAuditPage)
	if err != nil {
		return AuditPage{}, err
	}
	var after *store.AuditKey
	if q.After != nil {
		at, id, err := decodeCursor(cursorAudit, *q.After)
		if err != nil {
			return AuditPage{}, err
		}
		after = &store.AuditKey{At: at, ID: id}
	}
	events, err := s.store.AuditEventsAfter(ctx, userID, after, n+1)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Events: events}
	if len(events) > n {
		page.Events, page.HasNextPage = events[:n], true
	}
	if len(page.Events) > 0 {
		last := page.Events[len(page.Events)-1]
		page.EndCursor = encodeCursor(cursorAudit, last.At, last.ID)
	}
	return page, nil
}

// pageSize is first, def when nil, capped at MaxPage; BAD_USER_INPUT below 1.
func pageSize(first *int, def int) (int, error) {
	if first == nil {
		return def, nil
	}
	if *first < 1 {
		return 0, badInput("first", "first must be at least 1")
	}
	return min(*first, MaxPage), nil
}

// Cursors are opaque to clients: base64url (no padding) of a version byte, the listing
// it belongs to, the last row's time in unix milliseconds (8 bytes, big-endian) and its
// ID. The version lets the format change without misreading older cursors; the listing
// byte keeps a users cursor from being replayed on the audit log.
const (
	cursorVersion = 1
	cursorUsers   = 'u'
	cursorAudit   = 'a'
	cursorHeader  = 2 + 8
	maxCursorLen  = 4 * (cursorHeader + maxIDLen) / 3
)

func encodeCursor(kind byte, at time.Time, id string) string {
	b := make([]byte, 0, cursorHeader+len(id))
	b = append(b, cursorVersion, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMilli()))
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of kind, or fails with BAD_USER_INPUT on field "after".
func decodeCursor(kind byte, s string) (time.Time, string, error) {
	bad := badInput("after", "not a cursor of this listing: pass pageInfo.endCursor of the previous page")
	if len(s) > maxCursorLen+4 {
		return time.Time{}, "", bad
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) <= cursorHeader || b[0] != cursorVersion || b[1] != kind {
		return time.Time{}, "", bad
	}
	id := string(b[cursorHeader:])
	if len(id) > maxIDLen || !utf8.ValidString(id) {
		return time.Time{}, "", bad
	}
	ms := int64(binary.BigEndian.Uint64(b[2:cursorHeader]))
	return time.UnixMilli(ms).UTC(), id, nil
}
