package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/toktok/toktok/store"
)

// UpdateProfile sets the profile fields p says and updated_at in one UPDATE … RETURNING.
// The statement is built per call from the fields set (a rare operation, and at most 32
// shapes), with every value bound. store.ErrNotFound for an unknown (or deleted) user:
// BeginUserDeletion removes the row.
func (s *Store) UpdateProfile(ctx context.Context, userID string, p store.ProfileUpdate, now time.Time) (store.User, error) {
	const op = "update profile"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	var (
		sets []string
		args []any
	)
	set := func(col string, v any) {
		sets = append(sets, col+" = ?")
		args = append(args, v)
	}
	if p.SetName {
		set("name", nullString(p.Name))
	}
	if p.SetSurname {
		set("surname", nullString(p.Surname))
	}
	if p.SetPseudo {
		set("pseudo", nullString(p.Pseudo))
	}
	if p.SetLang {
		set("lang", p.Lang)
	}
	if p.SetData {
		set("data", nullBytes(p.Data))
	}
	set("updated_at", millis(now))
	args = append(args, userID)
	q := `UPDATE users SET ` + strings.Join(sets, ", ") + ` WHERE id = ? RETURNING ` + userCols
	u, err := scanUser(s.db.QueryRowContext(ctx, q, args...))
	return u, mapErr(op, err)
}
