package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/mfa"
)

// The admin subcommands in process: what they print and refuse, on SQLite (refused while
// a server holds the file) and on MongoDB (beside a running server). The built binary's
// exit codes and output are the drills' (drills/admincli_test.go).

// adminPassword passes the default password policy.
const adminPassword = "quill-Harbor-4418-lantern"

// runAdminCmd runs `toktok admin args...` with stdin and returns what it printed.
func runAdminCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runAdmin(t.Context(), args, noEnv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// serverArgs are the settings of a test server and of the subcommands run beside it:
// cheap hashing, credentials in clear, no anonymous token.
func serverArgs(extra ...string) []string {
	return append([]string{"--argon2-memory=64", "--argon2-time=1", "--salt=no", "--anojwt=no", "--log-level=warn"}, extra...)
}

// startServer runs the command as a server with args and returns its address; it is
// stopped (and waited for) by the returned function, or when the test ends.
func startServer(t *testing.T, args []string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() { done <- run(ctx, append([]string{"--port=0"}, args...), noEnv, io.Discard, &stderr, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("the server did not start: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("the server did not become ready")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop")
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

// gql posts one operation to the server at addr and decodes its data into out.
func gql(t *testing.T, addr, query string, vars map[string]any, out any) {
	t.Helper()
	gqlAs(t, addr, "", query, vars, out)
}

// gqlAs is gql with an access token (none when bearer is empty).
func gqlAs(t *testing.T, addr, bearer, query string, vars map[string]any, out any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%.40s: %v %+v", query, err, r.Errors)
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatal(err)
	}
}

// register signs email up through the API of the server at addr.
func register(t *testing.T, addr, email string) {
	t.Helper()
	var d struct{ Register struct{ AccessToken string } }
	gql(t, addr, `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": email, "password": adminPassword}}, &d)
}

// loginRole signs email in through the API of the server at addr and returns the role of
// the user it answers and the role claim of its access token.
func loginRole(t *testing.T, addr, email string) (user, claim string) {
	t.Helper()
	var d struct {
		Login struct {
			AccessToken string
			User        struct{ Role string }
		}
	}
	gql(t, addr, `mutation($in: LoginInput!) { login(input: $in) { accessToken user { role } } }`,
		map[string]any{"in": map[string]any{"email": email, "password": adminPassword}}, &d)
	parts := strings.Split(d.Login.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q", d.Login.AccessToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Role string }
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return d.Login.User.Role, c.Role
}

func TestAdminHelp(t *testing.T) {
	for _, args := range [][]string{{"admin", "--help"}, {"admin", "-h"}, {"admin", "promote", "--help"}, {"admin", "create", "--email=a@example.com", "-help"}} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, noEnv, &stdout, &stderr, nil)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q = %v, want flag.ErrHelp", args, err)
		}
		usage := stdout.String() + stderr.String()
		for _, want := range []string{"toktok admin promote --email ADDRESS", "toktok admin create --email ADDRESS", "SQLite:", "stop the server"} {
			if !strings.Contains(usage, want) {
				t.Errorf("%q does not print %q:\n%s", args, want, usage)
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, noEnv, &stdout, &stderr, nil); !errors.Is(err, flag.ErrHelp) ||
		!strings.Contains(stderr.String(), "toktok admin --help") || !strings.Contains(stderr.String(), "--first-admin") ||
		!strings.Contains(stderr.String(), "--admin-emails") {
		t.Errorf("toktok --help does not name the admin subcommands and settings: %v", err)
	}
	for args, want := range map[string]string{
		"admin":                "admin: name a subcommand, promote, create or reset-mfa",
		"admin frob":           `admin: unknown subcommand "frob"`,
		"admin promote":        "admin promote: --email is required",
		"admin create --email": "admin create: --email: missing value",
		"admin promote --prot=1 --email=a@example.com": "--prot: unknown flag; did you mean --port?",
	} {
		err := run(t.Context(), strings.Fields(args), noEnv, io.Discard, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("toktok %s = %v, want %q", args, err, want)
		}
	}
}

// On SQLite: create reads the password from standard input, refusing an empty or weak
// one and a taken address; promote refuses while the server holds the file, then promotes
// a registered account, says so when it is an ADMIN already, and refuses an unknown
// address. The accounts sign in as ADMINs through a server started afterwards.
func TestAdminOnSQLite(t *testing.T) {
	dir := seedDataDir(t)
	settings := serverArgs("--data-dir=" + dir)
	create := append([]string{"create", "--email", "Ann@Example.com"}, settings...)
	for stdin, want := range map[string]string{
		"":             "admin create: no password on standard input",
		"\n":           "admin create: no password on standard input",
		"short\n":      "admin create: the password is too weak: too_short",
		"ann1234567\n": "admin create: the password is too weak: ",
	} {
		if _, _, err := runAdminCmd(t, stdin, create...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("create with stdin %q = %v, want %q", stdin, err, want)
		}
	}
	out, _, err := runAdminCmd(t, adminPassword+"\r\nignored\n", create...)
	if err != nil || !strings.HasPrefix(out, "created ann@example.com: ADMIN, address confirmed (id ") {
		t.Fatalf("create = %q, %v", out, err)
	}
	if _, _, err := runAdminCmd(t, adminPassword+"\n", create...); err == nil ||
		!strings.Contains(err.Error(), "Ann@Example.com is already registered: toktok admin promote --email Ann@Example.com makes it an ADMIN") {
		t.Errorf("create again = %v", err)
	}

	addr, stop := startServer(t, settings)
	register(t, addr, "bob@example.com")
	promote := append([]string{"promote", "--email=bob@example.com"}, settings...)
	if _, _, err := runAdminCmd(t, "", promote...); err == nil ||
		!strings.Contains(err.Error(), "is in use by another TokTok") || !strings.Contains(err.Error(), "stop the server, run toktok admin") {
		t.Errorf("promote while the server holds the file = %v", err)
	}
	stop()

	var stdout bytes.Buffer
	if err := run(t.Context(), append([]string{"admin"}, promote...), noEnv, &stdout, io.Discard, nil); err != nil ||
		stdout.String() != "bob@example.com is now ADMIN (was USER)\n" {
		t.Errorf("toktok admin promote = %q, %v", stdout.String(), err)
	}
	if out, _, err := runAdminCmd(t, "", promote...); err != nil || out != "bob@example.com is already ADMIN: nothing changed\n" {
		t.Errorf("promote again = %q, %v", out, err)
	}
	if _, _, err := runAdminCmd(t, "", append([]string{"promote", "--email", "nobody@example.com"}, settings...)...); err == nil ||
		err.Error() != "admin promote: no account has this address: nobody@example.com" {
		t.Errorf("promote an unknown address = %v", err)
	}

	addr, _ = startServer(t, settings)
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		if user, claim := loginRole(t, addr, email); user != "ADMIN" || claim != "ADMIN" {
			t.Errorf("%s signs in as %s with a %s token, want ADMIN", email, user, claim)
		}
	}
}

// On MongoDB the subcommands work beside a running server, which sees their accounts at
// once.
func TestAdminOnMongoDBBesideAServer(t *testing.T) {
	srv := startMongo(t) // importcmd_test.go
	uri, db := srv.NewDatabase(t)
	settings := serverArgs("--data-dir="+seedDataDir(t), "--store="+uri, "--store-database="+db)
	addr, _ := startServer(t, settings)
	register(t, addr, "bob@example.com")
	if user, _ := loginRole(t, addr, "bob@example.com"); user != "USER" {
		t.Fatalf("bob registered as %s", user)
	}
	out, _, err := runAdminCmd(t, "", append([]string{"promote", "--email", "bob@example.com"}, settings...)...)
	if err != nil || out != "bob@example.com is now ADMIN (was USER)\n" {
		t.Fatalf("promote beside the server = %q, %v", out, err)
	}
	if out, _, err := runAdminCmd(t, adminPassword+"\n", append([]string{"create", "--email", "ann@example.com"}, settings...)...); err != nil ||
		!strings.HasPrefix(out, "created ann@example.com: ADMIN") {
		t.Fatalf("create beside the server = %q, %v", out, err)
	}
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		if user, claim := loginRole(t, addr, email); user != "ADMIN" || claim != "ADMIN" {
			t.Errorf("%s signs in as %s with a %s token, want ADMIN", email, user, claim)
		}
	}
}

// TestAdminResetMFA: an account whose factors are lost gets back in through the command
// line: reset-mfa removes them, and the next password login needs no second factor.
func TestAdminResetMFA(t *testing.T) {
	dir := seedDataDir(t)
	settings := serverArgs("--data-dir=" + dir)
	addr, stop := startServer(t, settings)
	register(t, addr, "cleo@example.com")
	var in struct{ Login struct{ AccessToken string } }
	gql(t, addr, `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": "cleo@example.com", "password": adminPassword}}, &in)
	var enr struct {
		EnrollTotp struct{ FactorID, Secret string }
	}
	gqlAs(t, addr, in.Login.AccessToken, `mutation { enrollTotp { factorId secret } }`, nil, &enr)
	code, err := mfa.TOTPCode(enr.EnrollTotp.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		ConfirmTotp struct{ RecoveryCodes []string }
	}
	gqlAs(t, addr, in.Login.AccessToken, `mutation($f: ID!, $c: String!) { confirmTotp(factorId: $f, code: $c) { recoveryCodes } }`,
		map[string]any{"f": enr.EnrollTotp.FactorID, "c": code}, &conf)
	if len(conf.ConfirmTotp.RecoveryCodes) != 10 {
		t.Fatalf("recovery codes %v", conf.ConfirmTotp.RecoveryCodes)
	}
	if mfaRequired(t, addr, "cleo@example.com") != true {
		t.Fatal("login after enrolment does not ask for the second factor")
	}
	stop()

	out, _, err := runAdminCmd(t, "", append([]string{"reset-mfa", "--email", "Cleo@Example.com"}, settings...)...)
	if err != nil || !strings.HasPrefix(out, "cleo@example.com: removed 1 second factor(s) and the recovery codes, ended ") {
		t.Fatalf("reset-mfa = %q, %v", out, err)
	}
	if _, _, err := runAdminCmd(t, "", append([]string{"reset-mfa", "--email", "nobody@example.com"}, settings...)...); err == nil ||
		err.Error() != "admin reset-mfa: no account has this address: nobody@example.com" {
		t.Errorf("reset-mfa of an unknown address = %v", err)
	}
	addr, _ = startServer(t, settings)
	if mfaRequired(t, addr, "cleo@example.com") {
		t.Error("login after reset-mfa still asks for a second factor")
	}
}

// mfaRequired signs email in and returns the answer's mfaRequired.
func mfaRequired(t *testing.T, addr, email string) bool {
	t.Helper()
	var d struct{ Login struct{ MfaRequired bool } }
	gql(t, addr, `mutation($in: LoginInput!) { login(input: $in) { mfaRequired } }`,
		map[string]any{"in": map[string]any{"email": email, "password": adminPassword}}, &d)
	return d.Login.MfaRequired
}
