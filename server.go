// Command toktok is TokTok, an authentication and user-management service for single-page
// apps: GraphQL at /graphql, JWKS at /.well-known/jwks.json. `go run .` serves it on
// localhost:4100 with an embedded SQLite store; `--help` lists every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/metrics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "toktok:", err)
		os.Exit(1) // a configuration refused, or a start that failed: never the usage
	}
}

// printVersion writes b as `toktok version` prints it: the module version, then the VCS
// revision (with "+modified" for a build from a changed tree) and the Go version when known.
func printVersion(w io.Writer, b metrics.Build) {
	line := "toktok " + b.Version
	if b.Revision != "" {
		line += " " + b.Revision
		if b.Modified {
			line += "+modified"
		}
	}
	if b.Go != "" {
		line += " " + b.Go
	}
	fmt.Fprintln(w, line)
}

// run loads the configuration, builds the app, and serves until ctx ends, then shuts down
// gracefully. ready, when not nil, receives the listening address. `toktok admin ...` runs
// an admin subcommand instead (admincmd.go), `toktok import ...` an import (importcmd.go),
// `toktok version` prints the version; none serves anything.
func run(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer, ready chan<- string) error {
	if len(args) > 0 && args[0] == "admin" {
		return runAdmin(ctx, args[1:], env, os.Stdin, stdout, stderr) // admincmd.go
	}
	if len(args) > 0 && args[0] == "import" {
		return runImport(ctx, args[1:], env, stdout, stderr) // importcmd.go
	}
	if len(args) > 0 && args[0] == "version" {
		printVersion(stdout, metrics.ReadBuild())
		return nil
	}
	cfg, err := config.Load(args, env, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "\nSubcommands: toktok admin promote|create makes ADMIN accounts (toktok admin --help);")
			fmt.Fprintln(stderr, "toktok import --from mongodb://HOST/DATABASE imports the original Flask service's users (toktok import --help);")
			fmt.Fprintln(stderr, "toktok version prints the module version and VCS revision of this binary.")
			return err
		}
		return configError{problems: problems(err)}
	}
	log := app.NewLogger(cfg.Log, stderr)
	a, err := app.New(ctx, cfg, app.Options{Log: log})
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", a.Addr())
	if err != nil {
		return err
	}
	// Print the configured host (localhost, say) with the port actually bound (--port=0).
	base := cfg.HTTP.LocalBase(ln.Addr().(*net.TCPAddr).Port)
	log.Info("TokTok is serving", "mode", cfg.Mode, "addr", ln.Addr().String(),
		"store", storeName(cfg), "salt", cfg.Credentials.Encrypt, "anojwt", cfg.Account.AnonJWT)
	fmt.Fprintf(stdout, "TokTok (%s mode) listening on %s\n  GraphQL: %s/graphql\n  JWKS:    %s/.well-known/jwks.json\n", cfg.Mode, base, base, base)
	if cfg.HTTP.Playground {
		fmt.Fprintf(stdout, "  IDE:     %s/playground\n", base)
	}
	if cfg.Mail.DevInbox {
		fmt.Fprintf(stdout, "  Mails:   %s/dev/mail (the dev inbox: mails are not sent in %s mode)\n", base, cfg.Mode)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	return a.Serve(ctx, ln)
}

// storeName says which store runs, without a MongoDB URI's credentials.
func storeName(cfg config.Config) string {
	if cfg.Store.MongoDB() {
		return "mongodb"
	}
	return "sqlite:" + cfg.Store.SQLitePath()
}

// configError is a refused configuration, printed by main after "toktok: " as
//
//	toktok: configuration has 2 problems:
//	  --port: "abc" is not a whole number (a TCP port, 0 to 65535)
//	  TOKTOK_MODE: "bogus" is not one of default, dev_email, preprod, production
//	toktok --help lists every setting.
//
// one problem a line, in config.Load's order, and no usage: the last line says where it is.
type configError struct{ problems []error }

func (e configError) Error() string {
	var b strings.Builder
	s := "s"
	if len(e.problems) == 1 {
		s = ""
	}
	fmt.Fprintf(&b, "configuration has %d problem%s:\n", len(e.problems), s)
	for _, p := range e.problems {
		b.WriteString("  " + strings.ReplaceAll(p.Error(), "\n", "\n    ") + "\n")
	}
	b.WriteString("toktok --help lists every setting.")
	return b.String()
}

func (e configError) Unwrap() []error { return e.problems }

// problems flattens config.Load's errors.Join into its problems.
func problems(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return []error{err}
}
