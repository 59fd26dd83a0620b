package config

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds what every section's flags share: the value types of the original
// service's spellings, the environment fallback and the --help text.

// rateFlag parses "N/window" (e.g. 30/1m, 10/1h); "0" disables the limit.
type rateFlag struct{ r *Rate }

func (f rateFlag) String() string {
	if f.r == nil {
		return ""
	}
	return f.r.String()
}

func (f rateFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "0" || strings.EqualFold(s, "off") {
		*f.r = Rate{}
		return nil
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return fmt.Errorf("%q is not N/window like 30/1m", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 1 {
		return fmt.Errorf("%q: N must be a positive whole number", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil || d <= 0 {
		return fmt.Errorf("%q: window must be a positive duration like 1m or 1h", s)
	}
	*f.r = Rate{N: count, Window: d}
	return nil
}

// yesNo is a boolean flag spelled like the original service's options.
type yesNo struct{ p *bool }

func (y yesNo) String() string {
	if y.p == nil || !*y.p {
		return "no"
	}
	return "yes"
}

func (y yesNo) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "y", "true", "1", "on":
		*y.p = true
	case "no", "n", "false", "0", "off":
		*y.p = false
	default:
		return fmt.Errorf("%q is not yes or no", s)
	}
	return nil
}

// IsBoolFlag lets "--salt" alone mean yes.
func (y yesNo) IsBoolFlag() bool { return true }

// auto reads an auto|yes|no setting; auto stands for dflt, which depends on the mode and
// so is known only once every flag and variable is read.
func auto(s string, dflt bool) (bool, error) {
	if strings.ToLower(s) == "auto" {
		return dflt, nil
	}
	var b bool
	err := yesNo{&b}.Set(s)
	return b, err
}

// splitList reads a comma-separated flag, forgiving the spaces and empty items that
// come from hand-written variables.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parsePrefix reads an IP (a one-address prefix) or a CIDR in the form client
// addresses are compared in.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		// Client addresses are compared unmapped, so ::ffff:10.0.0.0/104 means 10.0.0.0/8.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// flagAlias is a second name of a flag, kept for the original service's spelling. The
// alias's variable is read only when neither name is on the command line and the flag's
// own variable is unset, so the documented name wins wherever both are given.
type flagAlias struct{ name, of string }

// applyEnv sets from lookup every flag the command line left unset (o.given, which holds
// the flags the command line gave, even with a value that was refused), so a flag given on
// the command line wins even when it equals the default. Problems name the variable,
// because that is what the operator has to fix, and o remembers it for the checks that
// come after.
func applyEnv(fs *flag.FlagSet, lookup func(string) (string, bool), aliases []flagAlias, o *origin) []error {
	set := map[string]bool{}
	for name := range o.given {
		set[name] = true
	}
	isAlias := map[string]bool{}
	for _, a := range aliases {
		isAlias[a.name] = true
		if set[a.name] {
			set[a.of] = true
		}
	}
	var errs []error
	setFrom := func(name, variable, v string) {
		o.spelled[name] = variable
		f := fs.Lookup(name)
		if err := setFlag(fs, f, v); err != nil {
			errs = append(errs, badValue(variable, f, v, err))
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || isAlias[f.Name] {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			setFrom(f.Name, EnvName(f.Name), v)
		}
	})
	for _, a := range aliases {
		if v, ok := lookup(EnvName(a.name)); ok && !set[a.of] {
			if _, ownSet := lookup(EnvName(a.of)); !ownSet {
				setFrom(a.of, EnvName(a.name), v)
			}
		}
	}
	return errs
}

// usage prints every flag sorted by name with its variable and default; the README's
// settings table is generated from this output, so its format is part of the interface.
func usage(fs *flag.FlagSet, out io.Writer) {
	fmt.Fprintf(out, "Usage: toktok [flags]\n\nEvery flag can also be set with the environment variable shown; a flag given on the command line wins.\n\n")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "  --%s  (%s, default %s)\n      %s\n", n, EnvName(n), def, f.Usage)
	}
}
