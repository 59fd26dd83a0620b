package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/toktok/toktok/credentials"
)

// jweCheckScript runs under Node (see nodePath) with toktok-crypto.js, pages.js and
// toktok-fetcher.js loaded as the pages load them, and encrypts the values of
// TOKTOK_TEST_VALUES (a JSON array) every way the scripts can: encryptJWE with the
// published JWK (and with the JWK without its kid), toktokCrypto.encryptForConfig and the
// pages' encryptForServer for ECDH-ES+A256GCM (with the JWK, and with the PEM only, as a
// page that asks authConfig for encryptionKey alone), for RSA-OAEP-256 and for no named
// scheme, interleaved so that the one-key cache must switch; and the fetcher, against a
// fake server that publishes the ECDH key, for a register mutation. It prints
// {"ecdh": [{label, value, sent}], "rsa": [...], "checks": {...}} for the Go side, which
// decrypts with the private keys as the server does.
const jweCheckScript = `'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const vm = require('node:vm');

globalThis.window = globalThis;
const [cryptoFile, pagesFile, fetcherFile] = process.argv.slice(2);
vm.runInThisContext(fs.readFileSync(cryptoFile, 'utf8'), { filename: 'toktok-crypto.js' });
vm.runInThisContext(fs.readFileSync(pagesFile, 'utf8'), { filename: 'pages.js' });
vm.runInThisContext(fs.readFileSync(fetcherFile, 'utf8'), { filename: 'toktok-fetcher.js' });
const C = window.toktokCrypto;
const P = window.toktokPages;
const JWK = JSON.parse(process.env.TOKTOK_TEST_JWK);
const EC_PEM = process.env.TOKTOK_TEST_EC_PEM;
const RSA_PEM = process.env.TOKTOK_TEST_RSA_PEM;
const VALUES = JSON.parse(process.env.TOKTOK_TEST_VALUES);
const RSA_MAX = Number(process.env.TOKTOK_TEST_RSA_MAX);

const ECDH = 'ECDH-ES+A256GCM';
const ecdhCfg = { encryptedCredentials: true, encryptionAlgorithm: ECDH, encryptionJwk: JWK, encryptionKey: EC_PEM };
const pemOnlyCfg = { encryptedCredentials: true, encryptionAlgorithm: ECDH, encryptionKey: EC_PEM };
const rsaCfg = { encryptedCredentials: true, encryptionAlgorithm: 'RSA-OAEP-256', encryptionKey: RSA_PEM };
const unnamedCfg = { encryptedCredentials: true, encryptionKey: RSA_PEM };
const noKid = Object.assign({}, JWK);
delete noKid.kid;

const out = { ecdh: [], rsa: [], checks: {} };

async function main() {
  assert.equal(C.ALG_ECDH, ECDH);
  for (const value of VALUES) {
    const utf8Length = new TextEncoder().encode(value).length;
    out.ecdh.push({ label: 'encryptJWE', value, sent: await C.encryptJWE(value, JWK) });
    out.ecdh.push({ label: 'encryptJWE without kid', value, sent: await C.encryptJWE(value, noKid) });
    out.ecdh.push({ label: 'encryptForConfig', value, sent: await C.encryptForConfig(value, ecdhCfg) });
    if (utf8Length <= RSA_MAX) {
      out.rsa.push({ label: 'encryptForConfig', value, sent: await C.encryptForConfig(value, rsaCfg) });
      out.rsa.push({ label: 'encryptForConfig, no scheme named', value, sent: await C.encryptForConfig(value, unnamedCfg) });
      out.rsa.push({ label: 'pages encryptForServer', value, sent: await P.encryptForServer(value, rsaCfg) });
    } else {
      await assert.rejects(C.encryptForConfig(value, rsaCfg), (e) => e.tooLong === true, 'RSA-OAEP of a too long value');
    }
    out.ecdh.push({ label: 'pages encryptForServer', value, sent: await P.encryptForServer(value, ecdhCfg) });
    out.ecdh.push({ label: 'pages encryptForServer, PEM only', value, sent: await P.encryptForServer(value, pemOnlyCfg) });
  }

  // Another scheme is refused, naming both known ones.
  await assert.rejects(C.encryptForConfig('x', { encryptionAlgorithm: 'A128KW', encryptionKey: RSA_PEM }),
    (e) => e.unsupported === true && e.message.includes('A128KW') && e.message.includes(ECDH) && e.message.includes('RSA-OAEP-256'));
  await assert.rejects(C.encryptJWE('x', { kty: 'RSA', n: 'AQAB', e: 'AQAB' }), /P-256/);
  // The cache key tells the schemes and the keys apart.
  const ids = new Set([ecdhCfg, pemOnlyCfg, rsaCfg, Object.assign({}, ecdhCfg, { encryptionJwk: noKid })].map(C.serverKeyId));
  assert.equal(ids.size, 4, 'serverKeyId');
  assert.equal(C.serverKeyId(Object.assign({}, ecdhCfg)), C.serverKeyId(ecdhCfg));
  out.checks.thumbprint = await C.jwkThumbprint(JWK);

  // The fetcher, against a fake server that publishes the ECDH key.
  const requests = [];
  const reply = (obj) => ({ status: 200, text: async () => JSON.stringify(obj) });
  let cfg = ecdhCfg;
  const fakeFetch = async (url, init) => {
    const body = JSON.parse(init.body);
    requests.push(body);
    if (body.operationName === 'TokTokPlaygroundAuthConfig') {
      // Answer only the fields asked, as a GraphQL server does.
      const ac = {};
      for (const [k, v] of Object.entries(Object.assign({ anonymousTokenRequired: false }, cfg))) {
        if (new RegExp('\\b' + k + '\\b').test(body.query)) ac[k] = v;
      }
      return reply({ data: { authConfig: ac } });
    }
    return reply({ data: { register: null } });
  };
  const input = { input: { email: VALUES[0], password: VALUES[1], name: 'not a credential' } };
  const register = 'mutation Register($input: RegisterInput!) { register(input: $input) { accessToken } }';
  let fetcher = window.createToktokFetcher({ fetchImpl: fakeFetch });
  let res = await fetcher({ query: register, variables: input, operationName: 'Register' });
  assert.ok(!res.errors, JSON.stringify(res));
  const sent = requests.filter((r) => r.operationName === 'Register');
  assert.equal(sent.length, 1);
  assert.equal(sent[0].variables.input.name, 'not a credential');
  out.ecdh.push({ label: 'fetcher input.email', value: VALUES[0], sent: sent[0].variables.input.email });
  out.ecdh.push({ label: 'fetcher input.password', value: VALUES[1], sent: sent[0].variables.input.password });

  cfg = { encryptedCredentials: true, encryptionAlgorithm: 'A128KW', encryptionKey: RSA_PEM };
  fetcher = window.createToktokFetcher({ fetchImpl: fakeFetch });
  res = await fetcher({ query: register, variables: input, operationName: 'Register' });
  out.checks.unsupported = res.errors && res.errors[0] && res.errors[0].message;
}

main().then(() => process.stdout.write(JSON.stringify(out))).catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
`

// TestJWEWithNode runs jweCheckScript: the browsers' ECDH-ES+A256GCM encryption
// (toktok-crypto.js, through the pages and the fetcher) must give JWEs that the server's
// credentials.Box decrypts, with exactly the protected header the server documents; and
// RSA-OAEP-256 must still round-trip.
func TestJWEWithNode(t *testing.T) {
	node := nodePath(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecBox, err := credentials.NewECDH(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaBox, err := credentials.New(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := json.Marshal(ecBox.PublicJWK())
	if err != nil {
		t.Fatal(err)
	}
	ecPEM, rsaPEM := ecBox.PublicKeyPEM(), rsaBox.PublicKeyPEM()
	if ecBox.Algorithm() != credentials.AlgorithmECDH || rsaBox.Algorithm() != credentials.AlgorithmRSA {
		t.Fatalf("the boxes' schemes are %s and %s", ecBox.Algorithm(), rsaBox.Algorithm())
	}

	long := strings.Repeat("a1é🔑", 250)
	if n := utf8.RuneCountInString(long); n != 1000 {
		t.Fatalf("the long value has %d characters", n)
	}
	values := []string{"alice@example.com", "pässwörd ✓ Ünïcödé façade", "emoji 🔑🙂👍🏽", "x", " ", "", long}
	valuesJSON, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}

	script := filepath.Join(t.TempDir(), "jwe_check.js")
	if err := os.WriteFile(script, []byte(jweCheckScript), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), node, script, filepath.FromSlash(sharedCryptoScript),
		filepath.Join("pages", "pages.js"), filepath.Join("playground", "toktok-fetcher.js"))
	cmd.Env = append(os.Environ(), "TOKTOK_TEST_JWK="+string(jwk), "TOKTOK_TEST_EC_PEM="+ecPEM,
		"TOKTOK_TEST_RSA_PEM="+rsaPEM, "TOKTOK_TEST_VALUES="+string(valuesJSON),
		"TOKTOK_TEST_RSA_MAX="+strconv.Itoa(rsaBox.Capacity()))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jwe_check.js: %v\n%s", err, stderr.String())
	}
	type sent struct{ Label, Value, Sent string }
	var got struct {
		ECDH   []sent
		RSA    []sent
		Checks struct{ Thumbprint, Unsupported string }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("jwe_check.js output: %v\n%s", err, out)
	}
	// 5 ECDH-ES ways per value, plus the fetcher's two fields; 3 RSA ways per value that
	// fits in one RSA-OAEP block (all but the long one).
	if want := 5*len(values) + 2; len(got.ECDH) != want {
		t.Errorf("jwe_check.js made %d JWEs, want %d", len(got.ECDH), want)
	}
	if want := 3 * (len(values) - 1); len(got.RSA) != want {
		t.Errorf("jwe_check.js made %d RSA-OAEP ciphertexts, want %d", len(got.RSA), want)
	}

	if got.Checks.Thumbprint != ecBox.KeyID() {
		t.Errorf("jwkThumbprint = %q, the server's kid is %q", got.Checks.Thumbprint, ecBox.KeyID())
	}
	for _, want := range []string{"unsupported encryptionAlgorithm \"A128KW\"", "this IDE knows", credentials.AlgorithmECDH, credentials.AlgorithmRSA} {
		if !strings.Contains(got.Checks.Unsupported, want) {
			t.Errorf("the fetcher's error for an unknown scheme, %q, lacks %q", got.Checks.Unsupported, want)
		}
	}

	epks := map[string]string{}
	for _, c := range got.ECDH {
		name := c.Label + " of " + trimForLog(c.Value)
		pt, err := ecBox.Decrypt(c.Sent)
		if err != nil || pt != c.Value {
			t.Errorf("%s: the server decrypts %q (%v)", name, pt, err)
			continue
		}
		if _, err := rsaBox.Decrypt(c.Sent); err == nil {
			t.Errorf("%s: the RSA box decrypts a JWE", name)
		}
		epk := checkJWE(t, name, c.Sent, ecBox.KeyID(), len(c.Value))
		if other, dup := epks[epk]; dup {
			t.Errorf("%s: the same ephemeral key as %s", name, other)
		}
		epks[epk] = name
	}
	for _, c := range got.RSA {
		name := c.Label + " of " + trimForLog(c.Value)
		if _, err := base64.StdEncoding.Strict().DecodeString(c.Sent); err != nil {
			t.Errorf("%s: %q is not standard base64: %v", name, c.Sent, err)
		}
		if pt, err := rsaBox.Decrypt(c.Sent); err != nil || pt != c.Value {
			t.Errorf("%s: the server decrypts %q (%v)", name, pt, err)
		}
	}
}

// checkJWE checks the shape of a JWE compact serialization of a plaintext of n bytes: five
// parts, the encrypted key empty, a 96-bit IV and a 128-bit tag, and exactly the protected
// header {"alg":"ECDH-ES","enc":"A256GCM","kid":kid,"epk":{"kty":"EC","crv":"P-256","x":…,"y":…}},
// in that order. It returns the epk's x and y.
func checkJWE(t *testing.T, name, jwe, kid string, n int) string {
	t.Helper()
	parts := strings.Split(jwe, ".")
	if len(parts) != 5 {
		t.Errorf("%s: %d parts, want 5", name, len(parts))
		return ""
	}
	var raw [5][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			t.Errorf("%s: part %d is not unpadded base64url: %v", name, i+1, err)
			return ""
		}
		raw[i] = b
	}
	if len(raw[1]) != 0 || len(raw[2]) != 12 || len(raw[3]) != n || len(raw[4]) != 16 {
		t.Errorf("%s: encrypted key %d bytes, IV %d, ciphertext %d, tag %d; want 0, 12, %d, 16",
			name, len(raw[1]), len(raw[2]), len(raw[3]), len(raw[4]), n)
	}
	var header struct {
		Alg, Enc, Kid string
		Epk           struct{ Kty, Crv, X, Y string }
	}
	if err := json.Unmarshal(raw[0], &header); err != nil {
		t.Errorf("%s: protected header %s: %v", name, raw[0], err)
		return ""
	}
	var members map[string]json.RawMessage
	_ = json.Unmarshal(raw[0], &members)
	var epkMembers map[string]json.RawMessage
	_ = json.Unmarshal(members["epk"], &epkMembers)
	keys := func(m map[string]json.RawMessage) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if ks := keys(members); !reflect.DeepEqual(ks, []string{"alg", "enc", "epk", "kid"}) {
		t.Errorf("%s: protected header members %v, want alg, enc, kid and epk", name, ks)
	}
	if ks := keys(epkMembers); !reflect.DeepEqual(ks, []string{"crv", "kty", "x", "y"}) {
		t.Errorf("%s: epk members %v, want kty, crv, x and y", name, ks)
	}
	want := `{"alg":"ECDH-ES","enc":"A256GCM","kid":"` + kid + `","epk":{"kty":"EC","crv":"P-256","x":"` +
		header.Epk.X + `","y":"` + header.Epk.Y + `"}}`
	if string(raw[0]) != want {
		t.Errorf("%s: protected header\n%s\nwant\n%s", name, raw[0], want)
	}
	return header.Epk.X + "," + header.Epk.Y
}

func trimForLog(s string) string {
	if r := []rune(s); len(r) > 24 {
		return strconv.Quote(string(r[:24])) + "…"
	}
	return strconv.Quote(s)
}
