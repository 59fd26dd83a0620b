package config

import (
	"flag"
	"strings"
)

// Credentials is the --salt section: encryption of credential fields.
type Credentials struct {
	Encrypt bool
	// Alg is the scheme: "ecdh-es" (JWE, ECDH-ES + A256GCM on P-256) or "rsa-oaep-256".
	Alg      string
	KeyFile  string   // PEM RSA private key for rsa-oaep-256; generated in DataDir in dev modes
	ECDHKey  string   // PEM P-256 private key for ecdh-es; generated in DataDir in dev modes
	PrevKeys []string // PEM files of previous keys that still decrypt
}

// The --salt-alg values.
const (
	SaltECDH = "ecdh-es"
	SaltRSA  = "rsa-oaep-256"
)

func defaultCredentials() Credentials { return Credentials{Encrypt: true, Alg: SaltECDH} }

// saltAlias is --rsa, the original service's other name of --salt. Deployments migrated
// from it still set TOKTOK_RSA, so its variable is honoured too.
var saltAlias = flagAlias{name: "rsa", of: "salt"}

func (c *Credentials) register(fs *flag.FlagSet, prevKeys *string) {
	salt := yesNo{&c.Encrypt}
	fs.Var(salt, saltAlias.of, "yes|no: credential fields (email and password of register and login, current and new passwords, forgotPassword's and changeEmail's address) carry ciphertexts under the published key (alias --"+saltAlias.name+")")
	fs.Var(salt, saltAlias.name, "alias of --"+saltAlias.of)
	fs.StringVar(&c.Alg, "salt-alg", c.Alg, "the --salt scheme: ecdh-es (each field a JWE compact serialization, ECDH-ES + A256GCM on P-256) | rsa-oaep-256 (base64 of an RSA-OAEP SHA-256 ciphertext, the original scheme)")
	fs.StringVar(&c.ECDHKey, "ecdh-key-file", c.ECDHKey, "PEM P-256 private key for --salt-alg=ecdh-es; generated in --data-dir in dev modes")
	fs.StringVar(&c.KeyFile, "rsa-key-file", c.KeyFile, "PEM RSA private key (>= 2048 bits) for --salt-alg=rsa-oaep-256; generated in --data-dir in dev modes")
	*prevKeys = strings.Join(c.PrevKeys, ",")
	fs.StringVar(prevKeys, "salt-previous-key-files", *prevKeys, "comma-separated PEM files of previous --salt keys (of the same scheme) that still decrypt (key rotation)")
}

// finish splits the previous keys and spells the scheme canonically.
func (c *Credentials) finish(prevKeys string) {
	c.PrevKeys = splitList(prevKeys)
	c.Alg = strings.ToLower(strings.TrimSpace(c.Alg))
}

// validate checks the scheme; the key files are read, and judged, when the service starts.
func (c Credentials) validate() []error {
	var p problems
	if c.Alg != SaltECDH && c.Alg != SaltRSA {
		p.add("--salt-alg: %q is not ecdh-es or rsa-oaep-256", c.Alg)
	}
	return p
}

// CurrentKeyFile is the key file of the chosen scheme (empty: generated in dev modes).
func (c Credentials) CurrentKeyFile() string {
	if c.Alg == SaltRSA {
		return c.KeyFile
	}
	return c.ECDHKey
}

// production requires a key every instance shares: a client encrypts with the key one
// instance published, and any instance may receive the request.
func (c Credentials) production(mode Mode) []error {
	var p problems
	if c.Encrypt && c.CurrentKeyFile() == "" {
		if c.Alg == SaltRSA {
			p.add("--rsa-key-file: required in %s mode with --salt=yes --salt-alg=rsa-oaep-256", mode)
		} else {
			p.add("--ecdh-key-file: required in %s mode with --salt=yes (or --salt-alg=rsa-oaep-256 with --rsa-key-file)", mode)
		}
	}
	return p
}
