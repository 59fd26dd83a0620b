package e2e

import (
	"strings"
	"testing"

	"github.com/toktok/toktok/config"
)

// The GraphQL rules of the second hardening round, from outside: no message suggests a
// name, String and ID variables take JSON strings only, and a document holds at most one
// sensitive mutation field in total.

// strictEnv is an app with credentials in clear and no anonymous token, so that each
// operation is one request and a refused one can be told from one that ran.
func strictEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnv(t, func(c *config.Config) {
		c.Credentials.Encrypt, c.Account.AnonJWT = false, false
	})
}

// TestStrictNoSuggestions: mistyped input fields, arguments, fields, enum values and types
// are refused with GRAPHQL_VALIDATION_FAILED and a message that names what was wrong and
// offers nothing.
func TestStrictNoSuggestions(t *testing.T) {
	e := strictEnv(t)
	ann := e.register("ann@example.com", strongPassword)
	for _, tc := range []struct {
		name, bearer, query string
		vars                map[string]any
	}{
		{"input field", "", `mutation { login(input: { emial: "a@example.com", password: "x" }) { accessToken } }`, nil},
		{"input field in a variable", "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"emial": "a@example.com", "email": "a@example.com", "password": "x"}}},
		{"argument", "", `mutation { confirmEmail(tokn: "x") { id } }`, nil},
		{"field", ann.AccessToken, `{ me { emial } }`, nil},
		{"type", "", `query($x: Strin) { authConfig { registrationOpen } }`, nil},
		{"enum value", ann.AccessToken, `mutation { logout(scope: CURENT) }`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.in(t).gql(tc.bearer, tc.query, tc.vars)
			if r.Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("code %q: %s", r.Code(), r.Raw)
			}
			for _, ge := range r.Errors {
				if strings.Contains(strings.ToLower(ge.Message), "did you mean") {
					t.Errorf("message suggests: %q", ge.Message)
				}
			}
		})
	}
}

// TestStrictVariableCoercion: a number, boolean, object or array where a String or ID
// variable (or input field) is expected is a variable error before execution: the
// resolver never runs (no login is attempted, so the failed-login limiter and the audit
// log see nothing), whereas the same request with strings runs.
func TestStrictVariableCoercion(t *testing.T) {
	e := strictEnv(t)
	ann := e.register("ann@example.com", strongPassword)
	login := `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`
	for _, tc := range []struct {
		name, bearer, query string
		vars                map[string]any
	}{
		{"number for an input field", "", login, map[string]any{"in": map[string]any{"email": 5, "password": "x"}}},
		{"boolean for an input field", "", login, map[string]any{"in": map[string]any{"email": "ann@example.com", "password": true}}},
		{"object for an input field", "", login, map[string]any{"in": map[string]any{"email": map[string]any{"$ne": ""}, "password": "x"}}},
		{"array for an input field", "", login, map[string]any{"in": map[string]any{"email": []any{"ann@example.com"}, "password": "x"}}},
		{"number for a String argument", "", `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": 12345}},
		{"number for an ID argument", ann.AccessToken, `mutation($id: ID!) { revokeSession(id: $id) }`, map[string]any{"id": 42}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			r := e.gql(tc.bearer, tc.query, tc.vars)
			if r.Code() != "GRAPHQL_VALIDATION_FAILED" || len(r.Errors[0].Path) < 2 || r.Errors[0].Path[0] != "variable" {
				t.Fatalf("want a variable error: %s", r.Raw)
			}
			if len(r.Data) > 0 && string(r.Data) != "null" {
				t.Errorf("data despite a variable error: %s", r.Data)
			}
		})
	}
	// Nothing above ran: Ann's five failed-login allowance is intact, and the strings
	// version runs and answers as the resolver does.
	for range 5 {
		e.wantCode(e.gql("", login, map[string]any{"in": map[string]any{"email": "ann@example.com", "password": "not the password at all"}}), "INVALID_CREDENTIALS")
	}
	e.wantCode(e.loginReq("ann@example.com", strongPassword), "RATE_LIMITED")
}

// TestStrictOneSensitiveMutation: two different sensitive mutations in one document are
// refused as two of the same are, and neither runs.
func TestStrictOneSensitiveMutation(t *testing.T) {
	e := strictEnv(t)
	e.register("ann@example.com", strongPassword)
	for _, q := range []string{
		`mutation { login(input: { email: "ann@example.com", password: "` + strongPassword + `" }) { accessToken }
			register(input: { email: "bob@example.com", password: "` + strongPassword + `" }) { accessToken } }`,
		`mutation { forgotPassword(email: "ann@example.com")
			register(input: { email: "bob@example.com", password: "` + strongPassword + `" }) { accessToken } }`,
		`mutation { ...R forgotPassword(email: "ann@example.com") }
			fragment R on Mutation { register(input: { email: "bob@example.com", password: "` + strongPassword + `" }) { accessToken } }`,
	} {
		r := e.gql("", q, nil)
		if r.Code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(r.Errors[0].Message, "only one sensitive mutation") {
			t.Errorf("%s\nanswered %s", q, r.Raw)
		}
	}
	// Bob was never registered, and Ann got no reset mail.
	e.register("bob@example.com", strongPassword)
	if n := e.outboxCount("ann@example.com"); n != 1 { // her confirmation
		t.Errorf("%d mails queued for Ann, want only her confirmation", n)
	}
}
