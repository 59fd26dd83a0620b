package mongodb

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/toktok/toktok/store"
)

// openPassword is the password of the URIs below: no message may show it.
const openPassword = "s3cret-Store-Pw"

// closedAddr is a loopback address nothing listens on: listened on, then closed.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// silentAddr is a loopback address that accepts connections and never answers.
func silentAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// openFails opens uri, which must fail, and checks what every explained failure shares:
// one line, the credentials note, and no password.
func openFails(t *testing.T, uri string) error {
	t.Helper()
	s, err := Open(t.Context(), uri, Options{})
	if err == nil {
		s.Close()
		t.Fatalf("Open(%s) succeeded", uri)
	}
	msg := err.Error()
	t.Logf("%s", msg)
	if strings.Contains(msg, openPassword) {
		t.Errorf("the error shows the password: %s", msg)
	}
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("the error is not one line: %q", msg)
	}
	if !strings.Contains(msg, "The URI's credentials are not printed.") {
		t.Errorf("the error does not say the credentials are not printed: %s", msg)
	}
	if strings.Contains(msg, "current topology") {
		t.Errorf("the error dumps the driver's topology: %s", msg)
	}
	return err
}

// wantIn fails t unless msg contains each of want.
func wantIn(t *testing.T, msg string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("the error does not say %q: %s", w, msg)
		}
	}
}

// whatToCheck is what an unreachable server's error tells the operator to check.
var whatToCheck = []string{"host and port", "replicaSet=", "tls=true", "certificates", "firewall", "authSource"}

// TestOpenUnreachableExplains: a server that cannot be reached fails Open with the hosts
// tried, a short cause and the selection timeout, what to check, and no credentials; the
// error still wraps store.ErrUnavailable and the driver's error.
func TestOpenUnreachableExplains(t *testing.T) {
	t.Parallel()
	a, b := closedAddr(t), closedAddr(t)
	silent := silentAddr(t)
	for _, tc := range []struct {
		name, hosts, query string
		want               []string
	}{
		{"closed port", a, "serverSelectionTimeoutMS=500",
			[]string{"could not reach " + a + " (connection refused) within 500ms"}},
		{"two closed ports", a + "," + b, "serverSelectionTimeoutMS=500",
			[]string{"could not reach any of ", a + " (connection refused)", b + " (connection refused)", "within 500ms"}},
		{"silent port", silent, "serverSelectionTimeoutMS=500&connectTimeoutMS=200",
			[]string{"could not reach " + silent + " (timed out) within 500ms"}},
		{"silent port, no connect timeout", silent, "serverSelectionTimeoutMS=500",
			[]string{"could not reach " + silent + " (", ") within 500ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			uri := "mongodb://toktok:" + openPassword + "@" + tc.hosts + "/?" + tc.query
			err := openFails(t, uri)
			wantIn(t, err.Error(), append(append([]string{"mongodb: open: unavailable: "}, tc.want...), whatToCheck...)...)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("errors.Is(%v, store.ErrUnavailable) = false", err)
			}
			var sse topology.ServerSelectionError
			if !errors.As(err, &sse) {
				t.Errorf("the driver's error is not in the chain: %#v", err)
			}
		})
	}
}

// TestOpenServerAnswersWrongly: a server that answers, but not as the URI expects (a
// replica set it is not in, TLS it does not speak, credentials it refuses), fails Open
// naming it and the setting to look at.
func TestOpenServerAnswersWrongly(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testSrv.URI())
	if err != nil {
		t.Fatal(err)
	}
	addr := u.Host
	for _, tc := range []struct {
		name, userinfo, query string
		want                  []string
	}{
		{"replica set", "", "replicaSet=toktok-no-such-set",
			[]string{`could not find a member of replica set "toktok-no-such-set" at ` + addr + " within 700ms", "replicaSet="}},
		{"tls", "", "tls=true", []string{"could not reach " + addr + " (", "TLS (tls=true"}},
		{"credentials", "toktok:" + openPassword + "@", "authSource=toktok-no-such-db",
			[]string{"authentication to " + addr + " failed (", "authSource"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			uri := "mongodb://" + tc.userinfo + addr + "/?serverSelectionTimeoutMS=700&" + tc.query
			err := openFails(t, uri)
			wantIn(t, err.Error(), tc.want...)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("errors.Is(%v, store.ErrUnavailable) = false", err)
			}
		})
	}
}

// TestOpenDNSFailureExplains: a host name that does not resolve, in a mongodb:// or a
// mongodb+srv:// URI (whose SRV record the driver looks up before connecting), fails
// Open naming the name, without credentials. ".invalid" never resolves (RFC 2606).
func TestOpenDNSFailureExplains(t *testing.T) {
	t.Parallel()
	t.Run("mongodb", func(t *testing.T) {
		t.Parallel()
		err := openFails(t, "mongodb://toktok:"+openPassword+"@toktok-test.invalid:27017/?serverSelectionTimeoutMS=500")
		wantIn(t, err.Error(), "could not reach toktok-test.invalid:27017 (")
		if msg := err.Error(); !strings.Contains(msg, "(host name not found)") && !strings.Contains(msg, "(DNS lookup failed") {
			t.Errorf("the error does not say the name did not resolve: %s", msg)
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("errors.Is(%v, store.ErrUnavailable) = false", err)
		}
	})
	t.Run("mongodb+srv", func(t *testing.T) {
		t.Parallel()
		err := openFails(t, "mongodb+srv://toktok:"+openPassword+"@cluster0.toktok-test.invalid/?serverSelectionTimeoutMS=500")
		wantIn(t, err.Error(), "mongodb: open: the DNS lookup of _mongodb._tcp.cluster0.toktok-test.invalid failed (",
			"mongodb+srv://", "DNS server")
		var dns *net.DNSError
		if !errors.As(err, &dns) {
			t.Errorf("the DNS error is not in the chain: %#v", err)
		}
		if dns != nil && dns.IsNotFound && errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a name that does not exist is a setting to fix, not an outage: %v", err)
		}
	})
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb\r\n  c\t":          "a b c",
		strings.Repeat("é", 150): strings.Repeat("é", maxCause/2) + "…",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenMalformedURIHidesCredentials: a URI the driver refuses is reported without the
// driver's message when it carries credentials (that message quotes pieces of the URI),
// and with it when it does not.
func TestOpenMalformedURIHidesCredentials(t *testing.T) {
	_, err := Open(t.Context(), "mongodb://toktok:"+openPassword+"%zz@127.0.0.1:1/toktok", Options{})
	if err == nil {
		t.Fatal("a malformed URI opened")
	}
	if msg := err.Error(); strings.Contains(msg, "%zz") || strings.Contains(msg, openPassword) || !strings.Contains(msg, "percent-escaping") {
		t.Errorf("error %q: want the escaping advice and no piece of the password", msg)
	}
	_, err = Open(t.Context(), "mongodb://127.0.0.1:1/toktok?maxPoolSize=many", Options{})
	if err == nil || !strings.Contains(err.Error(), "maxPoolSize") {
		t.Errorf("error %v, want the driver's message naming the option", err)
	}
}
