package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

func TestResponseType(t *testing.T) {
	for _, tc := range []struct{ accept, want string }{
		{"", mediaJSON},
		{"application/json", mediaJSON},
		{"application/graphql-response+json", mediaGraphQLResponse},
		{"application/graphql-response+json, application/json;q=0.9", mediaGraphQLResponse},
		{"application/json, application/graphql-response+json", mediaJSON}, // the first known type wins
		{"text/html, application/graphql-response+json", mediaGraphQLResponse},
		{"*/*", mediaJSON},
		{"application/*", mediaJSON},
		{"text/html", mediaJSON},
		{"garbage;;;, application/graphql-response+json", mediaGraphQLResponse},
		{"APPLICATION/GRAPHQL-RESPONSE+JSON", mediaGraphQLResponse},
	} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		if got := responseType(r); got != tc.want {
			t.Errorf("Accept %q: %s, want %s", tc.accept, got, tc.want)
		}
	}
}

func TestPostTransportSupports(t *testing.T) {
	for _, tc := range []struct {
		method, ct, upgrade string
		want                bool
	}{
		{http.MethodPost, "application/json", "", true},
		{http.MethodPost, "application/json; charset=utf-8", "", true},
		{http.MethodPost, "Application/JSON", "", true},
		{http.MethodPost, "application/x-www-form-urlencoded", "", false},
		{http.MethodPost, "multipart/form-data; boundary=x", "", false},
		{http.MethodPost, "text/plain", "", false},
		{http.MethodPost, "", "", false},
		{http.MethodPost, "application/json", "websocket", false},
		{http.MethodGet, "application/json", "", false},
	} {
		r := httptest.NewRequest(tc.method, "/graphql", nil)
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if got := (postTransport{}).Supports(r); got != tc.want {
			t.Errorf("%s %q upgrade=%q: %v, want %v", tc.method, tc.ct, tc.upgrade, got, tc.want)
		}
	}
}

// decodeErrors reads a body of the form {"errors":[...]} and reports whether it had data.
func decodeErrors(t *testing.T, body []byte) (codes []string, hasData bool) {
	t.Helper()
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("body is not JSON: %s", body)
	}
	for _, e := range out.Errors {
		c, _ := e.Extensions["code"].(string)
		codes = append(codes, c)
	}
	return codes, out.Data != nil
}

func TestWriteProtocolError(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{http.StatusBadRequest, "GRAPHQL_PARSE_FAILED"},
		{http.StatusRequestEntityTooLarge, "GRAPHQL_VALIDATION_FAILED"},
		{http.StatusMethodNotAllowed, "GRAPHQL_VALIDATION_FAILED"},
		{http.StatusUnsupportedMediaType, "GRAPHQL_VALIDATION_FAILED"},
	} {
		rec := httptest.NewRecorder()
		writeProtocolError(rec, tc.status, "nope")
		if rec.Code != tc.status || rec.Header().Get("Content-Type") != mediaJSON {
			t.Errorf("status %d: got %d %q", tc.status, rec.Code, rec.Header().Get("Content-Type"))
		}
		codes, hasData := decodeErrors(t, rec.Body.Bytes())
		if len(codes) != 1 || codes[0] != tc.code || hasData {
			t.Errorf("status %d: codes %v data %v, want [%s] without data", tc.status, codes, hasData, tc.code)
		}
	}
	// A content type set by the transport (from Accept) is kept.
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", mediaGraphQLResponse)
	writeProtocolError(rec, http.StatusBadRequest, "nope")
	if got := rec.Header().Get("Content-Type"); got != mediaGraphQLResponse {
		t.Errorf("content type %q was replaced by %q", mediaGraphQLResponse, got)
	}
}

func TestWriteResponse(t *testing.T) {
	errs := gqlerror.List{{Message: "bad", Extensions: map[string]any{"code": "X"}}}
	// graphql-response+json with no data: the data key is left out entirely.
	rec := httptest.NewRecorder()
	writeResponse(rec, http.StatusBadRequest, &graphql.Response{Errors: errs}, true)
	if rec.Code != http.StatusBadRequest || strings.Contains(rec.Body.String(), `"data"`) {
		t.Errorf("omitData: %d %s", rec.Code, rec.Body)
	}
	// application/json keeps "data": null.
	rec = httptest.NewRecorder()
	writeResponse(rec, http.StatusOK, &graphql.Response{Errors: errs}, false)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"data":null`) {
		t.Errorf("keep data: %d %s", rec.Code, rec.Body)
	}
	// Data present is always written.
	rec = httptest.NewRecorder()
	writeResponse(rec, http.StatusOK, &graphql.Response{Data: json.RawMessage(`{"me":null}`)}, true)
	if !strings.Contains(rec.Body.String(), `"data":{"me":null}`) {
		t.Errorf("data: %s", rec.Body)
	}
}

func TestGraphQLGate(t *testing.T) {
	reached := false
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })
	for _, tc := range []struct {
		name, method, ct string
		get              bool
		status           int
		allow            string
	}{
		{"json post passes", http.MethodPost, "application/json", false, 0, ""},
		{"form post is 415", http.MethodPost, "application/x-www-form-urlencoded", true, http.StatusUnsupportedMediaType, ""},
		{"text post is 415", http.MethodPost, "text/plain", true, http.StatusUnsupportedMediaType, ""},
		{"get passes when allowed", http.MethodGet, "", true, 0, ""},
		{"get is 405 when off", http.MethodGet, "", false, http.StatusMethodNotAllowed, "POST"},
		{"put is 405", http.MethodPut, "application/json", true, http.StatusMethodNotAllowed, "GET, POST"},
		{"delete is 405", http.MethodDelete, "", false, http.StatusMethodNotAllowed, "POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached = false
			r := httptest.NewRequest(tc.method, "/graphql", nil)
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			rec := httptest.NewRecorder()
			graphqlGate(tc.get, next).ServeHTTP(rec, r)
			if tc.status == 0 {
				if !reached {
					t.Fatalf("not passed on: %d %s", rec.Code, rec.Body)
				}
				return
			}
			if reached || rec.Code != tc.status {
				t.Fatalf("reached=%v status=%d, want %d", reached, rec.Code, tc.status)
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}
