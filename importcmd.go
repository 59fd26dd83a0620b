package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store/mongodb"
	"github.com/toktok/toktok/store/sqlite"
)

// `toktok import`: the accounts of the original Flask service, from its MongoDB users
// collection into the configured store.

const importUsage = `Usage:
  toktok import --from mongodb://HOST/DATABASE [--from-collection users] [--dry-run] [settings]

Imports the accounts of the original TokTok (the Python/Flask service) from its MongoDB
users collection into the store the settings name. Each document becomes an account with
its address, names, pseudo, language, u_data, creation date, login count, role
(admin: ADMIN, staff: STAFF, registred or guest: USER), confirmation (auth.conf_usr) and
disabling (auth.is_blacklisted). Users sign in with the password they had: the werkzeug
hash is kept, wrapped in argon2id so that checking it costs what any check costs, and it
is replaced by an ordinary argon2id hash at their first sign-in.

  --from URI              the original service's MongoDB, its database in the path
  --from-collection NAME  the users collection (default users)
  --dry-run               check every document and report, writing nothing

An address that has an account already is left as it is, so running the import again
changes nothing and says so. Documents that break a rule (an invalid address, a name too
long, a hash that is not werkzeug's, ...) are counted with the reason and their _id, and
skipped; fix them in the source and run the import again. The system robot user is
skipped. No password hash is ever printed. Progress goes to standard error every 2
seconds, the report to standard output.

The settings are the server's (toktok --help): above all the store (--store,
--store-database, --data-dir) and the hashing (--argon2-*). A SQLite store must not be
held by a running server; MongoDB works beside running servers.

Example:
  toktok import --from mongodb://old-db.internal/toktok --store=mongodb://db.internal/toktok
`

// runImport runs `toktok import ARGS`.
func runImport(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	own, rest, help, err := takeImportFlags(args)
	if help {
		_, _ = io.WriteString(stderr, importUsage)
		return flag.ErrHelp
	}
	if err == nil && own.from == "" {
		err = errors.New("--from is required: toktok import --from mongodb://HOST/DATABASE")
	}
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	cfg, err := config.Load(rest, env, stderr)
	if err != nil {
		return configError{problems: problems(err)}
	}
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	src, err := mongodb.OpenLegacy(openCtx, own.from, own.collection)
	cancel()
	if err != nil {
		return fmt.Errorf("import: the source: %w", err)
	}
	defer src.Close()
	adm, err := app.OpenAdmin(ctx, cfg, app.Options{Log: app.NewLogger(cfg.Log, stderr)})
	if err != nil {
		if errors.Is(err, sqlite.ErrLocked) {
			err = fmt.Errorf("%w\n  (a SQLite store is held by the server running on it: stop the server, run toktok import, then start the server)", err)
		}
		return fmt.Errorf("import: %w", err)
	}
	defer adm.Close()
	rep, err := adm.Import(ctx, src, app.ImportOptions{
		DryRun:   own.dryRun,
		Progress: func(r app.ImportReport) { fmt.Fprintln(stderr, progressLine(r)) },
	})
	printImportReport(stdout, rep)
	if err != nil {
		return fmt.Errorf("import stopped after %d documents: %w", rep.Read, err)
	}
	return nil
}

type importFlags struct {
	from, collection string
	dryRun           bool
}

// takeImportFlags takes the import's own flags out of args and returns the others, for
// config.Load. help reports -h or --help.
func takeImportFlags(args []string) (f importFlags, rest []string, help bool, err error) {
	f.collection = "users"
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if a == "--" {
			return f, append(rest, args[i:]...), help, nil
		}
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		switch name {
		case "h", "help":
			help = true
		case "dry-run":
			switch {
			case !hasValue, value == "yes", value == "true":
				f.dryRun = true
			case value == "no", value == "false":
				f.dryRun = false
			default:
				return f, nil, help, fmt.Errorf("--dry-run=%s: write --dry-run, or --dry-run=no", value)
			}
		case "from", "from-collection":
			if !hasValue {
				if i+1 == len(args) {
					return f, nil, help, fmt.Errorf("--%s: missing value", name)
				}
				i++
				value = args[i]
			}
			if name == "from" {
				f.from = value
			} else {
				f.collection = value
			}
		default:
			rest = append(rest, a)
		}
	}
	return f, rest, help, nil
}

func progressLine(r app.ImportReport) string {
	of := ""
	if r.Estimate > 0 {
		of = fmt.Sprintf(" of about %d", r.Estimate)
	}
	return fmt.Sprintf("import: %d%s documents read: %d imported, %d already present, %d skipped, %d invalid (%s)",
		r.Read, of, r.Imported, r.AlreadyPresent, r.Skipped, r.Invalid, r.Elapsed.Round(time.Second))
}

// printImportReport writes the report of an import (complete or stopped).
func printImportReport(w io.Writer, r app.ImportReport) {
	verb := "imported"
	if r.DryRun {
		verb = "would be imported"
	}
	fmt.Fprintf(w, "import from %s: %d documents read in %s\n", r.Source, r.Read, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  %-18s %d\n", verb, r.Imported)
	fmt.Fprintf(w, "  %-18s %d\n", "already present", r.AlreadyPresent)
	fmt.Fprintf(w, "  %-18s %d\n", "skipped", r.Skipped)
	fmt.Fprintf(w, "  %-18s %d\n", "invalid", r.Invalid)
	for _, skipped := range []bool{true, false} {
		title := "invalid (fix them in the source and run the import again):"
		if skipped {
			title = "skipped:"
		}
		printed := false
		for _, x := range r.Reasons {
			if x.Skipped != skipped {
				continue
			}
			if !printed {
				fmt.Fprintln(w, title)
				printed = true
			}
			ids := strings.Join(x.Examples, ", ")
			if x.Count > len(x.Examples) {
				ids += ", …"
			}
			fmt.Fprintf(w, "  %6d  %s (_id: %s)\n", x.Count, x.Reason, ids)
		}
	}
	if len(r.Hashes) > 0 {
		fmt.Fprintln(w, "password hashes, wrapped in argon2id so that a check costs what an ordinary one costs:")
		for _, h := range r.Hashes {
			fmt.Fprintf(w, "  %-22s %6d  werkzeug %s + argon2id m=%d KiB t=%d = %s (ordinary check %s)\n",
				h.Method, h.Count, ms(h.Legacy), h.Params.Memory, h.Params.Time, ms(h.Wrapped), ms(h.Ordinary))
		}
		if floor := app.AdvisedFloor(r.Hashes); floor > 0 {
			fmt.Fprintf(w, "note: a werkzeug method above costs about an ordinary check or more on this machine, so its\n"+
				"  accounts would be slower to check than the others (told apart by timing) until their first\n"+
				"  sign-in replaces the hash: start the servers with --hash-floor=%s (every check then lasts\n"+
				"  at least that long, waiting without holding CPU)\n", floor)
		}
	}
	if r.UnconfirmedExpired > 0 {
		fmt.Fprintf(w, "note: %d of these accounts are unconfirmed and were created more than --unconfirmed-ttl (%s) ago:\n"+
			"  the server's next purge deletes them; start it with --unconfirmed-ttl=0 to keep them\n", r.UnconfirmedExpired, r.UnconfirmedTTL)
	}
	switch {
	case r.DryRun:
		fmt.Fprintln(w, "dry run: nothing was written")
	case r.Imported == 0:
		fmt.Fprintln(w, "nothing changed: no account was created")
	}
}

// ms prints a duration in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
