package e2e

import (
	"sync"
	"testing"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
)

// sharedSQLite stands for several instances on one SQLite file, in this one process.
// Between processes the store's lock refuses a second TokTok on a file in use (several
// instances share MongoDB, not SQLite); the tests of what instances share (the outbox's
// claims, sessions, keys) still run on SQLite by giving each app of the test a handle on
// one open store. Each call of the returned function gives a handle for app.Options.Store
// whose Close gives it back; the last one closes the store, and a later call opens it
// again (a restart). With the suite on MongoDB, or a MongoDB cfg, it gives nil: launch
// then opens the test's MongoDB store, which instances share as they would in production.
func sharedSQLite(t testing.TB, cfg config.Config) func() store.Store {
	t.Helper()
	if cfg.Store.MongoDB() {
		return func() store.Store { return nil }
	}
	s := &sharedStore{t: t, path: cfg.Store.SQLitePath()}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.refs != 0 {
			t.Errorf("%s: %d handles of the shared store were never closed", s.path, s.refs)
		}
	})
	return s.handle
}

type sharedStore struct {
	t    testing.TB
	path string
	mu   sync.Mutex
	st   store.Store // nil while no handle is out
	refs int
}

func (s *sharedStore) handle() store.Store {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		st, err := sqlite.Open(s.t.Context(), s.path)
		if err != nil {
			s.t.Fatalf("open the shared store: %v", err)
		}
		s.st = st
	}
	s.refs++
	return &sharedHandle{Store: s.st, release: s.release}
}

func (s *sharedStore) release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	if s.refs > 0 {
		return nil
	}
	st := s.st
	s.st = nil
	return st.Close()
}

// sharedHandle is one app's share of a sharedStore: everything but Close is the store's.
type sharedHandle struct {
	store.Store
	once    sync.Once
	release func() error
}

func (h *sharedHandle) Close() error {
	var err error
	h.once.Do(func() { err = h.release() })
	return err
}
