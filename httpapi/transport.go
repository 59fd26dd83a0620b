package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
)

// The transports are ours rather than gqlgen's POST/GET because the contract differs from
// gqlgen's defaults in ways a client can see: with Accept: application/json every GraphQL
// result answers 200 (gqlgen answers 422 to validation errors), invalid JSON is never echoed
// back (gqlgen quotes the body in its error), JSON-array batches and bodies without a query
// are 400, and mutations over GET are 405.

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// postTransport serves POST /graphql with a JSON body.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == mediaJSON
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	ct := responseType(r)
	w.Header().Set("Content-Type", ct)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProtocolError(w, http.StatusRequestEntityTooLarge, "the request body is too large")
			return
		}
		writeProtocolError(w, http.StatusBadRequest, "the request body could not be read")
		return
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		writeProtocolError(w, http.StatusBadRequest, "batched requests are not supported: send one operation per request")
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil || dec.More() {
		writeProtocolError(w, http.StatusBadRequest, "the request body is not a valid JSON object")
		return
	}
	if strings.TrimSpace(params.Query) == "" {
		writeProtocolError(w, http.StatusBadRequest, "the request has no query")
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(ctx, w, exec, &params, ct, false)
}

// graphqlGate answers what no transport serves with a coded JSON error instead of gqlgen's
// uncoded "transport not supported": 405 for other methods, 415 for other media types (form,
// multipart and text bodies are how a cross-site page posts without a CORS preflight).
func graphqlGate(getAllowed bool, next http.Handler) http.Handler {
	allow := "POST"
	if getAllowed {
		allow = "GET, POST"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			if !(postTransport{}).Supports(r) {
				writeProtocolError(w, http.StatusUnsupportedMediaType, "send the request as Content-Type: application/json")
				return
			}
		case r.Method == http.MethodGet && getAllowed:
		default:
			w.Header().Set("Allow", allow)
			writeProtocolError(w, http.StatusMethodNotAllowed, "use POST (or GET for queries)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// getTransport serves queries over GET /graphql?query=...
type getTransport struct{}

var _ graphql.Transport = getTransport{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ct := responseType(r)
	w.Header().Set("Content-Type", ct)
	q := r.URL.Query()
	params := graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	params.ReadTime.Start = graphql.Now()
	if strings.TrimSpace(params.Query) == "" {
		writeProtocolError(w, http.StatusBadRequest, "the request has no query")
		return
	}
	if v := q.Get("variables"); v != "" {
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&params.Variables); err != nil {
			writeProtocolError(w, http.StatusBadRequest, "the variables are not a valid JSON object")
			return
		}
	}
	params.ReadTime.End = graphql.Now()
	execute(r.Context(), w, exec, &params, ct, true)
}

func execute(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, params *graphql.RawParams, ct string, queryOnly bool) {
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// application/graphql-response+json: a document that fails to parse or validate is
		// a 4xx without data; application/json: every GraphQL result is 200.
		status := http.StatusOK
		if ct == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		writeResponse(w, status, resp, ct == mediaGraphQLResponse)
		return
	}
	if queryOnly && opCtx.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		writeProtocolError(w, http.StatusMethodNotAllowed, "only queries may be sent over GET; send mutations with POST")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	writeResponse(w, http.StatusOK, responses(ctx), false)
}

// responseType picks the response media type from Accept as GraphQL over HTTP says:
// application/json unless the client asks for application/graphql-response+json first.
func responseType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON, "*/*", "application/*":
			return mediaJSON
		}
	}
	return mediaJSON
}

func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response, omitData bool) {
	var b []byte
	var err error
	if omitData && resp.Data == nil {
		b, err = json.Marshal(struct {
			Errors gqlerror.List `json:"errors"`
		}{resp.Errors})
	} else {
		b, err = json.Marshal(resp)
	}
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeProtocolError answers a request that is not a well-formed GraphQL request. The
// code is one of the contract's: a body that cannot be read as a GraphQL request did not
// parse; a request over a size, method or media-type rule breaks a limit.
func writeProtocolError(w http.ResponseWriter, status int, msg string) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", mediaJSON)
	}
	code := errcode.ParseFailed
	if status != http.StatusBadRequest {
		code = errcode.ValidationFailed
	}
	e := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
	b, _ := json.Marshal(struct {
		Errors gqlerror.List `json:"errors"`
	}{gqlerror.List{e}})
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// sensitiveMutations may appear at most once per document: batching them with aliases
// would multiply password guesses or token probes per request past the rate limits.
var sensitiveMutations = map[string]bool{
	"login": true, "register": true, "forgotPassword": true, "resetPassword": true,
	"confirmEmail": true, "refreshToken": true, "changePassword": true, "changeEmail": true,
}

// limits enforces the document limits of the security policy: lexical tokens (before
// parsing, so a huge document costs little), then depth, aliases, sensitive mutations and
// complexity (after validation). Every breach is GRAPHQL_VALIDATION_FAILED.
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
	if rc.Operation.Operation == ast.Mutation {
		for name, n := range st.sensitive {
			if n > 1 {
				return limitError("%s may appear only once per document", name)
			}
		}
	}
	if c := complexity.Calculate(ctx, l.es, rc.Operation, rc.Variables); c > l.complexity {
		return limitError("the operation's complexity %d exceeds %d", c, l.complexity)
	}
	return nil
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
