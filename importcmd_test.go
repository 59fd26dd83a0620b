package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/text/unicode/norm"

	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/mongodb"
	"github.com/toktok/toktok/store/mongodb/mongotest"
	"github.com/toktok/toktok/store/sqlite"
)

// toktok import, in process: fixture documents shaped like the Flask service's users
// (good ones and malformed ones) go into a MongoDB source; the import runs into a SQLite
// and into a MongoDB store, a dry run first, then twice (the second changes nothing); a
// server then signs the imported users in with their werkzeug passwords, which upgrades
// their hashes to argon2id.

// The passwords of the fixture accounts. The default policy would refuse some of them
// (they are the Flask service's, not ours): an import keeps them.
const (
	annPassword  = "Ann-legacy-pass-1234"
	bobPassword  = "bob's old password"
	carlPassword = "carl!150000"
	doraTyped    = "Dóra-jelszó-NFD" // stored decomposed, as a Mac sent it
)

func werkzeugPBKDF2(pw, salt string, iterations int, method string) string {
	k, err := pbkdf2.Key(sha256.New, pw, []byte(salt), iterations, 32)
	if err != nil {
		panic(err)
	}
	return method + "$" + salt + "$" + hex.EncodeToString(k)
}

func werkzeugSHA256(pw, salt string) string {
	if salt == "" { // werkzeug: plain SHA-256
		sum := sha256.Sum256([]byte(pw))
		return "sha256$$" + hex.EncodeToString(sum[:])
	}
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(pw))
	return "sha256$" + salt + "$" + hex.EncodeToString(m.Sum(nil))
}

// The secrets that must never appear in what the import prints.
var (
	annHash       = werkzeugPBKDF2(annPassword, "q1W2e3R4", 1000, "pbkdf2:sha256:1000")
	bobHash       = werkzeugSHA256(bobPassword, "Zx9Yw8Vu")
	carlHash      = werkzeugPBKDF2(carlPassword, "Ab3dE5gH", 150000, "pbkdf2:sha256")
	doraHash      = werkzeugPBKDF2(norm.NFD.String(doraTyped), "Pq7Rs6Tu", 1000, "pbkdf2:sha256:1000")
	bcryptHash    = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
	plainPassword = "plain-text-password-kept-by-mistake"
)

var created2019 = time.Date(2019, 3, 14, 15, 9, 26, 0, time.UTC)

// legacyFixtures are the source documents: 5 importable, 1 system user, 1 duplicate of
// ann (another case), and malformed ones, each with the reason the import must give.
func legacyFixtures() (docs []any, invalid map[string]string) {
	user := func(id, email, pwd, role string, extra bson.D) bson.D {
		d := bson.D{
			{Key: "_id", Value: id},
			{Key: "infos", Value: bson.D{{Key: "email", Value: email}}},
			{Key: "auth", Value: bson.D{{Key: "pwd", Value: pwd}, {Key: "role", Value: role}, {Key: "conf_usr", Value: true}, {Key: "is_blacklisted", Value: false}}},
		}
		return append(d, extra...)
	}
	oid := bson.NewObjectID()
	docs = []any{
		bson.D{
			{Key: "_id", Value: "a-ann"},
			{Key: "infos", Value: bson.D{{Key: "email", Value: "Ann@Example.com"}, {Key: "name", Value: "Ann"}, {Key: "surname", Value: "Lovelace"}, {Key: "pseudo", Value: "ada"}}},
			{Key: "auth", Value: bson.D{{Key: "pwd", Value: annHash}, {Key: "role", Value: "admin"}, {Key: "conf_usr", Value: true}, {Key: "is_blacklisted", Value: false}}},
			{Key: "profile", Value: bson.D{{Key: "lang", Value: "fr"}}},
			{Key: "u_data", Value: bson.D{{Key: "theme", Value: "dark"}, {Key: "n", Value: int32(3)}, {Key: "ref", Value: oid}, {Key: "tags", Value: bson.A{"a", 1.5}}}},
			{Key: "log", Value: bson.D{{Key: "created_at", Value: bson.NewDateTimeFromTime(created2019)}, {Key: "login_count", Value: int32(42)}}},
		},
		user("b-bob", "bob@example.com", bobHash, "registred", bson.D{{Key: "log", Value: bson.D{{Key: "login_count", Value: 7.0}}}}),
		user("c-carl", "carl@example.com", carlHash, "staff", nil),
		user("d-dora", "dora@example.com", doraHash, "guest", nil),
		// eve: unconfirmed, as the Flask service stored 0/1 for booleans at times.
		bson.D{
			{Key: "_id", Value: "e-eve"},
			{Key: "infos", Value: bson.D{{Key: "email", Value: "eve@example.com"}}},
			{Key: "auth", Value: bson.D{{Key: "pwd", Value: werkzeugSHA256("eve", "")}, {Key: "role", Value: "registred"}, {Key: "conf_usr", Value: int32(0)}}},
			{Key: "log", Value: bson.D{{Key: "created_at", Value: "2020-01-02T03:04:05Z"}}},
		},
		user("s-system", "system@toktok.local", werkzeugSHA256("x", "y"), "system", bson.D{}),
		user("z-ann-again", "ANN@example.com", bobHash, "registred", nil),
	}
	// bob is blacklisted.
	docs[1].(bson.D)[2].Value.(bson.D)[3].Value = true
	invalid = map[string]string{
		"m-no-email":      "infos.email: missing",
		"m-bad-email":     "infos.email: the email address is not valid",
		"m-bcrypt":        "auth.pwd: not a werkzeug sha256 or pbkdf2:sha256 hash",
		"m-plain":         "auth.pwd: not a werkzeug sha256 or pbkdf2:sha256 hash",
		"m-no-pwd":        "auth.pwd: missing",
		"m-role":          "auth.role: not admin, staff, registred or guest",
		"m-name-control":  "infos.name: control characters are not allowed",
		"m-data-deep":     "u_data: nested deeper than 8 levels",
		"m-data-binary":   "u_data: blob: binary data, which JSON cannot hold",
		"m-conf-string":   "auth.conf_usr: a string, want a boolean",
		"m-count-string":  "log.login_count: a string, want a whole number from 0",
		"m-email-number":  "infos.email: a number, want a string",
		"m-created-bogus": "log.created_at: a string that is not a date, want a date",
	}
	docs = append(docs,
		bson.D{{Key: "_id", Value: "m-no-email"}, {Key: "auth", Value: bson.D{{Key: "pwd", Value: bobHash}}}},
		user("m-bad-email", "not-an-address", bobHash, "registred", nil),
		user("m-bcrypt", "bcrypt@example.com", bcryptHash, "registred", nil),
		user("m-plain", "plain@example.com", plainPassword, "registred", nil),
		bson.D{{Key: "_id", Value: "m-no-pwd"}, {Key: "infos", Value: bson.D{{Key: "email", Value: "nopwd@example.com"}}}},
		user("m-role", "role@example.com", bobHash, "superuser", nil),
		bson.D{{Key: "_id", Value: "m-name-control"}, {Key: "infos", Value: bson.D{{Key: "email", Value: "ctl@example.com"}, {Key: "name", Value: "a\x07b"}}}, {Key: "auth", Value: bson.D{{Key: "pwd", Value: bobHash}}}},
		user("m-data-deep", "dollar@example.com", bobHash, "registred", bson.D{{Key: "u_data", Value: deepDoc(9)}}),
		user("m-data-binary", "binary@example.com", bobHash, "registred", bson.D{{Key: "u_data", Value: bson.D{{Key: "blob", Value: bson.Binary{Data: []byte{1, 2}}}}}}),
		bson.D{{Key: "_id", Value: "m-conf-string"}, {Key: "infos", Value: bson.D{{Key: "email", Value: "conf@example.com"}}}, {Key: "auth", Value: bson.D{{Key: "pwd", Value: bobHash}, {Key: "conf_usr", Value: "yes"}}}},
		user("m-count-string", "count@example.com", bobHash, "registred", bson.D{{Key: "log", Value: bson.D{{Key: "login_count", Value: "12"}}}}),
		bson.D{{Key: "_id", Value: "m-email-number"}, {Key: "infos", Value: bson.D{{Key: "email", Value: 12}}}},
		user("m-created-bogus", "bogus@example.com", bobHash, "registred", bson.D{{Key: "log", Value: bson.D{{Key: "created_at", Value: "yesterday"}}}}),
	)
	return docs, invalid
}

// seedLegacy puts the fixtures into a fresh database of srv and returns its URI.
func seedLegacy(t *testing.T, srv *mongotest.Server) (uri string, invalid map[string]string) {
	t.Helper()
	base, db := srv.NewDatabase(t)
	client, err := mongo.Connect(options.Client().ApplyURI(base))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	docs, invalid := legacyFixtures()
	if _, err := client.Database(db).Collection("users").InsertMany(t.Context(), docs); err != nil {
		t.Fatal(err)
	}
	return legacyURI(base, db), invalid
}

// legacyURI is the server's URI base with the database db in its path.
func legacyURI(base, db string) string {
	u := strings.TrimSuffix(base, "/")
	if i := strings.Index(u, "?"); i >= 0 {
		return strings.TrimSuffix(u[:i], "/") + "/" + db + u[i:]
	}
	return u + "/" + db
}

func startMongo(t testing.TB) *mongotest.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	srv, err := mongotest.Start(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

func runImportCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), append([]string{"import"}, args...), noEnv, &out, &errOut, nil)
	return out.String(), errOut.String(), err
}

// count reads the figure of one line of the report ("  imported           5").
func count(t *testing.T, report, label string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + ` +(\d+)$`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no %q line in the report:\n%s", label, report)
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

func TestImportOnSQLite(t *testing.T) {
	srv := startMongo(t)
	from, invalid := seedLegacy(t, srv)
	dir := seedDataDir(t)
	settings := serverArgs("--data-dir=" + dir)
	testImport(t, from, invalid, settings, func(t *testing.T) store.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(dir, "toktok.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestImportOnMongoDB(t *testing.T) {
	srv := startMongo(t)
	from, invalid := seedLegacy(t, srv)
	uri, db := srv.NewDatabase(t)
	settings := serverArgs("--data-dir="+seedDataDir(t), "--store="+uri, "--store-database="+db)
	testImport(t, from, invalid, settings, func(t *testing.T) store.Store {
		st, err := mongodb.Open(t.Context(), uri, mongodb.Options{Database: db})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func testImport(t *testing.T, from string, invalid map[string]string, settings []string, open func(*testing.T) store.Store) {
	args := append([]string{"--from", from}, settings...)
	secrets := []string{annHash, bobHash, carlHash, doraHash, bcryptHash, plainPassword,
		strings.Split(annHash, "$")[2], strings.Split(carlHash, "$")[2]}
	noSecrets := func(what, s string) {
		t.Helper()
		for _, x := range secrets {
			if strings.Contains(s, x) {
				t.Errorf("%s holds a password hash or password %.12q…:\n%s", what, x, s)
			}
		}
	}

	// A dry run reports and writes nothing.
	out, errOut, err := runImportCmd(t, append([]string{"--dry-run"}, args...)...)
	if err != nil {
		t.Fatalf("dry run: %v\n%s\n%s", err, out, errOut)
	}
	noSecrets("the dry run's output", out+errOut)
	if count(t, out, "would be imported") != 5 || count(t, out, "skipped") != 2 || !strings.Contains(out, "dry run: nothing was written") {
		t.Errorf("dry run report:\n%s", out)
	}
	st := open(t)
	if n, err := st.CountUsers(t.Context(), store.UserFilter{}); err != nil || n != 0 {
		t.Errorf("after a dry run the store has %d users (%v), want 0", n, err)
	}
	st.Close()

	// The import.
	out, errOut, err = runImportCmd(t, args...)
	if err != nil {
		t.Fatalf("import: %v\n%s\n%s", err, out, errOut)
	}
	noSecrets("the import's output", out+errOut)
	if got := []int{count(t, out, "imported"), count(t, out, "already present"), count(t, out, "skipped"), count(t, out, "invalid")}; fmt.Sprint(got) != fmt.Sprint([]int{5, 0, 2, len(invalid)}) {
		t.Errorf("imported, already present, skipped, invalid = %v, want [5 0 2 %d]:\n%s", got, len(invalid), out)
	}
	if !strings.Contains(out, "the Flask service's system user (_id: s-system)") {
		t.Errorf("the system user is not reported as skipped:\n%s", out)
	}
	if !strings.Contains(out, "infos.email: the address of an earlier document (_id: z-ann-again)") {
		t.Errorf("the second document with ann's address is not reported as skipped:\n%s", out)
	}
	for id, reason := range invalid {
		if !regexp.MustCompile(`(?m)^ +\d+  ` + regexp.QuoteMeta(reason) + ` \(_id: [^)]*\b` + regexp.QuoteMeta(id) + `\b`).MatchString(out) {
			t.Errorf("document %s is not reported invalid with %q:\n%s", id, reason, out)
		}
	}
	if !strings.Contains(out, "note: 1 of these accounts are unconfirmed and were created more than --unconfirmed-ttl (168h0m0s) ago") {
		t.Errorf("the report does not warn of eve's deletion by the purge:\n%s", out)
	}
	for _, method := range []string{"pbkdf2:sha256:1000", "pbkdf2:sha256:150000", "sha256"} {
		if !strings.Contains(out, "  "+method+" ") {
			t.Errorf("the report does not show the %s hashes:\n%s", method, out)
		}
	}

	// Again: nothing changes, and it says so.
	out, errOut, err = runImportCmd(t, args...)
	if err != nil {
		t.Fatalf("import again: %v\n%s", err, errOut)
	}
	if count(t, out, "imported") != 0 || count(t, out, "already present") != 5 || !strings.Contains(out, "nothing changed") {
		t.Errorf("a second import:\n%s", out)
	}

	// What was stored.
	st = open(t)
	ann, err := st.UserByEmail(t.Context(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ann.Role != store.RoleAdmin || !ann.EmailConfirmed || ann.Disabled || deref(ann.Name) != "Ann" || deref(ann.Surname) != "Lovelace" ||
		deref(ann.Pseudo) != "ada" || ann.Lang != "fr" || ann.LoginCount != 42 || !ann.CreatedAt.Equal(created2019) || ann.LastLoginAt != nil {
		t.Errorf("ann = %+v", ann)
	}
	var annData map[string]any
	if err := json.Unmarshal(ann.Data, &annData); err != nil || annData["theme"] != "dark" || annData["n"] != 3.0 || len(annData["ref"].(string)) != 24 {
		t.Errorf("ann's data = %s (%v)", ann.Data, err)
	}
	if !strings.HasPrefix(ann.PasswordHash, "$werkzeug-argon2id$pbkdf2:sha256:1000$q1W2e3R4$") {
		t.Errorf("ann's hash is not wrapped: %.40q", ann.PasswordHash)
	}
	for email, want := range map[string]struct {
		role                store.Role
		confirmed, disabled bool
	}{
		"bob@example.com":  {store.RoleUser, true, true},
		"carl@example.com": {store.RoleStaff, true, false},
		"dora@example.com": {store.RoleUser, true, false},
		"eve@example.com":  {store.RoleUser, false, false},
	} {
		u, err := st.UserByEmail(t.Context(), email)
		if err != nil || u.Role != want.role || u.EmailConfirmed != want.confirmed || u.Disabled != want.disabled {
			t.Errorf("%s = role %s, confirmed %v, disabled %v (%v); want %+v", email, u.Role, u.EmailConfirmed, u.Disabled, err, want)
		}
	}
	if _, err := st.UserByEmail(t.Context(), "system@toktok.local"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the system user was imported: %v", err)
	}
	st.Close()

	// Sign-ins with the old passwords, through a server.
	addr, stop := startServer(t, settings)
	login := func(email, pw string) (token string, code string) {
		t.Helper()
		data, codes := gqlCall(t, addr, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken user { role } } }`,
			map[string]any{"in": map[string]any{"email": email, "password": pw}})
		if len(codes) > 0 {
			return "", codes[0]
		}
		var d struct{ Login struct{ AccessToken string } }
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatal(err)
		}
		return d.Login.AccessToken, ""
	}
	for _, c := range []struct{ email, pw, code string }{
		{"ann@example.com", annPassword + "x", "INVALID_CREDENTIALS"},
		{"ann@example.com", annPassword, ""},
		{"ann@example.com", annPassword, ""}, // now on argon2id
		{"bob@example.com", bobPassword, "ACCOUNT_DISABLED"},
		{"bob@example.com", bobPassword + "!", "INVALID_CREDENTIALS"},
		{"carl@example.com", carlPassword, ""},
		// Stored decomposed: typed composed it does not verify (DECISIONS.md), typed as
		// stored it does, and the new hash then takes either form.
		{"dora@example.com", norm.NFC.String(doraTyped), "INVALID_CREDENTIALS"},
		{"dora@example.com", norm.NFD.String(doraTyped), ""},
		{"dora@example.com", norm.NFC.String(doraTyped), ""},
		{"eve@example.com", "eve", ""},
	} {
		if _, code := login(c.email, c.pw); code != c.code {
			t.Errorf("login %s with %q = %q, want %q", c.email, c.pw, code, c.code)
		}
	}
	// The import is in the audit log, read by the imported ADMIN.
	token, _ := login("ann@example.com", annPassword)
	data, codes := gqlCall(t, addr, token, `{ auditEvents(first: 100) { nodes { type actorId detail } } }`, nil)
	if len(codes) > 0 {
		t.Fatalf("auditEvents: %v", codes)
	}
	var d struct {
		AuditEvents struct {
			Nodes []struct {
				Type, ActorID string
				Detail        map[string]any
			}
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	imports := 0
	for _, e := range d.AuditEvents.Nodes {
		if e.Type == "user_imported" {
			imports++
			if e.ActorID != "cli" || e.Detail["source"] != "flask" {
				t.Errorf("import event %+v", e)
			}
		}
	}
	if imports != 5 {
		t.Errorf("%d user_imported events, want 5", imports)
	}
	stop()

	// Every successful sign-in replaced the werkzeug hash; bob (disabled) and the others
	// that did not sign in keep theirs.
	st = open(t)
	defer st.Close()
	for email, argon := range map[string]bool{"ann@example.com": true, "carl@example.com": true, "dora@example.com": true, "eve@example.com": true, "bob@example.com": false} {
		u, err := st.UserByEmail(t.Context(), email)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.HasPrefix(u.PasswordHash, "$argon2id$"); got != argon {
			t.Errorf("%s: hash %.30q…, want argon2id = %v", email, u.PasswordHash, argon)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// gqlCall posts one operation (with a bearer token when not empty) and returns its data
// and the codes of its errors.
func gqlCall(t *testing.T, addr, token, query string, vars map[string]any) (json.RawMessage, []string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []struct {
			Extensions struct{ Code string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, e := range r.Errors {
		codes = append(codes, e.Extensions.Code)
	}
	return r.Data, codes
}

func TestImportCommandLine(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--from=mongodb://x/y", "--help"}} {
		_, errOut, err := runImportCmd(t, args...)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "toktok import --from mongodb://HOST/DATABASE") ||
			!strings.Contains(errOut, "--dry-run") || !strings.Contains(errOut, "--from-collection") {
			t.Errorf("import %q = %v:\n%s", args, err, errOut)
		}
	}
	for args, want := range map[string]string{
		"":       "import: --from is required",
		"--from": "import: --from: missing value",
		"--from=mongodb://127.0.0.1:1/x --dry-run=maybe": "--dry-run=maybe",
		"--from=postgres://x/y":                          "the source URI must start with mongodb://",
		"--from=mongodb://127.0.0.1:1":                   "must name the original service's database",
		"--from=mongodb://127.0.0.1:1/x --prot=1":        "--prot: unknown flag; did you mean --port?",
	} {
		_, _, err := runImportCmd(t, strings.Fields(args)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("toktok import %s = %v, want %q", args, err, want)
		}
	}
}

// deepDoc is a document nested n levels deep.
func deepDoc(n int) bson.D {
	d := bson.D{{Key: "leaf", Value: 1}}
	for range n - 1 {
		d = bson.D{{Key: "in", Value: d}}
	}
	return d
}

// BenchmarkImport imports 500 documents shaped like the Flask service's (pbkdf2:sha256 at
// 150 000 iterations, a tenth salted sha256) into a fresh SQLite store with the default
// argon2id parameters, then runs the import again (every address present). It reports
// documents per second of each; docs/admin.md quotes them.
//
//	go test -run '^$' -bench Import -benchtime 1x .
func BenchmarkImport(b *testing.B) {
	srv := startMongo(b)
	base, db := srv.NewDatabase(b)
	client, err := mongo.Connect(options.Client().ApplyURI(base))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	pbkdf2Hash := werkzeugPBKDF2("pw", "saltsalt", 150000, "pbkdf2:sha256")
	const n = 500
	docs := make([]any, n)
	for i := range docs {
		h := pbkdf2Hash
		if i%10 == 0 {
			h = werkzeugSHA256("pw", "saltsalt")
		}
		docs[i] = bson.D{
			{Key: "infos", Value: bson.D{{Key: "email", Value: fmt.Sprintf("u%d@example.com", i)}}},
			{Key: "auth", Value: bson.D{{Key: "pwd", Value: h}, {Key: "role", Value: "registred"}, {Key: "conf_usr", Value: true}}},
		}
	}
	if _, err := client.Database(db).Collection("users").InsertMany(b.Context(), docs); err != nil {
		b.Fatal(err)
	}
	from := legacyURI(base, db)
	for b.Loop() {
		dir := b.TempDir()
		for _, run := range []string{"first", "again"} {
			var out bytes.Buffer
			start := time.Now()
			if err := run_(b, &out, "--from", from, "--data-dir="+dir, "--log-level=warn"); err != nil {
				b.Fatalf("%v\n%s", err, out.String())
			}
			b.ReportMetric(n/time.Since(start).Seconds(), run+"-docs/s")
			if run == "first" && !strings.Contains(out.String(), "imported           500") {
				b.Fatalf("first import:\n%s", out.String())
			}
		}
	}
}

// run_ runs toktok import args in process, for benchmarks.
func run_(b *testing.B, out *bytes.Buffer, args ...string) error {
	return run(b.Context(), append([]string{"import"}, args...), noEnv, out, io.Discard, nil)
}
