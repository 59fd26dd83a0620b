package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/toktok/toktok/graph"
	"github.com/toktok/toktok/httpapi"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/web"
)

func devInboxHandler(t *testing.T, cfg httpapi.Config, inbox *mailer.DevInbox) http.Handler {
	t.Helper()
	cfg.AppName, cfg.BodyLimit = "TokTok", 64<<10
	h, err := httpapi.New(cfg, httpapi.Deps{Schema: graph.NewExecutableSchema(graph.Config{}), DevInbox: inbox})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func devInboxGet(t *testing.T, h http.Handler, target, peer string, header http.Header) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr, req.Host = peer, "localhost:4100"
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

// TestDevInboxRoutes: /dev/mail exists only with an inbox; the routes answer with the
// inbox's headers over the ones every answer gets; remote access follows DevInboxRemote.
func TestDevInboxRoutes(t *testing.T) {
	const local = "127.0.0.1:50000"
	off := devInboxHandler(t, httpapi.Config{Playground: true}, nil)
	if res, _ := devInboxGet(t, off, "/dev/mail", local, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("without an inbox: GET /dev/mail answered %d, want 404", res.StatusCode)
	}
	if _, body := devInboxGet(t, off, "/playground", local, nil); strings.Contains(body, "/dev/mail") {
		t.Errorf("without an inbox, the IDE links to it:\n%s", body)
	}

	inbox := mailer.NewDevInbox(mailer.DevInboxConfig{Log: slog.New(slog.DiscardHandler)})
	env := mailer.Envelope{ID: "M1", To: "ann@example.com", Subject: "Confirm", Text: "http://localhost:4100/confirm-email#token=abc", HTML: "<p>hi</p>"}
	if err := inbox.Send(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	h := devInboxHandler(t, httpapi.Config{Playground: true, DevOrigins: true, PublicURL: "http://localhost:4100"}, inbox)
	res, body := devInboxGet(t, h, "/dev/mail", local, http.Header{"Origin": {"http://localhost:3000"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `href="http://localhost:4100/confirm-email#token=abc"`) ||
		!strings.Contains(body, `href="/playground"`) {
		t.Fatalf("GET /dev/mail: HTTP %d\n%s", res.StatusCode, body)
	}
	if _, pg := devInboxGet(t, h, "/playground", local, nil); !strings.Contains(pg, `href="/dev/mail"`) {
		t.Errorf("the IDE does not link to the inbox:\n%s", pg)
	}
	if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("list: X-Frame-Options %q, Cache-Control %q", res.Header.Get("X-Frame-Options"), res.Header.Get("Cache-Control"))
	}
	if acao := res.Header.Get("Access-Control-Allow-Origin"); acao != "" {
		t.Errorf("a loopback origin may read the inbox cross-origin: Access-Control-Allow-Origin %q", acao)
	}
	if res, _ := devInboxGet(t, h, "/healthz", local, http.Header{"Origin": {"http://localhost:3000"}}); res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Errorf("control: the API itself does not let the loopback origin in (%q)", res.Header.Get("Access-Control-Allow-Origin"))
	}
	res, _ = devInboxGet(t, h, "/dev/mail/M1/html", local, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") != web.DevMailHTMLCSP ||
		res.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("HTML part: HTTP %d, CSP %q, X-Frame-Options %q", res.StatusCode,
			res.Header.Get("Content-Security-Policy"), res.Header.Get("X-Frame-Options"))
	}
	if res, _ := devInboxGet(t, h, "/dev/mail/NOPE", local, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown mail: HTTP %d", res.StatusCode)
	}

	// Remote clients: refused by default, answered with DevInboxRemote.
	if res, body := devInboxGet(t, h, "/dev/mail", "192.168.1.20:50000", nil); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "--dev-inbox-remote") {
		t.Errorf("a LAN client: HTTP %d %q, want 403", res.StatusCode, body)
	}
	remote := devInboxHandler(t, httpapi.Config{DevInboxRemote: true, PublicURL: "http://localhost:4100"}, inbox)
	if res, body := devInboxGet(t, remote, "/dev/mail", "192.168.1.20:50000", nil); res.StatusCode != http.StatusOK || strings.Contains(body, "/playground") {
		t.Errorf("a LAN client with DevInboxRemote: HTTP %d\n%s", res.StatusCode, body)
	}
}
