package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// benchRefreshSessions is how many sessions BenchmarkRefresh rotates: more than the
// goroutines, so that no rotation waits for another one of the same session.
const benchRefreshSessions = 32

const benchRefreshQuery = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken expiresIn } }`

// BenchmarkRefresh is the refreshToken mutation through the app's handler (middleware,
// gqlgen, the rotation on SQLite: read the session and its user, advance the session,
// sign a new ES256 access token), on GOMAXPROCS goroutines. Each operation takes a
// session from a pool, rotates it and puts the new refresh token back, as clients do.
// proc-cpu-ns/op is the CPU of one rotation (target: at most 0.2 ms).
func BenchmarkRefresh(b *testing.B) {
	e := newTestEnv(b, nil)
	pool := make(chan string, benchRefreshSessions)
	for i := range benchRefreshSessions {
		pool <- e.register(fmt.Sprintf("bench-refresh-%d@example.com", i), strongPassword).RefreshToken
	}
	h := e.app.Handler()
	op := func(uint64) error {
		rt := <-pool
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, benchGraphQLRequest(benchBodyVars(benchRefreshQuery, map[string]any{"t": rt}), ""))
		var resp struct {
			Data struct {
				RefreshToken struct{ RefreshToken string } `json:"refreshToken"`
			} `json:"data"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &resp) != nil || resp.Data.RefreshToken.RefreshToken == "" {
			pool <- rt
			return fmt.Errorf("refreshToken: HTTP %d %s", rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
		}
		pool <- resp.Data.RefreshToken.RefreshToken
		return nil
	}
	benchServe(b, op, runtime.GOMAXPROCS(0))
}

// benchBodyVars is benchBody for use inside an operation (no *testing.B to fail).
func benchBodyVars(query string, vars map[string]any) []byte {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return body
}
