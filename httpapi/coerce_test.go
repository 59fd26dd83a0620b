package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
)

const coerceSchema = `
scalar JSON
input Inner { tag: String, ids: [ID!] }
input In { email: String!, name: String, count: Int, data: JSON, inner: Inner, list: [Inner!] }
input Deep { next: Deep, s: String }
type Query { q(in: In, s: String, id: ID, ss: [String!], n: Int): Boolean, deep(d: Deep): Boolean }
`

// TestStrictVariables: a String or ID variable, or such a field of an input-object
// variable at any depth and in lists, holding anything but a JSON string is refused with
// GRAPHQL_VALIDATION_FAILED and its path, before execution; strings, nulls, and numbers
// where the type is Int or free JSON pass. The variables are decoded as the transport
// decodes them (json.Number), then checked by gqlparser as gqlgen does first.
func TestStrictVariables(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: coerceSchema})
	l := &limits{tokens: 1000, depth: 8, aliases: 10, complexity: 200, es: schemaOnly{schema}}
	const query = `query($in: In, $s: String, $id: ID, $ss: [String!], $n: Int) { q(in: $in, s: $s, id: $id, ss: $ss, n: $n) }`
	for _, tc := range []struct {
		vars string
		path string // "" when accepted
	}{
		{`{"s": "a", "id": "x", "in": {"email": "a@b.c", "count": 5, "data": {"n": 1.5}}, "n": 3}`, ""},
		{`{"s": null, "in": {"email": "a@b.c", "name": null}}`, ""},
		{`{"ss": "one"}`, ""},
		{`{"s": 5}`, "variable.s"},
		{`{"id": 7}`, "variable.id"},
		{`{"in": {"email": 5}}`, "variable.in.email"},
		{`{"in": {"email": "a@b.c", "inner": {"tag": 1e3}}}`, "variable.in.inner.tag"},
		{`{"in": {"email": "a@b.c", "inner": {"ids": ["a", 2]}}}`, "variable.in.inner.ids[1]"},
		{`{"in": {"email": "a@b.c", "list": [{"tag": "x"}, {"tag": 12345678901234567890}]}}`, "variable.in.list[1].tag"},
		{`{"ss": ["a", 3]}`, "variable.ss[1]"},
		{`{"ss": 3}`, "variable.ss[0]"}, // gqlparser has made it a list of one
	} {
		t.Run(tc.vars, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, query)
			if errs != nil {
				t.Fatal(errs)
			}
			dec := json.NewDecoder(bytes.NewReader([]byte(tc.vars)))
			dec.UseNumber()
			var raw map[string]any
			if err := dec.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			vars, err := validator.VariableValues(schema, doc.Operations[0], raw)
			if err != nil {
				// gqlparser refuses this much itself; the test is of what it lets through.
				t.Fatalf("gqlparser refused %s: %v", tc.vars, err)
			}
			rc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: vars}
			gerr := l.MutateOperationContext(t.Context(), rc)
			switch {
			case tc.path == "" && gerr != nil:
				t.Errorf("refused: %v", gerr)
			case tc.path != "" && gerr == nil:
				t.Errorf("accepted; want refused at %s", tc.path)
			case tc.path != "":
				if got := gerr.Path.String(); got != tc.path {
					t.Errorf("path %q, want %q (%v)", got, tc.path, gerr)
				}
				if gerr.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(gerr.Message, "a JSON string is required") {
					t.Errorf("error %v %v", gerr.Message, gerr.Extensions)
				}
			}
		})
	}
}

// TestStrictVariablesTooDeep: a value nested past the walk's bound is refused, not left
// unchecked.
func TestStrictVariablesTooDeep(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: coerceSchema})
	l := &limits{tokens: 1000, depth: 8, aliases: 10, complexity: 200, es: schemaOnly{schema}}
	doc, errs := gqlparser.LoadQuery(schema, `query($d: Deep) { deep(d: $d) }`)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, levels := range []int{10, 40} {
		v := map[string]any{"s": "leaf"}
		for range levels {
			v = map[string]any{"next": v}
		}
		rc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{"d": v}}
		gerr := l.MutateOperationContext(t.Context(), rc)
		if refused := gerr != nil; refused != (levels > maxStrictDepth) {
			t.Errorf("%d levels: %v", levels, gerr)
		}
	}
}
