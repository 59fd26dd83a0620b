package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/token"
)

// End-to-end checks of the HTTP surface: GraphQL over HTTP (status codes, media types,
// refused bodies), the document limits, introspection, headers, JWKS, CORS, health, the
// real server started by run(), and the client IP behind proxies.

// httpResult is one raw HTTP exchange.
type httpResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// httpDo sends method path with body and headers to e's server and reads the answer.
func httpDo(e *testEnv, method, path string, body []byte, hdr map[string]string) httpResult {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return httpSend(e, req, hdr)
}

// httpSend sends req with the headers hdr through e's client and reads the answer.
func httpSend(e *testEnv, req *http.Request, hdr map[string]string) httpResult {
	e.t.Helper()
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// httpGQLBody is the JSON body of one GraphQL request.
func httpGQLBody(t testing.TB, query string, vars map[string]any) []byte {
	t.Helper()
	m := map[string]any{"query": query}
	if vars != nil {
		m["variables"] = vars
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpKeys decodes a JSON object's top-level entries.
func httpKeys(t testing.TB, raw []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, raw)
	}
	return m
}

// httpGQLGet sends GET /graphql with query (and variables, when not nil).
func httpGQLGet(e *testEnv, query string, vars map[string]any, hdr map[string]string) gqlResponse {
	e.t.Helper()
	q := url.Values{"query": {query}}
	if vars != nil {
		b, err := json.Marshal(vars)
		if err != nil {
			e.t.Fatal(err)
		}
		q.Set("variables", string(b))
	}
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?"+q.Encode(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return e.send(req)
}

// httpRegisterInput is register's input as an SPA sends it (encrypted when --salt).
func httpRegisterInput(e *testEnv, email string) map[string]any {
	return map[string]any{"email": e.enc(email), "password": e.enc(strongPassword)}
}

const httpRegisterMutation = `mutation($input: RegisterInput!) { register(input: $input) { accessToken } }`

// httpMustRegisterFresh registers email and fails unless it is a fresh address: proof that
// an earlier refused request did not create the user.
func httpMustRegisterFresh(e *testEnv, email string) authPayload {
	e.t.Helper()
	r := e.registerReq(email, strongPassword, nil)
	if r.Code() == "EMAIL_TAKEN" {
		e.t.Fatalf("%s was already registered: a refused request ran its mutation", email)
	}
	var resp struct{ Register authPayload }
	e.mustData(r, &resp)
	return resp.Register
}

// httpWantStatus fails unless got is want.
func httpWantStatus(t testing.TB, what string, got, want int, body []byte) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: HTTP %d, want %d: %s", what, got, want, body)
	}
}

func TestHTTPParseAndValidationErrorsAcceptJSON(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, accept := range []string{"application/json", "", "*/*", "application/json, application/graphql-response+json;q=0.9"} {
		t.Run("accept="+accept, func(t *testing.T) {
			e := e.in(t)
			hdr := map[string]string{}
			if accept != "" {
				hdr["Accept"] = accept
			}
			// A parse error.
			r := e.post("", "application/json", httpGQLBody(t, `{ authConfig { registrationOpen `, nil), hdr)
			httpWantStatus(t, "parse error", r.Status, http.StatusOK, r.Raw)
			e.wantCode(r, "GRAPHQL_PARSE_FAILED")
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("parse error Content-Type = %q, want application/json", ct)
			}
			// A validation error: an unknown field close to a real one.
			r = e.post("", "application/json", httpGQLBody(t, `{ authConfig { registrationOpn } }`, nil), hdr)
			httpWantStatus(t, "validation error", r.Status, http.StatusOK, r.Raw)
			ge := e.wantCode(r, "GRAPHQL_VALIDATION_FAILED")
			if strings.Contains(ge.Message, "Did you mean") || bytes.Contains(r.Raw, []byte("Did you mean")) {
				t.Errorf("validation error suggests a field: %s", r.Raw)
			}
			r = e.post("", "application/json", httpGQLBody(t, `{ mee { id } }`, nil), hdr)
			httpWantStatus(t, "unknown root field", r.Status, http.StatusOK, r.Raw)
			e.wantCode(r, "GRAPHQL_VALIDATION_FAILED")
			if bytes.Contains(r.Raw, []byte("Did you mean")) {
				t.Errorf("validation error suggests a field: %s", r.Raw)
			}
			// A success.
			r = e.post("", "application/json", httpGQLBody(t, `{ authConfig { registrationOpen } }`, nil), hdr)
			e.mustData(r, nil)
		})
	}
}

func TestHTTPParseAndValidationErrorsGraphQLResponseJSON(t *testing.T) {
	e := newTestEnv(t, nil)
	hdr := map[string]string{"Accept": "application/graphql-response+json"}
	for _, tc := range []struct{ name, query, code string }{
		{"parse", `{ authConfig { registrationOpen `, "GRAPHQL_PARSE_FAILED"},
		{"validation", `{ authConfig { registrationOpn } }`, "GRAPHQL_VALIDATION_FAILED"},
		{"limit", `{ a1: authConfig { registrationOpen } a2: authConfig { registrationOpen } a3: authConfig { registrationOpen }
			a4: authConfig { registrationOpen } a5: authConfig { registrationOpen } a6: authConfig { registrationOpen }
			a7: authConfig { registrationOpen } a8: authConfig { registrationOpen } a9: authConfig { registrationOpen }
			a10: authConfig { registrationOpen } a11: authConfig { registrationOpen } }`, "GRAPHQL_VALIDATION_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			r := e.post("", "application/json", httpGQLBody(t, tc.query, nil), hdr)
			if r.Status < 400 || r.Status > 499 {
				t.Fatalf("HTTP %d, want 4xx: %s", r.Status, r.Raw)
			}
			if r.Status != http.StatusBadRequest {
				t.Errorf("HTTP %d, want 400", r.Status)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/graphql-response+json") {
				t.Errorf("Content-Type = %q, want application/graphql-response+json", ct)
			}
			if _, ok := httpKeys(t, r.Raw)["data"]; ok {
				t.Errorf("a request error carries a data entry: %s", r.Raw)
			}
			e.wantCode(r, tc.code)
			if bytes.Contains(r.Raw, []byte("Did you mean")) {
				t.Errorf("validation error suggests a field: %s", r.Raw)
			}
		})
	}
	t.Run("success", func(t *testing.T) {
		e := e.in(t)
		r := e.post("", "application/json", httpGQLBody(t, `{ authConfig { registrationOpen } }`, nil), hdr)
		httpWantStatus(t, "query", r.Status, http.StatusOK, r.Raw)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/graphql-response+json") {
			t.Errorf("Content-Type = %q, want application/graphql-response+json", ct)
		}
		var data struct {
			AuthConfig struct{ RegistrationOpen bool }
		}
		e.mustData(r, &data)
		if !data.AuthConfig.RegistrationOpen {
			t.Errorf("registrationOpen = false: %s", r.Raw)
		}
	})
	t.Run("field error", func(t *testing.T) {
		e := e.in(t)
		// An execution error is a GraphQL result: 200 with data (null) and the code.
		r := e.post("", "application/json", httpGQLBody(t, `{ mySessions { id } }`, nil), hdr)
		httpWantStatus(t, "mySessions without a token", r.Status, http.StatusOK, r.Raw)
		e.wantCode(r, "UNAUTHENTICATED")
		if _, ok := httpKeys(t, r.Raw)["data"]; !ok {
			t.Errorf("an execution result lacks its data entry: %s", r.Raw)
		}
	})
}

func TestHTTPBadBodies(t *testing.T) {
	e := newTestEnv(t, nil)
	const marker = "ZZ-ECHO-MARKER-7f3a"
	for _, tc := range []struct {
		name string
		body string
	}{
		{"invalid JSON", `{"query": "{ authConfig { registrationOpen } }", ` + marker + `}`},
		{"invalid JSON string", `{"query": "` + marker + `<script>`},
		{"not an object", `"` + marker + `"`},
		{"trailing garbage", `{"query": "{ authConfig { registrationOpen } }"} ` + marker},
		{"batch", `[{"query": "{ authConfig { registrationOpen } }"}, {"query": "{ authConfig { registrationOpen } }"}]`},
		{"batch with spaces", " \n\t[{\"query\": \"{ authConfig { registrationOpen } }\"}]"},
		{"single batch", `[{"query": "{ authConfig { registrationOpen } }"}]`},
		{"no query", `{"variables": {}}`},
		{"empty query", `{"query": "   "}`},
		{"null", `null`},
		{"empty body", ``},
		{"variables not an object", `{"query": "{ authConfig { registrationOpen } }", "variables": "` + marker + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			for _, accept := range []string{"application/json", "application/graphql-response+json"} {
				r := httpDo(e, http.MethodPost, "/graphql", []byte(tc.body), map[string]string{"Content-Type": "application/json", "Accept": accept})
				httpWantStatus(t, accept, r.Status, http.StatusBadRequest, r.Body)
				if bytes.Contains(r.Body, []byte(marker)) {
					t.Errorf("%s: the body is echoed back: %s", accept, r.Body)
				}
				if bytes.Contains(r.Body, []byte(`"data"`)) {
					t.Errorf("%s: a refused request carries data: %s", accept, r.Body)
				}
				if m := httpKeys(t, r.Body); m["errors"] == nil {
					t.Errorf("%s: no errors entry: %s", accept, r.Body)
				}
			}
		})
	}
}

func TestHTTPNonJSONContentTypesRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	anon := e.anon()
	n := 0
	next := func() string { n++; return fmt.Sprintf("csrf%d@example.com", n) }
	check := func(t *testing.T, email string, r httpResult) {
		t.Helper()
		if r.Status == http.StatusOK || r.Status < 400 || r.Status > 499 {
			t.Errorf("HTTP %d, want a 4xx refusal: %s", r.Status, r.Body)
		}
		if bytes.Contains(r.Body, []byte("accessToken")) {
			t.Errorf("the mutation answered: %s", r.Body)
		}
		httpMustRegisterFresh(e.in(t), email)
	}
	// The helpers take the subtest's t: a failure must end the goroutine that calls them.
	jsonBody := func(t *testing.T, email string) []byte {
		return httpGQLBody(t, httpRegisterMutation, map[string]any{"input": httpRegisterInput(e.in(t), email)})
	}
	auth := "Bearer " + anon

	t.Run("form-urlencoded", func(t *testing.T) {
		e := e.in(t)
		email := next()
		vars, err := json.Marshal(map[string]any{"input": httpRegisterInput(e, email)})
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"query": {httpRegisterMutation}, "variables": {string(vars)}}
		r := httpDo(e, http.MethodPost, "/graphql", []byte(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
		check(t, email, r)
	})
	t.Run("form-urlencoded with a JSON body", func(t *testing.T) {
		e := e.in(t)
		email := next()
		r := httpDo(e, http.MethodPost, "/graphql", jsonBody(t, email),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
		check(t, email, r)
	})
	t.Run("multipart", func(t *testing.T) {
		e := e.in(t)
		email := next()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range [][2]string{{"operations", string(jsonBody(t, email))}, {"map", "{}"}, {"query", httpRegisterMutation}} {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				t.Fatalf("multipart field %s: %v", f[0], err)
			}
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		r := httpDo(e, http.MethodPost, "/graphql", buf.Bytes(),
			map[string]string{"Content-Type": mw.FormDataContentType(), "Authorization": auth})
		check(t, email, r)
	})
	t.Run("text/plain", func(t *testing.T) {
		e := e.in(t)
		email := next()
		r := httpDo(e, http.MethodPost, "/graphql", jsonBody(t, email),
			map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Authorization": auth})
		check(t, email, r)
	})
	t.Run("no content type", func(t *testing.T) {
		e := e.in(t)
		email := next()
		r := httpDo(e, http.MethodPost, "/graphql", jsonBody(t, email), map[string]string{"Authorization": auth})
		check(t, email, r)
	})
	t.Run("anonymousToken over text/plain", func(t *testing.T) {
		e := e.in(t)
		r := httpDo(e, http.MethodPost, "/graphql", httpGQLBody(t, `mutation { anonymousToken { token } }`, nil),
			map[string]string{"Content-Type": "text/plain"})
		if r.Status == http.StatusOK || bytes.Contains(r.Body, []byte(`"token"`)) {
			t.Errorf("anonymousToken over text/plain: HTTP %d: %s", r.Status, r.Body)
		}
	})
	t.Run("application/json with charset", func(t *testing.T) {
		e := e.in(t)
		// The JSON content type with parameters is the normal case and works.
		email := next()
		r := e.post(anon, "application/json; charset=utf-8", jsonBody(t, email), nil)
		e.mustData(r, nil)
	})
}

func TestHTTPGet(t *testing.T) {
	e := newTestEnv(t, nil)
	t.Run("query", func(t *testing.T) {
		e := e.in(t)
		r := httpGQLGet(e, `{authConfig{registrationOpen}}`, nil, nil)
		var data struct {
			AuthConfig struct{ RegistrationOpen bool }
		}
		e.mustData(r, &data)
		if !data.AuthConfig.RegistrationOpen {
			t.Errorf("registrationOpen = false: %s", r.Raw)
		}
	})
	t.Run("query with variables", func(t *testing.T) {
		e := e.in(t)
		r := httpGQLGet(e, `query($n: String!) { __type(name: $n) { name } }`, map[string]any{"n": "AuthConfig"}, nil)
		e.mustData(r, nil)
		if !bytes.Contains(r.Raw, []byte(`"AuthConfig"`)) {
			t.Errorf("variables ignored: %s", r.Raw)
		}
	})
	t.Run("mutation is 405", func(t *testing.T) {
		e := e.in(t)
		anon := e.anon()
		email := "get-mutation@example.com"
		r := httpGQLGet(e, httpRegisterMutation, map[string]any{"input": httpRegisterInput(e, email)},
			map[string]string{"Authorization": "Bearer " + anon})
		httpWantStatus(t, "GET mutation", r.Status, http.StatusMethodNotAllowed, r.Raw)
		if bytes.Contains(r.Raw, []byte("accessToken")) {
			t.Errorf("the mutation answered: %s", r.Raw)
		}
		if allow := r.Header.Get("Allow"); !strings.Contains(allow, "POST") {
			t.Errorf("Allow = %q, want POST", allow)
		}
		httpMustRegisterFresh(e, email)
	})
	t.Run("anonymousToken mutation is 405", func(t *testing.T) {
		e := e.in(t)
		r := httpGQLGet(e, `mutation { anonymousToken { token } }`, nil, nil)
		httpWantStatus(t, "GET mutation", r.Status, http.StatusMethodNotAllowed, r.Raw)
		if bytes.Contains(r.Raw, []byte(`"token"`)) {
			t.Errorf("anonymousToken issued over GET: %s", r.Raw)
		}
	})
	t.Run("mutation chosen by operationName is 405", func(t *testing.T) {
		e := e.in(t)
		q := url.Values{"query": {`query Q { authConfig { registrationOpen } } mutation M { anonymousToken { token } }`}, "operationName": {"M"}}
		r := httpDo(e, http.MethodGet, "/graphql?"+q.Encode(), nil, nil)
		httpWantStatus(t, "GET mutation by name", r.Status, http.StatusMethodNotAllowed, r.Body)
		q.Set("operationName", "Q")
		r = httpDo(e, http.MethodGet, "/graphql?"+q.Encode(), nil, nil)
		httpWantStatus(t, "GET query by name", r.Status, http.StatusOK, r.Body)
	})
	t.Run("no query is 400", func(t *testing.T) {
		e := e.in(t)
		r := httpDo(e, http.MethodGet, "/graphql", nil, nil)
		httpWantStatus(t, "GET without query", r.Status, http.StatusBadRequest, r.Body)
	})
	t.Run("turned off", func(t *testing.T) {
		off := newTestEnv(t, func(c *config.Config) { c.HTTP.GraphQLGet = false })
		r := httpGQLGet(off, `{authConfig{registrationOpen}}`, nil, nil)
		if r.Status == http.StatusOK || r.Status < 400 {
			t.Fatalf("GET with GraphQLGet=false: HTTP %d: %s", r.Status, r.Raw)
		}
		if bytes.Contains(r.Raw, []byte("registrationOpen")) {
			t.Errorf("GET answered the query: %s", r.Raw)
		}
		// POST still works.
		off.mustData(off.gql("", `{authConfig{registrationOpen}}`, nil), nil)
	})
}

func TestHTTPBodyLimit(t *testing.T) {
	e := newTestEnv(t, nil)
	anon := e.anon()
	// padded returns a register request for email padded with white space to size bytes.
	// It takes the subtest's t: a failure must end the goroutine that calls it.
	padded := func(t *testing.T, email string, size int) []byte {
		b := httpGQLBody(t, httpRegisterMutation, map[string]any{"input": httpRegisterInput(e.in(t), email)})
		if len(b) > size-2 {
			t.Fatalf("body already %d bytes", len(b))
		}
		out := append([]byte{'{'}, bytes.Repeat([]byte{' '}, size-len(b))...)
		return append(out, b[1:]...)
	}
	const limit = 64 << 10

	t.Run("over the limit", func(t *testing.T) {
		e := e.in(t)
		body := padded(t, "big@example.com", limit+1)
		if len(body) != limit+1 {
			t.Fatalf("body is %d bytes", len(body))
		}
		r := e.post(anon, "application/json", body, nil)
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d, want 413: %.200s", r.Status, r.Raw)
			if r.Status < 400 || r.Status > 499 {
				t.Fatalf("not a 4xx")
			}
		}
		httpMustRegisterFresh(e, "big@example.com")
	})
	t.Run("far over the limit", func(t *testing.T) {
		e := e.in(t)
		body := padded(t, "huge@example.com", 1<<20)
		r := e.post(anon, "application/json", body, nil)
		httpWantStatus(t, "1 MiB body", r.Status, http.StatusRequestEntityTooLarge, nil)
		httpMustRegisterFresh(e, "huge@example.com")
	})
	t.Run("at the limit", func(t *testing.T) {
		e := e.in(t)
		body := padded(t, "fits@example.com", limit)
		r := e.post(anon, "application/json", body, nil)
		e.mustData(r, nil)
	})
}

// httpSelections repeats sel n times, separated by spaces.
func httpSelections(sel string, n int) string {
	return strings.TrimSpace(strings.Repeat(sel+" ", n))
}

// httpAliases returns n aliased authConfig selections.
func httpAliases(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: authConfig { registrationOpen } ", i)
	}
	return b.String()
}

func TestHTTPDocumentLimits(t *testing.T) {
	e := newTestEnv(t, nil)
	// Introspection fields cost no complexity, so __schema documents measure tokens and
	// depth alone: { __schema { types { name×n } } } is n+8 tokens, depth 3.
	tokens := func(n int) string { return `{ __schema { types { ` + httpSelections("name", n-8) + ` } } }` }
	// depth d: __schema types fields type, then ofType down to name at level d.
	depth := func(d int) string {
		return `{ __schema { types { fields { type { ` + strings.Repeat("ofType { ", d-5) + `name` + strings.Repeat(" }", d-5) + ` } } } } }`
	}
	loginInput := map[string]any{"input": map[string]any{"email": e.enc("nobody@example.com"), "password": e.enc(strongPassword)}}

	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		ok    bool
	}{
		{"1000 tokens", tokens(1000), nil, true},
		{"1001 tokens", tokens(1001), nil, false},
		{"10000 tokens", tokens(10000), nil, false},
		// Introspection (on here) may nest 15 deep: GraphiQL's standard query needs 13.
		{"depth 15", depth(15), nil, true},
		{"depth 16", depth(16), nil, false},
		{"depth 16 through a fragment", `query { __schema { ...S } } fragment S on __Schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } }`, nil, false},
		{"depth 16 through an inline fragment", `query { __schema { ... on __Schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } } } }`, nil, false},
		{"10 aliases", `{ ` + httpAliases(10) + `}`, nil, true},
		{"11 aliases", `{ ` + httpAliases(11) + `}`, nil, false},
		{"11 aliases through a fragment spread twice", `{ ...F ...F } fragment F on Query { ` + httpAliases(6) + ` }`, nil, false},
		{"complexity 200", `{ authConfig { ` + httpSelections("registrationOpen", 199) + ` } }`, nil, true},
		{"complexity 201", `{ authConfig { ` + httpSelections("registrationOpen", 200) + ` } }`, nil, false},
		{"login twice with aliases", `mutation($input: LoginInput!) { a: login(input: $input) { accessToken } b: login(input: $input) { accessToken } }`, loginInput, false},
		{"login twice through a fragment", `mutation($input: LoginInput!) { ...L b: login(input: $input) { accessToken } } fragment L on Mutation { login(input: $input) { accessToken } }`, loginInput, false},
		{"refreshToken twice", `mutation { a: refreshToken(refreshToken: "x") { accessToken } b: refreshToken(refreshToken: "y") { accessToken } }`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			r := e.gql("", tc.query, tc.vars)
			if tc.ok {
				e.mustData(r, nil)
				return
			}
			httpWantStatus(t, tc.name, r.Status, http.StatusOK, r.Raw)
			e.wantCode(r, "GRAPHQL_VALIDATION_FAILED")
			if _, ok := httpKeys(t, r.Raw)["data"]; ok && string(httpKeys(t, r.Raw)["data"]) != "null" {
				t.Errorf("a refused document has data: %.300s", r.Raw)
			}
		})
	}

	t.Run("two registers in one document did not run", func(t *testing.T) {
		e := e.in(t)
		anon := e.anon()
		q := `mutation($a: RegisterInput!, $b: RegisterInput!) { a: register(input: $a) { accessToken } b: register(input: $b) { accessToken } }`
		r := e.gql(anon, q, map[string]any{"a": httpRegisterInput(e, "twice-a@example.com"), "b": httpRegisterInput(e, "twice-b@example.com")})
		e.wantCode(r, "GRAPHQL_VALIDATION_FAILED")
		httpMustRegisterFresh(e, "twice-a@example.com")
		httpMustRegisterFresh(e, "twice-b@example.com")
	})

	t.Run("a document within every limit", func(t *testing.T) {
		e := e.in(t)
		// 10 aliases, depth 8, complexity near 200, one login: all at their limits at once.
		var b strings.Builder
		b.WriteString(`mutation($input: LoginInput!) { login(input: $input) { accessToken } `)
		for i := range 9 {
			fmt.Fprintf(&b, "t%d: anonymousToken { token } ", i)
		}
		b.WriteString(`}`)
		r := e.gql("", b.String(), loginInput)
		// The document is accepted; login itself fails on the credentials.
		if c := r.Code(); c == "GRAPHQL_VALIDATION_FAILED" || c == "GRAPHQL_PARSE_FAILED" {
			t.Fatalf("a document within the limits was refused: %s", r.Raw)
		}
		e.mustData(e.gql("", depth(8), nil), nil)
		q := `{ ` + httpAliases(9) + ` authConfig { ` + httpSelections("passwordMinLength", 150) + ` } __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }`
		e.mustData(e.gql("", q, nil), nil)
	})

	t.Run("configured limits", func(t *testing.T) {
		low := newTestEnv(t, func(c *config.Config) {
			c.HTTP.DepthLimit, c.HTTP.AliasLimit, c.HTTP.ComplexityLimit, c.HTTP.TokenLimit = 2, 1, 5, 50
		})
		low.mustData(low.gql("", `{ authConfig { registrationOpen passwordMinLength } }`, nil), nil)
		low.wantCode(low.gql("", `{ me { id } authConfig { registrationOpen passwordMinLength passwordMaxLength antispamRequired } }`, nil), "GRAPHQL_VALIDATION_FAILED")
		low.wantCode(low.gql("", `{ a: authConfig { registrationOpen } b: authConfig { registrationOpen } }`, nil), "GRAPHQL_VALIDATION_FAILED")
		low.wantCode(low.gql("", `mutation { refreshToken(refreshToken: "x") { user { id } } }`, nil), "GRAPHQL_VALIDATION_FAILED")
		low.wantCode(low.gql("", `{ __schema { types { `+httpSelections("name", 60)+` } } }`, nil), "GRAPHQL_VALIDATION_FAILED")
	})

	t.Run("limits apply over GET", func(t *testing.T) {
		e := e.in(t)
		e.wantCode(httpGQLGet(e, depth(16), nil, nil), "GRAPHQL_VALIDATION_FAILED")
		e.wantCode(httpGQLGet(e, tokens(1001), nil, nil), "GRAPHQL_VALIDATION_FAILED")
	})
}

func TestHTTPIntrospection(t *testing.T) {
	const q = `{ __schema { types { name } } }`
	t.Run("on", func(t *testing.T) {
		e := newTestEnv(t, func(c *config.Config) { c.HTTP.Introspection = true })
		var data struct {
			Schema struct{ Types []struct{ Name string } } `json:"__schema"`
		}
		e.mustData(e.gql("", q, nil), &data)
		if len(data.Schema.Types) == 0 {
			t.Fatal("no types")
		}
	})
	t.Run("off", func(t *testing.T) {
		e := newTestEnv(t, func(c *config.Config) { c.HTTP.Introspection = false })
		for _, q := range []string{q, `{ __type(name: "User") { fields { name } } }`} {
			r := e.gql("", q, nil)
			if r.Code() == "" {
				t.Fatalf("introspection off answered without a coded error: %s", r.Raw)
			}
			if bytes.Contains(r.Raw, []byte(`"AuthConfig"`)) || bytes.Contains(r.Raw, []byte(`"email"`)) {
				t.Errorf("introspection off leaked the schema: %s", r.Raw)
			}
		}
		// __typename is not introspection of the schema and still works.
		e.mustData(e.gql("", `{ __typename }`, nil), nil)
	})
	t.Run("off is a refusal, not an internal error", func(t *testing.T) {
		// INTERNAL is the contract's code for unexpected failures, whose cause is logged as
		// an error; a refused introspection query is a policy refusal of the document, as
		// any other limit: GRAPHQL_VALIDATION_FAILED.
		e := newTestEnv(t, func(c *config.Config) { c.HTTP.Introspection = false })
		for _, q := range []string{q, `{ __type(name: "User") { name } }`} {
			if r := e.gql("", q, nil); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("introspection off answers code %s, want GRAPHQL_VALIDATION_FAILED: %s", r.Code(), r.Raw)
			}
		}
	})
}

// httpProductionArgs writes the files production mode requires into dir and returns the
// flags that name them.
func httpProductionArgs(t testing.TB, dir string) []string {
	t.Helper()
	jwtKey := filepath.Join(dir, "jwt.pem")
	if _, _, err := token.LoadOrGenerateKey(token.ES256, jwtKey); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	refresh := filepath.Join(dir, "refresh.secret")
	if err := os.WriteFile(refresh, []byte(base64.RawURLEncoding.EncodeToString(secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecKey := filepath.Join(dir, "credentials-ec.pem")
	if err := os.WriteFile(ecKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"--mode=production", "--public-url=https://auth.example.com", "--data-dir=" + dir,
		"--jwt-key-file=" + jwtKey, "--refresh-secret-file=" + refresh, "--ecdh-key-file=" + ecKey,
		"--allow-embedded-store=yes", "--argon2-memory=19456", "--argon2-time=2",
		"--smtp-host=127.0.0.1", "--smtp-tls=none", "--mail-from=TokTok <no-reply@toktok.test>",
	}
}

func httpNoEnv(string) (string, bool) { return "", false }

func TestHTTPProductionTurnsIntrospectionAndPlaygroundOff(t *testing.T) {
	dir := t.TempDir()
	args := httpProductionArgs(t, dir)
	cfg, err := config.Load(args, httpNoEnv, io.Discard)
	if err != nil {
		t.Fatalf("Load production: %v", err)
	}
	if cfg.Mode != config.ModeProduction || cfg.HTTP.Introspection || cfg.HTTP.Playground {
		t.Fatalf("production: mode %s introspection %v playground %v", cfg.Mode, cfg.HTTP.Introspection, cfg.HTTP.Playground)
	}
	e := startEnv(t, cfg, newTestClock())
	if r := e.gql("", `{ __schema { types { name } } }`, nil); r.Code() == "" || bytes.Contains(r.Raw, []byte(`"AuthConfig"`)) {
		t.Errorf("production answers introspection: %s", r.Raw)
	}
	if r := httpDo(e, http.MethodGet, "/playground", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("production /playground: HTTP %d, want 404", r.Status)
	}
	if r := httpDo(e, http.MethodGet, "/", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("production /: HTTP %d, want 404", r.Status)
	}
	// The app works: an SPA flow in production mode.
	reg := e.register("prod@example.com", strongPassword)
	e.mustData(e.meReq(reg.AccessToken), nil)

	// --introspection=yes and --playground=yes turn them back on.
	cfg2, err := config.Load(append(args[:len(args):len(args)], "--introspection=yes", "--playground=yes"), httpNoEnv, io.Discard)
	if err != nil {
		t.Fatalf("Load production --introspection=yes: %v", err)
	}
	if !cfg2.HTTP.Introspection || !cfg2.HTTP.Playground {
		t.Fatalf("--introspection=yes --playground=yes: introspection %v playground %v", cfg2.HTTP.Introspection, cfg2.HTTP.Playground)
	}
	cfg2.Store.DataDir = t.TempDir() // a store of its own
	e2 := startEnv(t, cfg2, newTestClock())
	e2.mustData(e2.gql("", `{ __schema { types { name } } }`, nil), nil)
	if r := httpDo(e2, http.MethodGet, "/playground", nil, nil); r.Status != http.StatusOK {
		t.Errorf("/playground with --playground=yes: HTTP %d", r.Status)
	}
}

func TestHTTPHeaders(t *testing.T) {
	e := newTestEnv(t, nil)
	anon := e.anon()
	type req struct {
		name   string
		method string
		ct     string
		body   string
		hdr    map[string]string
	}
	big := `{"query": "{ authConfig { registrationOpen } }", "x": "` + strings.Repeat("a", 70<<10) + `"}`
	for _, rq := range []req{
		{"query", http.MethodPost, "application/json", `{"query": "{ authConfig { registrationOpen } }"}`, nil},
		{"token", http.MethodPost, "application/json", `{"query": "mutation { anonymousToken { token } }"}`, nil},
		{"tokens graphql-response", http.MethodPost, "application/json", `{"query": "mutation { anonymousToken { token } }"}`, map[string]string{"Accept": "application/graphql-response+json"}},
		{"parse error", http.MethodPost, "application/json", `{"query": "{"}`, nil},
		{"parse error graphql-response", http.MethodPost, "application/json", `{"query": "{"}`, map[string]string{"Accept": "application/graphql-response+json"}},
		{"bad JSON", http.MethodPost, "application/json", `{`, nil},
		{"too big", http.MethodPost, "application/json", big, nil},
		{"text/plain", http.MethodPost, "text/plain", `{"query": "{ authConfig { registrationOpen } }"}`, nil},
		{"GET", http.MethodGet, "", ``, nil},
		{"PUT", http.MethodPut, "application/json", `{"query": "{ authConfig { registrationOpen } }"}`, nil},
		{"with bearer", http.MethodPost, "application/json", `{"query": "{ me { id } }"}`, map[string]string{"Authorization": "Bearer " + anon}},
	} {
		t.Run(rq.name, func(t *testing.T) {
			e := e.in(t)
			hdr := map[string]string{}
			if rq.ct != "" {
				hdr["Content-Type"] = rq.ct
			}
			for k, v := range rq.hdr {
				hdr[k] = v
			}
			path := "/graphql"
			if rq.method == http.MethodGet {
				path += "?query=" + url.QueryEscape(`{authConfig{registrationOpen}}`)
			}
			r := httpDo(e, rq.method, path, []byte(rq.body), hdr)
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q (HTTP %d)", got, r.Status)
			}
			if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
				t.Errorf("Cache-Control = %q (HTTP %d)", got, r.Status)
			}
			if got := r.Header.Get("Server"); got != "" {
				t.Errorf("Server banner %q", got)
			}
		})
	}
}

// httpJWKS fetches and decodes the JWKS.
func httpJWKS(e *testEnv) (httpResult, []map[string]any) {
	e.t.Helper()
	r := httpDo(e, http.MethodGet, "/.well-known/jwks.json", nil, nil)
	httpWantStatus(e.t, "JWKS", r.Status, http.StatusOK, r.Body)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		e.t.Fatalf("JWKS is not JSON: %v: %s", err, r.Body)
	}
	if set.Keys == nil {
		e.t.Fatalf("JWKS has no keys array: %s", r.Body)
	}
	return r, set.Keys
}

// httpJWTHeader decodes a JWT's protected header.
func httpJWTHeader(t testing.TB, jwt string) map[string]any {
	t.Helper()
	part, _, ok := strings.Cut(jwt, ".")
	if !ok {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHTTPJWKS(t *testing.T) {
	t.Run("ES256", func(t *testing.T) {
		e := newTestEnv(t, nil)
		r, keys := httpJWKS(e)
		ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		if ct != "application/jwk-set+json" && ct != "application/json" {
			t.Errorf("JWKS Content-Type = %q", r.Header.Get("Content-Type"))
		}
		cc := r.Header.Get("Cache-Control")
		if !strings.Contains(cc, "public") || !regexp.MustCompile(`max-age=[1-9]`).MatchString(cc) || strings.Contains(cc, "no-store") {
			t.Errorf("JWKS Cache-Control = %q, want public and a max-age", cc)
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("JWKS X-Content-Type-Options = %q", got)
		}
		if len(keys) == 0 {
			t.Fatalf("no keys: %s", r.Body)
		}
		kids := map[string]bool{}
		for _, k := range keys {
			for _, f := range []string{"kid", "alg", "kty"} {
				if s, _ := k[f].(string); s == "" {
					t.Errorf("key lacks %s: %v", f, k)
				}
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := k[private]; ok {
					t.Errorf("key publishes private member %q", private)
				}
			}
			kids[fmt.Sprint(k["kid"])] = true
		}
		if keys[0]["alg"] != "ES256" || keys[0]["kty"] != "EC" {
			t.Errorf("first key %v, want ES256/EC", keys[0])
		}
		reg := e.register("jwks@example.com", strongPassword)
		h := httpJWTHeader(t, reg.AccessToken)
		if kid, _ := h["kid"].(string); kid == "" || !kids[kid] {
			t.Errorf("access token kid %v not in the JWKS %v", h["kid"], kids)
		}
		if h["alg"] != "ES256" {
			t.Errorf("access token alg %v", h["alg"])
		}
		// Only GET answers the key set.
		if r := httpDo(e, http.MethodPost, "/.well-known/jwks.json", []byte("{}"), nil); r.Status != http.StatusMethodNotAllowed && r.Status != http.StatusNotFound {
			t.Errorf("POST JWKS: HTTP %d, want 404 or 405", r.Status)
		} else if bytes.Contains(r.Body, []byte(`"keys"`)) {
			t.Errorf("POST JWKS answered the key set")
		}
	})
	t.Run("HS256", func(t *testing.T) {
		e := newTestEnv(t, func(c *config.Config) { c.Token.Alg = "HS256" })
		r, keys := httpJWKS(e)
		if len(keys) != 0 {
			t.Fatalf("HS256 publishes keys: %s", r.Body)
		}
		// Tokens still work.
		reg := e.register("hs@example.com", strongPassword)
		e.mustData(e.meReq(reg.AccessToken), nil)
		if h := httpJWTHeader(t, reg.AccessToken); h["alg"] != "HS256" {
			t.Errorf("alg %v", h["alg"])
		}
	})
}

// httpPreflight sends a CORS preflight for POST /graphql from origin.
func httpPreflight(e *testEnv, origin string) httpResult {
	e.t.Helper()
	return httpDo(e, http.MethodOptions, "/graphql", nil, map[string]string{
		"Origin":                         origin,
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "authorization,content-type",
	})
}

// httpVaries reports whether the response's Vary names h.
func httpVaries(hdr http.Header, h string) bool {
	for _, v := range hdr.Values("Vary") {
		for p := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), h) {
				return true
			}
		}
	}
	return false
}

func TestHTTPCORS(t *testing.T) {
	const app = "https://app.example.com"
	allowed := func(t *testing.T, e *testEnv, origin string) {
		t.Helper()
		r := httpPreflight(e, origin)
		if r.Status < 200 || r.Status > 299 {
			t.Errorf("preflight from %s: HTTP %d", origin, r.Status)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("preflight from %s: Allow-Origin %q", origin, got)
		}
		if !httpVaries(r.Header, "Origin") {
			t.Errorf("preflight from %s: Vary %q lacks Origin", origin, r.Header.Values("Vary"))
		}
		methods := strings.ToUpper(r.Header.Get("Access-Control-Allow-Methods"))
		if !strings.Contains(methods, "POST") {
			t.Errorf("preflight from %s: Allow-Methods %q", origin, methods)
		}
		headers := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
		if !strings.Contains(headers, "authorization") || !strings.Contains(headers, "content-type") {
			t.Errorf("preflight from %s: Allow-Headers %q", origin, headers)
		}
		// The actual request.
		res := e.post("", "application/json", httpGQLBody(t, `{ authConfig { registrationOpen } }`, nil), map[string]string{"Origin": origin})
		e.mustData(res, nil)
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("POST from %s: Allow-Origin %q", origin, got)
		}
		if !httpVaries(res.Header, "Origin") {
			t.Errorf("POST from %s: Vary %q lacks Origin", origin, res.Header.Values("Vary"))
		}
	}
	refused := func(t *testing.T, e *testEnv, origin string) {
		t.Helper()
		r := httpPreflight(e, origin)
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("preflight from %s: Allow-Origin %q, want none", origin, got)
		}
		res := e.post("", "application/json", httpGQLBody(t, `{ authConfig { registrationOpen } }`, nil), map[string]string{"Origin": origin})
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("POST from %s: Allow-Origin %q, want none", origin, got)
		}
		if !httpVaries(res.Header, "Origin") {
			t.Errorf("POST from %s: Vary %q lacks Origin", origin, res.Header.Values("Vary"))
		}
	}

	t.Run("listed origin", func(t *testing.T) {
		e := newTestEnv(t, func(c *config.Config) { c.HTTP.CORSOrigins = []string{app} })
		allowed(t, e, app)
		refused(t, e, "https://evil.example.com")
		refused(t, e, "https://app.example.com.evil.com")
		refused(t, e, "http://app.example.com")
		refused(t, e, "null")
		// dev mode: localhost on any port.
		allowed(t, e, "http://localhost:5173")
		allowed(t, e, "http://127.0.0.1:3000")
		refused(t, e, "http://localhost.evil.com")
	})
	t.Run("listed with a trailing slash", func(t *testing.T) {
		e := newTestEnv(t, func(c *config.Config) { c.HTTP.CORSOrigins = []string{app + "/"} })
		allowed(t, e, app)
	})
	t.Run("default dev mode", func(t *testing.T) {
		e := newTestEnv(t, nil)
		allowed(t, e, "http://localhost:5173")
		refused(t, e, app)
	})
	t.Run("production", func(t *testing.T) {
		dir := t.TempDir()
		args := httpProductionArgs(t, dir)
		cfg, err := config.Load(append(args, "--cors-origins="+app), httpNoEnv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		e := startEnv(t, cfg, newTestClock())
		allowed(t, e, app)
		refused(t, e, "http://localhost:5173")
		refused(t, e, "http://127.0.0.1:5173")

		cfg2, err := config.Load(append(args, "--cors-origins="+app+",http://localhost:5173"), httpNoEnv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg2.Store.DataDir = t.TempDir()
		e2 := startEnv(t, cfg2, newTestClock())
		allowed(t, e2, "http://localhost:5173")
		refused(t, e2, "http://localhost:3000")
	})
	t.Run("production set by hand", func(t *testing.T) {
		dir := t.TempDir()
		args := httpProductionArgs(t, dir)
		e := newTestEnv(t, func(c *config.Config) {
			c.Mode = config.ModeProduction
			c.HTTP.PublicURL = "https://auth.example.com"
			c.Mail.SMTPHost, c.Mail.SMTPTLS, c.Mail.From = "127.0.0.1", "none", "TokTok <no-reply@toktok.test>"
			c.Password = config.Default().Password
			c.Token.KeyFile = strings.TrimPrefix(args[3], "--jwt-key-file=")
			c.Token.RefreshSecretFile = strings.TrimPrefix(args[4], "--refresh-secret-file=")
			c.Credentials.ECDHKey = strings.TrimPrefix(args[5], "--ecdh-key-file=")
			c.Store.AllowEmbedded = true
			c.HTTP.CORSOrigins = []string{app}
		})
		allowed(t, e, app)
		refused(t, e, "http://localhost:5173")
	})
}

func TestHTTPHealthAndPages(t *testing.T) {
	e := newTestEnv(t, nil)
	r := httpDo(e, http.MethodGet, "/healthz", nil, nil)
	httpWantStatus(t, "healthz", r.Status, http.StatusOK, r.Body)
	r = httpDo(e, http.MethodGet, "/readyz", nil, nil)
	httpWantStatus(t, "readyz", r.Status, http.StatusOK, r.Body)

	r = httpDo(e, http.MethodGet, "/playground", nil, nil)
	httpWantStatus(t, "playground", r.Status, http.StatusOK, nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("playground Content-Type %q", ct)
	}
	if !bytes.Contains(bytes.ToLower(r.Body), []byte("<html")) {
		t.Errorf("playground is not HTML: %.200s", r.Body)
	}
	if r.Header.Get("Content-Security-Policy") == "" || r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("playground headers: CSP %q Referrer-Policy %q", r.Header.Get("Content-Security-Policy"), r.Header.Get("Referrer-Policy"))
	}
	if r := httpDo(e, http.MethodGet, "/nope", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("/nope: HTTP %d", r.Status)
	}

	off := newTestEnv(t, func(c *config.Config) { c.HTTP.Playground = false })
	if r := httpDo(off, http.MethodGet, "/playground", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("/playground when off: HTTP %d, want 404", r.Status)
	}
	if r := httpDo(off, http.MethodGet, "/playground/toktok-boot.js", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("/playground/toktok-boot.js when off: HTTP %d, want 404", r.Status)
	}

	// The store goes away: readiness fails, liveness does not.
	if err := e.app.Support().CloseStore(); err != nil {
		t.Fatal(err)
	}
	r = httpDo(e, http.MethodGet, "/readyz", nil, nil)
	httpWantStatus(t, "readyz after close", r.Status, http.StatusServiceUnavailable, r.Body)
	r = httpDo(e, http.MethodGet, "/healthz", nil, nil)
	httpWantStatus(t, "healthz after close", r.Status, http.StatusOK, r.Body)
}

// httpSessionIP registers email with extra headers and returns mySessions' ip.
func httpSessionIP(e *testEnv, email string, hdr map[string]string) string {
	e.t.Helper()
	anon := e.anon()
	body := httpGQLBody(e.t, `mutation($input: RegisterInput!) { register(input: $input) { accessToken } }`,
		map[string]any{"input": httpRegisterInput(e, email)})
	var reg struct{ Register struct{ AccessToken string } }
	e.mustData(e.post(anon, "application/json", body, hdr), &reg)
	var s struct {
		MySessions []struct {
			IP      *string
			Current bool
		}
	}
	e.mustData(e.gql(reg.Register.AccessToken, `{ mySessions { ip current } }`, nil), &s)
	if len(s.MySessions) != 1 || s.MySessions[0].IP == nil {
		e.t.Fatalf("mySessions = %+v", s.MySessions)
	}
	return *s.MySessions[0].IP
}

func TestHTTPClientIP(t *testing.T) {
	xff := map[string]string{"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}
	t.Run("no trusted proxy", func(t *testing.T) {
		e := newTestEnv(t, nil)
		if ip := httpSessionIP(e, "plain@example.com", nil); ip != "127.0.0.1" {
			t.Errorf("ip = %q, want 127.0.0.1", ip)
		}
		if ip := httpSessionIP(e, "spoof@example.com", xff); ip != "127.0.0.1" {
			t.Errorf("X-Forwarded-For from an untrusted peer believed: ip = %q", ip)
		}
		if ip := httpSessionIP(e, "spoof2@example.com", map[string]string{"X-Real-IP": "6.6.6.6", "Forwarded": "for=6.6.6.6"}); ip != "127.0.0.1" {
			t.Errorf("X-Real-IP/Forwarded believed: ip = %q", ip)
		}
	})
	t.Run("trusted loopback proxy", func(t *testing.T) {
		e := newTestEnv(t, func(c *config.Config) {
			c.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		if ip := httpSessionIP(e, "proxied@example.com", xff); ip != "203.0.113.7" {
			t.Errorf("ip = %q, want 203.0.113.7 (the right-most untrusted)", ip)
		}
		if ip := httpSessionIP(e, "proxied2@example.com", map[string]string{"X-Forwarded-For": "203.0.113.9, 127.0.0.1"}); ip != "203.0.113.9" {
			t.Errorf("trusted hops not skipped: ip = %q, want 203.0.113.9", ip)
		}
		if ip := httpSessionIP(e, "direct@example.com", nil); ip != "127.0.0.1" {
			t.Errorf("no X-Forwarded-For: ip = %q, want the peer", ip)
		}
		if ip := httpSessionIP(e, "garbage@example.com", map[string]string{"X-Forwarded-For": "6.6.6.6, not-an-ip"}); ip == "6.6.6.6" || ip == "not-an-ip" {
			t.Errorf("a malformed hop let an earlier one through: ip = %q", ip)
		}
	})
}

// httpFragmentLadder is a short document whose fragments each spread the next one twice:
// n fragments, about 11n tokens, 2^(n-1) __typename selections once expanded.
func httpFragmentLadder(n int) string {
	var b strings.Builder
	b.WriteString("{ ...F1 }\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", n)
	return b.String()
}

// TestHTTPLimitsCostLinearInTheDocument: the limits exist so that a small document cannot
// cost much. A ladder of fragments that each spread the next twice is ~220 tokens for n=20
// (far below the token limit) and expands to 2^19 leaves: it is refused as too costly, and
// the server goes on answering. That measuring it does not expand it (each fragment is
// measured once, so the work is linear in the document) is counted, not timed, by
// httpapi's TestMeasurerFragmentLadder.
func TestHTTPLimitsCostLinearInTheDocument(t *testing.T) {
	e := newTestEnv(t, nil)
	e.mustData(e.gql("", httpFragmentLadder(3), nil), nil)
	ladder := httpFragmentLadder(20)
	ge := e.wantCode(e.gql("", ladder, nil), "GRAPHQL_VALIDATION_FAILED")
	if !strings.Contains(ge.Message, "complexity") {
		t.Errorf("a %d-byte ladder refused for another reason than its cost: %s", len(ladder), ge.Message)
	}
	var resp struct {
		Typename string `json:"__typename"`
	}
	e.mustData(e.gql("", `{ __typename }`, nil), &resp)
	if resp.Typename != "Query" {
		t.Errorf("after the ladder, { __typename } = %q, want Query", resp.Typename)
	}
}
