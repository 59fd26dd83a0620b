/*
 * toktok-crypto.js: the WebCrypto helpers that both the hosted pages
 * (pages/pages.js, served as /pages/toktok-crypto.js) and the GraphiQL
 * playground (playground/toktok-fetcher.js, served as
 * /playground/toktok-crypto.js) use to encrypt credentials under the key
 * that authConfig publishes, in the scheme authConfig.encryptionAlgorithm
 * names. Each page loads it before its own scripts. Two schemes:
 *
 *   ECDH-ES+A256GCM  (the server's default) each value is a JWE compact
 *                    serialization (RFC 7516): ECDH-ES direct key agreement
 *                    on P-256 (RFC 7518 section 4.6) with the key of
 *                    authConfig.encryptionJwk, content encrypted with
 *                    AES-256-GCM; see encryptJWE.
 *   RSA-OAEP-256     (also when the server names none) each value is base64
 *                    of its RSA-OAEP (SHA-256) ciphertext under the SPKI PEM
 *                    of authConfig.encryptionKey; see encryptValue.
 *
 * Plain ES2020, no build step. It defines window.toktokCrypto:
 *   {requireSubtle, pemToDer, importPublicKey, bytesToBase64, encryptValue,
 *    base64url, jwkThumbprint, importEncryptionJwk, encryptJWE,
 *    serverKeyId, importServerKey, encryptWithServerKey, encryptForConfig,
 *    ALG_ECDH, ALG_RSA}
 * with the default error messages, and create(options), which returns the
 * same helpers with a caller's wording:
 *   options.insecureContextHint  appended to the no-WebCrypto message
 *   options.valueNoun            what a value is called in the too-long
 *                                message ("value" by default)
 * Errors carry flags that callers may test: insecureContext when WebCrypto
 * is missing (browsers offer it only in secure contexts), tooLong when a
 * value is longer than the key can encrypt (RSA-OAEP only), unsupported
 * when authConfig names a scheme that this file does not know.
 */
(function (root) {
  'use strict';

  function create(options) {
    const o = options || {};
    const insecureContextHint = o.insecureContextHint || '';
    const valueNoun = o.valueNoun || 'value';

    /** requireSubtle returns subtle, else crypto.subtle, or throws (insecureContext set). */
    function requireSubtle(subtle) {
      const s = subtle || (root.crypto && root.crypto.subtle) || null;
      if (!s) {
        const e = new Error('WebCrypto (crypto.subtle) is not available: browsers offer it only in secure ' +
          `contexts${insecureContextHint}`);
        e.insecureContext = true;
        throw e;
      }
      return s;
    }

    /** pemToDer returns the DER bytes (Uint8Array) of a "PUBLIC KEY" (SPKI) PEM block. */
    function pemToDer(pem) {
      if (typeof pem !== 'string') throw new TypeError('the PEM key must be a string');
      const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
      if (!m) throw new Error('the key is not a PEM block');
      if (m[1] !== 'PUBLIC KEY') throw new Error(`expected a "PUBLIC KEY" (SPKI) PEM block, got "${m[1]}"`);
      const b64 = m[2].replace(/\s+/g, '');
      if (b64 === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('the PEM block is not valid base64');
      const bin = atob(b64);
      const der = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
      return der;
    }

    /** importPublicKey imports an SPKI PEM RSA key for RSA-OAEP with SHA-256. */
    function importPublicKey(pem, subtle) {
      return requireSubtle(subtle).importKey('spki', pemToDer(pem), { name: 'RSA-OAEP', hash: 'SHA-256' },
        false, ['encrypt']);
    }

    /** bytesToBase64 encodes bytes as standard base64 with padding. */
    function bytesToBase64(bytes) {
      const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      let s = '';
      for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
      return btoa(s);
    }

    /**
     * encryptValue returns base64 of the RSA-OAEP ciphertext of the UTF-8 of
     * value. An error with tooLong set means value is longer than the key
     * can encrypt.
     */
    async function encryptValue(value, key, subtle) {
      const data = new TextEncoder().encode(value);
      const bits = key && key.algorithm && key.algorithm.modulusLength;
      // OAEP with SHA-256 takes at most k - 2*32 - 2 bytes.
      const max = bits ? bits / 8 - 66 : Infinity;
      if (data.length > max) {
        const e = new Error(`a ${valueNoun} of ${data.length} UTF-8 bytes is longer than the ${max} bytes ` +
          `that RSA-OAEP-256 can encrypt under a ${bits}-bit key`);
        e.tooLong = true;
        throw e;
      }
      return bytesToBase64(await requireSubtle(subtle).encrypt({ name: 'RSA-OAEP' }, key, data));
    }

    // -------------------------------------------------------------------
    // JWE compact serialization, ECDH-ES + A256GCM (RFC 7516, RFC 7518).

    /** base64url encodes bytes as base64url without padding (RFC 7515 section 2). */
    function base64url(bytes) {
      return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    }

    const utf8 = (s) => new TextEncoder().encode(s);
    const EC_P256 = { name: 'ECDH', namedCurve: 'P-256' };

    /** publicP256 returns the members of a P-256 public JWK that define the key, or throws. */
    function publicP256(jwk) {
      if (!jwk || typeof jwk !== 'object' || jwk.kty !== 'EC' || jwk.crv !== 'P-256' ||
        typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
        throw new Error('the encryption key is not a P-256 public JWK ({"kty":"EC","crv":"P-256","x":...,"y":...})');
      }
      return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
    }

    /**
     * jwkThumbprint returns the RFC 7638 thumbprint (SHA-256, base64url) of a
     * P-256 public JWK: the server names its keys (kid) so.
     */
    async function jwkThumbprint(jwk, subtle) {
      const k = publicP256(jwk);
      // The required members, in lexicographic order, no white space (RFC 7638 section 3.2).
      const canonical = `{"crv":"P-256","kty":"EC","x":"${k.x}","y":"${k.y}"}`;
      return base64url(await requireSubtle(subtle).digest('SHA-256', utf8(canonical)));
    }

    /**
     * importEncryptionJwk imports the server's P-256 public JWK for ECDH and
     * returns {key, kid}: kid is the JWK's, or its RFC 7638 thumbprint when it
     * has none. Only kty, crv, x and y go to importKey, which may refuse the
     * rest (use, alg, key_ops) for an ECDH key.
     */
    async function importEncryptionJwk(jwk, subtle) {
      const s = requireSubtle(subtle);
      const pub = publicP256(jwk);
      const key = await s.importKey('jwk', pub, EC_P256, false, []);
      const kid = typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : await jwkThumbprint(pub, s);
      return { key, kid };
    }

    /**
     * concatKDF derives the A256GCM content encryption key from the shared
     * secret Z: the Concat KDF of NIST SP 800-56A with SHA-256, as RFC 7518
     * section 4.6.2 sets its inputs for direct key agreement. 256 bits are one
     * SHA-256 round: SHA-256(counter 1 || Z || AlgorithmID || PartyUInfo ||
     * PartyVInfo || SuppPubInfo), each info a 32-bit big-endian length then
     * its bytes; AlgorithmID is the "enc" value, apu and apv are empty,
     * SuppPubInfo is the key length in bits, 256.
     */
    async function concatKDF(z, enc, subtle) {
      const id = utf8(enc);
      const input = new Uint8Array(4 + z.length + 4 + id.length + 4 + 4 + 4);
      const view = new DataView(input.buffer);
      let at = 0;
      view.setUint32(at, 1); // round 1
      at += 4;
      input.set(z, at);
      at += z.length;
      view.setUint32(at, id.length);
      input.set(id, at + 4);
      at += 4 + id.length;
      view.setUint32(at, 0); // PartyUInfo: no apu
      view.setUint32(at + 4, 0); // PartyVInfo: no apv
      view.setUint32(at + 8, 256); // SuppPubInfo: keydatalen
      return new Uint8Array(await subtle.digest('SHA-256', input));
    }

    /**
     * encryptJWEWithKey encrypts the UTF-8 of value for the server's ECDH key
     * (a CryptoKey from importEncryptionJwk, named kid), and returns the JWE
     * compact serialization (RFC 7516 section 7.1):
     *   BASE64URL(header) '.' '' '.' BASE64URL(iv) '.' BASE64URL(ciphertext) '.' BASE64URL(tag)
     * the encrypted key empty, as ECDH-ES agrees on the key directly.
     */
    async function encryptJWEWithKey(value, serverKey, kid, subtle) {
      const s = requireSubtle(subtle);
      // RFC 7518 section 4.6: an ephemeral key pair; Z = ECDH(its private key, the server's).
      // Its private key is not extractable (its public key always is).
      const eph = await s.generateKey(EC_P256, false, ['deriveBits']);
      const z = new Uint8Array(await s.deriveBits({ name: 'ECDH', public: serverKey }, eph.privateKey, 256));
      const epk = publicP256(await s.exportKey('jwk', eph.publicKey));
      const cek = await s.importKey('raw', await concatKDF(z, 'A256GCM', s), { name: 'AES-GCM' }, false, ['encrypt']);
      // RFC 7516 section 5.1: the protected header, its base64url the AAD; a random 96-bit IV.
      const header = base64url(utf8(JSON.stringify({ alg: 'ECDH-ES', enc: 'A256GCM', kid, epk })));
      const iv = randomBytes(12);
      const sealed = new Uint8Array(await s.encrypt({ name: 'AES-GCM', iv, additionalData: utf8(header), tagLength: 128 },
        cek, utf8(value)));
      // WebCrypto appends the 128-bit tag to the ciphertext.
      const ciphertext = sealed.subarray(0, sealed.length - 16);
      const tag = sealed.subarray(sealed.length - 16);
      return `${header}..${base64url(iv)}.${base64url(ciphertext)}.${base64url(tag)}`;
    }

    /** randomBytes returns n bytes from crypto.getRandomValues. */
    function randomBytes(n) {
      const c = root.crypto;
      if (!c || typeof c.getRandomValues !== 'function') throw new Error('crypto.getRandomValues is not available');
      return c.getRandomValues(new Uint8Array(n));
    }

    /**
     * encryptJWE returns the JWE compact serialization (ECDH-ES, A256GCM) of
     * the UTF-8 of value for jwk, the server's P-256 public key
     * (authConfig.encryptionJwk).
     */
    async function encryptJWE(value, jwk, subtle) {
      const { key, kid } = await importEncryptionJwk(jwk, subtle);
      return encryptJWEWithKey(value, key, kid, subtle);
    }

    // -------------------------------------------------------------------
    // The scheme authConfig names.

    const ALG_ECDH = 'ECDH-ES+A256GCM';
    const ALG_RSA = 'RSA-OAEP-256';

    /** algorithmOf returns the scheme cfg names (RSA-OAEP-256 when none), or throws (unsupported). */
    function algorithmOf(cfg) {
      const alg = (cfg && cfg.encryptionAlgorithm) || ALG_RSA; // servers before ECDH-ES named none
      if (alg !== ALG_ECDH && alg !== ALG_RSA) {
        const e = new Error(`unsupported encryptionAlgorithm "${alg}" (known: ${ALG_ECDH} and ${ALG_RSA})`);
        e.unsupported = true;
        throw e;
      }
      return alg;
    }

    /**
     * serverKeyId returns a string that names the key authConfig (cfg)
     * publishes, scheme included, for callers that cache importServerKey's
     * result: equal ids, same key.
     */
    function serverKeyId(cfg) {
      const alg = algorithmOf(cfg);
      if (alg === ALG_ECDH && cfg.encryptionJwk) {
        return `${alg} jwk ${JSON.stringify(publicP256(cfg.encryptionJwk))} kid ${cfg.encryptionJwk.kid || ''}`;
      }
      return `${alg} pem ${cfg.encryptionKey || ''}`;
    }

    /**
     * importServerKey imports the key that authConfig (cfg) publishes, for the
     * scheme it names, and returns {algorithm, key, kid}. For ECDH-ES the key
     * is authConfig.encryptionJwk; when the caller did not ask authConfig for
     * it, the same key as SPKI PEM (encryptionKey), named by its RFC 7638
     * thumbprint as the server names its keys.
     */
    async function importServerKey(cfg, subtle) {
      const algorithm = algorithmOf(cfg);
      if (algorithm === ALG_RSA) {
        if (!cfg.encryptionKey) throw new Error('authConfig.encryptedCredentials is true but encryptionKey is empty');
        return { algorithm, key: await importPublicKey(cfg.encryptionKey, subtle), kid: null };
      }
      if (cfg.encryptionJwk) return Object.assign({ algorithm }, await importEncryptionJwk(cfg.encryptionJwk, subtle));
      if (!cfg.encryptionKey) throw new Error('authConfig.encryptedCredentials is true but encryptionJwk and encryptionKey are empty');
      const s = requireSubtle(subtle);
      const spki = await s.importKey('spki', pemToDer(cfg.encryptionKey), EC_P256, true, []);
      const jwk = await s.exportKey('jwk', spki);
      return { algorithm, key: spki, kid: await jwkThumbprint(jwk, s) };
    }

    /**
     * encryptWithServerKey encrypts value under a key from importServerKey,
     * in its scheme. A bare CryptoKey (importPublicKey's) is taken as
     * RSA-OAEP.
     */
    function encryptWithServerKey(value, serverKey, subtle) {
      if (serverKey && serverKey.algorithm === ALG_ECDH) return encryptJWEWithKey(value, serverKey.key, serverKey.kid, subtle);
      if (serverKey && serverKey.algorithm === ALG_RSA) return encryptValue(value, serverKey.key, subtle);
      return encryptValue(value, serverKey, subtle);
    }

    // The last key encryptForConfig imported.
    let lastKey = null; // {id, subtle, serverKey}

    /**
     * encryptForConfig encrypts value as authConfig (cfg) asks: a JWE compact
     * serialization for ECDH-ES+A256GCM, base64 of an RSA-OAEP ciphertext for
     * RSA-OAEP-256 or when cfg names no scheme; another scheme throws (error
     * flag unsupported). The imported key is kept for the next call with the
     * same key.
     */
    async function encryptForConfig(value, cfg, subtle) {
      const id = serverKeyId(cfg);
      if (lastKey === null || lastKey.id !== id || lastKey.subtle !== subtle) {
        lastKey = { id, subtle, serverKey: await importServerKey(cfg, subtle) };
      }
      return encryptWithServerKey(value, lastKey.serverKey, subtle);
    }

    return Object.freeze({
      requireSubtle, pemToDer, importPublicKey, bytesToBase64, encryptValue,
      base64url, jwkThumbprint, importEncryptionJwk, encryptJWE,
      serverKeyId, importServerKey, encryptWithServerKey, encryptForConfig,
      ALG_ECDH, ALG_RSA,
    });
  }

  root.toktokCrypto = Object.freeze(Object.assign({ create }, create()));
})(typeof window !== 'undefined' ? window : globalThis);
