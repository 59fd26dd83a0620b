package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store/sqlite"
)

// The admin subcommands: `toktok admin promote|create`, for a headless start (the first
// ADMIN without a browser or a mailbox) and for the day no ADMIN can sign in.

const adminUsage = `Usage:
  toktok admin promote --email ADDRESS [settings]
      Makes the account of ADDRESS an ADMIN and says what it was. An account that is
      one already is left as it is. Exit status 1 when no account has the address.

  toktok admin create --email ADDRESS [settings] < PASSWORD-FILE
      Creates an ADMIN account for ADDRESS, its address confirmed, with the password
      read from standard input: one line, refused when empty or weak (the policy of
      register: --password-min-length, --password-max-length, --app-name). Exit status
      1 when the address is registered or the password refused.

  toktok admin reset-mfa --email ADDRESS [settings]
      Removes every second factor (authenticator apps, passkeys) and recovery code of
      the account of ADDRESS and ends its sessions: the way back in for an ADMIN who
      lost them all. Exit status 1 when no account has the address.

The settings are the server's, as flags or TOKTOK_* variables (toktok --help lists them):
give the subcommand those of the server, above all where the store is (--store,
--store-database, --data-dir) and the password rules (--password-*, --argon2-*). No HTTP
server or mail worker starts, and no key is read or generated. Each change is recorded in
the audit log with the actor "cli".

MongoDB: the subcommands work while servers run on the database.
SQLite: the file is held by the server running on it, and the subcommands refuse to open
it then, naming that process: stop the server, run the subcommand, start the server.

Examples:
  toktok admin promote --email ann@example.com --store=mongodb://db.internal/toktok
  printf '%s\n' "$ADMIN_PASSWORD" | toktok admin create --email ann@example.com --data-dir=/var/lib/toktok
`

// maxPasswordLine bounds the line admin create reads: above any password the policy can
// allow (4096 code points of up to 4 bytes).
const maxPasswordLine = 4*4096 + 2

// runAdmin runs `toktok admin ARGS`: the subcommand, --email, then the server's settings.
func runAdmin(ctx context.Context, args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		_, _ = io.WriteString(stderr, adminUsage)
		return errors.New("admin: name a subcommand, promote, create or reset-mfa")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		_, _ = io.WriteString(stderr, adminUsage)
		return flag.ErrHelp
	case "promote", "create", "reset-mfa":
	default:
		return fmt.Errorf("admin: unknown subcommand %q: toktok admin --help lists them", sub)
	}
	email, rest, help, err := takeEmail(rest)
	if help {
		_, _ = io.WriteString(stderr, adminUsage)
		return flag.ErrHelp
	}
	if err == nil && email == "" {
		err = fmt.Errorf("--email is required: toktok admin %s --email ADDRESS", sub)
	}
	if err != nil {
		return fmt.Errorf("admin %s: %w", sub, err)
	}
	cfg, err := config.Load(rest, env, stderr)
	if err != nil {
		return configError{problems: problems(err)}
	}
	var pw string
	if sub == "create" {
		if pw, err = readPassword(stdin, stderr); err != nil {
			return fmt.Errorf("admin create: %w", err)
		}
	}
	adm, err := app.OpenAdmin(ctx, cfg, app.Options{Log: app.NewLogger(cfg.Log, stderr)})
	if err != nil {
		if errors.Is(err, sqlite.ErrLocked) {
			err = fmt.Errorf("%w\n  (a SQLite store is held by the server running on it: stop the server, run toktok admin, then start the server)", err)
		}
		return fmt.Errorf("admin %s: %w", sub, err)
	}
	defer adm.Close()
	switch sub {
	case "promote":
		err = adminPromote(ctx, adm, email, stdout)
	case "reset-mfa":
		err = adminResetMFA(ctx, adm, email, stdout)
	default:
		err = adminCreate(ctx, adm, email, pw, stdout)
	}
	if err != nil {
		return fmt.Errorf("admin %s: %w", sub, err)
	}
	return nil
}

// takeEmail takes --email (-email, =VALUE or VALUE after a space) out of args and returns
// the other arguments, for config.Load. help reports -h or --help.
func takeEmail(args []string) (email string, rest []string, help bool, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case a == "--":
			return email, append(rest, args[i:]...), help, err
		case !strings.HasPrefix(a, "-"):
			rest = append(rest, a)
		case name == "h" || name == "help":
			help = true
		case name == "email":
			if !hasValue {
				if i+1 == len(args) {
					return "", nil, help, errors.New("--email: missing value; write --email=ADDRESS")
				}
				i++
				value = args[i]
			}
			email = value
		default:
			rest = append(rest, a)
		}
	}
	return email, rest, help, nil
}

// readPassword reads the password of admin create: the first line of in, without its line
// end. When in is a terminal, stderr says what is expected.
func readPassword(in io.Reader, stderr io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(stderr, "Password for the new ADMIN, one line (it shows as you type; pipe it in to avoid that):")
		}
	}
	line, err := bufio.NewReader(io.LimitReader(in, maxPasswordLine+1)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	if len(line) > maxPasswordLine {
		return "", errors.New("the password line on standard input is too long")
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if pw == "" {
		return "", errors.New("no password on standard input: give it as one line, e.g. printf '%s\\n' \"$PASSWORD\" | toktok admin create --email ADDRESS")
	}
	return pw, nil
}

// adminPromote runs admin promote and prints what it did.
func adminPromote(ctx context.Context, adm *app.Admin, email string, stdout io.Writer) error {
	p, err := adm.Promote(ctx, email)
	if err != nil {
		return explain(err, email)
	}
	if p.Changed() {
		fmt.Fprintf(stdout, "%s is now ADMIN (was %s)\n", p.User.Email, p.From)
	} else {
		fmt.Fprintf(stdout, "%s is already ADMIN: nothing changed\n", p.User.Email)
	}
	if p.User.Disabled {
		fmt.Fprintf(stdout, "note: the account is disabled: it cannot sign in until it is enabled\n")
	}
	return nil
}

// adminCreate runs admin create and prints what it did.
func adminCreate(ctx context.Context, adm *app.Admin, email, pw string, stdout io.Writer) error {
	u, err := adm.Create(ctx, email, pw)
	if err != nil {
		return explain(err, email)
	}
	fmt.Fprintf(stdout, "created %s: ADMIN, address confirmed (id %s)\n", u.Email, u.ID)
	return nil
}

// adminResetMFA runs admin reset-mfa and prints what it did.
func adminResetMFA(ctx context.Context, adm *app.Admin, email string, stdout io.Writer) error {
	r, err := adm.ResetMFA(ctx, email)
	if err != nil {
		return explain(err, email)
	}
	fmt.Fprintf(stdout, "%s: removed %d second factor(s) and the recovery codes, ended %d session(s)\n", r.User.Email, r.Factors, r.Sessions)
	return nil
}

// explain words the account rules' refusals for the command line.
func explain(err error, email string) error {
	var e *account.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Code == account.CodeEmailTaken:
		return fmt.Errorf("%s is already registered: toktok admin promote --email %s makes it an ADMIN", strings.TrimSpace(email), strings.TrimSpace(email))
	case e.Code == account.CodeBadUserInput && len(e.Reasons) > 0:
		return fmt.Errorf("%s: %s", e.Message, strings.Join(e.Reasons, ", "))
	case e.Code == account.CodeBadUserInput && e.Field == "email":
		return fmt.Errorf("--email %q: %s", email, e.Message)
	}
	return fmt.Errorf("%s", e.Message)
}
