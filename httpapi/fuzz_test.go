package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/toktok/toktok/graph"
	"github.com/toktok/toktok/httpapi"
	"github.com/toktok/toktok/resolvers"
	"github.com/toktok/toktok/token"
)

// The handler under fuzz is the real one (httpapi.New: transports, gate, CORS, limits,
// strict coercion, body limit, the resolvers' error presenter) over a schema that is
// measured and validated for real but whose execution is a counter: that an operation
// reached execution is what "accepted" means, and it keeps the fuzz off the store.

// countingSchema is a real schema that does not resolve anything: Exec counts the
// operations that got that far and answers {"data":{}}.
type countingSchema struct {
	s     *ast.Schema
	cx    func(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool)
	execs *atomic.Int64
}

func (c countingSchema) Schema() *ast.Schema { return c.s }

func (c countingSchema) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if c.cx == nil {
		return 0, false
	}
	return c.cx(ctx, typeName, field, child, args)
}

func (c countingSchema) Exec(context.Context) graphql.ResponseHandler {
	c.execs.Add(1)
	return func(context.Context) *graphql.Response { return &graphql.Response{Data: json.RawMessage(`{}`)} }
}

// recursiveSchema nests without end, so that depth, alias, field-count and complexity
// limits can be crossed by documents that validate (the real schema nests three levels,
// so only introspection can go deeper there).
const recursiveSchema = `
type Query { me: User, node(id: ID!): User, users(first: Int): [User!]! }
type User { id: ID!, name: String, friend: User, friends(first: Int): [User!]! }
input LoginInput { email: String!, password: String!, tags: [String!] }
type Mutation {
  login(input: LoginInput!): User, register(email: String!): User, forgotPassword(email: String!): Boolean,
  refreshToken(refreshToken: String!): User, logout: Boolean
}
`

// sensitiveFields is SECURITY.md's list: at most one of these per document.
var sensitiveFields = []string{
	"login", "register", "forgotPassword", "resetPassword", "confirmEmail", "refreshToken",
	"changePassword", "changeEmail", "deleteAccount",
}

// fuzzLimits are the defaults of config/http.go.
var fuzzLimits = httpapi.DocumentLimits{Tokens: 1000, Depth: 8, Aliases: 10, Complexity: 200}

// fuzzHandler is one handler and its schema's execution counter.
type fuzzHandler struct {
	name          string
	h             http.Handler
	schema        *ast.Schema
	introspection bool
	execs         *atomic.Int64
}

func newFuzzHandler(tb testing.TB, name string, es countingSchema, introspection bool) *fuzzHandler {
	tb.Helper()
	key, _, err := token.LoadOrGenerateKey(token.ES256, filepath.Join(tb.TempDir(), "k.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := token.New(token.Config{Issuer: "http://toktok.test", Audience: "toktok"}, key)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Config{
		GraphQLGet: true, Introspection: introspection, AppName: "TokTok", BodyLimit: 64 << 10, Limits: fuzzLimits,
	}, httpapi.Deps{
		Schema: es, Tokens: tokens, Ping: func(context.Context) error { return nil },
		ErrorPresenter: resolvers.ErrorPresenter(slog.New(slog.DiscardHandler)),
		Recover:        resolvers.RecoverFunc(slog.New(slog.DiscardHandler)),
		Now:            func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &fuzzHandler{name: name, h: h, schema: es.s, introspection: introspection, execs: es.execs}
}

// fuzzHandlers: the real schema with introspection off and on, and the recursive schema.
func fuzzHandlers(tb testing.TB) []*fuzzHandler {
	tb.Helper()
	gen := graph.NewExecutableSchema(graph.Config{})
	rec := gqlparser.MustLoadSchema(&ast.Source{Name: "recursive", Input: recursiveSchema})
	return []*fuzzHandler{
		newFuzzHandler(tb, "real schema", countingSchema{s: gen.Schema(), cx: gen.Complexity, execs: new(atomic.Int64)}, false),
		newFuzzHandler(tb, "real schema, introspection on", countingSchema{s: gen.Schema(), cx: gen.Complexity, execs: new(atomic.Int64)}, true),
		newFuzzHandler(tb, "recursive schema", countingSchema{s: rec, execs: new(atomic.Int64)}, false),
	}
}

// response is a GraphQL response as a client reads it.
type response struct {
	Data   *json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// readResponse fails t unless rec holds a well-formed GraphQL response in JSON: an object
// with data, or with at least one error that has a message and a code.
func readResponse(t *testing.T, label string, rec *httptest.ResponseRecorder) response {
	t.Helper()
	var r response
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	if err := dec.Decode(&r); err != nil || dec.More() {
		t.Fatalf("%s: status %d: the body is not one JSON object (%v): %q", label, rec.Code, err, rec.Body.Bytes())
	}
	if r.Data == nil && len(r.Errors) == 0 {
		t.Fatalf("%s: status %d: a response with neither data nor errors: %s", label, rec.Code, rec.Body.Bytes())
	}
	for _, e := range r.Errors {
		if code, _ := e.Extensions["code"].(string); e.Message == "" || code == "" {
			t.Fatalf("%s: status %d: an error without message or code: %s", label, rec.Code, rec.Body.Bytes())
		}
		if strings.Contains(strings.ToLower(e.Message), "did you mean") {
			t.Fatalf("%s: status %d: a message suggests a name: %s", label, rec.Code, rec.Body.Bytes())
		}
	}
	return r
}

// FuzzDocumentLimits posts a document (with an operation name and variables) to each
// handler. Every answer to a GraphQL request is a well-formed GraphQL response with status
// 200 (variables that are not an object make it no GraphQL request: never executed, never
// 200). An operation reaches execution only if, measured here on its own terms, it is
// within every limit: at most 1000 lexical tokens; it validates; its selection, every
// fragment expanded, is at most 8 deep (15 for introspection where introspection is on),
// uses at most 10 aliases, expands to at most 50 × the complexity limit fields, asks no
// introspection where it is off, and holds at most one sensitive mutation field; and its
// String and ID variables are JSON strings. A refused one says why in errors, and no
// message suggests a name.
func FuzzDocumentLimits(f *testing.F) {
	handlers := fuzzHandlers(f)
	checkControls(f, handlers)
	for _, s := range documentSeeds() {
		f.Add(s.query, s.op, s.vars)
	}
	f.Fuzz(func(t *testing.T, query, op, vars string) {
		body := map[string]any{"query": query}
		if op != "" {
			body["operationName"] = op
		}
		varsOK := true // absent, null or an object: anything else is not a GraphQL request
		if json.Valid([]byte(vars)) {
			body["variables"] = json.RawMessage(vars)
			var m map[string]any
			varsOK = json.Unmarshal([]byte(vars), &m) == nil
		}
		b, err := json.Marshal(body)
		if err != nil {
			return // not UTF-8 enough for encoding/json to take raw variables
		}
		badRequest := strings.TrimSpace(query) == "" || !varsOK
		for _, h := range handlers {
			before := h.execs.Load()
			r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, r)
			executed := h.execs.Load() != before
			if badRequest || len(b) > 64<<10 {
				if executed || rec.Code == http.StatusOK {
					t.Fatalf("%s: status %d, executed=%v, for a request that is not a GraphQL request: %s", h.name, rec.Code, executed, b)
				}
				continue
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d for a GraphQL document over application/json: %s", h.name, rec.Code, rec.Body.Bytes())
			}
			resp := readResponse(t, h.name, rec)
			if !executed {
				if len(resp.Errors) == 0 {
					t.Fatalf("%s: refused without an error: %s", h.name, rec.Body.Bytes())
				}
				continue
			}
			if why := h.overLimit(query, op, vars); why != "" {
				t.Fatalf("%s: executed a document that %s:\n%s", h.name, why, query)
			}
		}
	})
}

// checkControls makes sure the property below is not vacuous: each handler executes a
// plain query, and introspection only where it is on.
func checkControls(f *testing.F, handlers []*fuzzHandler) {
	f.Helper()
	for _, h := range handlers {
		for _, c := range []struct {
			query string
			runs  bool
		}{
			{`{ me { id } }`, true},
			{`{ __schema { queryType { name } } }`, h.introspection},
		} {
			before := h.execs.Load()
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"`+c.query+`"}`))
			r.Header.Set("Content-Type", "application/json")
			h.h.ServeHTTP(httptest.NewRecorder(), r)
			if runs := h.execs.Load() != before; runs != c.runs {
				f.Fatalf("%s: %s executed=%v, want %v", h.name, c.query, runs, c.runs)
			}
		}
	}
}

// overLimit says which limit the document breaks, or "" if none, measured independently
// of the handler: the lexer's token count, gqlparser's validation, and a walk of the
// operation with every fragment spread expanded (stopping once more fields than any
// accepted document can have were counted).
func (h *fuzzHandler) overLimit(query, opName, vars string) string {
	lex := lexer.New(&ast.Source{Input: query})
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil {
			return "does not lex"
		}
		if tok.Kind == lexer.EOF {
			break
		}
		if n >= fuzzLimits.Tokens {
			return "has more than 1000 tokens"
		}
	}
	doc, errs := gqlparser.LoadQuery(h.schema, query)
	if errs != nil {
		return "does not validate: " + errs.Error()
	}
	var op *ast.OperationDefinition
	switch {
	case opName != "":
		op = doc.Operations.ForName(opName)
	case len(doc.Operations) == 1:
		op = doc.Operations[0]
	}
	if op == nil {
		return "names no operation to run"
	}
	if v := h.notStrings(op, vars); v != "" {
		return "gives variable " + v + " a non-string value for a String or ID"
	}
	w := docWalk{doc: doc, mutation: op.Operation == ast.Mutation, budget: 50 * fuzzLimits.Complexity}
	w.set(op.SelectionSet, 1, true)
	depthLimit := fuzzLimits.Depth
	if w.intro && h.introspection {
		depthLimit = 15
	}
	switch {
	case w.over:
		return "expands to more than 50 × the complexity limit fields"
	case w.intro && !h.introspection:
		return "asks for introspection, which is off"
	case w.depth > depthLimit:
		return "is nested deeper than the limit"
	case w.aliases > fuzzLimits.Aliases:
		return "uses more than 10 aliases"
	case w.sensitive > 1:
		return "holds more than one sensitive mutation field"
	}
	return ""
}

// notStrings names a variable whose value, or a part of it, is typed String or ID but
// is not a JSON string (the spec's input coercion: 5 is not a String), or returns "".
func (h *fuzzHandler) notStrings(op *ast.OperationDefinition, vars string) string {
	dec := json.NewDecoder(strings.NewReader(vars))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return ""
	}
	for _, d := range op.VariableDefinitions {
		if v, ok := m[d.Variable]; ok && !h.stringsWhereTyped(d.Type, v, 0) {
			return d.Variable
		}
	}
	return ""
}

func (h *fuzzHandler) stringsWhereTyped(t *ast.Type, v any, depth int) bool {
	if v == nil || depth > 16 {
		return true
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			list = []any{v} // one value stands for a list of one
		}
		for _, e := range list {
			if !h.stringsWhereTyped(t.Elem, e, depth+1) {
				return false
			}
		}
		return true
	}
	if t.NamedType == "String" || t.NamedType == "ID" {
		_, ok := v.(string)
		return ok
	}
	def := h.schema.Types[t.NamedType]
	obj, isObj := v.(map[string]any)
	if def == nil || def.Kind != ast.InputObject || !isObj {
		return true // other scalars, enums and wrong shapes are gqlparser's to refuse
	}
	for _, f := range def.Fields {
		if fv, ok := obj[f.Name]; ok && !h.stringsWhereTyped(f.Type, fv, depth+1) {
			return false
		}
	}
	return true
}

// docWalk measures an operation as executing it would: fragment spreads and inline
// fragments expanded in place (they add no depth), each field one level below its parent.
type docWalk struct {
	doc                    *ast.QueryDocument
	mutation               bool
	budget                 int
	fields, depth, aliases int
	sensitive              int
	intro, over            bool
}

func (w *docWalk) set(set ast.SelectionSet, level int, root bool) {
	for _, sel := range set {
		if w.over {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			w.fields++
			if w.fields > w.budget {
				w.over = true
				return
			}
			w.depth = max(w.depth, level)
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			if s.Name == "__schema" || s.Name == "__type" {
				w.intro = true
			}
			if root && w.mutation && slices.Contains(sensitiveFields, s.Name) {
				w.sensitive++
			}
			w.set(s.SelectionSet, level+1, false)
		case *ast.InlineFragment:
			w.set(s.SelectionSet, level, root)
		case *ast.FragmentSpread:
			if fr := w.doc.Fragments.ForName(s.Name); fr != nil {
				w.set(fr.SelectionSet, level, root)
			}
		}
	}
}

type docSeed struct{ query, op, vars string }

// documentSeeds are documents at and just past each limit, and the shapes that have hurt
// GraphQL servers: fragment ladders, deep nesting in selections, values and lists,
// introspection, batches of sensitive mutations under aliases and fragments, and
// variables of the wrong JSON kind.
func documentSeeds() []docSeed {
	nest := func(n int) string {
		return "{ me " + strings.Repeat("{ friend ", n-2) + "{ id }" + strings.Repeat(" }", n-2) + " }"
	}
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := range n {
			b.WriteString("a" + strings.Repeat("x", i) + ": me { id } ")
		}
		return b.String() + "}"
	}
	ladder := func(n int) string {
		var b strings.Builder
		b.WriteString("{ me { ...F0 } }\n")
		for i := range n {
			b.WriteString("fragment F" + strconv.Itoa(i) + " on User { friend { ...F" + strconv.Itoa(i+1) + " } friends(first: 2) { ...F" + strconv.Itoa(i+1) + " } }\n")
		}
		return b.String() + "fragment F" + strconv.Itoa(n) + " on User { id }"
	}
	intro := "{ __schema { types { name fields { name type { name kind ofType { name kind ofType { name kind ofType { name kind ofType { name kind ofType { name kind ofType { name kind ofType { name kind } } } } } } } } } } }"
	return []docSeed{
		{"", "", ""}, {" ", "", ""}, {"{", "", ""}, {"}", "", ""}, {"{ me { id } }", "", ""},
		{"{ authConfig { passwordMinLength } me { id email } }", "", ""}, {"query Q { me { id } }", "Q", ""},
		{"query A { me { id } } query B { authConfig { registrationOpen } }", "B", ""},
		{"query A { me { id } } query B { me { id } }", "", ""}, {"query A { me { id } }", "Nope", ""},
		{nest(8), "", ""}, {nest(9), "", ""}, {nest(30), "", ""}, {aliases(10), "", ""}, {aliases(11), "", ""},
		{ladder(3), "", ""}, {ladder(12), "", ""}, {ladder(40), "", ""},
		{"{ me { ...A } } fragment A on User { ...B } fragment B on User { ...A }", "", ""},
		{"{ me { ... on User { ... on User { friend { ... on User { id } } } } } }", "", ""},
		{intro, "", ""}, {"{ __type(name: \"User\") { name fields { name } } }", "", ""},
		{"{ me { __typename } __typename }", "", ""},
		{`mutation { login(input: {email: "a", password: "b"}) { user { id } } }`, "", ""},
		{`mutation { a: login(input: {email: "a", password: "b"}) { user { id } } b: login(input: {email: "a", password: "c"}) { user { id } } }`, "", ""},
		{`mutation { login(input: {email: "a", password: "b"}) { user { id } } register(input: {email: "a", password: "b"}) { user { id } } }`, "", ""},
		{`mutation { ...M forgotPassword(email: "x") } fragment M on Mutation { refreshToken(refreshToken: "r") { accessToken } }`, "", ""},
		{`mutation { forgotPassword(email: "x") anonymousToken { token } }`, "", ""},
		{`mutation { ... on Mutation { forgotPassword(email: "x") } ... on Mutation { confirmEmail(token: "t") { id } } }`, "", ""},
		{`mutation M($e: String!) { forgotPassword(email: $e) }`, "M", `{"e": "ann@example.com"}`},
		{`mutation M($e: String!) { forgotPassword(email: $e) }`, "M", `{"e": 5}`},
		{`mutation M($e: String!) { forgotPassword(email: $e) }`, "M", `{"e": {"$gt": ""}}`},
		{`mutation M($e: String!) { forgotPassword(email: $e) }`, "M", `{"e": ["a"]}`},
		{`mutation M($i: LoginInput!) { login(input: $i) { user { id } } }`, "M", `{"i": {"email": true, "password": "p"}}`},
		{`mutation M($i: LoginInput!) { login(input: $i) { id } }`, "M", `{"i": {"email": "a", "password": "p", "tags": [1, "x"]}}`},
		{`mutation M($i: LoginInput!) { login(input: $i) { id } }`, "M", `{"i": {"email": "a", "password": "p", "tags": "x"}}`},
		{`query Q($id: ID!) { node(id: $id) { id } }`, "Q", `{"id": 1}`},
		{`query Q($id: ID!) { node(id: $id) { id } }`, "Q", `{"id": "` + strings.Repeat("[", 500) + `"}`},
		{`{ node(id: ` + strings.Repeat("[", 400) + `"x"` + strings.Repeat("]", 400) + `) { id } }`, "", ""},
		{`{ node(id: "` + strings.Repeat("\\u0000", 100) + `") { id } }`, "", ""},
		{"{ node(id: \"\"\"block\n\"\"\"\") { id } }", "", ""}, {"# only a comment", "", ""},
		{"{ me { id } }" + strings.Repeat(" ", 1000) + "# trailing", "", ""},
		{strings.Repeat("{ me ", 600) + strings.Repeat("}", 600), "", ""},
		{"{ " + strings.Repeat("me { id } ", 200) + "}", "", ""}, {"{ " + strings.Repeat("me { id } ", 400) + "}", "", ""},
		{"{ users(first: 100) { friends(first: 100) { friends(first: 100) { id } } } }", "", ""},
		{"subscription { me { id } }", "", ""}, {"{ me { id } } { me { id } }", "", ""},
		{"{ m\u00e9 { id } }", "", ""}, {"{ me\x00 { id } }", "", ""}, {"\xff\xfe", "", ""},
		{"query ($a: String = \"x\") { me { name } }", "", `{"a": null}`},
	}
}

// FuzzRequestBody sends any method, media types, query string, Authorization header and
// body to /graphql. Whatever arrives, the answer is a well-formed GraphQL response in JSON
// with a status of 200, 400, 405, 413 or 415 and a JSON media type; a status other than
// 200 carries errors and no data.
func FuzzRequestBody(f *testing.F) {
	h := fuzzHandlers(f)[0]
	big := `{"query":"{ me { id } }","pad":"` + strings.Repeat("x", 64<<10) + `"}`
	for _, s := range []struct {
		method              uint8
		ct, accept, q, auth string
		body                string
	}{
		{1, "application/json", "", "", "", `{"query":"{ me { id } }"}`},
		{1, "application/json; charset=utf-8", "application/graphql-response+json", "", "", `{"query":"{ me { nope } }"}`},
		{1, "application/json", "", "", "Bearer not.a.token", `{"query":"{ me { id } }","variables":{"a":1}}`},
		{1, "application/json", "", "", "", `[{"query":"{ me { id } }"}]`},
		{1, "application/json", "", "", "", ` [ ]`},
		{1, "application/json", "", "", "", `{"query":"{ me { id } }"} {"query":"x"}`},
		{1, "application/json", "", "", "", `{"query":"{ me { id } }"`},
		{1, "application/json", "", "", "", `{"query":null}`},
		{1, "application/json", "", "", "", `{"query":5}`},
		{1, "application/json", "", "", "", `{"query":"mutation { forgotPassword(email: \"x\") }","variables":"x"}`},
		{1, "application/json", "", "", "", `{"query":"{ me { id } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`},
		{1, "application/json", "", "", "", ""},
		{1, "application/json", "", "", "", "\x00\xff"},
		{1, "application/json", "", "", "", big},
		{1, "text/plain", "", "", "", `{"query":"{ me { id } }"}`},
		{1, "application/x-www-form-urlencoded", "", "", "", `query=%7B+me+%7B+id+%7D+%7D`},
		{1, "multipart/form-data; boundary=x", "", "", "", "--x\r\n\r\n--x--"},
		{1, "", "", "", "", `{"query":"{ me { id } }"}`},
		{1, "application/json;;;", "*/*", "", "", `{"query":"{ me { id } }"}`},
		{0, "", "", "query=%7B+me+%7B+id+%7D+%7D", "", ""},
		{0, "", "application/graphql-response+json", "query=%7B+nope+%7D", "", ""},
		{0, "", "", "query=mutation+%7B+forgotPassword%28email%3A+%22x%22%29+%7D", "", ""},
		{0, "", "", "query=%7B+me+%7B+id+%7D+%7D&variables=%7B", "", ""},
		{0, "", "", "query=%7B+me+%7B+id+%7D+%7D&variables=%5B1%5D", "", ""},
		{0, "", "", "query=&query=%7B+me+%7B+id+%7D+%7D", "", ""},
		{0, "", "", "%zz=%", "", ""},
		{0, "", "", "", "Bearer " + strings.Repeat("A", 9000), ""},
		{2, "application/json", "", "", "", `{"query":"{ me { id } }"}`},
		{3, "", "", "", "", ""}, {4, "", "", "", "", ""}, {5, "", "", "", "", ""}, {6, "", "", "", "", ""},
	} {
		f.Add(s.method, s.ct, s.accept, s.q, s.auth, []byte(s.body))
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions}
	allowed := []int{http.StatusOK, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}
	f.Fuzz(func(t *testing.T, method uint8, ct, accept, rawQuery, auth string, body []byte) {
		r := httptest.NewRequest(methods[int(method)%len(methods)], "/graphql", bytes.NewReader(body))
		r.URL.RawQuery = rawQuery
		for k, v := range map[string]string{"Content-Type": ct, "Accept": accept, "Authorization": auth} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, r)
		if !slices.Contains(allowed, rec.Code) {
			t.Fatalf("%s: status %d: %s", r.Method, rec.Code, rec.Body.Bytes())
		}
		if mt := rec.Header().Get("Content-Type"); mt != "application/json" && mt != "application/graphql-response+json" {
			t.Fatalf("%s: status %d with Content-Type %q", r.Method, rec.Code, mt)
		}
		resp := readResponse(t, r.Method, rec)
		if rec.Code != http.StatusOK && (resp.Data != nil || len(resp.Errors) == 0) {
			t.Fatalf("%s: status %d must carry errors and no data: %s", r.Method, rec.Code, rec.Body.Bytes())
		}
	})
}
