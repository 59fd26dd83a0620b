package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/secretfile"
	"github.com/toktok/toktok/token"
)

// keys are the key material of one instance. In development modes what is not configured
// is generated once in the data directory; Validate refuses that in preprod/production.
type keys struct {
	signing       *token.Key
	previous      []*token.Key // retired keys still accepted and published
	refresh       *token.RefreshCodec
	refreshSecret []byte           // also keys the sealing of outbox bodies
	mfaSecret     []byte           // the MFA keys' secret: --mfa-secret-file, else refreshSecret
	box           *credentials.Box // nil without --salt
}

func loadKeys(w keyWiring, log *slog.Logger) (keys, error) {
	var k keys
	var err error
	if k.signing, err = signingKey(w, log); err != nil {
		return k, err
	}
	for _, spec := range w.VerifyKeyFiles {
		alg, path := w.Alg, spec
		if name, rest, ok := strings.Cut(spec, ":"); ok {
			if parsed, err := token.ParseAlg(name); err == nil {
				alg, path = parsed, rest
			}
		}
		pk, err := token.LoadVerifyKeyFile(alg, path)
		if err != nil {
			return k, err
		}
		k.previous = append(k.previous, pk)
	}
	if k.refreshSecret, err = refreshSecret(w, log); err != nil {
		return k, fmt.Errorf("refresh secret: %w", err)
	}
	if k.refresh, err = token.NewRefreshCodec(k.refreshSecret); err != nil {
		return k, err
	}
	k.mfaSecret = k.refreshSecret
	if w.MFASecretFile != "" {
		if k.mfaSecret, _, err = secretfile.LoadOrCreate(w.MFASecretFile, func() ([]byte, error) {
			return nil, errors.New("the MFA secret file does not exist")
		}); err != nil {
			return k, fmt.Errorf("mfa secret: %w", err)
		}
	}
	if w.Encrypt {
		if k.box, err = credentialsBox(w, log); err != nil {
			return k, err
		}
	}
	return k, nil
}

func signingKey(w keyWiring, log *slog.Logger) (*token.Key, error) {
	alg, err := token.ParseAlg(string(w.Alg))
	if err != nil {
		return nil, err
	}
	if w.KeyFile != "" {
		return token.LoadKeyFile(alg, w.KeyFile)
	}
	path := filepath.Join(w.DataDir, "jwt-"+strings.ToLower(string(alg))+".pem")
	key, created, err := token.LoadOrGenerateKey(alg, path)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("generated a signing key for development; set --jwt-key-file in production", "path", path, "kid", key.KID())
	}
	return key, nil
}

// refreshSecret authenticates refresh tokens and keys the outbox sealing: it must be the
// same on every instance.
func refreshSecret(w keyWiring, log *slog.Logger) ([]byte, error) {
	if w.RefreshSecretFile != "" {
		secret, _, err := secretfile.LoadOrCreate(w.RefreshSecretFile, func() ([]byte, error) {
			return nil, errors.New("the refresh secret file does not exist")
		})
		return secret, err
	}
	path := filepath.Join(w.DataDir, "refresh-secret")
	secret, created, err := secretfile.LoadOrCreate(path, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if created {
		log.Warn("generated a refresh-token secret for development; set --refresh-secret-file in production", "path", path)
	}
	return secret, err
}

func credentialsBox(w keyWiring, log *slog.Logger) (*credentials.Box, error) {
	var box *credentials.Box
	var err error
	file := w.CredentialsECDH
	if w.CredentialsAlg == credentials.AlgorithmRSA {
		file = w.CredentialsRSA
	}
	if file != "" {
		if box, err = credentials.LoadKeyFile(file); err == nil && box.Algorithm() != w.CredentialsAlg {
			err = fmt.Errorf("credentials: %s holds a key for %s, but --salt-alg asks for %s", file, box.Algorithm(), w.CredentialsAlg)
		}
	} else {
		name, flagName := "credentials-ec.pem", "--ecdh-key-file"
		if w.CredentialsAlg == credentials.AlgorithmRSA {
			name, flagName = "credentials-rsa.pem", "--rsa-key-file"
		}
		path := filepath.Join(w.DataDir, name)
		var created bool
		box, created, err = credentials.LoadOrGenerate(w.CredentialsAlg, path)
		if created {
			log.Warn("generated the --salt key pair for development; set "+flagName+" in production", "path", path)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := box.AddPrevious(w.CredentialsPrev...); err != nil {
		return nil, err
	}
	return box, nil
}

// newSender is the log sender when no SMTP is configured (default mode: mails, links
// included, go to the log) and SMTP otherwise.
func newSender(w mailWiring, log *slog.Logger) (mailer.Sender, error) {
	if w.SMTP == nil {
		return mailer.LogSender{Log: log}, nil
	}
	c := *w.SMTP
	if w.SMTPPasswordFile != "" {
		b, err := os.ReadFile(w.SMTPPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smtp password: %w", err)
		}
		c.Password = strings.TrimRight(string(b), "\r\n")
	}
	return mailer.NewSMTPSender(c)
}
