package account

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/toktok/toktok/store"
)

// ProfileInput is updateProfile's input: the profile fields, and which of them the
// request holds. A field the request leaves out keeps its value whatever its value here
// says; one it holds as null (a nil value) clears name, surname, pseudo or data, and is
// refused for lang, which every account has.
type ProfileInput struct {
	Name, Surname, Pseudo, Lang *string
	Data                        map[string]any
	Present                     ProfileFields
}

// ProfileFields says which profile fields a request holds.
type ProfileFields struct {
	Name, Surname, Pseudo, Lang, Data bool
}

// UpdateProfile changes the signed-in user's profile fields under register's input rules:
// names and pseudo at most 100 characters with no control or invisible formatting
// characters (an empty one clears the field, as register stores it unset), lang a
// language tag, data a JSON object within the size, depth and key rules. Every field is
// checked before anything is written; a bad one is BAD_USER_INPUT naming it. The fields
// whose value changes are written in one store update, with updatedAt, and recorded in a
// "profile_update" audit event by name (never by value); a request that changes nothing
// writes nothing and returns the user as it is.
func (s *Service) UpdateProfile(ctx context.Context, p Principal, in ProfileInput) (store.User, error) {
	up, changed, err := profileChanges(p.User, in)
	if err != nil {
		return store.User{}, err
	}
	if len(changed) == 0 {
		return p.User, nil
	}
	u, err := s.store.UpdateProfile(ctx, p.User.ID, up, s.now())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Deleted since the request authenticated.
			return store.User{}, ErrUnauthenticated.with(err)
		}
		return store.User{}, err
	}
	s.audit(ctx, "profile_update", "success", u.ID, map[string]any{"fields": changed})
	return u, nil
}

// profileChanges checks in and returns the update of the fields whose value differs from
// cur's, and their names in the schema's order.
func profileChanges(cur store.User, in ProfileInput) (store.ProfileUpdate, []string, error) {
	var (
		up      store.ProfileUpdate
		changed []string
	)
	names := []struct {
		field   string
		present bool
		value   *string
		cur     *string
		set     *bool
		dst     **string
	}{
		{"name", in.Present.Name, in.Name, cur.Name, &up.SetName, &up.Name},
		{"surname", in.Present.Surname, in.Surname, cur.Surname, &up.SetSurname, &up.Surname},
		{"pseudo", in.Present.Pseudo, in.Pseudo, cur.Pseudo, &up.SetPseudo, &up.Pseudo},
	}
	for _, n := range names {
		if !n.present {
			continue
		}
		v, err := cleanName(n.field, n.value)
		if err != nil {
			return up, nil, err
		}
		if !sameString(v, n.cur) {
			*n.set, *n.dst = true, v
			changed = append(changed, n.field)
		}
	}
	if in.Present.Lang {
		if in.Lang == nil || strings.TrimSpace(*in.Lang) == "" {
			return up, nil, badInput("lang", "the language cannot be cleared: send a tag such as en or fr-CA, or leave lang out to keep it")
		}
		lang, err := cleanLang(in.Lang)
		if err != nil {
			return up, nil, err
		}
		if lang != cur.Lang {
			up.SetLang, up.Lang = true, lang
			changed = append(changed, "lang")
		}
	}
	if in.Present.Data {
		data, err := cleanData("data", in.Data)
		if err != nil {
			return up, nil, err
		}
		if (data == nil) != (cur.Data == nil) || !bytes.Equal(data, cur.Data) {
			up.SetData, up.Data = true, data
			changed = append(changed, "data")
		}
	}
	return up, changed, nil
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
