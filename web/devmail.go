package web

// The dev inbox, /dev/mail: in the `default` mode, the mails that the service would have
// sent (kept in memory by mailer.DevInbox), newest first, each readable as text and as
// HTML with its links clickable, so that the confirm and reset flows are two clicks away
// from GraphiQL. It holds live link tokens: it answers only this machine's loopback
// clients (unless --dev-inbox-remote=yes) and only Host names that a web page elsewhere
// cannot point at this machine (DNS rebinding): see devMailRefusal.
//
// The pages run no script at all (their CSP has no script-src) and take their style sheet
// from devmail/devmail.css. A mail's HTML part is shown in a sandboxed iframe, from its
// own URL served with a CSP that sandboxes it (no script, no same-origin access, no
// forms) and lets its links open in a new tab; its text part is shown in a <pre>, escaped,
// with its URLs made into links on the server.

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/toktok/toktok/mailer"
)

//go:embed devmail
var devMailFiles embed.FS

// DevMailPath is where DevMail's handler answers: the list at DevMailPath, everything
// else under DevMailPath + "/".
const DevMailPath = "/dev/mail"

// devMailCSP is the policy of the list and the mail pages: no script, the style sheet
// and frames (the HTML part) from the server itself, no form, no framing.
const devMailCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// DevMailHTMLCSP is the policy of a mail's HTML part: a sandbox (a unique origin, no
// script, no form, no plugin) whose links may open a new tab (or, when the user clicks,
// move the top page); nothing is loaded but inline styles and data: images; only the
// inbox's own pages may frame it.
const DevMailHTMLCSP = "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; " +
	"default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"

// devMailSandbox is the iframe's own sandbox attribute: the same allowances as the CSP.
const devMailSandbox = "allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"

// DevMailOptions configures DevMail.
type DevMailOptions struct {
	// Inbox holds the mails to show. Required.
	Inbox *mailer.DevInbox

	// AppName is shown in the pages' titles; "TokTok" when empty.
	AppName string

	// AllowRemote answers clients other than this machine's loopback, and requests
	// forwarded by a proxy (--dev-inbox-remote=yes). Off, those are refused with 403.
	AllowRemote bool

	// PublicURL is the service's public URL (--public-url): its host name is accepted in
	// the Host header, besides localhost and IP addresses. Empty: only those.
	PublicURL string

	// PlaygroundPath, when set, is where the pages link back to the GraphiQL IDE.
	PlaygroundPath string
}

// DevMail returns the handler of the dev inbox. It serves, for GET and HEAD,
//
//	/dev/mail              the mails, newest first, each with its links
//	/dev/mail/{id}         one mail: headers, links, HTML part (framed), text part
//	/dev/mail/{id}/html    the HTML part alone, under DevMailHTMLCSP
//	/dev/mail/{id}/text    the text part alone, as text/plain
//	/dev/mail/devmail.css  the pages' style sheet
//
// 404 for an unknown id or path, 405 for other methods, so mount it on "/dev/mail" and
// "/dev/mail/". Every answer is Cache-Control: no-store. A request that the access rules
// refuse (see devMailRefusal) gets 403 and a one-line explanation.
func DevMail(opts DevMailOptions) (http.Handler, error) {
	if opts.Inbox == nil {
		return nil, fmt.Errorf("web: dev inbox: no inbox")
	}
	appName := strings.TrimSpace(opts.AppName)
	if appName == "" {
		appName = "TokTok"
	}
	publicHost := ""
	if opts.PublicURL != "" {
		u, err := url.Parse(opts.PublicURL)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("web: dev inbox: public URL %q has no host", opts.PublicURL)
		}
		publicHost = strings.ToLower(u.Hostname())
	}
	if opts.PlaygroundPath != "" && !strings.HasPrefix(opts.PlaygroundPath, "/") {
		return nil, fmt.Errorf("web: dev inbox: playground path %q is not a path", opts.PlaygroundPath)
	}
	tmpl, err := template.ParseFS(devMailFiles, "devmail/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse the dev inbox pages: %w", err)
	}
	css, err := devMailFiles.ReadFile("devmail/devmail.css")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	d := &devMail{
		inbox: opts.Inbox, appName: appName, allowRemote: opts.AllowRemote, publicHost: publicHost,
		playground: opts.PlaygroundPath, tmpl: tmpl, css: css,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DevMailPath, d.list)
	mux.HandleFunc("GET "+DevMailPath+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, DevMailPath, http.StatusFound)
	})
	mux.HandleFunc("GET "+DevMailPath+"/devmail.css", d.style)
	mux.HandleFunc("GET "+DevMailPath+"/mails.json", d.json)
	mux.HandleFunc("GET "+DevMailPath+"/{id}", d.mail)
	mux.HandleFunc("GET "+DevMailPath+"/{id}/html", d.htmlPart)
	mux.HandleFunc("GET "+DevMailPath+"/{id}/text", d.textPart)
	d.mux = mux
	return d, nil
}

// devMail is the handler that DevMail returns. It is safe for concurrent use.
type devMail struct {
	inbox       *mailer.DevInbox
	appName     string
	allowRemote bool
	publicHost  string // lower case; "" for none
	playground  string
	tmpl        *template.Template
	css         []byte
	mux         *http.ServeMux
}

func (d *devMail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	// Only the inbox's own pages read it: no other origin, even a loopback one that the
	// API's CORS policy lets in during development.
	h.Del("Access-Control-Allow-Origin")
	h.Del("Access-Control-Allow-Credentials")
	if why := devMailRefusal(r, d.allowRemote, d.publicHost); why != "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintln(w, why)
		return
	}
	d.mux.ServeHTTP(w, r)
}

// devMailProxyHeaders are the headers by which a proxy says it forwards someone else:
// the standard ones, and those that common proxies and CDNs add by default. A proxy on
// this machine that adds none of them cannot be told from a local client (docs/security.md
// says so).
var devMailProxyHeaders = []string{
	"Forwarded", "Via", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
	"X-Forwarded-Server", "X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip",
}

// devMailRefusal returns why r may not read the inbox, in one line, or "" when it may.
//
// The Host header, always: an IP address, "localhost" or a name under .localhost, or the
// public URL's host name. A page of another site whose name the attacker points at this
// machine (DNS rebinding) would otherwise read the links through the developer's browser:
// its requests carry the attacker's name. An IP address cannot be rebound, nor can
// .localhost (browsers resolve it themselves), and the public host is the operator's.
//
// Unless allowRemote: the TCP peer must be a loopback address, and the request must carry
// no proxy header (a proxy on this machine would make every client look local).
func devMailRefusal(r *http.Request, allowRemote bool, publicHost string) string {
	if !devMailHostOK(r.Host, publicHost) {
		also := ""
		if publicHost != "" {
			also = " or " + publicHost
		}
		return fmt.Sprintf("dev inbox: refused for Host %q: open it as localhost, an IP address%s "+
			"(a page of another site must not read its links through your browser; --dev-inbox-remote does not change this)",
			r.Host, also)
	}
	if allowRemote {
		return ""
	}
	for _, name := range devMailProxyHeaders {
		if r.Header.Get(name) != "" {
			return "dev inbox: refused: the request came through a proxy (" + name + "), and the inbox answers " +
				"only this machine's own clients; start with --dev-inbox-remote=yes to show live links to others"
		}
	}
	if !devMailLoopbackPeer(r.RemoteAddr) {
		return "dev inbox: refused: only this machine's clients (loopback) may read it; " +
			"start with --dev-inbox-remote=yes to show live links to others"
	}
	return ""
}

// devMailHostOK reports whether a Host header names this machine in a way that a page of
// another site cannot borrow (see devMailRefusal).
func devMailHostOK(hostport, publicHost string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || (publicHost != "" && host == publicHost)
}

// devMailLoopbackPeer reports whether the TCP peer is a loopback address.
func devMailLoopbackPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// devMailView is one mail as the pages show it.
type devMailView struct {
	ID, To, Subject string
	At, AtFull      string // local time: "15:04:05", "2006-01-02 15:04:05 MST"
	Links           []string
	HasText         bool
	HasHTML         bool
	Text            []devMailSpan // the text part, its URLs apart
}

// devMailSpan is a piece of a text part: a URL (Link) or plain text.
type devMailSpan struct {
	Text string
	Link bool
}

func newDevMailView(m mailer.DevMail, withText bool) devMailView {
	at := m.At.Local()
	v := devMailView{
		ID: m.ID, To: m.To, Subject: m.Subject,
		At: at.Format("15:04:05"), AtFull: at.Format("2006-01-02 15:04:05 MST"),
		Links: m.Links, HasText: m.Text != "", HasHTML: m.HTML != "",
	}
	if withText {
		v.Text = devMailSpans(m.Text)
	}
	return v
}

// devMailSpans splits text at its URLs (mailer.LinkSpans, as the inbox found its links).
func devMailSpans(text string) []devMailSpan {
	var out []devMailSpan
	last := 0
	for _, s := range mailer.LinkSpans(text) {
		if s[0] > last {
			out = append(out, devMailSpan{Text: text[last:s[0]]})
		}
		out = append(out, devMailSpan{Text: text[s[0]:s[1]], Link: true})
		last = s[1]
	}
	if last < len(text) {
		out = append(out, devMailSpan{Text: text[last:]})
	}
	return out
}

// devMailPage is what the templates are executed with.
type devMailPage struct {
	AppName    string
	Playground string
	Max        int           // how many mails the inbox keeps
	Sandbox    string        // the HTML part's iframe's sandbox attribute
	Mails      []devMailView // the list
	Mail       devMailView   // one mail
}

func (d *devMail) render(w http.ResponseWriter, r *http.Request, name string, data devMailPage) {
	data.AppName, data.Playground, data.Max, data.Sandbox = d.appName, d.playground, d.inbox.Max(), devMailSandbox
	var buf bytes.Buffer
	if err := d.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "dev inbox: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", devMailCSP)
	h.Set("X-Frame-Options", "DENY")
	writeBody(w, r, buf.Bytes())
}

func (d *devMail) list(w http.ResponseWriter, r *http.Request) {
	mails := d.inbox.Mails()
	views := make([]devMailView, len(mails))
	for i, m := range mails {
		views[i] = newDevMailView(m, false)
	}
	d.render(w, r, "list.html", devMailPage{Mails: views})
}

// devMailJSON is one mail in the JSON view: what a script needs to follow its links.
type devMailJSON struct {
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Links   []string  `json:"links"`
	Text    string    `json:"text"`
}

// json answers the mails as {"mails": [...]}, newest first, for scripts and tests that
// confirm an address without a browser (docs/examples/walkthrough.sh). ?to=ADDRESS keeps
// the mails to that address (compared case-insensitively, as addresses are stored
// lower-cased). The HTML parts are left out: the pages show them.
func (d *devMail) json(w http.ResponseWriter, r *http.Request) {
	to := strings.TrimSpace(r.URL.Query().Get("to"))
	out := struct {
		Mails []devMailJSON `json:"mails"`
	}{Mails: []devMailJSON{}}
	for _, m := range d.inbox.Mails() {
		if to != "" && !strings.EqualFold(m.To, to) {
			continue
		}
		links := m.Links
		if links == nil {
			links = []string{}
		}
		out.Mails = append(out.Mails, devMailJSON{ID: m.ID, At: m.At.UTC(), To: m.To, Subject: m.Subject, Links: links, Text: m.Text})
	}
	body, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "dev inbox: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	writeBody(w, r, append(body, '\n'))
}

// find returns the mail that the path's id names, or answers 404.
func (d *devMail) find(w http.ResponseWriter, r *http.Request) (mailer.DevMail, bool) {
	m, ok := d.inbox.Mail(r.PathValue("id"))
	if !ok {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, "dev inbox: no such mail (the inbox keeps the last mails in memory only: a restart empties it)")
	}
	return m, ok
}

func (d *devMail) mail(w http.ResponseWriter, r *http.Request) {
	if m, ok := d.find(w, r); ok {
		d.render(w, r, "mail.html", devMailPage{Mail: newDevMailView(m, true)})
	}
}

func (d *devMail) textPart(w http.ResponseWriter, r *http.Request) {
	m, ok := d.find(w, r)
	if !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	writeBody(w, r, []byte(m.Text))
}

// devMailHead finds a document's <head> tag, where devMailHTMLPrefix goes.
var devMailHead = regexp.MustCompile(`(?i)<head(?:\s[^>]*)?>`)

// devMailHTMLPrefix makes the links of a mail's HTML part open in a new tab (a link
// followed inside the frame would load a page that refuses to be framed) and sends no
// Referer.
const devMailHTMLPrefix = "\n<base target=\"_blank\">\n<meta name=\"referrer\" content=\"no-referrer\">\n"

func (d *devMail) htmlPart(w http.ResponseWriter, r *http.Request) {
	m, ok := d.find(w, r)
	if !ok {
		return
	}
	body := m.HTML
	if loc := devMailHead.FindStringIndex(body); loc != nil {
		body = body[:loc[1]] + devMailHTMLPrefix + body[loc[1]:]
	} else {
		body = devMailHTMLPrefix + body
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", DevMailHTMLCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN") // replaces the DENY that httpapi sets on every answer
	writeBody(w, r, []byte(body))
}

func (d *devMail) style(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	http.ServeContent(w, r, "devmail.css", time.Time{}, bytes.NewReader(d.css))
}
