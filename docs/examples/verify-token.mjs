#!/usr/bin/env node
// verify-token.mjs: check a TokTok access token in another Node service (Node >= 20),
// with Node's built-in modules only. docs/security.md ("Verifying access tokens in other
// services") explains each check; the end-to-end suite runs this file against a real
// TokTok (e2e/relying_test.go). In an application, the `jose` package does the same with
// less code of your own: jwtVerify(token, createRemoteJWKSet(url), { issuer, audience,
// typ: 'at+jwt', algorithms: ['ES256', 'EdDSA', 'PS256', 'RS256'], clockTolerance: 30 }).
//
// As a module:
//   import { createVerifier, requireAal2 } from './verify-token.mjs';
//   const verify = createVerifier({ jwksUrl, issuer, audience });
//   const claims = await verify(token); // throws TokenError with the reason
//   requireAal2(claims);                // sensitive routes: a second factor verified
//   claims.amr;                         // how: ['pwd'], ['pwd', 'otp'], ['webauthn'], ...
//
// From a shell (prints the claims as JSON, or exits 1 with the reason; with aal2, a token
// of a session without a verified second factor is refused too):
//   node verify-token.mjs JWKS_URL TOKEN ISSUER AUDIENCE [aal2]

import { constants, createPublicKey, verify as verifySignature } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The algorithms TokTok signs access tokens with, and how Node checks each. HS256 is not
// here on purpose: its key is a secret that TokTok never publishes, and accepting it
// from a token would let anyone who knows a public key forge tokens.
const ALGS = {
  ES256: { kty: 'EC', crv: 'P-256', hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', hash: null, options: {} },
  PS256: {
    kty: 'RSA', hash: 'sha256',
    options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
  },
  RS256: { kty: 'RSA', hash: 'sha256', options: { padding: constants.RSA_PKCS1_PADDING } },
};

const LEEWAY_SECONDS = 30; // clock skew tolerated on exp, nbf and iat: TokTok's --jwt-leeway
const JWKS_MAX_AGE_MS = 5 * 60 * 1000; // TokTok serves the JWKS with max-age=300
const JWKS_MIN_REFETCH_MS = 60 * 1000; // an unknown kid fetches again at most this often

export class TokenError extends Error {}

function fail(reason) {
  throw new TokenError(reason);
}

function decodePart(part, what) {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) fail(`${what} is not base64url`);
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return fail(`${what} is not JSON`);
  }
}

// importJWKS keeps the keys of a JWK Set that can verify one of ALGS, by kid.
function importJWKS(set) {
  const keys = new Map();
  for (const jwk of Array.isArray(set?.keys) ? set.keys : []) {
    const alg = Object.hasOwn(ALGS, jwk.alg) ? ALGS[jwk.alg] : null;
    if (!alg || typeof jwk.kid !== 'string' || jwk.kty !== alg.kty || (alg.crv && jwk.crv !== alg.crv)) continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    try {
      const key = createPublicKey({ key: jwk, format: 'jwk' });
      if (alg.kty === 'RSA' && key.asymmetricKeyDetails.modulusLength < 2048) continue;
      keys.set(jwk.kid, { alg: jwk.alg, key });
    } catch {
      // A key Node cannot import verifies nothing; the others still count.
    }
  }
  return keys;
}

// checkClaims applies the claim checks of an access token at nowSeconds.
function checkClaims(claims, { issuer, audience }, nowSeconds) {
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) fail('the payload is not a JSON object');
  if (claims.iss !== issuer) fail(`iss ${JSON.stringify(claims.iss)} is not ${JSON.stringify(issuer)}`);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(audience)) fail(`aud ${JSON.stringify(claims.aud)} does not include ${JSON.stringify(audience)}`);
  if (typeof claims.exp !== 'number') fail('exp is missing');
  if (nowSeconds - LEEWAY_SECONDS >= claims.exp) fail('the token has expired');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > nowSeconds + LEEWAY_SECONDS)) {
    fail('the token is not valid yet (nbf)');
  }
  if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > nowSeconds + LEEWAY_SECONDS)) {
    fail('the token was issued in the future (iat)');
  }
  if (typeof claims.sub !== 'string' || claims.sub === '') fail('sub is missing');
}

// signatureValid checks the JWS signature of parts with key under alg; a malformed
// signature is simply not valid.
function signatureValid(alg, key, [header, payload, signature]) {
  if (!/^[A-Za-z0-9_-]+$/.test(signature)) return false;
  const { hash, options } = ALGS[alg];
  try {
    return verifySignature(hash, Buffer.from(`${header}.${payload}`), { key, ...options }, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

// createVerifier returns verify(token), which resolves to the claims of a valid TokTok
// access token and rejects with a TokenError saying why otherwise. The JWKS is fetched
// on first use and cached; an unknown kid (TokTok rotated its key) fetches it again.
export function createVerifier({ jwksUrl, issuer, audience, now = Date.now, fetchTimeoutMs = 5000 }) {
  if (!jwksUrl || !issuer || !audience) throw new TypeError('jwksUrl, issuer and audience are required');
  let keys = new Map();
  let fetchedAt = -Infinity; // last successful fetch
  let triedAt = -Infinity; // last attempt

  async function keyFor(kid) {
    const t = now();
    if ((!keys.has(kid) || t - fetchedAt > JWKS_MAX_AGE_MS) && t - triedAt >= JWKS_MIN_REFETCH_MS) {
      triedAt = t;
      try {
        const res = await fetch(jwksUrl, { signal: AbortSignal.timeout(fetchTimeoutMs) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        keys = importJWKS(await res.json());
        fetchedAt = t;
      } catch (err) {
        if (!keys.has(kid)) fail(`the JWKS cannot be read: ${err.message}`);
      }
    }
    return keys.get(kid) ?? fail(`unknown kid ${JSON.stringify(kid)}`);
  }

  return async function verify(token) {
    if (typeof token !== 'string' || token.length > 8192) fail('not a token');
    const parts = token.split('.');
    if (parts.length !== 3) fail('not a JWS in compact form');
    const header = decodePart(parts[0], 'the header');
    if (!Object.hasOwn(ALGS, header.alg)) fail(`alg ${JSON.stringify(header.alg)} is not accepted`);
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : '';
    if (typ !== 'at+jwt') fail(`typ ${JSON.stringify(header.typ)} is not at+jwt`);
    if (header.crit !== undefined) fail('crit headers are not supported');
    const key = await keyFor(header.kid);
    if (key.alg !== header.alg) fail(`alg ${header.alg} is not the alg of key ${header.kid}`);
    if (!signatureValid(header.alg, key.key, parts)) fail('bad signature');
    const claims = decodePart(parts[1], 'the payload');
    checkClaims(claims, { issuer, audience }, Math.floor(now() / 1000));
    return claims;
  };
}

// requireAal2 refuses, on a sensitive route, the claims of a session that has not proven
// a second factor: a password alone is aal "aal1"; a TOTP or recovery code verified on the
// session, or a passkey sign-in, is "aal2". A token without aal (issued before TokTok had
// second factors) is aal1. amr says how: "pwd", "otp", "recovery" (a recovery code was
// spent: the user may have lost their authenticator), "webauthn".
export function requireAal2(claims) {
  if (claims.aal !== 'aal2') fail(`aal ${JSON.stringify(claims.aal ?? null)}: a second factor is needed ("aal2" needed)`);
  return claims;
}

async function main(argv) {
  if ((argv.length !== 4 && argv.length !== 5) || (argv.length === 5 && argv[4] !== 'aal2')) {
    console.error('usage: node verify-token.mjs JWKS_URL TOKEN ISSUER AUDIENCE [aal2]');
    return 2;
  }
  const [jwksUrl, token, issuer, audience, level] = argv;
  try {
    const claims = await createVerifier({ jwksUrl, issuer, audience })(token);
    if (level === 'aal2') requireAal2(claims);
    console.log(JSON.stringify(claims));
    return 0;
  } catch (err) {
    console.error(`invalid token: ${err.message}`);
    return 1;
  }
}

// Run as a command, not when imported.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
