package web

// The files that both the hosted pages (pages.go) and the playground
// (web.go) serve: shared/toktok-crypto.js, the WebCrypto helpers with which
// pages/pages.js and playground/toktok-fetcher.js encrypt credentials in
// the scheme authConfig.encryptionAlgorithm names: ECDH-ES+A256GCM (a JWE
// compact serialization for authConfig.encryptionJwk, the server's default)
// or RSA-OAEP-256 (base64 of an RSA-OAEP SHA-256 ciphertext under
// authConfig.encryptionKey). Each handler serves the same embedded bytes
// next to its own scripts, as /pages/toktok-crypto.js and
// /playground/toktok-crypto.js, so that each page's CSP (script-src 'self')
// allows it and neither handler depends on the other's paths.
// embeddedAssets reads it with each handler's own files.

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"path"
)

//go:embed shared
var sharedFiles embed.FS

// sharedCryptoScript is the path in sharedFiles of the encryption helpers;
// both handlers serve it under its base name, toktok-crypto.js.
const sharedCryptoScript = "shared/toktok-crypto.js"

// embeddedAssets reads the named files of dir in fsys, and the shared
// files, into files, each under prefix and its base name (its URL path in
// the handler), with its content type (by extension: .js or .css) and
// ETag. It fails when a file is missing or of another kind.
func embeddedAssets(fsys embed.FS, dir string, names []string, files map[string]staticFile, prefix string) error {
	type embedded struct {
		fsys embed.FS
		file string
	}
	read := []embedded{{sharedFiles, sharedCryptoScript}}
	for _, name := range names {
		read = append(read, embedded{fsys, dir + "/" + name})
	}
	for _, f := range read {
		var ctype string
		switch path.Ext(f.file) {
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		default:
			return fmt.Errorf("web: %s: no content type for its extension", f.file)
		}
		body, err := f.fsys.ReadFile(f.file)
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		sum := sha256.Sum256(body)
		files[prefix+path.Base(f.file)] = staticFile{body, ctype, `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return nil
}
