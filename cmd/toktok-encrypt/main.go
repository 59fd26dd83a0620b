// Command toktok-encrypt encrypts credential values for a TokTok server with --salt=yes,
// as an SPA does: for the public key authConfig.encryptionJwk publishes, a JWE compact
// serialization (ECDH-ES, A256GCM, the key's kid) with the default --salt-alg=ecdh-es, or
// base64 of RSA-OAEP-256 with --salt-alg=rsa-oaep-256. It prints one ciphertext per value,
// one per line, in order. The README's curl walk-through uses it:
//
//	curl -s localhost:4100/graphql -H 'Content-Type: application/json' \
//	  -d '{"query":"{ authConfig { encryptionJwk } }"}' | jq .data.authConfig.encryptionJwk >key.jwk
//	go run ./cmd/toktok-encrypt -jwk key.jwk ann@example.com 'correct horse battery staple'
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/toktok/toktok/credentials"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "toktok-encrypt:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("toktok-encrypt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jwkFile := fs.String("jwk", "", "file holding the JWK of authConfig.encryptionJwk (- for standard input)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: toktok-encrypt -jwk FILE VALUE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *jwkFile == "" || fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("give -jwk FILE and at least one value")
	}
	var jwk []byte
	var err error
	if *jwkFile == "-" {
		jwk, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
	} else {
		jwk, err = os.ReadFile(*jwkFile)
	}
	if err != nil {
		return err
	}
	for _, v := range fs.Args() {
		c, err := credentials.EncryptForJWK(jwk, v)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, c)
	}
	return nil
}
