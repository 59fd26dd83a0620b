package store

// The first-admin rule (Store.PromoteFirstAdmin): the first account to confirm its address
// on a store with no ADMIN becomes one, so that a fresh deployment can be administered
// without touching its database.
//
// "No ADMIN" means no user whose Role is ADMIN: a disabled ADMIN counts (it is an
// operator's decision to restore, not an opening for the next sign-up), a user whose
// deletion has begun does not. The rule is checked at each promotion, so it applies again
// once the last ADMIN is demoted or deleted.
//
// A backend without multi-document atomicity (MongoDB) decides a promotion in one write
// (a claim only one caller can insert) and applies it in a second (the role). A crash
// between the two leaves the promotion decided and not applied; the next call, for any
// user, applies it first: it promotes the claim's user, not its own, and returns that
// user's RoleChange. So whatever dies when, one decision makes one ADMIN, and the promotion
// is reported exactly once, by the call that wrote the role.

// RoleChange is a role one call changed: whose, from what and to what. The zero value
// means the call changed nothing.
type RoleChange struct {
	UserID   string
	From, To Role
}

// Changed reports whether c is a change (not the zero value).
func (c RoleChange) Changed() bool { return c.UserID != "" }
