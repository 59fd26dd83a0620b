package mongodb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/auth"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/description"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/toktok/toktok/store"
)

// What to check when the server cannot be reached, and the note that the URI was not
// printed whole: an operator reads the hosts in the message, and nothing else of the URI.
const (
	credentialsNote  = "The URI's credentials are not printed."
	unreachableCheck = "Check the host and port, the replica set name (replicaSet=), TLS (tls=true, the CA and certificates), " +
		"the network and firewall between here and the server, and authSource."
)

// openError is an error of Open explained for an operator, on one line: its text says
// which hosts were tried and why in short, never the URI's credentials nor the driver's
// topology dump; the driver's error stays in the chain (errors.Is, errors.As).
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

// unreachable explains err, an Open that could not reach the server (it wraps
// store.ErrUnavailable), with the hosts the driver tried, taken from the client options
// (the URI's hosts, or what a mongodb+srv:// name resolved to) and from the topology the
// server selection saw.
func unreachable(err error, copts *options.ClientOptions) error {
	timeout := defaultServerSelectionTimeout
	if copts.ServerSelectionTimeout != nil {
		timeout = *copts.ServerSelectionTimeout
	}
	var tried []string
	var sse topology.ServerSelectionError
	if errors.As(err, &sse) {
		for _, s := range sse.Desc.Servers {
			tried = append(tried, s.Addr.String()+" ("+serverCause(s)+")")
		}
	}
	if a := authFailure(err); a != "" {
		return &openError{err: err, msg: fmt.Sprintf(
			"mongodb: open: unavailable: authentication to %s failed (%s). %s Check the user name, the password "+
				"(URL-escaped in the URI), authMechanism, and authSource, the database that holds the user.",
			hostList(copts.Hosts), a, credentialsNote)}
	}
	var what string
	switch {
	case len(tried) == 0 && copts.ReplicaSet != nil && errors.As(err, &sse):
		// The driver drops the servers that are not members of the named set.
		what = fmt.Sprintf("could not find a member of replica set %q at %s within %s", *copts.ReplicaSet, hostList(copts.Hosts), timeout)
	case len(tried) == 0:
		what = fmt.Sprintf("could not reach %s (%s) within %s", hostList(copts.Hosts), shortCause(err), timeout)
	case len(tried) == 1:
		what = fmt.Sprintf("could not reach %s within %s", tried[0], timeout)
	default:
		what = fmt.Sprintf("could not reach any of %s within %s", strings.Join(tried, ", "), timeout)
	}
	return &openError{err: err, msg: "mongodb: open: unavailable: " + what + ". " + credentialsNote + " " + unreachableCheck}
}

// dnsFailure explains a mongodb+srv:// URI whose DNS lookup failed (the driver resolves
// it while reading the URI, before any connection); nil for any other error. A name that
// does not exist is a setting to fix; any other DNS failure may pass, and is an outage.
func dnsFailure(err error) error {
	var dns *net.DNSError
	if !errors.As(err, &dns) {
		return nil
	}
	msg := fmt.Sprintf("mongodb: open: the DNS lookup of %s failed (%s). %s "+
		"Check the host name of the mongodb+srv:// URI (a name with SRV records, without a port), the DNS server and the network.",
		dns.Name, oneLine(dns.Err), credentialsNote)
	if dns.IsNotFound {
		return &openError{msg: msg, err: err}
	}
	return &openError{msg: msg, err: fmt.Errorf("%w: %w", store.ErrUnavailable, err)}
}

// hostList is hosts for a message: "h:27017", or "any of a:1, b:2".
func hostList(hosts []string) string {
	if len(hosts) == 1 {
		return hosts[0]
	}
	return "any of " + strings.Join(hosts, ", ")
}

// serverCause says in short why a server the selection saw was not usable.
func serverCause(s description.Server) string {
	switch {
	case s.LastError != nil:
		return shortCause(s.LastError)
	case s.Kind == description.Unknown:
		return "no answer"
	}
	return "answered as " + s.Kind.String() + ", not a primary"
}

// shortCause is the gist of a connection error, on one line: "connection refused",
// "timed out", "host name not found", a TLS failure, else the innermost error's text.
func shortCause(err error) string { return oneLine(gist(err)) }

func gist(err error) string {
	var (
		dns   *net.DNSError
		rec   tls.RecordHeaderError
		ca    x509.UnknownAuthorityError
		host  x509.HostnameError
		inval x509.CertificateInvalidError
		netw  net.Error
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "host name not found"
	case errors.As(err, &dns):
		return "DNS lookup failed: " + dns.Err
	case errors.As(err, &rec):
		return "TLS: the server does not speak TLS"
	case errors.As(err, &ca), errors.As(err, &host), errors.As(err, &inval):
		return "TLS certificate: " + innermost(err).Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netw) && netw.Timeout():
		return "timed out"
	}
	return innermost(err).Error()
}

// authFailure is the authentication error in err, "" when there is none.
func authFailure(err error) string {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		return ""
	}
	return oneLine(innermost(ae).Error())
}

// maxCause bounds the length of a cause quoted from a server or the driver.
const maxCause = 200

// oneLine is s with its runs of white space (line breaks included) made one space, cut
// to maxCause bytes: the message is one line of a log.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxCause {
		s = strings.ToValidUTF8(s[:maxCause], "") + "…"
	}
	return s
}

// innermost follows err's single-error chain to its end.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// malformed is the error of a URI the driver refuses. The driver's message quotes pieces
// of the URI (`invalid URL escape "%zz"`), which may be pieces of the password: when the
// URI carries credentials, the message says where to look instead of quoting it.
func malformed(uri string, err error) error {
	rest := uri
	if _, after, ok := strings.Cut(uri, "://"); ok {
		rest = after
	}
	hostPart, _, _ := strings.Cut(rest, "/")
	if !strings.Contains(hostPart, "@") {
		return fmt.Errorf("mongodb: open: %w", err)
	}
	return &openError{
		msg: "mongodb: open: the URI does not parse; the driver's message is not printed because the URI carries " +
			"credentials. Check the percent-escaping of the user name and password (escape : / ? # [ ] @ and % as %XX) " +
			"and the options after '?'",
		err: err,
	}
}
