package httpapi

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// limitsSchema is a small schema with the shapes the measurer cares about: nesting,
// a sensitive mutation and a harmless one.
const limitsSchema = `
type Query { me: User, node(id: ID!): User }
type User { id: ID!, friend: User, name: String }
type Mutation { login(email: String!): User, logout: Boolean, register(email: String!): User }
`

func measureQuery(t *testing.T, q string) (measure, bool) {
	t.Helper()
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: limitsSchema})
	doc, err := gqlparser.LoadQuery(schema, q)
	if err != nil {
		t.Fatalf("query does not validate: %v", err)
	}
	m := measurer{doc: doc, frags: map[string]*measure{}}
	return m.set(doc.Operations[0].SelectionSet), m.cycle
}

func TestMeasurer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		query     string
		depth     int
		fields    int
		aliases   int
		sensitive map[string]int
		intro     bool
	}{
		{name: "flat", query: `{ me { id } }`, depth: 2, fields: 2},
		{name: "nested", query: `{ me { friend { friend { id } } } }`, depth: 4, fields: 4},
		{name: "aliases count, a field's own name does not", query: `{ a: me { id } b: me { id: id } }`, depth: 2, fields: 4, aliases: 2},
		{name: "fragment spreads expand", query: `{ me { ...F } node(id: "1") { ...F } } fragment F on User { friend { id } }`,
			depth: 3, fields: 6},
		{name: "inline fragment adds no depth", query: `{ me { ... on User { id } } }`, depth: 2, fields: 2},
		{name: "one sensitive mutation", query: `mutation { login(email: "a") { id } logout }`, depth: 2, fields: 3,
			sensitive: map[string]int{"login": 1}},
		{name: "aliased sensitive mutations are counted by name", query: `mutation { a: login(email: "a") { id } b: login(email: "b") { id } }`,
			depth: 2, fields: 4, aliases: 2, sensitive: map[string]int{"login": 2}},
		{name: "sensitive mutations through fragments", query: `mutation { ...M ...M2 } fragment M on Mutation { login(email: "a") { id } } fragment M2 on Mutation { x: login(email: "b") { id } register(email: "c") { id } }`,
			depth: 2, fields: 6, aliases: 1, sensitive: map[string]int{"login": 2, "register": 1}},
		{name: "introspection", query: `{ __schema { queryType { name } } }`, depth: 3, fields: 3, intro: true},
		{name: "type introspection", query: `{ __type(name: "User") { name } }`, depth: 2, fields: 2, intro: true},
		{name: "typename is not introspection", query: `{ me { __typename } }`, depth: 2, fields: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cycle := measureQuery(t, tc.query)
			if cycle {
				t.Fatal("cycle reported")
			}
			if got.depth != tc.depth || got.fields != tc.fields || got.aliases != tc.aliases || got.introspection != tc.intro {
				t.Errorf("measure = depth %d fields %d aliases %d intro %v; want %d %d %d %v",
					got.depth, got.fields, got.aliases, got.introspection, tc.depth, tc.fields, tc.aliases, tc.intro)
			}
			if fmt.Sprint(got.sensitive) != fmt.Sprint(tc.sensitive) && len(got.sensitive)+len(tc.sensitive) > 0 {
				t.Errorf("sensitive = %v, want %v", got.sensitive, tc.sensitive)
			}
		})
	}
}

// A query field named like a sensitive mutation is not one.
func TestMeasurerSensitiveOnlyOnMutation(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: limitsSchema + `extend type Query { login: User }`})
	doc, err := gqlparser.LoadQuery(schema, `{ a: login { id } b: login { id } }`)
	if err != nil {
		t.Fatal(err)
	}
	m := measurer{doc: doc, frags: map[string]*measure{}}
	if got := m.set(doc.Operations[0].SelectionSet); len(got.sensitive) != 0 {
		t.Fatalf("query fields counted as sensitive mutations: %v", got.sensitive)
	}
}

// A ladder of fragments each spreading the next twice expands to 2^n fields; measuring it
// must stay linear (memoised) and saturate instead of overflowing.
func TestMeasurerFragmentLadder(t *testing.T) {
	const rungs = 80
	var b strings.Builder
	b.WriteString(`{ me { ...F0 } }`)
	for i := range rungs {
		fmt.Fprintf(&b, " fragment F%d on User { friend { ...F%d } friend { ...F%d } }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on User { id }", rungs)
	doc, err := parser.ParseQuery(&ast.Source{Input: b.String()})
	if err != nil {
		t.Fatal(err)
	}
	m := measurer{doc: doc, frags: map[string]*measure{}}
	got := m.set(doc.Operations[0].SelectionSet)
	if got.fields != saturation {
		t.Errorf("fields = %d, want saturation at %d", got.fields, saturation)
	}
	if got.depth != rungs+2 {
		t.Errorf("depth = %d, want %d", got.depth, rungs+2)
	}
	if len(m.frags) != rungs+1 {
		t.Errorf("%d fragments measured, want each of %d once", len(m.frags), rungs+1)
	}
}

// The validator refuses fragment cycles; the measurer must terminate on one regardless.
func TestMeasurerCycle(t *testing.T) {
	doc, err := parser.ParseQuery(&ast.Source{Input: `{ me { ...A } } fragment A on User { friend { ...B } } fragment B on User { friend { ...A } }`})
	if err != nil {
		t.Fatal(err)
	}
	m := measurer{doc: doc, frags: map[string]*measure{}}
	m.set(doc.Operations[0].SelectionSet)
	if !m.cycle {
		t.Fatal("cycle not reported")
	}
}

func TestTokenLimit(t *testing.T) {
	l := &limits{tokens: 10}
	for _, tc := range []struct {
		query string
		ok    bool
	}{
		{`{ me { id } }`, true},                  // 6 tokens
		{`{ a: me { id } b: me { id } }`, false}, // 14 tokens
		{`{ me { id friend { id } } }`, true},    // 10 tokens: at the limit
		{`{ me { id friend { id } } }  `, true},  // trailing blanks are no token
		{`{ me { id name friend { id name } } }`, false},
		{`{ me { "unterminated`, true}, // a lexer error is left to the parser
	} {
		err := l.MutateOperationParameters(t.Context(), &graphql.RawParams{Query: tc.query})
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.query, err, tc.ok)
		}
		if err != nil && err.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%q: code %v", tc.query, err.Extensions["code"])
		}
	}
}

// TestSensitiveMutationOncePerDocument: the limits refuse a document that holds more than
// one sensitive mutation field in total (aliases multiply guesses per request past the
// rate limits; two different ones, login beside register, cost as much), before any
// complexity is computed.
func TestSensitiveMutationOncePerDocument(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: limitsSchema})
	l := &limits{tokens: 1000, depth: 8, aliases: 10, complexity: 200, es: schemaOnly{schema}}
	for _, tc := range []struct {
		query   string
		refused bool
	}{
		{`mutation { a: login(email: "a") { id } b: login(email: "b") { id } }`, true},
		{`mutation { login(email: "a") { id } ...M } fragment M on Mutation { x: login(email: "b") { id } }`, true},
		{`mutation { login(email: "a") { id } register(email: "b") { id } }`, true},
		{`mutation { register(email: "b") { id } ...L } fragment L on Mutation { login(email: "a") { id } }`, true},
		{`mutation { login(email: "a") { id } logout }`, false},
		{`mutation { register(email: "b") { id } logout }`, false},
		// The rule is of the document: a second operation counts though only the first
		// is selected.
		{`mutation A { login(email: "a") { id } } mutation B { register(email: "b") { id } }`, true},
		{`mutation A { login(email: "a") { id } } query B { me { id } }`, false},
		{`query { a: me { id } b: me { id } }`, false},
	} {
		doc, err := gqlparser.LoadQuery(schema, tc.query)
		if err != nil {
			t.Fatal(err)
		}
		rc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
		gerr := l.MutateOperationContext(t.Context(), rc)
		if refused := gerr != nil && strings.Contains(gerr.Message, "only one sensitive mutation field"); refused != tc.refused {
			t.Errorf("%s: %v, want refused=%v", tc.query, gerr, tc.refused)
		}
	}
}

// schemaOnly is an executable schema that can be measured but not run: the limits need
// only the schema and the (default) field complexities.
type schemaOnly struct{ s *ast.Schema }

func (e schemaOnly) Schema() *ast.Schema { return e.s }

func (schemaOnly) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}

func (schemaOnly) Exec(context.Context) graphql.ResponseHandler { panic("schemaOnly cannot execute") }
