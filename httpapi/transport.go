package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
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
