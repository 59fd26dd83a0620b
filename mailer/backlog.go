package mailer

import (
	"context"
	"time"
)

// The backlog watch. With the relay down (or refusing, or every worker stuck) requests
// keep succeeding and mails keep being queued: nothing fails that a user or a health
// check would see. The outbox's stats, read by the worker that should be draining it,
// are where that shows: a warning while the oldest pending mail is older than
// BacklogAge, repeated at most every BacklogEvery, and one line when it is over.

// backlogWatch is what Run remembers between two reads of the outbox's stats.
type backlogWatch struct {
	read   time.Time // when the stats were last read (the Worker's clock); zero before
	warned bool      // an "outbox backlog" warning was logged, and no "cleared" since
}

// watchBacklog reads the outbox's stats, unless it did less than BacklogEvery ago, and
// logs "outbox backlog" (warning: depth, oldest_age, due, failed) while the oldest
// pending mail has waited BacklogAge or more, then "outbox backlog cleared" (info) once,
// at the first read that finds it no longer so. Every instance's worker watches the same
// outbox, so each logs it: the lines carry the worker's ID. A failed read is logged and
// retried at the next BacklogEvery, like a read.
func (w *Worker) watchBacklog(ctx context.Context) {
	now := w.cfg.Now()
	b := &w.backlog
	// A clock that went back (another read is then due at once) is not a reason to
	// stay silent for as long as it went back.
	if since := now.Sub(b.read); !b.read.IsZero() && since >= 0 && since < w.cfg.BacklogEvery {
		return
	}
	b.read = now
	st, err := w.outbox.OutboxStats(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "outbox stats not read", "worker", w.cfg.ID, "err", err)
		}
		return
	}
	if w.cfg.OnStats != nil {
		w.cfg.OnStats(st, now)
	}
	age := st.OldestAge(now)
	switch {
	case st.Pending > 0 && age >= w.cfg.BacklogAge:
		b.warned = true
		w.log.WarnContext(ctx, "outbox backlog", "worker", w.cfg.ID,
			"depth", st.Pending, "oldest_age", age, "due", st.Due, "failed", st.Failed)
	case b.warned:
		b.warned = false
		w.log.InfoContext(ctx, "outbox backlog cleared", "worker", w.cfg.ID,
			"depth", st.Pending, "oldest_age", age, "failed", st.Failed)
	}
}
