package observed_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/observed"
	"github.com/toktok/toktok/store/sqlite"
	"github.com/toktok/toktok/store/storetest"
)

// recorder is an Observer that keeps every call.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	errs  map[string][]error
}

// callKey marks the context Begin hands the call, to check the call runs with it.
type callKey struct{}

func (r *recorder) Begin(ctx context.Context, op string) (context.Context, func(error)) {
	return context.WithValue(ctx, callKey{}, op), func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls[op]++
		if err != nil {
			r.errs[op] = append(r.errs[op], err)
		}
	}
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, errs: map[string][]error{}}
}

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "toktok.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() }) // a second Close is a no-op
	return s
}

// TestConformance: a wrapped store is still a store: the whole conformance suite passes
// through the decorator (SessionUserStore included, which Wrap keeps).
func TestConformance(t *testing.T) {
	rec := newRecorder()
	storetest.Run(t, func(t *testing.T) store.Store { return observed.Wrap(open(t), rec) })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, op := range []string{"CreateUser", "UserByEmail", "AdvanceSessionWithUser", "SessionWithUser", "Hit", "PurgeExpired"} {
		if rec.calls[op] == 0 {
			t.Errorf("%s never observed", op)
		}
	}
}

// TestWrapObservesCallsAndErrors: each call is reported with its name and its error, the
// errors unchanged (errors.Is still sees the sentinel); Wrap keeps SessionUserStore.
func TestWrapObservesCallsAndErrors(t *testing.T) {
	rec := newRecorder()
	s := observed.Wrap(open(t), rec)
	if _, ok := s.(store.SessionUserStore); !ok {
		t.Fatal("Wrap dropped SessionUserStore of the SQLite store")
	}
	_, err := s.UserByID(t.Context(), "nobody")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByID: %v, want ErrNotFound", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rec.calls["UserByID"] != 1 || len(rec.errs["UserByID"]) != 1 || !errors.Is(rec.errs["UserByID"][0], store.ErrNotFound) {
		t.Errorf("UserByID observed %d times, errors %v", rec.calls["UserByID"], rec.errs["UserByID"])
	}
	if rec.calls["Ping"] != 1 || len(rec.errs["Ping"]) != 0 {
		t.Errorf("Ping observed %d times, errors %v", rec.calls["Ping"], rec.errs["Ping"])
	}
	if err := s.Close(); err != nil || rec.calls["Close"] != 1 {
		t.Errorf("Close: %v, observed %d", err, rec.calls["Close"])
	}
}
