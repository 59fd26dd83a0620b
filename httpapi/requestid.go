package httpapi

import (
	"net/http"
	"net/netip"

	"github.com/toktok/toktok/internal/reqid"
)

// RequestIDHeader names the request id in requests (from a trusted proxy) and responses.
const RequestIDHeader = "X-Request-Id"

// requestID gives every request an id: the X-Request-Id of a trusted proxy when it is a
// plausible id (reqid.Valid), else a fresh one. The response carries it in X-Request-Id,
// the request's context carries it to the log lines and INTERNAL errors about it. A
// client that is not a trusted proxy cannot choose the id its requests are logged under.
func requestID(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if id == "" || !reqid.Valid(id) || !fromTrustedPeer(r, trusted) {
			id = reqid.New()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(reqid.With(r.Context(), id)))
	})
}
