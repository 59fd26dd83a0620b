package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestLockYield(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct{ held, want time.Duration }{
		{0, 1*ms + lockYieldSlack},
		{2 * ms, 2*ms + lockYieldSlack},
		{6 * ms, 5*ms + lockYieldSlack},
		{14 * ms, 10*ms + lockYieldSlack},
		{18 * ms, 15*ms + lockYieldSlack},
		{40 * ms, 20*ms + lockYieldSlack},
		{60 * ms, 25*ms + lockYieldSlack},
		{150 * ms, 50*ms + lockYieldSlack},
		{time.Second, 100*ms + lockYieldSlack},
	} {
		if got := lockYield(tc.held); got != tc.want {
			t.Errorf("lockYield(%v) = %v, want %v", tc.held, got, tc.want)
		}
	}
}

// A writer that starts waiting for the write lock during a purge-like loop (batches that
// hold it back to back, yieldLock between them) gets it in one of the first gaps, not when
// the loop ends: without the pause (purgeYields false) it only gets in if one of its
// busy-handler retries falls in the microseconds between two batches, and here waits for
// the whole loop.
func TestYieldLockLetsWaitingWriterIn(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	ctx := t.Context()
	const (
		batches = 10
		hold    = 20 * time.Millisecond
	)
	// With no other connection in use nobody waits: no pause.
	start := time.Now()
	if err := s.yieldLock(ctx, hold); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= lockYield(hold) {
		t.Errorf("yieldLock with no other connection in use paused %v", d)
	}

	var batch int // the batches done when the writer's write committed
	done := make(chan struct{})
	for i := range batches {
		tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO counters (key, count, reset_at) VALUES (?, 1, 0)`,
			fmt.Sprint("batch", i)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			go func() {
				defer close(done)
				if _, err := s.db.ExecContext(ctx, `INSERT INTO counters (key, count, reset_at) VALUES ('writer', 1, 0)`); err != nil {
					t.Errorf("writer: %v", err)
				}
			}()
		}
		time.Sleep(hold)
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := s.yieldLock(ctx, hold); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
			batch = i + 1
		default:
			continue
		}
		break
	}
	<-done
	// Its first retry after the first batch falls in the pause unless the machine delays
	// its timer more than lockYieldSlack; some margin for a loaded machine (-race).
	if batch == 0 || batch > 5 {
		t.Errorf("the waiting writer got the lock after %d batches of %d (0: after the loop), want at most 5", batch, batches)
	}
}
