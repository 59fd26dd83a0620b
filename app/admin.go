package app

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

// Admin is what the command's `toktok admin` subcommands run on: the configured store and
// the account rules' command-line operations (account.Admin), built from the same settings
// as the server, and nothing else. No HTTP server, outbox worker or purge loop runs, and no
// key is loaded or generated: the operations sign nobody in and send no mail.
//
// It opens the store as the server does. A SQLite file is locked by the TokTok that holds
// it, so while a server runs on it OpenAdmin fails with the lock's message (sqlite.ErrLocked);
// MongoDB is shared, and OpenAdmin works beside running servers.
type Admin struct {
	store   store.Store
	ops     *account.Admin
	workers int // imports run this many documents at once
	// unconfirmedTTL is the server's --unconfirmed-ttl, for the import's warning.
	unconfirmedTTL time.Duration
	now            func() time.Time
}

// OpenAdmin opens the store of cfg (validated by config.Load) and builds the operations on
// its rules (password policy and hashing parameters). Of opts, Store, Now and Log are used
// (Store: instead of opening the configured one; Admin closes it either way). The caller
// owns Close.
func OpenAdmin(ctx context.Context, cfg config.Config, opts Options) (*Admin, error) {
	w := wire(cfg)
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := opts.Store
	if st == nil {
		var err error
		if st, err = openStore(ctx, w.Store, w.Keys.DataDir, log); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	ops := account.NewAdmin(w.Account, account.AdminDeps{
		Store: st, Hasher: password.New(w.Hash.Params, w.Hash.Concurrency), Now: opts.Now, Log: log,
	})
	workers := w.Hash.Concurrency
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	// Twice the hashing slots: while some wait on the store, the others keep every slot busy.
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Admin{store: st, ops: ops, workers: 2 * workers, unconfirmedTTL: w.Store.UnconfirmedTTL, now: now}, nil
}

// Promote makes the account of email an ADMIN (account.Admin.Promote).
func (a *Admin) Promote(ctx context.Context, email string) (account.Promotion, error) {
	return a.ops.Promote(ctx, email)
}

// Create creates a confirmed ADMIN account (account.Admin.Create).
func (a *Admin) Create(ctx context.Context, email, pw string) (store.User, error) {
	return a.ops.Create(ctx, email, pw)
}

// ResetMFA removes every second factor of the account of email (account.Admin.ResetMFA).
func (a *Admin) ResetMFA(ctx context.Context, email string) (account.MFAReset, error) {
	return a.ops.ResetMFA(ctx, email)
}

// Close closes the store.
func (a *Admin) Close() error { return a.store.Close() }
