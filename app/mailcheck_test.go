package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/deadport"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
	"github.com/toktok/toktok/mailer"
)

// mailConfig loads a development configuration with args added (cheap hashing, no RSA
// key to generate, a data dir of the test's own).
func mailConfig(t *testing.T, args ...string) config.Config {
	t.Helper()
	base := []string{"--data-dir=" + t.TempDir(), "--argon2-memory=64", "--argon2-time=1", "--salt=no"}
	cfg, err := config.Load(append(base, args...), func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// closedPort is a loopback port on which nothing listens, for as long as the test runs.
func closedPort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(deadport.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// smtpArgs point the configuration at a plain-text server on 127.0.0.1:port.
func smtpArgs(port int) []string {
	return []string{"--smtp-host=127.0.0.1", "--smtp-port=" + strconv.Itoa(port), "--smtp-tls=none"}
}

// startApp runs New and closes the App when the test ends.
func startApp(t *testing.T, cfg config.Config, opts Options) (*App, error) {
	t.Helper()
	a, err := New(t.Context(), cfg, opts)
	if err == nil {
		t.Cleanup(func() {
			if err := a.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	return a, err
}

// TestDevSMTPDownRefusesToStart: in the development modes, mails over SMTP with nothing
// listening end the start with what was tried (host:port) and the ways out: Mailpit, or
// mails to the log (--mode=default, or no --mail-sender=smtp).
func TestDevSMTPDownRefusesToStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"dev_email", []string{"--mode=dev_email"}, []string{"--mode=dev_email", "--mode=default", "/dev/mail"}},
		{"default with --mail-sender=smtp", []string{"--mail-sender=smtp"}, []string{"--mail-sender=smtp", "leave --mail-sender out", "/dev/mail"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := closedPort(t)
			addr := "127.0.0.1:" + strconv.Itoa(port)
			_, err := startApp(t, mailConfig(t, append(tc.args, smtpArgs(port)...)...), Options{})
			if err == nil {
				t.Fatalf("started with no SMTP server at %s", addr)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("the refused connection is not in the error's chain: %#v", err)
			}
			msg := err.Error()
			want := append([]string{
				"no SMTP server answers at " + addr, "connection refused",
				"Mailpit", "docker run -d --name mailpit -p 8025:8025 -p " + strconv.Itoa(port) + ":1025 axllent/mailpit",
				"mailpit --smtp " + addr, "http://localhost:8025",
			}, tc.want...)
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("the error does not say %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestDevSMTPUpStarts: with the server answering, the start goes on, and the check left
// no mail on it.
func TestDevSMTPUpStarts(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{})
	log := newRecordLog()
	if _, err := startApp(t, mailConfig(t, append([]string{"--mode=dev_email"}, smtpArgs(sink.Port())...)...), Options{Log: log.logger()}); err != nil {
		t.Fatalf("New with an SMTP server listening: %v", err)
	}
	if r := log.find("SMTP server answers"); r == nil || r.attrs["addr"] != sink.Addr() {
		t.Errorf("no info that the SMTP server answers: %+v", log.all())
	}
	if n := sink.Pending(); n != 0 {
		t.Errorf("the check left %d messages", n)
	}
}

// TestDevSMTPCheckAuthenticates: the check authenticates as a send would, so wrong
// credentials stop a development start too, saying what to check and never the password.
func TestDevSMTPCheckAuthenticates(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{Username: "mailer", Password: "right-Pw-1"})
	args := append([]string{"--mode=dev_email", "--smtp-username=mailer"}, smtpArgs(sink.Port())...)
	if _, err := startApp(t, mailConfig(t, append(args, "--smtp-password=right-Pw-1")...), Options{}); err != nil {
		t.Fatalf("New with the right credentials: %v", err)
	}
	_, err := startApp(t, mailConfig(t, append(args, "--smtp-password=wrong-Pw-2")...), Options{})
	if err == nil {
		t.Fatal("started with a wrong SMTP password")
	}
	msg := err.Error()
	for _, w := range []string{"the SMTP server at " + sink.Addr() + " answered", "535", "--smtp-username", "--mode=default"} {
		if !strings.Contains(msg, w) {
			t.Errorf("the error does not say %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "wrong-Pw-2") {
		t.Errorf("the error shows the password:\n%s", msg)
	}
}

// TestDevSMTPGivenSenderIsNotChecked: a Sender given in Options (tests) is the caller's;
// New checks only the sender it builds.
func TestDevSMTPGivenSenderIsNotChecked(t *testing.T) {
	cfg := mailConfig(t, append([]string{"--mode=dev_email"}, smtpArgs(closedPort(t))...)...)
	if _, err := startApp(t, cfg, Options{Sender: mailer.LogSender{Log: slog.New(slog.DiscardHandler)}}); err != nil {
		t.Fatalf("New with a given Sender: %v", err)
	}
}

// TestProductionSMTPDownStarts: in preprod and production a mail server that does not
// answer never stops the start; the check, in the background, logs a warning with the
// cause, or that the server answers.
func TestProductionSMTPDownStarts(t *testing.T) {
	for _, mode := range []config.Mode{config.ModePreprod, config.ModeProduction} {
		t.Run(string(mode), func(t *testing.T) {
			port := closedPort(t)
			// A development configuration in a production mode: what else production
			// requires (key files, HTTPS) is config's business, the mail check is New's.
			cfg := mailConfig(t, append([]string{"--mail-sender=smtp"}, smtpArgs(port)...)...)
			cfg.Mode = mode
			log := newRecordLog()
			if _, err := startApp(t, cfg, Options{Log: log.logger()}); err != nil {
				t.Fatalf("New in %s mode with the SMTP server down: %v", mode, err)
			}
			r := log.wait(t, "SMTP server check failed")
			if r.level != slog.LevelWarn || r.attrs["addr"] != "127.0.0.1:"+strconv.Itoa(port) || !strings.Contains(r.attrs["err"], "connection refused") {
				t.Errorf("the warning: %+v", r)
			}

			sink := smtpsink.New(t, smtpsink.Options{})
			cfg = mailConfig(t, append([]string{"--mail-sender=smtp"}, smtpArgs(sink.Port())...)...)
			cfg.Mode = mode
			log = newRecordLog()
			if _, err := startApp(t, cfg, Options{Log: log.logger()}); err != nil {
				t.Fatal(err)
			}
			if r := log.wait(t, "SMTP server answers"); r.level != slog.LevelInfo || r.attrs["addr"] != sink.Addr() {
				t.Errorf("the info: %+v", r)
			}
		})
	}
}

// recordLog keeps the records of a logger, for a test to wait for one.
type recordLog struct {
	mu      sync.Mutex
	records []logRecord
	changed chan struct{} // closed and replaced at each record
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newRecordLog() *recordLog { return &recordLog{changed: make(chan struct{})} }

func (l *recordLog) logger() *slog.Logger { return slog.New(recordHandler{l}) }

// find returns the first record whose message starts with prefix, nil if none.
func (l *recordLog) find(prefix string) *logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.records {
		if strings.HasPrefix(l.records[i].msg, prefix) {
			r := l.records[i]
			return &r
		}
	}
	return nil
}

func (l *recordLog) all() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logRecord(nil), l.records...)
}

// wait returns the first record whose message starts with prefix, waiting for it; it
// fails t after 10 s (a guard against a hanging test, not a synchronisation).
func (l *recordLog) wait(t *testing.T, prefix string) logRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		if r := l.find(prefix); r != nil {
			return *r
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no log record %q; got %+v", prefix, l.all())
		}
	}
}

type recordHandler struct{ l *recordLog }

func (recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	h.l.records = append(h.l.records, rec)
	close(h.l.changed)
	h.l.changed = make(chan struct{})
	return nil
}

func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }
