package httpapi

import (
	"context"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
)

// sensitiveMutations: a document may hold at most one field of these in total, whatever
// their names or aliases. Batching them would multiply password guesses, token probes or
// mails per request past the rate limits, and two different ones (login beside register)
// cost as much work as two of the same. Names not yet in the schema are listed so that
// the rule holds the day they are added.
var sensitiveMutations = map[string]bool{
	"login": true, "register": true, "forgotPassword": true, "resetPassword": true,
	"confirmEmail": true, "refreshToken": true, "changePassword": true, "changeEmail": true,
	"deleteAccount": true, "confirmTotp": true, "verifyMfa": true, "beginPasskeyLogin": true,
	"finishPasskeyLogin": true, "finishWebAuthnRegistration": true, "regenerateRecoveryCodes": true,
	"removeFactor": true, "resetUserMfa": true, "enrollTotp": true, "beginWebAuthnRegistration": true,
	"beginMfaChallenge": true,
}

// limits enforces the document limits of the security policy: lexical tokens (before
// parsing, so a huge document costs little), then strict coercion of String and ID
// variables, depth, aliases, sensitive mutations and complexity (after validation). Every
// breach is GRAPHQL_VALIDATION_FAILED.
type limits struct {
	tokens, depth, aliases, complexity int
	introspection                      bool // whether __schema/__type may be asked
	es                                 graphql.ExecutableSchema
}

var (
	_ graphql.HandlerExtension          = (*limits)(nil)
	_ graphql.OperationParameterMutator = (*limits)(nil)
	_ graphql.OperationContextMutator   = (*limits)(nil)
)

func (l *limits) ExtensionName() string { return "TokTokLimits" }

func (l *limits) Validate(es graphql.ExecutableSchema) error {
	l.es = es
	return nil
}

func (l *limits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	lex := lexer.New(&ast.Source{Input: p.Query})
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil {
			return nil // the parser reports it with its position
		}
		if tok.Kind == lexer.EOF {
			return nil
		}
		if n >= l.tokens {
			return limitError("the document has more than %d tokens", l.tokens)
		}
	}
}

func (l *limits) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if err := strictVariables(l.es.Schema(), rc.Operation, rc.Variables); err != nil {
		return err
	}
	m := measurer{doc: rc.Doc, frags: map[string]*measure{}}
	st := m.set(rc.Operation.SelectionSet)
	depthLimit := l.depth
	if st.introspection && l.introspection {
		// GraphiQL's standard introspection query nests type references 13 levels deep;
		// where introspection is allowed it gets the room it needs, and no more.
		depthLimit = max(depthLimit, introspectionDepthLimit)
	}
	switch {
	case m.cycle:
		return limitError("fragment cycle")
	case st.depth > depthLimit:
		return limitError("the selection is nested deeper than %d", depthLimit)
	case st.aliases > l.aliases:
		return limitError("the document uses more than %d aliases", l.aliases)
	case st.introspection && !l.introspection:
		return limitError("introspection is disabled")
	// gqlgen's complexity walk expands a fragment every time it is spread, so a ladder of
	// fragments each spreading the next twice makes it exponential. The expanded field
	// count (before merging duplicate fields, so at least the complexity) gates it: past a
	// generous multiple of the limit, refuse without walking.
	case st.fields > 50*l.complexity:
		return limitError("the operation's complexity exceeds %d", l.complexity)
	}
	if n := l.sensitiveInDocument(rc.Doc); n > 1 {
		return limitError("a document may hold only one sensitive mutation field (login, register, refreshToken, …); this one holds %d", n)
	}
	if c := complexity.Calculate(ctx, l.es, rc.Operation, rc.Variables); c > l.complexity {
		return limitError("the operation's complexity %d exceeds %d", c, l.complexity)
	}
	return nil
}

// sensitiveInDocument counts the sensitive mutation fields of every mutation operation of
// the document, not only the one operationName selects: the rule is of the document, so a
// document cannot carry a second one that a later request (or a gqlgen change) might run.
func (l *limits) sensitiveInDocument(doc *ast.QueryDocument) int {
	total := 0
	for _, op := range doc.Operations {
		if op.Operation != ast.Mutation {
			continue
		}
		m := measurer{doc: doc, frags: map[string]*measure{}}
		for _, n := range m.set(op.SelectionSet).sensitive {
			total += n
		}
	}
	return total
}

// introspectionDepthLimit is the depth allowed to introspection queries when introspection
// is on: GraphiQL's and other tools' standard query needs 13.
const introspectionDepthLimit = 15

func limitError(format string, a ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, a...)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// measure is what executing a selection set would touch, with every fragment spread
// expanded: nesting depth, fields, aliases, sensitive mutations, introspection fields.
// Counts saturate so a document built to explode stays cheap to measure.
type measure struct {
	depth, fields, aliases int
	introspection          bool
	sensitive              map[string]int
}

// measurer computes measures once per fragment (memoized), so measuring is linear in the
// document however often fragments spread each other.
type measurer struct {
	doc   *ast.QueryDocument
	frags map[string]*measure // nil value: being computed (a cycle if met again)
	cycle bool
}

const saturation = 1 << 30

func satAdd(a, b int) int { return min(a+b, saturation) }

func (m *measurer) set(set ast.SelectionSet) measure {
	var out measure
	add := func(c measure, extraDepth int) {
		out.depth = max(out.depth, c.depth+extraDepth)
		out.fields = satAdd(out.fields, c.fields)
		out.aliases = satAdd(out.aliases, c.aliases)
		out.introspection = out.introspection || c.introspection
		for k, v := range c.sensitive {
			if out.sensitive == nil {
				out.sensitive = map[string]int{}
			}
			out.sensitive[k] = satAdd(out.sensitive[k], v)
		}
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			c := m.set(s.SelectionSet)
			c.fields = satAdd(c.fields, 1)
			if s.Alias != "" && s.Alias != s.Name {
				c.aliases = satAdd(c.aliases, 1)
			}
			if s.Name == "__schema" || s.Name == "__type" {
				c.introspection = true
			}
			if sensitiveMutations[s.Name] && s.ObjectDefinition != nil && s.ObjectDefinition.Name == "Mutation" {
				c.sensitive = map[string]int{s.Name: 1}
			}
			add(c, 1)
		case *ast.InlineFragment:
			add(m.set(s.SelectionSet), 0)
		case *ast.FragmentSpread:
			add(m.fragment(s.Name), 0)
		}
	}
	return out
}

func (m *measurer) fragment(name string) measure {
	if got, ok := m.frags[name]; ok {
		if got == nil {
			m.cycle = true // the validator refuses cycles; never recurse forever regardless
			return measure{}
		}
		return *got
	}
	f := m.doc.Fragments.ForName(name)
	if f == nil {
		return measure{}
	}
	m.frags[name] = nil
	got := m.set(f.SelectionSet)
	m.frags[name] = &got
	return got
}
