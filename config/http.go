package config

import (
	"flag"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTP is the server's section.
type HTTP struct {
	Host                string
	Port                int
	PublicURL           string // external base URL; required in preprod/production
	CORSOrigins         []string
	TrustedProxies      []netip.Prefix
	BodyLimit           int64
	ReadTimeout         time.Duration
	WriteTimeout        time.Duration
	IdleTimeout         time.Duration
	ShutdownTimeout     time.Duration
	GraphQLGet          bool
	Introspection       bool
	Playground          bool
	PlaygroundAssetsDir string
	PlaygroundCDN       bool // GraphiQL from unpkg.com instead of the copy built into the binary
	AccountConsole      bool // the account console at /account
	AdminConsole        bool // the admin console at /admin (for STAFF and ADMIN)
	ComplexityLimit     int
	DepthLimit          int
	TokenLimit          int
	AliasLimit          int
	DebugAddr           string // loopback host:port of the pprof listener; "" = off
	// MetricsAddr is where Prometheus metrics are served: a host:port of their own, "off",
	// or "" for /metrics on the main listener in development modes and nowhere in
	// preprod and production (metrics stay off the public port there).
	MetricsAddr string
}

// MetricsOnMain reports whether /metrics is served on the main listener.
func (h HTTP) MetricsOnMain(mode Mode) bool { return h.MetricsAddr == "" && mode.Dev() }

// MetricsOn reports whether metrics are served anywhere (and so worth collecting).
func (h HTTP) MetricsOn(mode Mode) bool {
	return h.MetricsOnMain(mode) || (h.MetricsAddr != "" && h.MetricsAddr != "off")
}

func defaultHTTP() HTTP {
	return HTTP{
		Host: "localhost", Port: 4100, BodyLimit: 64 << 10,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second, ShutdownTimeout: 20 * time.Second,
		GraphQLGet: true, AccountConsole: true, AdminConsole: true, ComplexityLimit: 200, DepthLimit: 8, TokenLimit: 1000, AliasLimit: 10,
	}
}

// Addr is host:port to listen on.
func (h HTTP) Addr() string { return netJoin(h.Host, h.Port) }

// PublicBase is the base URL of this service as browsers and mail readers reach it,
// without a trailing slash: --public-url when set, else LocalBase(Port). Links, hosted
// pages and anything else that prints an address of the service start from it, so they
// all agree on one rule.
//
// It is not the default token issuer: that stays "http://" + Addr(), because replacing
// the host would change the iss claim of deployments that rely on the default.
func (h HTTP) PublicBase() string {
	if h.PublicURL != "" {
		return strings.TrimRight(h.PublicURL, "/")
	}
	return h.LocalBase(h.Port)
}

// LocalBase is "http://HOST:port" for the given port, which may be the one actually bound
// when Port is 0. A wildcard or empty Host becomes localhost, because a browser cannot
// open 0.0.0.0 or :: on every system and the service answers on localhost anyway.
func (h HTTP) LocalBase(port int) string {
	host := h.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// netJoin is host:port, bracketing an IPv6 host unless it already is.
func netJoin(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// httpText holds the HTTP flags read as text: auto settings wait for the mode, and the
// lists are parsed item by item so that every bad item is reported.
type httpText struct{ introspection, playground, cors, proxies string }

func (h *HTTP) register(fs *flag.FlagSet, t *httpText) {
	t.introspection, t.playground = "auto", "auto"
	t.cors = strings.Join(h.CORSOrigins, ",")
	proxies := make([]string, len(h.TrustedProxies))
	for i, prefix := range h.TrustedProxies {
		proxies[i] = prefix.String()
	}
	t.proxies = strings.Join(proxies, ",")
	fs.StringVar(&h.Host, "host", h.Host, "interface to listen on")
	fs.IntVar(&h.Port, "port", h.Port, "port to listen on")
	fs.StringVar(&h.PublicURL, "public-url", h.PublicURL, "external base URL of this service, e.g. https://auth.example.com (required in preprod/production)")
	fs.StringVar(&t.cors, "cors-origins", t.cors, "comma-separated origins allowed to call the API from a browser (localhost origins are allowed in dev modes)")
	fs.StringVar(&t.proxies, "trusted-proxies", t.proxies, "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed")
	fs.Int64Var(&h.BodyLimit, "body-limit", h.BodyLimit, "largest request body in bytes")
	fs.DurationVar(&h.ReadTimeout, "read-timeout", h.ReadTimeout, "HTTP read timeout")
	fs.DurationVar(&h.WriteTimeout, "write-timeout", h.WriteTimeout, "HTTP write timeout")
	fs.DurationVar(&h.IdleTimeout, "idle-timeout", h.IdleTimeout, "HTTP keep-alive idle timeout")
	fs.DurationVar(&h.ShutdownTimeout, "shutdown-timeout", h.ShutdownTimeout, "grace period for in-flight requests on SIGTERM")
	fs.Var(yesNo{&h.GraphQLGet}, "graphql-get", "yes|no: accept queries (never mutations) over GET /graphql")
	fs.StringVar(&t.introspection, "introspection", t.introspection, "auto|yes|no: schema introspection (auto = on in dev modes)")
	fs.StringVar(&t.playground, "playground", t.playground, "auto|yes|no: GraphiQL IDE at /playground (auto = on in dev modes)")
	fs.StringVar(&h.PlaygroundAssetsDir, "playground-assets-dir", h.PlaygroundAssetsDir, "serve the IDE's GraphiQL/React files from this directory instead of the copy built into the binary")
	fs.Var(yesNo{&h.PlaygroundCDN}, "playground-cdn", "yes|no: load the IDE's GraphiQL/React files from unpkg.com (pinned, with integrity values) instead of the copy built into the binary")
	fs.Var(yesNo{&h.AccountConsole}, "account-console", "yes|no: serve the account console at /account, where users sign in and manage their profile, password, email and sessions")
	fs.Var(yesNo{&h.AdminConsole}, "admin-console", "yes|no: serve the admin console at /admin, where STAFF browse and ADMIN manage users and the audit log (through the GraphQL API only)")
	fs.IntVar(&h.ComplexityLimit, "complexity-limit", h.ComplexityLimit, "largest GraphQL query complexity")
	fs.IntVar(&h.DepthLimit, "depth-limit", h.DepthLimit, "deepest GraphQL selection")
	fs.IntVar(&h.TokenLimit, "token-limit", h.TokenLimit, "most lexical tokens in a GraphQL document")
	fs.IntVar(&h.AliasLimit, "alias-limit", h.AliasLimit, "most aliases in a GraphQL document")
	fs.StringVar(&h.DebugAddr, "debug-addr", h.DebugAddr, "loopback host:port serving Go's profiles (goroutines, heap) at /debug/pprof/; empty: off")
	fs.StringVar(&h.MetricsAddr, "metrics-addr", h.MetricsAddr, "host:port serving Prometheus metrics at /metrics, or off; empty: /metrics on the main listener in dev modes, off in preprod/production")
}

// finish resolves the auto settings for mode, parses the lists, and trims the public
// URL so that every base built on it can append "/path".
func (h *HTTP) finish(mode Mode, t httpText) []error {
	var p problems
	var err error
	if h.Introspection, err = auto(t.introspection, mode.Dev()); err != nil {
		p.add("--introspection: %w", err)
	}
	if h.Playground, err = auto(t.playground, mode.Dev()); err != nil {
		p.add("--playground: %w", err)
	}
	h.CORSOrigins = splitList(t.cors)
	h.TrustedProxies = nil
	for _, s := range splitList(t.proxies) {
		prefix, err := parsePrefix(s)
		if err != nil {
			p.add("--trusted-proxies: %w", err)
			continue
		}
		if prefix.Bits() == 0 {
			p.add("--trusted-proxies: %s would believe any client's X-Forwarded-For", s)
			continue
		}
		h.TrustedProxies = append(h.TrustedProxies, prefix)
	}
	h.PublicURL = strings.TrimRight(h.PublicURL, "/")
	return p
}

func (h HTTP) validate() []error {
	var p problems
	if h.Port < 0 || h.Port > 65535 {
		p.add("--port: %d is not a TCP port", h.Port)
	}
	if h.PublicURL != "" {
		if _, ok := isHTTPURL(h.PublicURL); !ok {
			p.add("--public-url: %q is not an absolute http(s) URL", h.PublicURL)
		}
	}
	for _, o := range h.CORSOrigins {
		if o == "*" {
			p.add("--cors-origins: '*' is refused; list the origins")
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			p.add("--cors-origins: %q is not an origin like https://app.example.com", o)
		}
	}
	if h.DebugAddr != "" && !loopbackAddr(h.DebugAddr) {
		// Profiles show memory contents and cost CPU on demand: never to the network.
		p.add("--debug-addr: %q is not a loopback host:port like 127.0.0.1:6060", h.DebugAddr)
	}
	if a := h.MetricsAddr; a != "" && a != "off" && !hostPort(a) {
		p.add("--metrics-addr: %q is not a host:port like 127.0.0.1:9100 (or off)", a)
	}
	if h.BodyLimit < 1024 {
		p.add("--body-limit: %d is too small (1024 at least)", h.BodyLimit)
	}
	for _, s := range []setting[int]{
		{"--complexity-limit", h.ComplexityLimit}, {"--depth-limit", h.DepthLimit},
		{"--token-limit", h.TokenLimit}, {"--alias-limit", h.AliasLimit},
	} {
		if s.value < 1 {
			p.add("%s: must be positive", s.flag)
		}
	}
	return p
}

// production requires the public URL: without it, links in mails would point at
// whatever host the service happens to listen on.
func (h HTTP) production(mode Mode) []error {
	var p problems
	requireHTTPS(&p, mode, setting[string]{"--public-url", h.PublicURL})
	if h.PublicURL == "" {
		p.add("--public-url: required in %s mode", mode)
	}
	return p
}

// loopbackAddr reports whether addr is host:port with a loopback IP or localhost.
// hostPort reports whether addr is host:port with a numeric port (an empty host listens
// on every interface).
func hostPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

func loopbackAddr(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
