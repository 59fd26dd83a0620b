package mailer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/toktok/toktok/internal/testkit/testclock"
	"github.com/toktok/toktok/store"
)

// lineLog is a text log without times, safe for concurrent use, read line by line.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// take returns the lines logged since the last take.
func (l *lineLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSpace(l.buf.String())
	l.buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (l *lineLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// finish makes a mail final, as a worker's outcome would.
func (o *fakeOutbox) finish(id string, state store.MailState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails[id].State = state
}

func (o *fakeOutbox) setStatsErr(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.statsErr = err
}

// backlogMail is a pending mail queued at t0+created, due at t0+due.
func backlogMail(id string, created, due time.Duration) store.Mail {
	m := testMail(id)
	m.CreatedAt, m.NextAttemptAt = t0.Add(created), t0.Add(due)
	return m
}

// TestWorkerBacklogWatch walks the watch through a backlog's life on the test clock: the
// stats are read at most once a minute (a clock that went back reads at once); a warning
// with depth and oldest age is logged at each read while the oldest pending mail has
// waited a minute or more, never for a younger backlog; one info line when it is over;
// a failed read is logged.
func TestWorkerBacklogWatch(t *testing.T) {
	o := newFakeOutbox()
	c := testclock.New(t0)
	var log lineLog
	w := NewWorker(o, &fakeSender{}, WorkerConfig{ID: "w1", Now: c.Now}, log.logger())

	const (
		warn  = `level=WARN msg="outbox backlog" worker=w1 `
		clear = `level=INFO msg="outbox backlog cleared" worker=w1 `
	)
	for _, step := range []struct {
		name  string
		at    time.Duration // the clock, since t0
		do    func()
		reads int    // OutboxStats calls so far
		want  string // the line logged, "" for none
	}{
		{"first read, empty outbox", 0, nil, 1, ""},
		{"a mail queued; a read 59s after the last is too soon", 59 * time.Second,
			func() { o.add(backlogMail("m1", 0, 0)) }, 1, ""},
		{"a minute after the last read, m1 has waited a minute", time.Minute, nil, 2,
			warn + "depth=1 oldest_age=1m0s due=1 failed=0"},
		{"another mail, due later; no read half a minute on", 90 * time.Second,
			func() { o.add(backlogMail("m2", 90*time.Second, 5*time.Minute)) }, 2, ""},
		{"still backed up a minute on: warned again", 2 * time.Minute, nil, 3,
			warn + "depth=2 oldest_age=2m0s due=1 failed=0"},
		{"m1 sent: m2 is the oldest, and has waited 90s", 3 * time.Minute,
			func() { o.finish("m1", store.MailSent) }, 4, warn + "depth=1 oldest_age=1m30s due=0 failed=0"},
		{"m2 failed: the backlog is over", 4 * time.Minute,
			func() { o.finish("m2", store.MailFailed) }, 5, clear + "depth=0 oldest_age=0s failed=1"},
		{"empty again: said once", 5 * time.Minute, nil, 6, ""},
		{"a mail queued 30s ago is no backlog", 6 * time.Minute,
			func() { o.add(backlogMail("m3", 330*time.Second, 330*time.Second)) }, 7, ""},
		{"90s later it is", 7 * time.Minute, nil, 8, warn + "depth=1 oldest_age=1m30s due=1 failed=1"},
		{"a failed read is logged", 8 * time.Minute,
			func() { o.setStatsErr(store.ErrUnavailable) }, 9, `level=WARN msg="outbox stats not read" worker=w1 err="store: unavailable"`},
		{"and tried again a minute later only", 8*time.Minute + 59*time.Second,
			func() { o.setStatsErr(nil) }, 9, ""},
		{"the clock went back: read at once", 7*time.Minute + 30*time.Second, nil, 10,
			warn + "depth=1 oldest_age=2m0s due=1 failed=1"},
	} {
		t.Run(step.name, func(t *testing.T) {
			c.Set(t0.Add(step.at))
			if step.do != nil {
				step.do()
			}
			w.watchBacklog(t.Context())
			got := log.take()
			if n := o.statsReads(); n != step.reads {
				t.Errorf("%d stats reads, want %d", n, step.reads)
			}
			switch {
			case step.want == "" && len(got) > 0:
				t.Errorf("logged %q, want nothing", got)
			case step.want != "" && (len(got) != 1 || got[0] != step.want):
				t.Errorf("logged %q, want [%s]", got, step.want)
			}
		})
	}
}

// TestWorkerRunWatchesBacklog: Run itself watches the backlog. A mail the relay refuses
// while it has already waited two minutes is reported after the first round; once the
// relay takes it, the next read (a minute later) says the backlog is over.
func TestWorkerRunWatchesBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := dueMail("m1")
		m.CreatedAt = m.CreatedAt.Add(-2 * time.Minute)
		o := newFakeOutbox(m)
		var (
			mu    sync.Mutex
			relay = errors.New("relay down")
		)
		s := &fakeSender{fn: func(context.Context, Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			return relay
		}}
		var log lineLog
		w := NewWorker(o, s, WorkerConfig{ID: "w1", Jitter: func(d time.Duration) time.Duration { return d }}, log.logger())
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()

		synctest.Wait() // the first round is over; Run waits for the poll
		if got := backlogLines(log.take()); len(got) != 1 || got[0] != `level=WARN msg="outbox backlog" worker=w1 depth=1 oldest_age=2m0s due=0 failed=0` {
			t.Errorf("after the first round: %q, want one backlog warning", got)
		}

		mu.Lock()
		relay = nil
		mu.Unlock()
		// In the bubble, Sleep moves the fake clock once every goroutine is blocked: the
		// retry falls due after 30s, the next read comes a minute after the first.
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := backlogLines(log.take()); len(got) != 1 || got[0] != `level=INFO msg="outbox backlog cleared" worker=w1 depth=0 oldest_age=0s failed=0` {
			t.Errorf("a minute after the relay took the mail: %q, want the backlog cleared", got)
		}
		if st := o.get("m1"); st.State != store.MailSent || st.Attempts != 2 {
			t.Errorf("m1 %s after %d attempts, want sent after 2", st.State, st.Attempts)
		}
		cancel()
		<-done
	})
}

// backlogLines keeps the backlog watch's lines of a log.
func backlogLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, `msg="outbox backlog`) {
			out = append(out, l)
		}
	}
	return out
}
