package store

import "time"

// LegacyUser is one document of the original Flask service's MongoDB `users` collection,
// as `toktok import` reads it (store/mongodb.LegacySource), before any of TokTok's rules
// are applied (account.Admin.ImportLegacy does that):
//
//	{ infos:   { email, name, surname, pseudo },
//	  auth:    { pwd, role, conf_usr, is_blacklisted },
//	  profile: { lang },
//	  u_data:  { ... },
//	  log:     { created_at, login_count } }
//
// A nil pointer is a field the document does not have (or holds null).
type LegacyUser struct {
	// SourceID is the document's _id as text (hex for an ObjectId), to name it in reports.
	SourceID string

	Email, Name, Surname, Pseudo *string
	// PasswordHash is auth.pwd: a werkzeug hash. It is never printed, logged or kept in an
	// error, even a malformed one (it could be a password stored in clear).
	PasswordHash *string
	Role         *string
	Confirmed    bool // auth.conf_usr
	Blacklisted  bool // auth.is_blacklisted
	Lang         *string
	// Data is u_data with JSON's kinds of values only (ObjectIds and dates as strings);
	// nil when absent.
	Data       map[string]any
	CreatedAt  *time.Time // log.created_at
	LoginCount int        // log.login_count

	// Problem, when not empty, says why the document could not be read into these fields,
	// naming the field and what it held (never the value of auth.pwd); the other fields
	// are then not to be used.
	Problem string
}
