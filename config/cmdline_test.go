package config

import (
	"bytes"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

// problemLines loads args and vars and returns the problems, one string each; the load
// must fail and must print nothing (only --help prints).
func problemLines(t *testing.T, args []string, vars map[string]string) []string {
	t.Helper()
	var out bytes.Buffer
	_, err := Load(args, env(vars), &out)
	if err == nil {
		t.Fatalf("Load(%q, %v): no problem", args, vars)
	}
	if errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(%q, %v): help", args, vars)
	}
	if out.Len() != 0 {
		t.Errorf("Load(%q, %v) printed:\n%s", args, vars, out.String())
	}
	var lines []string
	for _, e := range leaves(err) {
		lines = append(lines, e.Error())
	}
	return lines
}

// A value a flag refuses names the setting as written (flag or variable), the value and
// what is expected, on one line.
func TestBadValueMessages(t *testing.T) {
	for _, tc := range []struct {
		flag, value, want string // want follows "SETTING: "
	}{
		{"port", "abc", `"abc" is not a whole number (a TCP port, 0 to 65535)`},
		{"port", "99999999999999999999", `"99999999999999999999" is too large (a TCP port, 0 to 65535)`},
		{"smtp-port", "x", `"x" is not a whole number (a TCP port, 0 to 65535; 0 picks it from --smtp-tls)`},
		{"body-limit", "64k", `"64k" is not a whole number (bytes, 1024 at least)`},
		{"depth-limit", "many", `"many" is not a whole number`},
		{"argon2-time", "-1", `"-1" is not a whole number, 0 or more`},
		{"access-ttl", "forever", `"forever" is not a duration like 30s, 15m or 24h`},
		{"purge-interval", "10", `"10" is not a duration like 30s, 15m or 24h`},
		{"anojwt", "maybe", `"maybe" is not yes or no`},
		{"limit-ip-login", "30", `"30" is not N/window like 30/1m`},
		{"limit-ip-login", "x/1m", `"x/1m": N must be a positive whole number`},
		{"mode", "bogus", `"bogus" is not one of default, dev_email, preprod, production`},
		{"introspection", "sometimes", `"sometimes" is not yes or no`},
		{"log-level", "loud", `"loud" is not one of debug, info, warn, error`},
		{"store", "toktok.db", `"toktok.db" is not a store: write sqlite:toktok.db for a SQLite file, mongodb://HOST/DB for MongoDB, or leave it empty for the file in --data-dir`},
	} {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			c := Default()
			fs, _ := newFlagSet(&c)
			// -name value, or -name=value for a yes|no flag, whose value never follows a space.
			single := []string{"-" + tc.flag, tc.value}
			if isBoolFlag(fs.Lookup(tc.flag)) {
				single = []string{"-" + tc.flag + "=" + tc.value}
			}
			for _, form := range []struct {
				setting string
				args    []string
				vars    map[string]string
			}{
				{"--" + tc.flag, []string{"--" + tc.flag + "=" + tc.value}, nil},
				{"-" + tc.flag, single, nil},
				{EnvName(tc.flag), nil, map[string]string{EnvName(tc.flag): tc.value}},
			} {
				got := problemLines(t, form.args, form.vars)
				if want := form.setting + ": " + tc.want; !slices.Equal(got, []string{want}) {
					t.Errorf("%q %v:\n got %q\nwant %q", form.args, form.vars, got, want)
				}
			}
		})
	}
}

func TestCommandLineMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown flag with a typo", []string{"--prot=8080"}, []string{"--prot: unknown flag; did you mean --port?"}},
		{"unknown flag swapped letters", []string{"--data-dri=x"}, []string{"--data-dri: unknown flag; did you mean --data-dir?"}},
		{"unknown flag, a beginning", []string{"--data=x"}, []string{"--data: unknown flag; did you mean --data-dir?"}},
		{"unknown flag, a variable's name", []string{"--TOKTOK_PUBLIC_URL=https://a.example.com"}, []string{"--TOKTOK_PUBLIC_URL: unknown flag; did you mean --public-url?"}},
		{"unknown flag, underscores", []string{"-data_dir", "x"}, []string{"-data_dir: unknown flag; did you mean --data-dir?"}},
		{"unknown flag, nothing close", []string{"--frobnicate"}, []string{"--frobnicate: unknown flag"}},
		// The value after a space belongs to the mistake, even when it starts with a dash:
		// it is never echoed as a flag name (it may be a password).
		{"unknown flag, a dashed value", []string{"--smtp-pasword", "-Xy9secret"}, []string{"--smtp-pasword: unknown flag; did you mean --smtp-password?"}},
		{"missing value at the end", []string{"--port"}, []string{"--port: missing value; write --port=VALUE"}},
		{"missing value before a flag", []string{"--data-dir", "--port=0"}, []string{"--data-dir: missing value; write --data-dir=VALUE"}},
		{"a value starting with a dash is a value", []string{"--hash-wait", "-1s"}, []string{"--hash-wait: must not be negative"}},
		{"stray argument", []string{"serve"}, []string{`unexpected argument "serve": toktok takes only flags, like --port=8080`}},
		{"yes|no value after a space", []string{"--salt", "no"}, []string{`unexpected argument "no": a yes|no flag takes its value after '=': write --salt=no`}},
		{"after --", []string{"--", "--port=1"}, []string{`unexpected argument "--port=1": toktok takes only flags, like --port=8080`}},
		{"not a flag", []string{"---port=1"}, []string{`"---port=1" is not a flag: write --name=value`}},
		{"a lone dash", []string{"-"}, []string{`unexpected argument "-": toktok takes only flags, like --port=8080`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problemLines(t, tc.args, nil); !slices.Equal(got, tc.want) {
				t.Errorf("%q:\n got %q\nwant %q", tc.args, got, tc.want)
			}
		})
	}
}

// Every problem at once: the command line's, in the order of the arguments, then the
// variables', then the finishing's, then Validate's; a refused flag does not stop the
// reading of the next one.
func TestEveryProblemAtOnce(t *testing.T) {
	dir := t.TempDir()
	got := problemLines(t, []string{
		"--port=abc", "--prot=1", "--mode=bogus", "serve", "--access-ttl=1d", "-limit-ip-login", "5", "--log-level=loud", "--store=sqlite:" + dir + "/no/such/dir/x.db", "--depth-limit",
	}, map[string]string{
		"TOKTOK_ACCESS_TTL": "forever", "TOKTOK_ANOJWT": "maybe", "TOKTOK_LOG_FORMAT": "xml", "TOKTOK_PORT": "5000",
	})
	want := []string{
		`--port: "abc" is not a whole number (a TCP port, 0 to 65535)`,
		`--prot: unknown flag; did you mean --port?`,
		`unexpected argument "serve": toktok takes only flags, like --port=8080`,
		`--access-ttl: "1d" is not a duration like 30s, 15m or 24h`,
		`-limit-ip-login: "5" is not N/window like 30/1m`,
		`--depth-limit: missing value; write --depth-limit=VALUE`,
		// TOKTOK_ACCESS_TTL and TOKTOK_PORT lose to their flags, refused or not.
		`TOKTOK_ANOJWT: "maybe" is not yes or no`,
		`--mode: "bogus" is not one of default, dev_email, preprod, production`,
		`--store: the directory ` + dir + `/no/such/dir of sqlite:` + dir + `/no/such/dir/x.db does not exist (TokTok creates the file, not its directory)`,
		`--log-level: "loud" is not one of debug, info, warn, error`,
		`TOKTOK_LOG_FORMAT: "xml" is not text or json`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\n--- want:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Help wins over any problem, and is the only output.
func TestHelpWithProblems(t *testing.T) {
	for _, args := range [][]string{{"--port=abc", "--help"}, {"-h", "--nope"}, {"serve", "-help"}} {
		var out bytes.Buffer
		if _, err := Load(args, env(map[string]string{"TOKTOK_PORT": "x"}), &out); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: %v, want flag.ErrHelp", args, err)
		}
		if !strings.HasPrefix(out.String(), "Usage: toktok [flags]\n") {
			t.Errorf("%q: output %.80q", args, out.String())
		}
	}
}

// The spelling of the flag as written carries to the checks made after parsing.
func TestProblemsNameTheSettingAsWritten(t *testing.T) {
	got := problemLines(t, []string{"-mode=bogus", "-port=70000"}, map[string]string{"TOKTOK_LOG_LEVEL": "loud", "TOKTOK_DEV_INBOX": "yes", "TOKTOK_MAIL_SENDER": "smtp", "TOKTOK_SMTP_HOST": "h"})
	want := []string{
		`-mode: "bogus" is not one of default, dev_email, preprod, production`,
		`TOKTOK_DEV_INBOX=yes: the inbox shows the mails of the log sender, but --mail-sender=smtp sends them`,
		`-port: 70000 is not a TCP port`,
		`TOKTOK_LOG_LEVEL: "loud" is not one of debug, info, warn, error`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\n--- want:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSuggest(t *testing.T) {
	c := Default()
	fs, _ := newFlagSet(&c)
	for in, want := range map[string]string{
		"prot": "port", "PORT": "port", "hots": "host", "publc-url": "public-url", "jwt_alg": "jwt-alg",
		"TOKTOK_DATA_DIR": "data-dir", "allow-embedded": "allow-embedded-store",
		"x": "", "frobnicate": "", "smtp": "", "limit": "",
	} {
		if got := suggest(fs, in); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
