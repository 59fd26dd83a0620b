package mongodb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/toktok/toktok/store"
)

// TestExplainPlans records every query the store sends for the operations whose cost
// grows with the data (the users listing and its counts, the audit log's pages, the
// lookups of a sign-in and a refresh, the purge, the unconfirmed accounts' deletion), asks
// the server to explain each one, and fails when a plan scans a whole collection
// (COLLSCAN). It prints the plans with -v.
//
// Only MongoDB's planner is judged: FerretDB v1, the default test server, evaluates
// filters in its own process and uses no index at all, so there the test checks only that
// every recorded command is explained. Run it against MongoDB with
//
//	TOKTOK_TEST_MONGODB_URI=mongodb://127.0.0.1:27017 go test ./store/mongodb -run TestExplainPlans -v
func TestExplainPlans(t *testing.T) {
	var (
		mu       sync.Mutex
		recorded []bson.Raw
		dbName   string
	)
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		switch e.CommandName {
		case "find", "count", "aggregate", "delete", "update", "findAndModify":
			if e.DatabaseName == dbName {
				mu.Lock()
				recorded = append(recorded, slices.Clone(e.Command))
				mu.Unlock()
			}
		}
	}}
	_, dbName = testSrv.NewDatabase(t)
	s := openTest(t, Options{Database: dbName, monitor: mon, NoTTLIndexes: true})
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)

	// A few accounts, sessions and events: MongoDB's planner picks an index whenever one
	// bounds the query, whatever the collection's size.
	var users []store.User
	for i := range 30 {
		name := fmt.Sprintf("Ada%02d", i)
		u := store.User{
			ID: fmt.Sprintf("U%025d", i), Email: fmt.Sprintf("ada%02d@example.com", i), Role: store.RoleUser,
			Name: &name, Lang: "en", EmailConfirmed: i%3 != 0, Disabled: i%7 == 0,
			CreatedAt: now.Add(time.Duration(i-40) * 24 * time.Hour), UpdatedAt: now,
		}
		if i%10 == 1 {
			u.Role = store.RoleStaff
		}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
		sess := store.Session{ID: fmt.Sprintf("S%025d", i), UserID: u.ID, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
			IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendAudit(ctx, store.AuditEvent{ID: fmt.Sprintf("E%025d", i), At: now.Add(time.Duration(i) * time.Second),
			Type: "login", Outcome: "success", UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	recorded = nil // the seeding's own commands are inserts and unique-index checks
	mu.Unlock()

	staff, user := store.RoleStaff, store.RoleUser
	yes, no := true, false
	key := users[10].Key()
	akey := store.AuditKey{At: now.Add(10 * time.Second), ID: "E0000000000000000000000010"}
	ops := map[string]func() error{
		"UserByEmail":      func() error { _, err := s.UserByEmail(ctx, "ada05@example.com"); return err },
		"SessionByID":      func() error { _, err := s.SessionByID(ctx, "S0000000000000000000000005"); return err },
		"ListLiveSessions": func() error { _, err := s.ListLiveSessions(ctx, users[5].ID, now); return err },
		"AuditEvents":      func() error { _, err := s.AuditEvents(ctx, users[5].ID, 50); return err },
		"PurgeExpired":     func() error { _, err := s.PurgeExpired(ctx, now); return err },
		"FinishDeletions":  func() error { _, err := s.FinishDeletions(ctx, now); return err },
		"BeginUnconfirmed": func() error {
			_, err := s.BeginUnconfirmedDeletions(ctx, now.Add(-100*24*time.Hour), now, 500)
			return err
		},
		"AuditEventsAfter":  func() error { _, err := s.AuditEventsAfter(ctx, "", &akey, 50); return err },
		"AuditEventsAfterU": func() error { _, err := s.AuditEventsAfter(ctx, users[5].ID, &akey, 50); return err },
	}
	for name, f := range map[string]store.UserFilter{
		"all": {}, "staff": {Role: &staff}, "user": {Role: &user}, "disabled": {Disabled: &yes},
		"unconfirmed": {EmailConfirmed: &no}, "query": {Query: "ada1"}, "staff+query": {Role: &staff, Query: "ada"},
		"unconfirmed+disabled": {EmailConfirmed: &no, Disabled: &yes},
	} {
		ops["ListUsers/"+name] = func() error { _, err := s.ListUsers(ctx, f, nil, 20); return err }
		ops["ListUsers/"+name+"/after"] = func() error { _, err := s.ListUsers(ctx, f, &key, 20); return err }
		ops["CountUsers/"+name] = func() error { _, err := s.CountUsers(ctx, f); return err }
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range ops {
			if !yield(n) {
				return
			}
		}
	})

	mongo := isMongoDB(t, s)
	for _, name := range names {
		mu.Lock()
		recorded = nil
		mu.Unlock()
		if err := ops[name](); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mu.Lock()
		cmds := recorded
		mu.Unlock()
		if len(cmds) == 0 {
			t.Errorf("%s sent no query", name)
		}
		for _, cmd := range cmds {
			plan, err := explain(ctx, s, cmd)
			if err != nil {
				t.Errorf("%s: explain %s: %v", name, cmd, err)
				continue
			}
			stages := planStages(plan)
			t.Logf("%-38s %-18s %s", name, commandTarget(cmd), strings.Join(stages, " <- "))
			if len(stages) == 0 {
				t.Errorf("%s: the server explained %s without a plan: %s", name, cmd, plan)
			}
			// Counting every account reads every account, through an index or not.
			if mongo && slices.Contains(stages, "COLLSCAN") && name != "CountUsers/all" {
				t.Errorf("%s: %s scans the whole collection:\n%s", name, cmd, plan)
			}
		}
	}
	if !mongo {
		t.Log("FerretDB: the plans are not judged (it uses no index); run against MongoDB with TOKTOK_TEST_MONGODB_URI")
	}
}

// isMongoDB reports whether the server is MongoDB rather than FerretDB.
func isMongoDB(t *testing.T, s *Store) bool {
	var info bson.M
	if err := s.db.RunCommand(t.Context(), bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		t.Fatal(err)
	}
	_, ferret := info["ferretdbVersion"]
	return !ferret && !testSrv.InProcess()
}

// explain asks the server for the winning plan of a recorded command.
func explain(ctx context.Context, s *Store, cmd bson.Raw) (bson.Raw, error) {
	elems, err := cmd.Elements()
	if err != nil {
		return nil, err
	}
	var inner bson.D
	for _, e := range elems {
		k := e.Key()
		// Session, cluster and write-concern fields belong to the sending, not to the query.
		if strings.HasPrefix(k, "$") || k == "lsid" || k == "txnNumber" || k == "writeConcern" || k == "readConcern" {
			continue
		}
		inner = append(inner, bson.E{Key: k, Value: e.Value()})
	}
	res, err := s.db.RunCommand(ctx, bson.D{{Key: "explain", Value: inner}, {Key: "verbosity", Value: "queryPlanner"}}).Raw()
	if err != nil {
		return nil, err
	}
	if wp, err := res.LookupErr("queryPlanner", "winningPlan"); err == nil {
		return wp.Document(), nil
	}
	if qp, err := res.LookupErr("queryPlanner"); err == nil && qp.Type == bson.TypeEmbeddedDocument {
		return qp.Document(), nil // FerretDB
	}
	return res, nil
}

// planStages lists a plan's stages from the top, depth first.
func planStages(plan bson.Raw) []string {
	var out []string
	var walk func(d bson.Raw)
	walk = func(d bson.Raw) {
		elems, err := d.Elements()
		if err != nil {
			return
		}
		for _, e := range elems {
			v := e.Value()
			switch {
			case e.Key() == "stage" && v.Type == bson.TypeString:
				st := v.StringValue()
				if idx, err := d.LookupErr("indexName"); err == nil {
					st += " " + idx.StringValue()
				}
				out = append(out, st)
			case e.Key() == "Plan" && v.Type == bson.TypeArray: // FerretDB: SQLite's plan lines
				vals, _ := v.Array().Values()
				for _, x := range vals {
					if line, ok := x.StringValueOK(); ok {
						out = append(out, line)
					}
				}
			case v.Type == bson.TypeEmbeddedDocument:
				walk(v.Document())
			case v.Type == bson.TypeArray:
				vals, _ := v.Array().Values()
				for _, x := range vals {
					if x.Type == bson.TypeEmbeddedDocument {
						walk(x.Document())
					}
				}
			}
		}
	}
	walk(plan)
	return out
}

// commandTarget is "find users", "delete sessions", ...
func commandTarget(cmd bson.Raw) string {
	elems, err := cmd.Elements()
	if err != nil || len(elems) == 0 {
		return "?"
	}
	c, _ := elems[0].Value().StringValueOK()
	return elems[0].Key() + " " + c
}
