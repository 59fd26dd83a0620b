/*
 * toktok-crypto.js: the RSA-OAEP (SHA-256) WebCrypto helpers that both
 * the hosted pages (pages/pages.js, served as /pages/toktok-crypto.js) and
 * the GraphiQL playground (playground/toktok-fetcher.js, served as
 * /playground/toktok-crypto.js) use to encrypt credentials under the key
 * that authConfig publishes. Each page loads it before its own scripts.
 *
 * Plain ES2020, no build step. It defines window.toktokCrypto:
 *   {requireSubtle, pemToDer, importPublicKey, bytesToBase64, encryptValue}
 * with the default error messages, and create(options), which returns the
 * same helpers with a caller's wording:
 *   options.insecureContextHint  appended to the no-WebCrypto message
 *   options.valueNoun            what a value is called in the too-long
 *                                message ("value" by default)
 * Errors carry flags that callers may test: insecureContext when WebCrypto
 * is missing (browsers offer it only in secure contexts), tooLong when a
 * value is longer than the key can encrypt.
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

    return Object.freeze({ requireSubtle, pemToDer, importPublicKey, bytesToBase64, encryptValue });
  }

  root.toktokCrypto = Object.freeze(Object.assign({ create }, create()));
})(typeof window !== 'undefined' ? window : globalThis);
