package app

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

// LegacySource is the original service's users collection (store/mongodb.LegacySource).
type LegacySource interface {
	Name() string
	Estimate(ctx context.Context) (int64, error)
	Each(ctx context.Context, fn func(store.LegacyUser) error) error
}

// ImportOptions tune Admin.Import.
type ImportOptions struct {
	// DryRun checks every document and reports what an import would do, writing nothing.
	DryRun bool
	// Progress, when set, is called with the counts so far every Every (default 2 s)
	// while the import runs; never after Import returns.
	Progress func(ImportReport)
	Every    time.Duration
}

// ImportReport counts what an import did. Imported + AlreadyPresent + Skipped + Invalid
// = Read once the import is over.
type ImportReport struct {
	Source   string
	Estimate int64 // the source's document count when the import started (metadata)
	DryRun   bool
	Read     int
	Imported int // would be imported, in a dry run
	// AlreadyPresent: an account had the address already (an earlier import, or a
	// registration); it was left unchanged.
	AlreadyPresent int
	Skipped        int
	Invalid        int
	// Reasons groups the skipped and invalid documents, most frequent first.
	Reasons []ImportReason
	// UnconfirmedExpired counts the accounts imported unconfirmed whose creation is older
	// than the server's --unconfirmed-ttl: its next purge deletes them. UnconfirmedTTL is
	// that setting (0: such accounts are kept).
	UnconfirmedExpired int
	UnconfirmedTTL     time.Duration
	// Hashes is what calibrating the wrapped hashes found, one entry per werkzeug method.
	Hashes  []password.WrapCost
	Elapsed time.Duration
}

// Changed reports whether the import created any account.
func (r ImportReport) Changed() bool { return r.Imported > 0 && !r.DryRun }

// ImportReason is one reason documents were skipped or refused.
type ImportReason struct {
	Skipped  bool // the document is not an account (else it is invalid)
	Reason   string
	Count    int
	Examples []string // the source _id of the first few documents
}

// DuplicateReason is the reason a document is skipped when an earlier one (in _id order)
// has the same address.
const DuplicateReason = "infos.email: the address of an earlier document"

type reasonKey struct {
	skipped bool
	reason  string
}

// maxExamples is how many source ids a reason lists.
const maxExamples = 5

// Import reads every document of src and imports it (account.Admin.ImportLegacy), running
// as many at once as the hashing allows. It stops at the first store error and returns
// it with the counts so far; documents that break a rule are counted, not errors. Running
// it again over the same collection imports nothing more: addresses already present are
// left as they are.
func (a *Admin) Import(ctx context.Context, src LegacySource, opts ImportOptions) (ImportReport, error) {
	tally := &importTally{
		start: time.Now(), wrapper: a.ops.Wrapper(), reasons: map[reasonKey]*ImportReason{},
		ttl: a.unconfirmedTTL, now: a.now,
		rep: ImportReport{Source: src.Name(), DryRun: opts.DryRun, UnconfirmedTTL: a.unconfirmedTTL},
	}
	if n, err := src.Estimate(ctx); err == nil {
		tally.rep.Estimate = n
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	docs := make(chan store.LegacyUser)
	var wg sync.WaitGroup
	for range max(a.workers, 1) {
		wg.Go(func() {
			for lu := range docs {
				res, err := a.ops.ImportLegacy(ctx, tally.wrapper, lu, opts.DryRun)
				if err != nil {
					cancel(err)
					continue
				}
				tally.count(res, lu.SourceID)
			}
		})
	}
	stopProgress := reportProgress(opts, tally.snapshot)

	// Documents are dispatched in the source's _id order, and only the first of those that
	// share an address (the Flask service compared addresses with their case): which one
	// is imported does not depend on which worker is faster.
	seen := map[string]bool{}
	readErr := src.Each(ctx, func(lu store.LegacyUser) error {
		tally.read()
		if lu.Problem == "" && lu.Email != nil {
			if email, err := account.CanonicalEmail("infos.email", *lu.Email); err == nil {
				if seen[email] {
					tally.count(account.ImportResult{Outcome: account.Skipped, Reason: DuplicateReason}, lu.SourceID)
					return nil
				}
				seen[email] = true
			}
		}
		select {
		case docs <- lu:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(docs)
	wg.Wait()
	stopProgress()
	out := tally.snapshot()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return out, err
	}
	return out, readErr
}

// reportProgress calls opts.Progress with snapshot() every opts.Every until the returned
// function is called, which returns once no call is running.
func reportProgress(opts ImportOptions, snapshot func() ImportReport) (stop func()) {
	if opts.Progress == nil {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(cmp.Or(opts.Every, 2*time.Second))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				opts.Progress(snapshot())
			case <-quit:
				return
			}
		}
	}()
	return func() { close(quit); <-done }
}

// importTally counts an import's outcomes; safe for concurrent use.
type importTally struct {
	start   time.Time
	wrapper *password.Wrapper
	ttl     time.Duration
	now     func() time.Time

	mu      sync.Mutex
	rep     ImportReport
	reasons map[reasonKey]*ImportReason
}

func (t *importTally) read() {
	t.mu.Lock()
	t.rep.Read++
	t.mu.Unlock()
}

func (t *importTally) count(res account.ImportResult, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch res.Outcome {
	case account.Imported:
		t.rep.Imported++
		if u := res.User; !u.EmailConfirmed && t.ttl > 0 && u.CreatedAt.Before(t.now().Add(-t.ttl)) {
			t.rep.UnconfirmedExpired++
		}
	case account.AlreadyPresent:
		t.rep.AlreadyPresent++
	case account.Skipped, account.Invalid:
		key := reasonKey{skipped: res.Outcome == account.Skipped, reason: res.Reason}
		r := t.reasons[key]
		if r == nil {
			r = &ImportReason{Skipped: key.skipped, Reason: key.reason}
			t.reasons[key] = r
		}
		r.Count++
		if len(r.Examples) < maxExamples {
			r.Examples = append(r.Examples, id)
		}
		if key.skipped {
			t.rep.Skipped++
		} else {
			t.rep.Invalid++
		}
	}
}

// snapshot is the report so far, its reasons most frequent first.
func (t *importTally) snapshot() ImportReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rep
	r.Reasons = nil
	for _, x := range t.reasons {
		c := *x
		c.Examples = slices.Clone(x.Examples)
		r.Reasons = append(r.Reasons, c)
	}
	slices.SortFunc(r.Reasons, func(x, y ImportReason) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Reason, y.Reason))
	})
	r.Hashes = t.wrapper.Costs()
	r.Elapsed = time.Since(t.start)
	return r
}

// AdvisedFloor is the --hash-floor that hides the wrapped hashes whose check costs more
// than an ordinary one (password.WrapCost.Equal false): the slowest such check with a
// quarter more for the noise of a busy machine, rounded up to 5 ms. 0 when none is slower.
func AdvisedFloor(costs []password.WrapCost) time.Duration {
	var slowest time.Duration
	for _, c := range costs {
		if !c.Equal && c.Wrapped > c.Ordinary {
			slowest = max(slowest, c.Wrapped)
		}
	}
	if slowest == 0 {
		return 0
	}
	const step = 5 * time.Millisecond
	return (slowest*5/4 + step - 1) / step * step
}
