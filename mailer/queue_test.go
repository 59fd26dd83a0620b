package mailer

import (
	"bytes"
	"crypto/rand"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/testclock"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
)

// queueFixture is a Queue on a real SQLite outbox, with the parts a test inspects.
type queueFixture struct {
	q        *Queue
	store    *sqlite.Store
	sealer   *Sealer
	clock    *testclock.Clock
	notified atomic.Int32 // notify calls
	logs     *bytes.Buffer
}

// queueParts opens a SQLite store for the test (closed at its end) and the embedded
// templates' renderer.
func queueParts(t *testing.T) (*sqlite.Store, *Renderer) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "toktok.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	return st, r
}

func newQueueFixture(t *testing.T) *queueFixture {
	t.Helper()
	st, r := queueParts(t)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	sealer, err := NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	f := &queueFixture{store: st, sealer: sealer, clock: testclock.New(time.Time{}), logs: new(bytes.Buffer)}
	log := slog.New(slog.NewTextHandler(f.logs, nil))
	if f.q, err = NewQueue(st, r, sealer, func() { f.notified.Add(1) }, f.clock.Now, log); err != nil {
		t.Fatal(err)
	}
	return f
}

// claimAll takes every due mail from the outbox, as a worker would.
func (f *queueFixture) claimAll(t *testing.T) []store.Mail {
	t.Helper()
	now := f.clock.Now()
	mails, err := f.store.ClaimMails(t.Context(), "test", now, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	return mails
}

const queueSecret = "Zq3xS3cr3tT0k3nValue"

func resetRequest() Request {
	return Request{
		Kind: KindReset, To: "ann@example.com", Lang: "fr", UserID: "U1",
		Data: Data{AppName: "TokTok", Link: "https://app.example/reset#token=" + queueSecret, Email: "ann@example.com", ExpiresIn: time.Hour},
	}
}

func TestQueueSendStoresSealed(t *testing.T) {
	f := newQueueFixture(t)
	id, err := f.q.Send(t.Context(), resetRequest())
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Fatal("Send returned no id")
	}
	stored, err := f.store.MailByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.State != store.MailPending || stored.Kind != KindReset || stored.To != "ann@example.com" {
		t.Errorf("stored mail = state %q kind %q to %q", stored.State, stored.Kind, stored.To)
	}
	if !stored.CreatedAt.Equal(f.clock.Now()) || !stored.NextAttemptAt.Equal(f.clock.Now()) {
		t.Errorf("created %v, due %v; want both %v (the injected clock)", stored.CreatedAt, stored.NextAttemptAt, f.clock.Now())
	}
	for part, body := range map[string]string{"text": stored.Text, "html": stored.HTML} {
		if !strings.HasPrefix(body, sealedPrefix) {
			t.Errorf("stored %s body is not sealed: %.40q", part, body)
		}
		if strings.Contains(body, queueSecret) {
			t.Errorf("stored %s body holds the link token in clear", part)
		}
	}

	opened, err := f.sealer.Open(stored)
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.q.render.Render(KindReset, "fr", resetRequest().Data)
	if err != nil {
		t.Fatal(err)
	}
	if opened.Subject != want.Subject || opened.Text != want.Text || opened.HTML != want.HTML {
		t.Errorf("opened mail differs from the rendered one:\n got %q\nwant %q", opened.Text, want.Text)
	}
	if !strings.Contains(opened.Text, queueSecret) {
		t.Errorf("opened text lacks the link: %q", opened.Text)
	}

	if n := f.notified.Load(); n != 1 {
		t.Errorf("notify called %d times, want 1", n)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "mail queued") || !strings.Contains(logs, id) || !strings.Contains(logs, "user=U1") {
		t.Errorf("log lacks the queued line: %s", logs)
	}
	if strings.Contains(logs, queueSecret) {
		t.Errorf("log holds the link token: %s", logs)
	}
	if got := f.claimAll(t); len(got) != 1 || got[0].ID != id {
		t.Errorf("claimed %d mails, want the one queued", len(got))
	}
}

func TestQueueSendRefusesAndStoresNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Request)
		want error
	}{
		{"unknown kind", func(r *Request) { r.Kind = "newsletter" }, ErrUnknownKind},
		{"header injection in the recipient", func(r *Request) { r.To = "ann@example.com\r\nBcc: eve@example.com" }, ErrUnsafeHeader},
		{"not an address", func(r *Request) { r.To = "Ann <ann@example.com>" }, ErrInvalidAddress},
		{"line break in a subject value", func(r *Request) { r.Kind, r.Data.AppName = KindConfirm, "TokTok\r\nBcc: eve@example.com" }, ErrUnsafeHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newQueueFixture(t)
			req := resetRequest()
			tc.edit(&req)
			id, err := f.q.Send(t.Context(), req)
			if !errors.Is(err, tc.want) || id != "" {
				t.Fatalf("Send = %q, %v; want %v", id, err, tc.want)
			}
			if got := f.claimAll(t); len(got) != 0 {
				t.Errorf("%d mails stored after a refused Send", len(got))
			}
			if n := f.notified.Load(); n != 0 {
				t.Errorf("notify called %d times for nothing queued", n)
			}
		})
	}
}

// A store failure is returned, and the worker is not woken for a mail that is not there.
func TestQueueSendStoreFailure(t *testing.T) {
	f := newQueueFixture(t)
	broken, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := broken.Close(); err != nil {
		t.Fatal(err)
	}
	f.q.outbox = broken
	if id, err := f.q.Send(t.Context(), resetRequest()); err == nil || id != "" {
		t.Fatalf("Send on a closed store = %q, %v; want an error", id, err)
	}
	if n := f.notified.Load(); n != 0 {
		t.Errorf("notify called %d times, want 0", n)
	}
}

func TestNewQueueRefusesMissingParts(t *testing.T) {
	st, r := queueParts(t)
	sealer, err := NewSealer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		outbox EnqueueStore
		r      *Renderer
		s      *Sealer
		want   string
	}{
		{"nil sealer", st, r, nil, "sealer"},
		{"nil renderer", st, nil, sealer, "renderer"},
		{"nil outbox", nil, r, sealer, "outbox"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := NewQueue(tc.outbox, tc.r, tc.s, nil, nil, nil)
			if err == nil || q != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewQueue = %v, %v; want an error about the %s", q, err, tc.want)
			}
		})
	}
	t.Run("optional parts default", func(t *testing.T) {
		q, err := NewQueue(st, r, sealer, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Send(t.Context(), resetRequest()); err != nil {
			t.Fatalf("Send without notify, clock or log: %v", err)
		}
	})
	t.Run("zero Queue", func(t *testing.T) {
		if _, err := new(Queue).Send(t.Context(), resetRequest()); err == nil {
			t.Fatal("a Queue not built by NewQueue sent a mail")
		}
	})
}
