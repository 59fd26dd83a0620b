package mongodb

import (
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func legacySeed(t testing.TB, d bson.D) []byte {
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeLegacyUser: the fields of a well-formed document, and a Problem naming the
// field and its type for each kind of malformed one.
func TestDecodeLegacyUser(t *testing.T) {
	at := time.Date(2019, 3, 14, 15, 9, 26, 0, time.UTC)
	u := DecodeLegacyUser(legacySeed(t, bson.D{
		{Key: "_id", Value: bson.ObjectID{1, 2, 3}},
		{Key: "infos", Value: bson.D{{Key: "email", Value: "a@b.c"}, {Key: "name", Value: "Ann"}, {Key: "pseudo", Value: nil}}},
		{Key: "auth", Value: bson.D{{Key: "pwd", Value: "sha256$$00"}, {Key: "role", Value: "admin"}, {Key: "conf_usr", Value: int32(1)}, {Key: "is_blacklisted", Value: true}}},
		{Key: "profile", Value: bson.D{{Key: "lang", Value: "fr"}}},
		{Key: "u_data", Value: bson.D{{Key: "n", Value: int64(3)}, {Key: "at", Value: bson.NewDateTimeFromTime(at)}, {Key: "l", Value: bson.A{true, nil, 1.5}}}},
		{Key: "log", Value: bson.D{{Key: "created_at", Value: "2019-03-14 15:09:26.000000"}, {Key: "login_count", Value: 4.0}}},
	}))
	if u.Problem != "" || u.SourceID != "010203000000000000000000" || *u.Email != "a@b.c" || *u.Name != "Ann" || u.Pseudo != nil ||
		*u.PasswordHash != "sha256$$00" || *u.Role != "admin" || !u.Confirmed || !u.Blacklisted || *u.Lang != "fr" ||
		!u.CreatedAt.Equal(at) || u.LoginCount != 4 || u.Data["n"] != int64(3) || u.Data["at"] != "2019-03-14T15:09:26Z" {
		t.Errorf("decoded %+v", u)
	}
	for want, d := range map[string]bson.D{
		"infos.email: a number, want a string":                      {{Key: "infos", Value: bson.D{{Key: "email", Value: 3}}}},
		"auth.pwd: a document, want a string":                       {{Key: "auth", Value: bson.D{{Key: "pwd", Value: bson.D{}}}}},
		"auth.conf_usr: a number, want a boolean":                   {{Key: "auth", Value: bson.D{{Key: "conf_usr", Value: int32(2)}}}},
		"log.login_count: a number, want a whole number from 0":     {{Key: "log", Value: bson.D{{Key: "login_count", Value: -1}}}},
		"log.created_at: a boolean, want a date":                    {{Key: "log", Value: bson.D{{Key: "created_at", Value: true}}}},
		"u_data: a string, want a document":                         {{Key: "u_data", Value: "x"}},
		"u_data: x: NaN or infinite number, which JSON cannot hold": {{Key: "u_data", Value: bson.D{{Key: "x", Value: posInf()}}}},
	} {
		if got := DecodeLegacyUser(legacySeed(t, d)).Problem; got != want {
			t.Errorf("Problem = %q, want %q", got, want)
		}
	}
}

func posInf() float64 { var z float64; return 1 / z }

// FuzzDecodeLegacyUser: any bytes decode without panicking, and a Problem never quotes the
// document's auth.pwd (it may be a password stored in clear).
func FuzzDecodeLegacyUser(f *testing.F) {
	f.Add(legacySeed(f, bson.D{{Key: "auth", Value: bson.D{{Key: "pwd", Value: "hunter2-secret"}, {Key: "role", Value: "hunter2-secret"}}}}))
	f.Add(legacySeed(f, bson.D{{Key: "infos", Value: bson.D{{Key: "email", Value: "hunter2-secret"}}}, {Key: "auth", Value: bson.D{{Key: "pwd", Value: "hunter2-secret"}}}}))
	f.Add(legacySeed(f, bson.D{{Key: "u_data", Value: bson.D{{Key: "hunter2-secret", Value: bson.Binary{Data: []byte("x")}}}}, {Key: "auth", Value: bson.D{{Key: "pwd", Value: "hunter2-secret"}}}}))
	f.Add([]byte{5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		u := DecodeLegacyUser(raw)
		if bson.Raw(raw).Validate() != nil {
			if u.Problem != "not a valid BSON document" {
				t.Errorf("invalid BSON decoded with Problem %q", u.Problem)
			}
			return
		}
		pwd, err := bson.Raw(raw).LookupErr("auth", "pwd")
		if err != nil {
			return
		}
		// A Problem names keys (of u_data among others), so text that is also elsewhere in
		// the document may appear legitimately; the value of auth.pwd alone must not.
		if s, ok := pwd.StringValueOK(); ok && len(s) >= 6 && strings.Contains(u.Problem, s) && strings.Count(string(raw), s) < 2 {
			t.Errorf("Problem %q quotes auth.pwd", u.Problem)
		}
	})
}
