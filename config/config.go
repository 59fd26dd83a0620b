// Package config holds TokTok's one typed configuration: every setting has a command-line
// flag and a TOKTOK_* environment variable, a default that lets `go run .` work on a bare
// machine, and a validation that reports every problem at once, so an operator fixes a
// broken deployment in one round instead of one error per restart.
//
// Each section of Config lives in its own file with everything about it: its type, its
// default, its flags, the normalisation those need once parsed, and its validation. This
// file only assembles them.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// Mode is the original service's --mode.
type Mode string

// The modes. Default and DevEmail are development modes: they generate missing keys and
// allow the embedded store; Preprod and Production refuse to start without them.
const (
	ModeDefault    Mode = "default"
	ModeDevEmail   Mode = "dev_email"
	ModePreprod    Mode = "preprod"
	ModeProduction Mode = "production"
)

// Dev reports whether m is a development mode.
func (m Mode) Dev() bool { return m == ModeDefault || m == ModeDevEmail }

// parseMode reads --mode, accepting the original service's short aliases in any case.
func parseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "default", "dev":
		return ModeDefault, nil
	case "dev_email":
		return ModeDevEmail, nil
	case "preprod":
		return ModePreprod, nil
	case "production", "prod":
		return ModeProduction, nil
	}
	return "", fmt.Errorf("--mode: %q is not one of default, dev_email, preprod, production", s)
}

// Config is the whole configuration. Each package receives only its own section.
type Config struct {
	Mode        Mode
	HTTP        HTTP
	Store       Store
	Token       Token
	Credentials Credentials
	Account     Account
	Password    Password
	Log         Log
	Mail        Mail
	Links       Links
	Limits      Limits
	MFA         MFA
}

// Default returns the configuration of `go run .` with nothing set.
func Default() Config {
	return Config{
		Mode:        ModeDefault,
		HTTP:        defaultHTTP(),
		Store:       defaultStore(),
		Token:       defaultToken(),
		Credentials: defaultCredentials(),
		Account:     defaultAccount(),
		Password:    defaultPassword(),
		Log:         defaultLog(),
		Mail:        defaultMail(),
		Links:       defaultLinks(),
		Limits:      defaultLimits(),
		MFA:         defaultMFA(),
	}
}

// EnvPrefix is prepended to a flag's upper-cased, underscored name to form its variable.
const EnvPrefix = "TOKTOK_"

// EnvName returns the environment variable of a flag: "public-url" -> "TOKTOK_PUBLIC_URL".
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load fills a Config from args (without the program name) and the environment (lookup,
// usually os.LookupEnv). A flag given on the command line wins over its variable. The
// returned Config is validated; the error joins every problem found (errors.Join, one
// problem per wrapped error, none of them joined further), in a fixed order:
//
//  1. the command line, in the order of the arguments: unknown flags, flags missing
//     their value, values a flag refuses, arguments that are not flags;
//  2. bad variables, by flag name (aliases last);
//  3. flags that mean nothing in the mode or list bad items (the finishing);
//  4. Validate's report, in its own order.
//
// Each problem names the setting as the operator wrote it: the flag as on the command
// line (--port, -port) or the variable (TOKTOK_PORT), with the value and what is
// expected. Nothing is printed then: the caller reports the problems. Usage is printed
// to out only when -h or --help is asked for, and flag.ErrHelp is returned.
//
// Load opens no file; Validate looks at the file system only to stat the directory of a
// SQLite file (see Store.validate).
func Load(args []string, lookup func(string) (string, bool), out io.Writer) (Config, error) {
	c := Default()
	fs, text := newFlagSet(&c)
	fs.SetOutput(out)
	fs.Usage = func() { usage(fs, out) }
	o := newOrigin()
	help, problems := parseArgs(fs, args, o)
	if help {
		fs.Usage()
		return c, flag.ErrHelp
	}
	problems = append(problems, applyEnv(fs, lookup, []flagAlias{saltAlias}, o)...)
	text.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { text.given[f.Name] = true })
	problems = append(problems, respell(text.finish(&c), o)...)
	problems = append(problems, respell(leaves(c.Validate()), o)...)
	if err := errors.Join(problems...); err != nil {
		return c, err
	}
	return c, nil
}

// leaves flattens a tree of errors.Join errors into its problems.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// pending is what the flags leave as text until every flag and variable is read:
// settings whose meaning depends on the mode, and lists whose items are checked one by
// one so that every bad item is reported.
type pending struct {
	mode       string
	http       httpText
	verifyKeys string
	saltPrev   string
	devInbox   string
	given      map[string]bool // the flags set on the command line or by a variable
}

// newFlagSet registers every flag of c, each defaulting to c's current value. Sections
// register in the order of the Config fields; the order does not show, since --help and
// the environment go through the flags sorted by name.
func newFlagSet(c *Config) (*flag.FlagSet, *pending) {
	fs := flag.NewFlagSet("toktok", flag.ContinueOnError)
	p := &pending{mode: string(c.Mode)}
	fs.StringVar(&p.mode, "mode", p.mode, "run mode: default | dev_email | preprod | production (aliases dev, prod)")
	c.HTTP.register(fs, &p.http)
	c.Store.register(fs)
	c.Token.register(fs, &p.verifyKeys)
	c.Credentials.register(fs, &p.saltPrev)
	c.Account.register(fs)
	c.Password.register(fs)
	c.Log.register(fs)
	c.Mail.register(fs, &p.devInbox)
	c.Links.register(fs)
	c.Limits.register(fs)
	c.MFA.register(fs)
	return fs, p
}

// finish turns the pending text into c's fields. The mode comes first because auto
// settings and the dev_email mail catcher follow it; HTTP comes before Token because
// the issuer defaults to the public URL in its final, trimmed form.
func (p *pending) finish(c *Config) []error {
	var errs []error
	if m, err := parseMode(p.mode); err != nil {
		errs = append(errs, err)
	} else {
		c.Mode = m
	}
	errs = append(errs, c.HTTP.finish(c.Mode, p.http)...)
	c.Token.finish(c.HTTP, p.verifyKeys)
	c.Credentials.finish(p.saltPrev)
	errs = append(errs, c.Mail.finish(c.Mode, p.devInbox, p.given)...)
	return errs
}

// Validate reports every problem of c at once (errors.Join), nil when there is none.
//
// The problems come in a fixed order, so that two runs on one configuration print the
// same report and a fix shows as a removed line: first each section's own rules, in the
// order of the Config fields (HTTP, Store, Token, Credentials, Account, Password, Log,
// Mail, Links, Limits, MFA), then, in preprod and production, what those modes demand of the
// sections, in the same order.
func (c Config) Validate() error {
	m := c.Mode
	p := slices.Concat(c.HTTP.validate(), c.Store.validate(), c.Token.validate(), c.Credentials.validate(),
		c.Account.validate(), c.Password.validate(), c.Log.validate(), c.Mail.validate(m),
		c.Links.validate(), c.Limits.validate(), c.MFA.validate())
	if !m.Dev() {
		// Production-like modes never run on material generated on the spot: instances
		// would disagree on keys, and a restart on a fresh disk would sign everyone out.
		// Nor on what would put link tokens or credentials where others can read them.
		p = slices.Concat(p, c.HTTP.production(m), c.Store.production(m), c.Token.production(m),
			c.Credentials.production(m), c.Password.production(m), c.Mail.production(m), c.Links.production(m))
	}
	return errors.Join(p...)
}

// problems collects a section's validation errors in the order its checks run.
type problems []error

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Errorf(format, a...)) }

// setting pairs a flag with its value, for the checks that apply alike to several flags.
// Such checks range over a slice of settings, never a map, so the report keeps one order.
type setting[T any] struct {
	flag  string
	value T
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	return u, err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// requireHTTPS refuses a plain-http URL in mode: links and tokens would cross the
// network in clear. An empty URL is left to the rules that require it.
func requireHTTPS(p *problems, mode Mode, s setting[string]) {
	if s.value != "" && !strings.HasPrefix(s.value, "https://") {
		p.add("%s: must be https in %s mode", s.flag, mode)
	}
}
