package config

import (
	"bytes"
	"errors"
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRateFlagSet(t *testing.T) {
	sentinel := Rate{99, 99 * time.Second}
	for _, tc := range []struct {
		in      string
		want    Rate
		wantErr string // "" when in is valid
	}{
		{"30/1m", Rate{30, time.Minute}, ""},
		{"10/1h", Rate{10, time.Hour}, ""},
		{" 5 / 15m ", Rate{5, 15 * time.Minute}, ""},
		{"0", Rate{}, ""},
		{"off", Rate{}, ""},
		{"OFF", Rate{}, ""},
		{"30", sentinel, `"30" is not N/window like 30/1m`},
		{"x/1m", sentinel, `"x/1m": N must be a positive whole number`},
		{"0/1m", sentinel, `"0/1m": N must be a positive whole number`},
		{"-1/1m", sentinel, `"-1/1m": N must be a positive whole number`},
		{"5/0s", sentinel, `"5/0s": window must be a positive duration like 1m or 1h`},
		{"5/abc", sentinel, `"5/abc": window must be a positive duration like 1m or 1h`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r := sentinel
			err := rateFlag{&r}.Set(tc.in)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Set(%q): %v", tc.in, err)
			}
			if tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("Set(%q) = %v, want %q", tc.in, err, tc.wantErr)
			}
			// A refused value leaves the rate as it was.
			if r != tc.want {
				t.Errorf("Set(%q) gives %#v, want %#v", tc.in, r, tc.want)
			}
		})
	}
}

// usageLine is one flag's entry in --help, which the README's settings table is
// generated from.
var usageLine = regexp.MustCompile(`^  --([a-z0-9-]+)  \((TOKTOK_[A-Z0-9_]+), default (.+)\)\n      (\S.*)$`)

func TestUsage(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	body, ok := strings.CutPrefix(out.String(), "Usage: toktok [flags]\n\nEvery flag can also be set with the environment variable shown; a flag given on the command line wins.\n\n")
	if !ok {
		t.Fatalf("usage header:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines)%2 != 0 {
		t.Fatalf("an entry is not two lines:\n%s", body)
	}
	var names []string
	for i := 0; i < len(lines); i += 2 {
		m := usageLine.FindStringSubmatch(lines[i] + "\n" + lines[i+1])
		if m == nil {
			t.Errorf("entry %q", lines[i:i+2])
			continue
		}
		if m[2] != EnvName(m[1]) {
			t.Errorf("--%s shows %s", m[1], m[2])
		}
		names = append(names, m[1])
	}
	if !slices.IsSorted(names) {
		t.Errorf("flags not sorted by name: %q", names)
	}
	c := Default()
	fs, _ := newFlagSet(&c)
	if n := len(names); n != countFlags(fs) {
		t.Errorf("%d entries for %d flags", n, countFlags(fs))
	}
	// A sample of entries, byte for byte.
	for _, want := range []string{
		"  --allow-embedded-store  (TOKTOK_ALLOW_EMBEDDED_STORE, default no)\n      yes|no: let preprod/production run on the embedded SQLite store\n",
		"  --cors-origins  (TOKTOK_CORS_ORIGINS, default \"\")\n      comma-separated origins allowed to call the API from a browser (localhost origins are allowed in dev modes)\n",
		"  --limit-email-changes  (TOKTOK_LIMIT_EMAIL_CHANGES, default 3/1h0m0s)\n      changeEmail requests per account\n",
		"  --limit-ip-login  (TOKTOK_LIMIT_IP_LOGIN, default 30/1m0s)\n      login attempts per client IP (N/window)\n",
		"  --log-level  (TOKTOK_LOG_LEVEL, default info)\n      debug | info | warn | error\n",
		"  --rsa  (TOKTOK_RSA, default yes)\n      alias of --salt\n",
		"  --salt  (TOKTOK_SALT, default yes)\n      yes|no: credential fields (email and password of register and login, current and new passwords, forgotPassword's and changeEmail's address) carry ciphertexts under the published key (alias --rsa)\n",
		"  --introspection  (TOKTOK_INTROSPECTION, default auto)\n      auto|yes|no: schema introspection (auto = on in dev modes)\n",
		"  --mode  (TOKTOK_MODE, default default)\n      run mode: default | dev_email | preprod | production (aliases dev, prod)\n",
		"  --access-ttl  (TOKTOK_ACCESS_TTL, default 15m0s)\n      access-token lifetime\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

func countFlags(fs *flag.FlagSet) int {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n
}

// Flags register with the section's current values as defaults, so a FlagSet built on a
// changed Config shows and keeps those values.
func TestNewFlagSetDefaultsFromConfig(t *testing.T) {
	c := Default()
	c.HTTP.Port = 8080
	c.HTTP.CORSOrigins = []string{"https://a.example.com", "https://b.example.com"}
	c.HTTP.TrustedProxies = nil
	c.Token.VerifyKeyFiles = []string{"old.pem"}
	c.Limits.EmailChanges = Rate{2, time.Hour}
	fs, p := newFlagSet(&c)
	for name, want := range map[string]string{
		"port": "8080", "cors-origins": "https://a.example.com,https://b.example.com",
		"jwt-verify-key-files": "old.pem", "limit-email-changes": "2/1h0m0s",
	} {
		if got := fs.Lookup(name).DefValue; got != want {
			t.Errorf("--%s default %q, want %q", name, got, want)
		}
	}
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if errs := p.finish(&c); len(errs) != 0 {
		t.Fatal(errs)
	}
	if !slices.Equal(c.HTTP.CORSOrigins, []string{"https://a.example.com", "https://b.example.com"}) ||
		!slices.Equal(c.Token.VerifyKeyFiles, []string{"old.pem"}) || c.HTTP.Port != 8080 {
		t.Errorf("values lost: %+v %+v", c.HTTP, c.Token)
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"": nil, " , ,": nil, "a": {"a"}, " a , b,,c ": {"a", "b", "c"},
	} {
		if got := splitList(in); !slices.Equal(got, want) {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadYesNoSpellings(t *testing.T) {
	for _, s := range []string{"yes", "YES", "Yes", "y", "true", "TRUE", "1", "on", " yes "} {
		c := mustLoad(t, []string{"--salt=no", "--anojwt=" + s}, map[string]string{"TOKTOK_REGISTRATION_OPEN": "no", "TOKTOK_GRAPHQL_GET": s})
		if !c.Account.AnonJWT || !c.HTTP.GraphQLGet {
			t.Errorf("%q is not yes: anojwt %v graphql-get %v", s, c.Account.AnonJWT, c.HTTP.GraphQLGet)
		}
	}
	for _, s := range []string{"no", "NO", "n", "false", "0", "off"} {
		c := mustLoad(t, []string{"--anojwt=" + s}, map[string]string{"TOKTOK_GRAPHQL_GET": s})
		if c.Account.AnonJWT || c.HTTP.GraphQLGet {
			t.Errorf("%q is not no: anojwt %v graphql-get %v", s, c.Account.AnonJWT, c.HTTP.GraphQLGet)
		}
	}
	// A yes/no flag alone means yes.
	if c := mustLoad(t, []string{"--antispam", "--antispam-value=x"}, nil); !c.Account.Antispam {
		t.Error("--antispam alone is not yes")
	}
	// auto|yes|no settings.
	for s, want := range map[string]bool{"yes": true, "no": false, "auto": true, "AUTO": true, "off": false} {
		c := mustLoad(t, []string{"--introspection=" + s, "--playground=" + s}, nil)
		if c.HTTP.Introspection != want || c.HTTP.Playground != want {
			t.Errorf("%q: introspection %v playground %v, want %v", s, c.HTTP.Introspection, c.HTTP.Playground, want)
		}
	}
	// Anything else is a problem, from a flag or a variable.
	_, err := load(t, []string{"--anojwt=maybe"}, nil)
	wantProblems(t, err, "maybe")
	_, err = load(t, nil, map[string]string{"TOKTOK_ANOJWT": "maybe", "TOKTOK_SALT": "", "TOKTOK_INTROSPECTION": "sometimes"})
	wantProblems(t, err, `TOKTOK_ANOJWT: "maybe" is not yes or no`, `TOKTOK_SALT: "" is not yes or no`,
		`TOKTOK_INTROSPECTION: "sometimes" is not yes or no`)
}
