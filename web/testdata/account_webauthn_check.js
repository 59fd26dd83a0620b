// account_webauthn_check.js: checks of the WebAuthn JSON helpers of
// web/console/console.js (window.toktokWebAuthn), which both consoles use, under Node, run by
// TestConsoleWebAuthnWithNode: base64url both ways, the conversion of the
// server's options where the browser has no parse*OptionsFromJSON, and
// the JSON of a credential where it has no toJSON. Prints "ok" on
// success; throws (exit 1) otherwise.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');

globalThis.window = globalThis;
require(path.join(__dirname, '..', 'console', 'console.js'));
const W = globalThis.toktokWebAuthn;
assert.ok(W, 'console.js defines window.toktokWebAuthn without a page');

const bytes = (buf) => Array.from(new Uint8Array(buf));

function base64url() {
  // RFC 4648 test vectors, in the URL alphabet and unpadded.
  const vectors = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
  for (const [plain, enc] of vectors) {
    const buf = new TextEncoder().encode(plain);
    assert.equal(W.toBase64url(buf), enc);
    assert.equal(W.toBase64url(buf.buffer), enc);
    assert.deepEqual(bytes(W.fromBase64url(enc)), Array.from(buf));
  }
  // The URL alphabet: 0xfb 0xff 0xbf is "-_-_" (standard "+/+/").
  assert.equal(W.toBase64url(new Uint8Array([0xfb, 0xff, 0xbf])), '-_-_');
  assert.deepEqual(bytes(W.fromBase64url('-_-_')), [0xfb, 0xff, 0xbf]);
  // Padding is accepted, a view's own bytes only are encoded.
  assert.deepEqual(bytes(W.fromBase64url('Zm8=')), [0x66, 0x6f]);
  const big = new Uint8Array([1, 2, 3, 4, 5]);
  assert.equal(W.toBase64url(big.subarray(1, 3)), W.toBase64url(new Uint8Array([2, 3])));
  // Every byte value survives the round trip.
  const all = new Uint8Array(256).map((_, i) => i);
  assert.deepEqual(bytes(W.fromBase64url(W.toBase64url(all))), Array.from(all));
  for (const bad of ['Zm9v+', 'Zm/v', 'Z', 'Zm9vY', 'Zm 9v', 'Zm9v===', null, 42]) {
    assert.throws(() => W.fromBase64url(bad), TypeError, `fromBase64url(${JSON.stringify(bad)})`);
  }
}

function options() {
  const creation = {
    rp: { id: 'example.com', name: 'Acme' },
    user: { id: 'dXNlci0x', name: 'ann@example.com', displayName: 'Ann' },
    challenge: 'Y2hhbGxlbmdl',
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    excludeCredentials: [{ type: 'public-key', id: 'AQID', transports: ['internal'] }],
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    timeout: 300000,
  };
  for (const json of [creation, { publicKey: creation }]) {
    const o = W.creationOptions(json, null);
    assert.equal(new TextDecoder().decode(o.challenge), 'challenge');
    assert.equal(new TextDecoder().decode(o.user.id), 'user-1');
    assert.equal(o.user.name, 'ann@example.com');
    assert.deepEqual(bytes(o.excludeCredentials[0].id), [1, 2, 3]);
    assert.deepEqual(o.excludeCredentials[0].transports, ['internal']);
    assert.deepEqual(o.pubKeyCredParams, creation.pubKeyCredParams);
    assert.equal(creation.challenge, 'Y2hhbGxlbmdl', 'the server\'s options are left as they were');
  }
  const request = { challenge: 'Y2hhbGxlbmdl', rpId: 'example.com', allowCredentials: [{ type: 'public-key', id: 'BAUG' }], userVerification: 'required' };
  const r = W.requestOptions(request, null);
  assert.equal(new TextDecoder().decode(r.challenge), 'challenge');
  assert.deepEqual(bytes(r.allowCredentials[0].id), [4, 5, 6]);
  assert.equal(r.rpId, 'example.com');
  // Discoverable: no allowCredentials at all.
  assert.equal(W.requestOptions({ challenge: 'AA' }, null).allowCredentials, undefined);

  // The browser's own parsers win where it has them.
  const seen = [];
  const PKC = {
    parseCreationOptionsFromJSON: (o) => { seen.push(['create', o]); return 'parsed-create'; },
    parseRequestOptionsFromJSON: (o) => { seen.push(['get', o]); return 'parsed-get'; },
  };
  assert.equal(W.creationOptions({ publicKey: creation }, PKC), 'parsed-create');
  assert.equal(W.requestOptions(request, PKC), 'parsed-get');
  assert.deepEqual(seen, [['create', creation], ['get', request]]);
}

function credentials() {
  const buf = (...b) => new Uint8Array(b).buffer;
  const attestation = {
    id: 'AQID', rawId: buf(1, 2, 3), type: 'public-key', authenticatorAttachment: 'platform',
    getClientExtensionResults: () => ({ credProps: { rk: true } }),
    response: { clientDataJSON: buf(0x7b, 0x7d), attestationObject: buf(0xa0), getTransports: () => ['internal'] },
  };
  assert.deepEqual(W.credentialJSON(attestation), {
    id: 'AQID', rawId: 'AQID', type: 'public-key', authenticatorAttachment: 'platform',
    clientExtensionResults: { credProps: { rk: true } },
    response: { clientDataJSON: 'e30', attestationObject: 'oA', transports: ['internal'] },
  });
  const assertion = {
    id: 'AQID', rawId: buf(1, 2, 3), type: 'public-key', authenticatorAttachment: null,
    getClientExtensionResults: () => ({}),
    response: { clientDataJSON: buf(0x7b, 0x7d), authenticatorData: buf(0xfb, 0xff), signature: buf(0x30), userHandle: buf(0x75) },
  };
  assert.deepEqual(W.credentialJSON(assertion), {
    id: 'AQID', rawId: 'AQID', type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: 'e30', authenticatorData: '-_8', signature: 'MA', userHandle: 'dQ' },
  });
  // No user handle (a non-discoverable credential): none sent.
  assertion.response.userHandle = null;
  assert.equal('userHandle' in W.credentialJSON(assertion).response, false);
  // The browser's own toJSON wins.
  assert.deepEqual(W.credentialJSON({ toJSON: () => ({ id: 'x' }) }), { id: 'x' });
}

function secret() {
  assert.equal(W.groupSecret('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'), 'JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP');
  assert.equal(W.groupSecret('ABCDE'), 'ABCD E');
  assert.equal(W.groupSecret('ABCD'), 'ABCD');
  assert.equal(W.groupSecret(''), '');
  assert.equal(W.groupSecret(null), '');
}

base64url();
options();
credentials();
secret();
console.log('ok');
