package config

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file reads the command line. It does not use flag.FlagSet.Parse, which stops at
// the first bad flag and prints the whole usage: every argument is read here, every
// problem is kept, and each names the flag as the operator wrote it. The values are set
// through the FlagSet all the same, so --help, the environment and the tests see the
// flags the sections registered.

// origin records where the settings came from, so that a problem names the setting as
// the operator wrote it: "--port" or "-port" on the command line, TOKTOK_PORT in the
// environment.
type origin struct {
	given   map[string]bool   // flags on the command line, accepted or not
	spelled map[string]string // flag name -> as written, for flags given either way
}

func newOrigin() *origin {
	return &origin{given: map[string]bool{}, spelled: map[string]string{}}
}

// parseArgs sets the flags of args on fs and returns the problems found, in the order of
// the arguments, and whether -h or --help was asked for. It reads flags as the flag
// package does (-name=value, --name=value, -name value, a yes|no flag alone means yes,
// "--" ends the flags) but goes on after a problem: an unknown flag (with the closest
// known one when one is obvious), a flag missing its value, a value its flag refuses,
// and an argument that is not a flag.
func parseArgs(fs *flag.FlagSet, args []string, o *origin) (help bool, problems []error) {
	var flagsDone bool
	afterBool := "" // the yes|no flag just before, given without a value
	for i := 0; i < len(args); i++ {
		a := args[i]
		prevBool := afterBool
		afterBool = ""
		if flagsDone || len(a) < 2 || a[0] != '-' {
			problems = append(problems, strayArg(a, prevBool))
			continue
		}
		if a == "--" {
			flagsDone = true
			continue
		}
		dashes, body := "-", a[1:]
		if body[0] == '-' {
			dashes, body = "--", body[1:]
		}
		name, value, hasValue := strings.Cut(body, "=")
		if name == "" || name[0] == '-' {
			problems = append(problems, fmt.Errorf("%q is not a flag: write --name=value", a))
			continue
		}
		written := dashes + name
		if name == "help" || name == "h" {
			help = true
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			problems = append(problems, unknownFlag(fs, written, name))
			// Its value, if it has one after a space, is part of the same mistake.
			if !hasValue && i+1 < len(args) && !namesAFlag(fs, args[i+1]) {
				i++
			}
			continue
		}
		o.given[name], o.spelled[name] = true, written
		if !hasValue {
			switch {
			case isBoolFlag(f):
				value = "true"
				afterBool = written
			case i+1 < len(args) && !namesAFlag(fs, args[i+1]):
				i++
				value = args[i]
			default:
				problems = append(problems, fmt.Errorf("%s: missing value; write %s=VALUE", written, written))
				continue
			}
		}
		if err := setFlag(fs, f, value); err != nil {
			problems = append(problems, badValue(written, f, value, err))
		}
	}
	return help, problems
}

// setFlag sets f through fs, so that fs records it as set. A value f refuses leaves f as
// it was: the flag package's own types zero their value on a parse error, which would
// add a "must be positive" to the one problem there is.
func setFlag(fs *flag.FlagSet, f *flag.Flag, value string) error {
	old := f.Value.String()
	err := fs.Set(f.Name, value)
	if err != nil {
		_ = f.Value.Set(old)
	}
	return err
}

// strayArg is the problem of an argument that is not a flag. After a yes|no flag given
// alone it is most likely that flag's value, written after a space.
func strayArg(a, afterBool string) error {
	if afterBool != "" {
		return fmt.Errorf("unexpected argument %q: a yes|no flag takes its value after '=': write %s=%s", a, afterBool, a)
	}
	return fmt.Errorf("unexpected argument %q: toktok takes only flags, like --port=8080", a)
}

// isBoolFlag reports whether f may stand alone, as the flag package decides it.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// namesAFlag reports whether a is a flag of fs (or help), so that a flag written without
// its value does not swallow the next flag as its value. A value that merely starts with
// '-' (-1, -5m) is still a value.
func namesAFlag(fs *flag.FlagSet, a string) bool {
	if a == "--" {
		return true
	}
	if !strings.HasPrefix(a, "-") {
		return false
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
	return name == "help" || name == "h" || fs.Lookup(name) != nil
}

// unknownFlag is the problem of a flag fs does not have, with the flag it most likely
// means when there is an obvious one.
func unknownFlag(fs *flag.FlagSet, written, name string) error {
	if s := suggest(fs, name); s != "" {
		return fmt.Errorf("%s: unknown flag; did you mean --%s?", written, s)
	}
	return fmt.Errorf("%s: unknown flag", written)
}

// suggest returns the flag of fs that name most likely means, "" when none is obvious:
// the flag a variable name or another spelling stands for (--TOKTOK_DATA_DIR, --data_dir),
// else the one flag of which name is the beginning (--data), else the one flag closest
// to it by a typo or two.
func suggest(fs *flag.FlagSet, name string) string {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	n = strings.TrimPrefix(n, "toktok-")
	if fs.Lookup(n) != nil {
		return n
	}
	var prefixed []string
	best, bestDist, tie := "", 0, false
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, n) {
			prefixed = append(prefixed, f.Name)
		}
		d := editDistance(n, f.Name)
		switch {
		case best == "" || d < bestDist:
			best, bestDist, tie = f.Name, d, false
		case d == bestDist:
			tie = true
		}
	})
	if len(prefixed) == 1 && len(n) >= 3 {
		return prefixed[0]
	}
	// A typo or two, and fewer than a third of the name: --prot, --data-dri.
	if best != "" && !tie && bestDist <= 2 && bestDist*3 <= len(n) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b, a swap of neighbours counting one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// hints complete the expectation of a few numbers whose range is not obvious.
var hints = map[string]string{
	"port":          "a TCP port, 0 to 65535",
	"smtp-port":     "a TCP port, 0 to 65535; 0 picks it from --smtp-tls",
	"body-limit":    "bytes, 1024 at least",
	"argon2-memory": "KiB",
}

// expectation says what a flag of a standard type takes, "" for the value types of this
// package, whose errors say it themselves.
func expectation(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case int, int64:
		return "a whole number"
	case uint, uint64:
		return "a whole number, 0 or more"
	case float64:
		return "a number"
	case time.Duration:
		return "a duration like 30s, 15m or 24h"
	case bool:
		return "true or false"
	}
	return ""
}

// badValue is the problem of a value f refused: the setting as written (a flag or a
// variable), the value, and what is expected, e.g.
//
//	--port: "abc" is not a whole number (a TCP port, 0 to 65535)
func badValue(setting string, f *flag.Flag, value string, err error) error {
	want := expectation(f)
	if want == "" {
		return fmt.Errorf("%s: %w", setting, err)
	}
	msg := fmt.Sprintf("%s: %q is not %s", setting, value, want)
	if tooLarge(f, value) {
		msg = fmt.Sprintf("%s: %q is too large", setting, value)
	}
	if h := hints[f.Name]; h != "" {
		msg += " (" + h + ")"
	}
	return errors.New(msg)
}

// tooLarge reports whether value is a whole number out of the range of f's type.
func tooLarge(f *flag.Flag, value string) bool {
	var err error
	switch f.Value.(flag.Getter).Get().(type) {
	case int:
		_, err = strconv.ParseInt(value, 0, strconv.IntSize)
	case int64:
		_, err = strconv.ParseInt(value, 0, 64)
	case uint:
		_, err = strconv.ParseUint(value, 0, strconv.IntSize)
	case uint64:
		_, err = strconv.ParseUint(value, 0, 64)
	default:
		return false
	}
	return errors.Is(err, strconv.ErrRange)
}

// respelled is a problem renamed after the setting as the operator wrote it.
type respelled struct {
	msg string
	err error
}

func (r respelled) Error() string { return r.msg }
func (r respelled) Unwrap() error { return r.err }

// respell names the setting of each problem that starts with one ("--mode: ...",
// "--dev-inbox=yes: ...") as the operator wrote it, when that was not --name: the
// variable (TOKTOK_MODE: ...) or a single dash (-mode: ...). The checks after parsing
// see only values, so this is where the spelling comes back.
func respell(errs []error, o *origin) []error {
	out := make([]error, len(errs))
	for i, err := range errs {
		out[i] = err
		msg := err.Error()
		if !strings.HasPrefix(msg, "--") {
			continue
		}
		end := 2
		for end < len(msg) && (msg[end] == '-' || msg[end] >= 'a' && msg[end] <= 'z' || msg[end] >= '0' && msg[end] <= '9') {
			end++
		}
		if end == len(msg) || (msg[end] != ':' && msg[end] != '=') {
			continue
		}
		if w, ok := o.spelled[msg[2:end]]; ok && w != msg[:end] {
			out[i] = respelled{msg: w + msg[end:], err: err}
		}
	}
	return out
}
