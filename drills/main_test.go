// Package drills runs TokTok's fault drills: the real binary, started as a child process
// on SQLite, is killed (SIGKILL) or stopped (SIGTERM) under load, and what it acknowledged
// before is checked afterwards through its API, its database and the mails an SMTP sink
// received. An in-process test cannot show any of this: what survives a process is a
// property of the process, the store's settings and the file system together.
//
// Every drill is bounded in time and stops every process and server it starts.
package drills

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for the read-only checks of a database

	"github.com/toktok/toktok/internal/testkit/proc"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
)

// toktokBin is the binary every drill runs, built once by TestMain.
var toktokBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "toktok-drills-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "drills:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if toktokBin, err = proc.Build(ctx, dir); err != nil {
			fmt.Fprintln(os.Stderr, "drills:", err)
			return 1
		}
		return m.Run()
	}())
}

// readyTimeout bounds a start: the first one generates the development keys.
const readyTimeout = 60 * time.Second

// drillArgs are the settings every drill runs with. Credentials travel in clear and need
// no anonymous token, so the drill's client stays small; argon2id is cheap (set by
// configuration, as an operator could) so the load is made of many operations rather
// than of hashing; every per-IP limit is raised, not disabled, since all requests come
// from 127.0.0.1 and the counters are part of the work a request does; the refresh grace
// is off, so a refresh token works exactly once; mails go to sink, polled often.
func drillArgs(dataDir string, sink *smtpsink.Sink, extra ...string) []string {
	const many = "1000000/1m"
	args := []string{
		"--data-dir=" + dataDir,
		"--log-level=warn",
		"--salt=no", "--anojwt=no",
		"--argon2-memory=64", "--argon2-time=1",
		"--limit-ip-login=" + many, "--limit-ip-register=" + many,
		"--limit-ip-forgot-password=" + many, "--limit-ip-anonymous-token=" + many,
		"--limit-ip-email-links=" + many, "--limit-reset-mails=" + many,
		"--limit-login-failures=" + many,
		"--refresh-grace=0",
		"--mail-sender=smtp", "--smtp-host=" + sink.Host(), "--smtp-port=" + strconv.Itoa(sink.Port()),
		"--smtp-tls=none", "--mail-from=TokTok drills <no-reply@drills.example>",
		"--mail-poll-interval=100ms",
	}
	return append(args, extra...) // a flag given twice takes its last value
}

// startToktok starts the binary and waits until it is ready.
func startToktok(t *testing.T, args []string) *proc.Process {
	t.Helper()
	p := proc.Start(t, toktokBin, proc.Options{Args: args})
	if err := p.WaitReady(readyTimeout); err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	return p
}

// stopGracefully sends SIGTERM and fails t unless the process exits 0 within timeout.
func stopGracefully(t *testing.T, p *proc.Process, timeout time.Duration) {
	t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	code, ok := p.Wait(timeout)
	if !ok {
		t.Fatalf("still running %s after SIGTERM\n%s", timeout, p.Output())
	}
	if code != 0 {
		t.Fatalf("exit status %d after SIGTERM\n%s", code, p.Output())
	}
}

// noAnswer is the code of a request that got no complete answer (refused, reset, cut):
// the server may or may not have carried it out.
const noAnswer = "NO_ANSWER"

// gqlClient speaks GraphQL over HTTP to one process, as an SPA does.
type gqlClient struct {
	endpoint string
	hc       *http.Client
}

// newClient returns a client of baseURL whose idle connections are closed when t ends.
// keepAlive false opens a connection per request.
func newClient(t *testing.T, baseURL string, keepAlive bool) *gqlClient {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
		DisableKeepAlives:   !keepAlive,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &gqlClient{endpoint: baseURL + "/graphql", hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// do sends one operation and decodes its data into out. code is "" on success, noAnswer
// when no complete answer came back, else the first GraphQL error's code (or HTTP_<n>,
// BAD_RESPONSE); err says more.
func (c *gqlClient) do(ctx context.Context, bearer, query string, vars map[string]any, out any) (code string, err error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return "CLIENT", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return "CLIENT", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return noAnswer, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return noAnswer, err
	}
	return decodeAnswer(resp.StatusCode, raw, out)
}

// decodeAnswer reads a complete GraphQL-over-HTTP answer.
func decodeAnswer(status int, raw []byte, out any) (string, error) {
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		if status != http.StatusOK {
			return "HTTP_" + strconv.Itoa(status), fmt.Errorf("HTTP %d: %.200s", status, raw)
		}
		return "BAD_RESPONSE", fmt.Errorf("%w: %.200s", err, raw)
	}
	if len(r.Errors) > 0 {
		code := r.Errors[0].Extensions.Code
		if code == "" {
			code = "NO_CODE"
		}
		return code, errors.New(r.Errors[0].Message)
	}
	if status != http.StatusOK {
		return "HTTP_" + strconv.Itoa(status), fmt.Errorf("HTTP %d: %.200s", status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			return "BAD_RESPONSE", err
		}
	}
	return "", nil
}

// authPayload is the part of an AuthPayload the drills keep.
type authPayload struct {
	AccessToken  string
	RefreshToken string
	User         struct{ ID string }
}

const payloadFields = `{ accessToken refreshToken user { id } }`

func (c *gqlClient) register(ctx context.Context, email, pw string) (authPayload, string, error) {
	var d struct{ Register authPayload }
	code, err := c.do(ctx, "", `mutation($in: RegisterInput!) { register(input: $in) `+payloadFields+` }`,
		map[string]any{"in": map[string]any{"email": email, "password": pw}}, &d)
	return d.Register, code, err
}

func (c *gqlClient) login(ctx context.Context, email, pw string) (authPayload, string, error) {
	var d struct{ Login authPayload }
	code, err := c.do(ctx, "", `mutation($in: LoginInput!) { login(input: $in) `+payloadFields+` }`,
		map[string]any{"in": map[string]any{"email": email, "password": pw}}, &d)
	return d.Login, code, err
}

func (c *gqlClient) refresh(ctx context.Context, rt string) (authPayload, string, error) {
	var d struct{ RefreshToken authPayload }
	code, err := c.do(ctx, "", `mutation($rt: String!) { refreshToken(refreshToken: $rt) `+payloadFields+` }`,
		map[string]any{"rt": rt}, &d)
	return d.RefreshToken, code, err
}

func (c *gqlClient) changePassword(ctx context.Context, access, current, next string) (authPayload, string, error) {
	var d struct{ ChangePassword authPayload }
	code, err := c.do(ctx, access, `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) `+payloadFields+` }`,
		map[string]any{"c": current, "n": next}, &d)
	return d.ChangePassword, code, err
}

func (c *gqlClient) forgotPassword(ctx context.Context, email string) (string, error) {
	var d struct{ ForgotPassword bool }
	code, err := c.do(ctx, "", `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": email}, &d)
	if code == "" && !d.ForgotPassword {
		return "FALSE", errors.New("forgotPassword answered false")
	}
	return code, err
}

// me returns the id of the user the access token signs in, "" for none.
func (c *gqlClient) me(ctx context.Context, access string) (string, string, error) {
	var d struct{ Me *struct{ ID string } }
	code, err := c.do(ctx, access, `{ me { id } }`, nil, &d)
	if code != "" || d.Me == nil {
		return "", code, err
	}
	return d.Me.ID, "", nil
}

// dbPath is the SQLite file of a data directory.
func dbPath(dataDir string) string { return filepath.Join(dataDir, "toktok.db") }

// openReadOnly opens the database read only: a WAL left by a crash is read as the next
// start reads it, and is not checkpointed away by the check.
func openReadOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s read only: %v", path, err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// checkDatabase fails t unless SQLite's own checks pass on the database at path:
// integrity_check (every page, index and constraint) and foreign_key_check.
func checkDatabase(t *testing.T, path string) {
	t.Helper()
	db := openReadOnly(t, path)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), "PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	var res []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("integrity_check: %v", err)
		}
		res = append(res, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if len(res) != 1 || res[0] != "ok" {
		t.Fatalf("integrity_check of %s: %q", path, res)
	}
	rows, err = db.QueryContext(t.Context(), "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	bad := rows.Next()
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	if bad {
		t.Fatalf("foreign_key_check of %s: violations", path)
	}
}

// waitOutboxDrained waits, up to timeout, until the running process has no pending mail
// left, reading its database read only meanwhile (polling another process: there is
// nothing to wait on).
func waitOutboxDrained(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	db := openReadOnly(t, path)
	defer db.Close()
	deadline := time.Now().Add(timeout)
	for {
		var n int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM mails WHERE state = 'pending'`).Scan(&n)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained after %s: %d pending (err %v)", timeout, n, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// delivery is what the sink received of one outbox mail.
type delivery struct {
	count int
	to    []string
}

// takeDeliveries moves every message the sink holds into got, by Message-ID local part
// (the outbox mail's id, which a resent mail keeps).
func takeDeliveries(t *testing.T, sink *smtpsink.Sink, got map[string]*delivery) {
	t.Helper()
	for sink.Pending() > 0 {
		m, err := sink.Receive(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if m.ParseErr != nil {
			t.Errorf("unparsable mail to %v: %v", m.To, m.ParseErr)
			continue
		}
		id := messageIDLocal(m.Header.Get("Message-Id"))
		if id == "" {
			t.Errorf("mail %q to %v has no Message-ID", m.Subject, m.To)
			continue
		}
		d := got[id]
		if d == nil {
			d = &delivery{}
			got[id] = d
		}
		d.count++
		d.to = append(d.to, m.To...)
	}
}

// messageIDLocal is the local part of "<local@domain>".
func messageIDLocal(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h), "<"), ">")
	local, _, _ := strings.Cut(h, "@")
	return local
}

// outboxBatch is how many mails the outbox worker claims, and so may be sending, at once
// (mailer.WorkerConfig's default Batch, which the binary does not change).
const outboxBatch = 10

// checkOutbox compares the outbox of a stopped process, for the mails to addrs, with what
// the sink received (got, by Message-ID), and returns how many mails were delivered twice.
// Every mail must be recorded sent, have reached the sink under its Message-ID and to its
// recipient, and no more often than it was claimed (Attempts): delivery is at least once
// (mailer/doc.go), and a second delivery needs a second claim, which only follows a send
// whose outcome was not recorded. Every message the sink received must be an outbox mail.
// perAddr, when not nil, adds the caller's checks of one address's mails.
func checkOutbox(t *testing.T, path string, addrs []string, got map[string]*delivery, perAddr func(addr string, mails []store.Mail) []string) (resent int) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var problems []string
	seen := map[string]bool{}
	for _, addr := range addrs {
		mails, err := st.MailsTo(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if perAddr != nil {
			problems = append(problems, perAddr(addr, mails)...)
		}
		for _, m := range mails {
			seen[m.ID] = true
			d := got[m.ID]
			switch {
			case m.State != store.MailSent:
				problems = append(problems, fmt.Sprintf("mail %s (%s to %s) is %s: %s", m.ID, m.Kind, m.To, m.State, m.LastError))
			case d == nil:
				problems = append(problems, fmt.Sprintf("mail %s (%s to %s) is recorded sent but never reached the sink", m.ID, m.Kind, m.To))
			case d.count > m.Attempts:
				problems = append(problems, fmt.Sprintf("mail %s (%s) delivered %d times in %d attempts", m.ID, m.Kind, d.count, m.Attempts))
			case d.count > 1:
				resent++
			}
			if d != nil && (len(d.to) != d.count || d.to[0] != m.To) {
				problems = append(problems, fmt.Sprintf("mail %s delivered to %v, queued to %s", m.ID, d.to, m.To))
			}
		}
	}
	for id, d := range got {
		if !seen[id] {
			problems = append(problems, fmt.Sprintf("the sink received %d mails with Message-ID %s to %v, which no outbox mail has", d.count, id, d.to))
		}
	}
	t.Logf("mails: %d in the outbox; %d of them delivered twice", len(seen), resent)
	if len(seen) == 0 {
		t.Error("no mail was queued: the drill did not exercise the outbox")
	}
	reportProblems(t, "outbox and sink", problems)
	return resent
}

// reportProblems fails t with the first problems found and their number.
func reportProblems(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) == 0 {
		return
	}
	shown := problems[:min(len(problems), 25)]
	t.Errorf("%s: %d problems:\n  %s", what, len(problems), strings.Join(shown, "\n  "))
}
