// Command toktok-seed fills a SQLite file with a large, realistic TokTok database for
// benchmarks: N accounts (1 % unconfirmed, a few STAFF), 3 sessions, 1 link token,
// 1 counter, half a mail and 2 audit events each, a share of each already over, dated
// from now (store/sqlite.Seed). It writes with direct SQL, not through the API, so a
// million accounts take minutes, not the days argon2id would. Every account has the same
// password, hashed once with the server's argon2id parameters, so that logins against
// the seeded file cost what they cost in production.
//
//	go run ./cmd/toktok-seed -db /tmp/seed/toktok.db -users 1000000
//	go run . --data-dir=/tmp/seed --limit-ip-login=0 &
//	go run ./cmd/toktok-load -url http://127.0.0.1:4100 -op login -email-prefix seed -users 1000 ...
//
// Accounts are seed-0@example.com … seed-(N-1)@example.com (-prefix, -domain; toktok-load
// reads them with -email-prefix, -email-domain).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "toktok-seed:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("toktok-seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "the SQLite file to write (a server's --data-dir holds toktok.db)")
	users := fs.Int("users", 10000, "accounts")
	pw := fs.String("password", "correct horse battery staple", "every account's password")
	prefix := fs.String("prefix", "seed", "accounts are PREFIX-i@DOMAIN")
	domain := fs.String("domain", "example.com", "accounts are PREFIX-i@DOMAIN")
	force := fs.Bool("force", false, "replace an existing file")
	def := password.DefaultParams()
	mem := fs.Uint("argon2-memory", uint(def.Memory), "argon2id memory in KiB, as the server's --argon2-memory")
	passes := fs.Uint("argon2-time", uint(def.Time), "argon2id passes, as the server's --argon2-time")
	threads := fs.Uint("argon2-threads", uint(def.Threads), "argon2id lanes, as the server's --argon2-threads")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *db == "":
		return errors.New("-db is required")
	case *users < 1:
		return errors.New("-users must be at least 1")
	}
	if _, err := os.Stat(*db); err == nil && !*force {
		return fmt.Errorf("%s exists: give -force to replace it", *db)
	}
	p := password.Params{Memory: uint32(*mem), Time: uint32(*passes), Threads: uint8(*threads)}
	if err := p.Validate(); err != nil {
		return err
	}
	hash, err := password.New(p, 1).Hash(ctx, *pw)
	if err != nil {
		return err
	}
	start := time.Now()
	err = sqlite.Seed(ctx, *db, sqlite.SeedOptions{
		Users: *users, Now: time.Now(), PasswordHash: hash, EmailFormat: *prefix + "-%d@" + *domain,
		Log: func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	fi, err := os.Stat(*db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d accounts in %s: %s (%.1f MB)\n", *users, time.Since(start).Round(time.Second), *db, float64(fi.Size())/1e6)
	return nil
}
