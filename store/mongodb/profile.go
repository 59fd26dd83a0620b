package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/toktok/toktok/store"
)

// UpdateProfile sets the profile fields p says and updated_at in one FindOneAndUpdate, and
// returns the user as updated. A nil value stores null, as CreateUser stores an absent
// field. store.ErrNotFound for an unknown user or one whose deletion has begun.
func (s *Store) UpdateProfile(ctx context.Context, userID string, p store.ProfileUpdate, now time.Time) (store.User, error) {
	const op = "update profile"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	set := bson.M{"updated_at": dt(now)}
	// The folded copies ListUsers searches (admin.go) change with the fields they copy.
	if p.SetName {
		set["name"], set["name_fold"] = p.Name, foldName(p.Name)
	}
	if p.SetSurname {
		set["surname"], set["surname_fold"] = p.Surname, foldName(p.Surname)
	}
	if p.SetPseudo {
		set["pseudo"], set["pseudo_fold"] = p.Pseudo, foldName(p.Pseudo)
	}
	if p.SetLang {
		set["lang"] = p.Lang
	}
	if p.SetData {
		set["data"] = p.Data
	}
	var d userDoc
	if err := s.users.findOneAndUpdate(ctx, liveUser(userID), bson.M{"$set": set}, &d, afterUpdate()); err != nil {
		return store.User{}, mapErr(op, err)
	}
	return d.user(), nil
}
