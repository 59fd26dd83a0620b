package config

import "flag"

// Credentials is the --salt section: RSA-OAEP-256 encryption of credential fields.
type Credentials struct {
	Encrypt bool
	KeyFile string // PEM RSA private key; generated in DataDir in dev modes
}

func defaultCredentials() Credentials { return Credentials{Encrypt: true} }

// saltAlias is --rsa, the original service's other name of --salt. Deployments migrated
// from it still set TOKTOK_RSA, so its variable is honoured too.
var saltAlias = flagAlias{name: "rsa", of: "salt"}

func (c *Credentials) register(fs *flag.FlagSet) {
	salt := yesNo{&c.Encrypt}
	fs.Var(salt, saltAlias.of, "yes|no: credential fields of register/login carry RSA-OAEP-256 ciphertexts (alias --"+saltAlias.name+")")
	fs.Var(salt, saltAlias.name, "alias of --"+saltAlias.of)
	fs.StringVar(&c.KeyFile, "rsa-key-file", c.KeyFile, "PEM RSA private key (>= 2048 bits) for --salt; generated in --data-dir in dev modes")
}

// validate has nothing to check in every mode: the key file is read, and judged, when
// the service starts.
func (c Credentials) validate() []error { return nil }

// production requires a key every instance shares: a client encrypts with the key one
// instance published, and any instance may receive the request.
func (c Credentials) production(mode Mode) []error {
	var p problems
	if c.Encrypt && c.KeyFile == "" {
		p.add("--rsa-key-file: required in %s mode with --salt=yes", mode)
	}
	return p
}
