package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/token"
)

// authenticate reads Authorization: Bearer, verifies the token as the kind its header
// announces, and records the outcome in the context. It never answers the request itself:
// each operation decides what it needs (me answers null without a token, @auth refuses).
func authenticate(tokens *token.Service, now func() time.Time, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := account.Auth{Kind: account.KindNone}
		if h := r.Header.Get("Authorization"); h != "" {
			a.Kind = account.KindInvalid
			scheme, tok, ok := strings.Cut(h, " ")
			if ok && strings.EqualFold(scheme, "Bearer") {
				tok = strings.TrimSpace(tok)
				switch kind, _ := token.KindOf(tok); kind {
				case token.KindAccess:
					if c, err := tokens.VerifyAccess(tok, now()); err == nil {
						a = account.Auth{Kind: account.KindAccess, Access: c}
					}
				case token.KindAnonymous:
					if c, err := tokens.VerifyAnonymous(tok, now()); err == nil {
						a = account.Auth{Kind: account.KindAnonymous, Anon: c}
					}
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(account.WithAuth(r.Context(), a)))
	})
}

// clientInfo records the client's IP and user agent. X-Forwarded-For is believed only when
// the peer is a trusted proxy, and then the address is the right-most one that is not
// itself a trusted proxy (the left-most entries are whatever the client wrote).
func clientInfo(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := account.Client{IP: clientIP(r, trusted), UserAgent: r.UserAgent()}
		next.ServeHTTP(w, r.WithContext(account.WithClient(r.Context(), c)))
	})
}

// peerAddr is the address of the request's peer (the TCP connection's other end), with
// host the text it was read from (RemoteAddr without its port) for when it is not an IP.
func peerAddr(r *http.Request) (peer netip.Addr, host string, err error) {
	host, _, err = net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err = netip.ParseAddr(host)
	return peer.Unmap(), host, err
}

// fromTrustedPeer reports whether the request's peer is one of the trusted proxies.
func fromTrustedPeer(r *http.Request, trusted []netip.Prefix) bool {
	peer, _, err := peerAddr(r)
	return err == nil && isTrusted(peer, trusted)
}

func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, host, err := peerAddr(r)
	if err != nil {
		return host
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	var addrs []string
	for _, h := range hops {
		addrs = append(addrs, strings.Split(h, ",")...)
	}
	for i := len(addrs) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(addrs[i])
		if h, _, err := net.SplitHostPort(hop); err == nil {
			hop = h // some proxies append ip:port
		}
		a, err := netip.ParseAddr(strings.Trim(hop, "[]"))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// securityHeaders sets the headers every response carries and caps the body size.
func securityHeaders(bodyLimit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, bodyLimit)
		}
		next.ServeHTTP(w, r)
	})
}

// noStore marks responses that may carry tokens as never cacheable.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// isLocalOrigin reports whether origin is an http(s) origin on a loopback host, allowed
// in development modes so an SPA dev server on any port can call the API.
func isLocalOrigin(origin string) bool {
	rest, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(origin, "https://"); !ok {
			return false
		}
	}
	host := rest
	if h, _, err := net.SplitHostPort(rest); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
