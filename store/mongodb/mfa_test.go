package mongodb

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/toktok/toktok/store"
)

// The states a crash can leave between the steps of mfa.go's writes: an ID in the user's
// set whose factor is gone (MFAEnabled true without a factor), which the next deletion or
// a reset repairs; and a confirmed factor's insert that never got confirmed, which no read
// sees and PurgeExpired removes. Never a confirmed factor outside the set.
func TestMFACrashStatesRepair(t *testing.T) {
	s := openTest(t, Options{NoTTLIndexes: true})
	ctx := t.Context()
	if err := s.CreateUser(ctx, testUser("u1")); err != nil {
		t.Fatal(err)
	}
	enabled := func(want bool) {
		t.Helper()
		u, err := s.UserByID(ctx, "u1")
		if err != nil || u.MFAEnabled != want {
			t.Fatalf("UserByID: MFAEnabled = %t, %v; want %t", u.MFAEnabled, err, want)
		}
	}

	// DeleteFactor stopped after deleting the document: the ID stays in the set.
	if _, err := s.users.updateOne(ctx, bson.M{"_id": "u1"}, bson.M{"$addToSet": bson.M{"mfa_factors": "gone"}}); err != nil {
		t.Fatal(err)
	}
	enabled(true)
	if n, err := s.DeleteUserFactors(ctx, "u1"); err != nil || n != 0 {
		t.Fatalf("DeleteUserFactors = %d, %v; want 0, nil", n, err)
	}
	enabled(false)

	// CreateFactor of a passkey stopped after its insert: invisible, then purged.
	f := store.Factor{
		ID: "wa", UserID: "u1", Type: store.FactorWebAuthn, CredentialID: []byte("cred"),
		Confirmed: true, CreatedAt: testTime,
	}
	d := toFactorDoc(f)
	d.Confirmed, d.ExpiresAt = false, &d.CreatedAt
	if err := s.factors.insertOne(ctx, d); err != nil {
		t.Fatal(err)
	}
	if fs, err := s.Factors(ctx, "u1", testTime); err != nil || len(fs) != 0 {
		t.Errorf("Factors = %v, %v; want none", fs, err)
	}
	if _, err := s.FactorByCredentialID(ctx, f.CredentialID); err == nil {
		t.Error("FactorByCredentialID found an unconfirmed insert")
	}
	if _, err := s.ConfirmFactor(ctx, "u1", "wa", 1, testTime); err == nil {
		t.Error("ConfirmFactor confirmed an unconfirmed insert")
	}
	enabled(false)
	if n, err := s.PurgeExpired(ctx, testTime.Add(purgeGrace+time.Millisecond)); err != nil || n != 1 {
		t.Errorf("PurgeExpired = %d, %v; want 1 (the insert), nil", n, err)
	}
	if err := s.CreateFactor(ctx, f); err != nil {
		t.Errorf("CreateFactor after the purge: %v", err)
	}
	enabled(true)
}

// What is stored for a factor, a session's level and the recovery codes: the credential
// index's key is binary for a passkey and the factor's string _id for a TOTP factor, so
// TOTP factors never collide in that unique index; an absent AMR is null.
func TestMFAStoredForm(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	if err := s.CreateUser(ctx, testUser("u1")); err != nil {
		t.Fatal(err)
	}
	exp := testTime.Add(time.Hour)
	for _, f := range []store.Factor{
		{ID: "t1", UserID: "u1", Type: store.FactorTOTP, Secret: []byte("s"), CreatedAt: testTime, ExpiresAt: &exp},
		{ID: "t2", UserID: "u1", Type: store.FactorTOTP, Secret: []byte("s"), CreatedAt: testTime, ExpiresAt: &exp},
		{ID: "w1", UserID: "u1", Type: store.FactorWebAuthn, CredentialID: []byte("c"), Confirmed: true, CreatedAt: testTime},
	} {
		if err := s.CreateFactor(ctx, f); err != nil {
			t.Fatalf("CreateFactor(%s): %v", f.ID, err)
		}
	}
	for id, want := range map[string]bson.Type{"t1": bson.TypeString, "w1": bson.TypeBinary} {
		var raw bson.Raw
		if err := s.factors.findOne(ctx, bson.M{"_id": id}, &raw); err != nil {
			t.Fatal(err)
		}
		if got := raw.Lookup("cred_key").Type; got != want {
			t.Errorf("%s: cred_key is %v, want %v", id, got, want)
		}
		if got := raw.Lookup("created_at").Type; got != bson.TypeDateTime {
			t.Errorf("%s: created_at is %v, want a datetime", id, got)
		}
	}
	sess := store.Session{ID: "s1", UserID: "u1", CreatedAt: testTime, LastUsedAt: testTime, RotatedAt: testTime,
		IdleExpiresAt: exp, AbsoluteExpiresAt: exp}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := s.sessions.findOne(ctx, bson.M{"_id": "s1"}, &raw); err != nil {
		t.Fatal(err)
	}
	if got := raw.Lookup("amr").Type; got != bson.TypeNull {
		t.Errorf("amr of a session without one is %v, want null", got)
	}
	if err := s.ReplaceRecoveryCodes(ctx, "u1", []string{"h1", "h1", "h2"}, testTime); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountRecoveryCodes(ctx, "u1"); err != nil || n != 2 {
		t.Errorf("CountRecoveryCodes after a duplicate hash = %d, %v; want 2, nil", n, err)
	}
}

// Without a crash the set is exact, whatever interleaves: a confirmation racing the
// factor's deletion, and a passkey's creation racing an admin's reset, each leave
// MFAEnabled true exactly when a confirmed factor remains. On FerretDB v1 the gate
// serialises each collection, not the steps of one call, so the steps do interleave.
func TestMFAEnabledExactUnderRaces(t *testing.T) {
	s := openTest(t, Options{NoTTLIndexes: true})
	ctx := t.Context()
	if err := s.CreateUser(ctx, testUser("u1")); err != nil {
		t.Fatal(err)
	}
	exp := testTime.Add(time.Hour)
	check := func(round int) {
		t.Helper()
		u, err := s.UserByID(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		fs, err := s.Factors(ctx, "u1", testTime)
		if err != nil {
			t.Fatal(err)
		}
		confirmed := 0
		for _, f := range fs {
			if f.Confirmed {
				confirmed++
			}
		}
		if u.MFAEnabled != (confirmed > 0) {
			t.Fatalf("round %d: MFAEnabled = %t with %d confirmed factors", round, u.MFAEnabled, confirmed)
		}
	}
	for round := range 15 {
		id := fmt.Sprintf("t%d", round)
		err := s.CreateFactor(ctx, store.Factor{ID: id, UserID: "u1", Type: store.FactorTOTP, CreatedAt: testTime, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = s.ConfirmFactor(ctx, "u1", id, 1, testTime) })
		wg.Go(func() { _, _ = s.DeleteFactor(ctx, "u1", id) })
		wg.Wait()
		check(round)

		wa := store.Factor{ID: "w" + id, UserID: "u1", Type: store.FactorWebAuthn, CredentialID: []byte(id),
			Confirmed: true, CreatedAt: testTime}
		wg.Go(func() { _ = s.CreateFactor(ctx, wa) })
		wg.Go(func() { _, _ = s.DeleteUserFactors(ctx, "u1") })
		wg.Wait()
		check(round)
		if _, err := s.DeleteUserFactors(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		check(round)
	}
}
