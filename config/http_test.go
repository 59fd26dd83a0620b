package config

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestHTTPDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.HTTP.Host != "localhost" || c.HTTP.Port != 4100 || c.HTTP.Addr() != "localhost:4100" {
		t.Errorf("listen on %q", c.HTTP.Addr())
	}
	if !c.HTTP.Introspection || !c.HTTP.Playground || !c.HTTP.GraphQLGet {
		t.Errorf("introspection %v playground %v graphql-get %v, want on", c.HTTP.Introspection, c.HTTP.Playground, c.HTTP.GraphQLGet)
	}
	if c.HTTP.BodyLimit != 64<<10 || c.HTTP.TokenLimit != 1000 || c.HTTP.DepthLimit != 8 || c.HTTP.AliasLimit != 10 || c.HTTP.ComplexityLimit <= 0 {
		t.Errorf("limits %+v", c.HTTP)
	}
	if len(c.HTTP.CORSOrigins) != 0 || len(c.HTTP.TrustedProxies) != 0 || c.HTTP.PublicURL != "" {
		t.Errorf("cors %v proxies %v public url %q", c.HTTP.CORSOrigins, c.HTTP.TrustedProxies, c.HTTP.PublicURL)
	}
	if c.HTTP.ReadTimeout != 10*time.Second || c.HTTP.WriteTimeout != 30*time.Second ||
		c.HTTP.IdleTimeout != 120*time.Second || c.HTTP.ShutdownTimeout != 20*time.Second {
		t.Errorf("timeouts %+v", c.HTTP)
	}
	if errs := Default().HTTP.validate(); len(errs) > 0 {
		t.Errorf("default HTTP: %v", errs)
	}
}

func TestLoadHTTPNumbers(t *testing.T) {
	c := mustLoad(t, []string{"--port=0", "--body-limit=2048", "--complexity-limit=50"}, nil)
	if c.HTTP.Port != 0 || c.HTTP.BodyLimit != 2048 || c.HTTP.ComplexityLimit != 50 {
		t.Errorf("%+v", c.HTTP)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--port=-1"}, "--port"},
		{[]string{"--port=65536"}, "--port"},
		{[]string{"--body-limit=1023"}, "--body-limit"},
		{[]string{"--complexity-limit=0"}, "--complexity-limit"},
		{[]string{"--depth-limit=0"}, "--depth-limit"},
		{[]string{"--alias-limit=-1"}, "--alias-limit"},
		{[]string{"--token-limit=0"}, "--token-limit"},
	} {
		_, err := load(t, tc.args, nil)
		wantProblems(t, err, tc.want)
	}
	if c := mustLoad(t, []string{"--host=::1", "--port=8080"}, nil); c.HTTP.Addr() != "[::1]:8080" {
		t.Errorf("Addr = %q", c.HTTP.Addr())
	}
}

func TestPublicBase(t *testing.T) {
	for _, tc := range []struct {
		h    HTTP
		want string
	}{
		{HTTP{Host: "localhost", Port: 4100}, "http://localhost:4100"},
		{HTTP{Host: "", Port: 4100}, "http://localhost:4100"},
		{HTTP{Host: "0.0.0.0", Port: 80}, "http://localhost:80"},
		{HTTP{Host: "::", Port: 4100}, "http://localhost:4100"},
		{HTTP{Host: "::1", Port: 4100}, "http://[::1]:4100"},
		{HTTP{Host: "192.0.2.7", Port: 4100}, "http://192.0.2.7:4100"},
		{HTTP{Host: "0.0.0.0", Port: 4100, PublicURL: "https://auth.example.com/"}, "https://auth.example.com"},
		{HTTP{Host: "0.0.0.0", Port: 4100, PublicURL: "https://example.com/auth//"}, "https://example.com/auth"},
	} {
		if got := tc.h.PublicBase(); got != tc.want {
			t.Errorf("%+v.PublicBase() = %q, want %q", tc.h, got, tc.want)
		}
	}
	// What Load produces: the trailing slash is gone already, and the issuer keeps the
	// configured host where PublicBase shows localhost.
	c := mustLoad(t, []string{"--host=0.0.0.0", "--port=5000"}, nil)
	if c.HTTP.PublicBase() != "http://localhost:5000" || c.Token.Issuer != "http://0.0.0.0:5000" {
		t.Errorf("public base %q issuer %q", c.HTTP.PublicBase(), c.Token.Issuer)
	}
	c = mustLoad(t, []string{"--public-url=https://auth.example.com/"}, nil)
	if c.HTTP.PublicBase() != "https://auth.example.com" || c.HTTP.PublicBase() != c.Token.Issuer {
		t.Errorf("public base %q issuer %q", c.HTTP.PublicBase(), c.Token.Issuer)
	}
}

func TestLocalBase(t *testing.T) {
	// The port actually bound replaces --port=0; --public-url does not matter.
	h := HTTP{Host: "0.0.0.0", Port: 0, PublicURL: "https://auth.example.com"}
	if got := h.LocalBase(39123); got != "http://localhost:39123" {
		t.Errorf("LocalBase = %q", got)
	}
	h = HTTP{Host: "127.0.0.1", Port: 0}
	if got := h.LocalBase(8080); got != "http://127.0.0.1:8080" {
		t.Errorf("LocalBase = %q", got)
	}
}

func TestHTTPProduction(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want []string
	}{
		{"", []string{"--public-url: required in production mode"}},
		{"http://auth.example.com", []string{"--public-url: must be https in production mode"}},
		{"https://auth.example.com", nil},
	} {
		var got []string
		for _, e := range (HTTP{PublicURL: tc.url}).production(ModeProduction) {
			got = append(got, e.Error())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.url, got, tc.want)
		}
	}
}
func TestLoadCORSOrigins(t *testing.T) {
	c := mustLoad(t, []string{"--cors-origins= https://app.example.com ,http://localhost:5173/,, "}, nil)
	if !slices.Equal(c.HTTP.CORSOrigins, []string{"https://app.example.com", "http://localhost:5173/"}) {
		t.Errorf("cors %q", c.HTTP.CORSOrigins)
	}
	for _, bad := range []string{"*", "https://app.example.com,*", "app.example.com", "https://app.example.com/path"} {
		_, err := load(t, []string{"--cors-origins=" + bad}, nil)
		wantProblems(t, err, "--cors-origins")
	}
	_, err := load(t, nil, map[string]string{"TOKTOK_CORS_ORIGINS": "*"})
	wantProblems(t, err, "'*'")
	// Validate refuses '*' when set by hand too.
	c = Default()
	c.HTTP.CORSOrigins = []string{"*"}
	if err := c.Validate(); err == nil {
		t.Error("Validate accepts '*'")
	}
}

func TestLoadTrustedProxies(t *testing.T) {
	c := mustLoad(t, []string{"--trusted-proxies=10.0.0.1, 192.168.0.0/16,::1, 10.1.2.3/8,2001:db8::/32,::ffff:172.16.0.1"}, nil)
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("172.16.0.1/32"),
	}
	if !slices.Equal(c.HTTP.TrustedProxies, want) {
		t.Errorf("trusted proxies %v, want %v", c.HTTP.TrustedProxies, want)
	}
	c = mustLoad(t, nil, map[string]string{"TOKTOK_TRUSTED_PROXIES": "127.0.0.1"})
	if !slices.Equal(c.HTTP.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}) {
		t.Errorf("from the environment: %v", c.HTTP.TrustedProxies)
	}
	if c := mustLoad(t, []string{"--trusted-proxies="}, nil); len(c.HTTP.TrustedProxies) != 0 {
		t.Errorf("empty list gives %v", c.HTTP.TrustedProxies)
	}
	_, err := load(t, []string{"--trusted-proxies=proxy.local,10.0.0.0/40,1.2.3.4"}, nil)
	wantProblems(t, err, "proxy.local", "10.0.0.0/40")
}

// TestLoadDebugAddr: the profiling listener is off by default and takes only loopback
// addresses (profiles show memory contents).
func TestLoadDebugAddr(t *testing.T) {
	if c := mustLoad(t, nil, nil); c.HTTP.DebugAddr != "" {
		t.Errorf("debug addr on by default: %q", c.HTTP.DebugAddr)
	}
	for _, ok := range []string{"127.0.0.1:6060", "localhost:0", "[::1]:6060"} {
		if c := mustLoad(t, []string{"--debug-addr=" + ok}, nil); c.HTTP.DebugAddr != ok {
			t.Errorf("--debug-addr=%s read as %q", ok, c.HTTP.DebugAddr)
		}
	}
	for _, bad := range []string{"0.0.0.0:6060", ":6060", "example.com:6060", "127.0.0.1", "127.0.0.1:99999", "10.0.0.1:6060"} {
		_, err := load(t, []string{"--debug-addr=" + bad}, nil)
		wantProblems(t, err, "--debug-addr")
	}
}

// TestLoadMetricsAddr: /metrics is on the main listener in the development modes unless
// --metrics-addr moves it to a listener of its own or turns it off; preprod and production
// never serve it on the main listener. A malformed address is refused.
func TestLoadMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		addr       string
		mode       Mode
		onMain, on bool
	}{
		{"", ModeDefault, true, true},
		{"", ModeDevEmail, true, true},
		{"", ModePreprod, false, false},
		{"", ModeProduction, false, false},
		{"off", ModeDefault, false, false},
		{"127.0.0.1:9100", ModeDefault, false, true},
		{":9100", ModeProduction, false, true},
	} {
		h := HTTP{MetricsAddr: tc.addr}
		if got := h.MetricsOnMain(tc.mode); got != tc.onMain {
			t.Errorf("%q in %s: on the main listener %v, want %v", tc.addr, tc.mode, got, tc.onMain)
		}
		if got := h.MetricsOn(tc.mode); got != tc.on {
			t.Errorf("%q in %s: served %v, want %v", tc.addr, tc.mode, got, tc.on)
		}
	}
	for _, ok := range []string{"off", "127.0.0.1:9100", ":9100", "0.0.0.0:9100"} {
		if c := mustLoad(t, []string{"--metrics-addr=" + ok}, nil); c.HTTP.MetricsAddr != ok {
			t.Errorf("--metrics-addr=%s read as %q", ok, c.HTTP.MetricsAddr)
		}
	}
	for _, bad := range []string{"on", "9100", "127.0.0.1", "127.0.0.1:99999", "host:port"} {
		_, err := load(t, []string{"--metrics-addr=" + bad}, nil)
		wantProblems(t, err, "--metrics-addr")
	}
}
