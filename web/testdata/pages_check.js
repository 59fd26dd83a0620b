// Checks pages/pages.js, pages/confirm.js and pages/reset.js, with the
// RSA-OAEP helpers of shared/toktok-crypto.js that the pages load first,
// under Node (>= 20, for WebCrypto), in a fake DOM with a fake GraphQL
// server. Run by TestPagesWithNode:
//
//	node pages_check.js <pages dir> <toktok-crypto.js>
//
// with the pages' messages, as the rendered pages carry them, in
// TOKTOK_PAGES_MESSAGES ({"en": {...}, "fr": {...}}) and the test's RSA
// public key (SPKI PEM) in TOKTOK_TEST_PEM. It fails with a non-zero exit
// status and prints, on success, the ciphertexts it saw as JSON
// {"ciphertexts": {"label": base64}, "plaintexts": {"label": text}} for the
// Go side to decrypt with the private key.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const dir = process.argv[2];
const SOURCES = {
  crypto: fs.readFileSync(process.argv[3], 'utf8'),
  pages: fs.readFileSync(path.join(dir, 'pages.js'), 'utf8'),
  confirm: fs.readFileSync(path.join(dir, 'confirm.js'), 'utf8'),
  reset: fs.readFileSync(path.join(dir, 'reset.js'), 'utf8'),
};
const MESSAGES = JSON.parse(process.env.TOKTOK_PAGES_MESSAGES);
const PEM = process.env.TOKTOK_TEST_PEM;
assert.ok(PEM, 'TOKTOK_TEST_PEM is not set');

const ciphertexts = {};
const plaintexts = {};

// ---------------------------------------------------------------------
// A fake DOM: just what the pages use.

class FakeElement {
  constructor(doc, tag, id) {
    this.doc = doc;
    this.tagName = tag.toUpperCase();
    this.id = id || '';
    this.attrs = new Map();
    this.children = [];
    this.text = '';
    this.hidden = false;
    this.disabled = false;
    this.value = '';
    this.listeners = {};
    this.removed = false;
  }

  get textContent() {
    return this.text + this.children.map((c) => c.textContent).join('');
  }

  set textContent(v) {
    this.text = String(v);
    this.children = [];
  }

  get innerHTML() {
    throw new Error('the pages must not read or write innerHTML');
  }

  set innerHTML(v) {
    throw new Error('the pages must not read or write innerHTML');
  }

  setAttribute(k, v) {
    this.attrs.set(k, String(v));
  }

  getAttribute(k) {
    return this.attrs.has(k) ? this.attrs.get(k) : null;
  }

  removeAttribute(k) {
    this.attrs.delete(k);
  }

  addEventListener(type, fn) {
    (this.listeners[type] = this.listeners[type] || []).push(fn);
  }

  // dispatch calls the listeners and resolves once their promises settle.
  async dispatch(type) {
    const ev = { type, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    await Promise.all((this.listeners[type] || []).map((fn) => fn(ev)));
    return ev;
  }

  appendChild(c) {
    this.children.push(c);
    return c;
  }

  remove() {
    this.removed = true;
    this.doc.elements.delete(this.id);
  }

  focus() {
    this.doc.activeElement = this;
  }
}

class FakeDocument {
  constructor(ids, messages, endpoint) {
    this.elements = new Map();
    this.activeElement = null;
    this.body = new FakeElement(this, 'body');
    this.body.setAttribute('data-endpoint', endpoint);
    for (const [id, tag] of Object.entries(ids)) {
      const el = new FakeElement(this, tag, id);
      if (tag === 'button' || tag === 'input') el.disabled = tag === 'button'; // as the HTML has them
      this.elements.set(id, el);
    }
    this.elements.get('messages').text = JSON.stringify(messages);
    this.elements.get('lang-switch').setAttribute('href', '?lang=fr');
    this.elements.get('status').setAttribute('role', 'status');
  }

  getElementById(id) {
    return this.elements.get(id) || null;
  }

  createElement(tag) {
    return new FakeElement(this, tag);
  }
}

const CONFIRM_IDS = { messages: 'script', 'lang-switch': 'a', status: 'p', 'confirm-button': 'button' };
const RESET_IDS = {
  messages: 'script', 'lang-switch': 'a', status: 'p', 'reset-form': 'form', password: 'input',
  'password-confirm': 'input', 'password-hint': 'p', submit: 'button', reasons: 'ul',
};

// ---------------------------------------------------------------------
// A fake GraphQL server.

function json(body, status, headers) {
  return {
    status: status || 200,
    headers: { get: (k) => (headers && headers[k]) || null },
    json: async () => (typeof body === 'string' ? JSON.parse(body) : body),
  };
}

function gqlError(code, extra) {
  return json({ errors: [{ message: code.toLowerCase(), extensions: Object.assign({ code }, extra) }], data: null });
}

const PLAIN_CONFIG = {
  anonymousTokenRequired: false, encryptedCredentials: false, encryptionKey: null,
  encryptionAlgorithm: null, passwordMinLength: 12, passwordMaxLength: 64,
};

// load runs a page in a new context. server(req, page) answers each
// request {url, method, headers, body (parsed), op (root field)}.
function load(kind, opts) {
  const o = Object.assign({ lang: 'en', location: {}, server: null }, opts);
  const messages = MESSAGES[o.lang];
  const doc = new FakeDocument(kind === 'confirm' ? CONFIRM_IDS : RESET_IDS, messages, '/graphql');
  const requests = [];
  const replaced = [];
  const page = { doc, requests, replaced, messages, el: (id) => doc.getElementById(id), winListeners: {}, reloads: 0 };
  const win = {
    document: doc,
    location: Object.assign({
      pathname: kind === 'confirm' ? '/confirm-email' : '/reset-password', search: '', hash: '', reload: () => { page.reloads++; },
    }, o.location),
    history: { state: null, replaceState: (s, t, url) => replaced.push(url) },
    addEventListener: (type, fn) => { (page.winListeners[type] = page.winListeners[type] || []).push(fn); },
    fetch: async (url, init) => {
      assert.equal(init.method, 'POST');
      assert.equal(init.headers['Content-Type'], 'application/json');
      const body = JSON.parse(init.body);
      const op = /\{\s*(\w+)/.exec(body.query)[1];
      const req = { url, init, headers: init.headers, body, op };
      requests.push(req);
      if (!o.server) throw new Error(`unexpected request ${op}`);
      return o.server(req, page);
    },
    crypto: globalThis.crypto,
    atob,
    btoa,
    TextEncoder,
    console,
  };
  win.window = win;
  vm.createContext(win);
  vm.runInContext(SOURCES.crypto, win, { filename: 'toktok-crypto.js' });
  vm.runInContext(SOURCES.pages, win, { filename: 'pages.js' });
  vm.runInContext(SOURCES[kind], win, { filename: `${kind}.js` });
  page.win = win;
  return page;
}

function state(page) {
  const s = page.el('status');
  return { state: s.getAttribute('data-state'), text: s.textContent };
}

function format(t, vars) {
  return t.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

// settle lets pending promises (authConfig at load) run.
const settle = () => new Promise((r) => setTimeout(r, 0));

// ---------------------------------------------------------------------
// Helpers.

function testHelpers() {
  const ctx = { atob, btoa, TextEncoder, crypto: globalThis.crypto };
  ctx.window = ctx;
  vm.createContext(ctx);
  vm.runInContext(SOURCES.crypto, ctx);
  vm.runInContext(SOURCES.pages, ctx);
  const P = ctx.toktokPages;

  assert.equal(P.readParam('token=a+b%2Bc&x=1', 'token'), 'a+b+c');
  assert.equal(P.readParam('x=1&token=', 'token'), '');
  assert.equal(P.readParam('x=1', 'token'), null);
  assert.equal(P.readParam('token=%E0%A4%A', 'token'), '', 'malformed percent-encoding');
  assert.equal(P.cleanToken('  abc  '), 'abc');
  assert.equal(P.cleanToken('a b'), '');
  assert.equal(P.cleanToken('x'.repeat(1025)), '');

  let replaced = [];
  const hist = { state: null, replaceState: (s, t, u) => replaced.push(u) };
  assert.equal(P.takeToken({ pathname: '/p', search: '', hash: '#token=abc' }, hist), 'abc');
  assert.deepEqual(replaced, [], 'a fragment token leaves the URL alone');
  assert.equal(P.takeToken({ pathname: '/p', search: '?lang=fr&token=q1&x=2', hash: '' }, hist), 'q1');
  assert.deepEqual(replaced, ['/p?lang=fr&x=2']);
  replaced = [];
  assert.equal(P.takeToken({ pathname: '/p', search: '?token=q1', hash: '#token=h1' }, hist), 'h1', 'the fragment wins');
  assert.deepEqual(replaced, ['/p#token=h1']);
  assert.equal(P.takeToken({ pathname: '/p', search: '', hash: '' }, hist), '');

  assert.equal(P.format('a {x} {y} {x}', { x: '{y}$&' }), 'a {y}$& {y} {y}$&');
  assert.equal(P.codePoints('e\u0301té'), 3, 'NFC code points');
  assert.equal(P.codePoints('😀😀'), 2);

  const M = MESSAGES.en;
  assert.equal(P.firstError({ data: { x: 1 } }), null);
  const e = P.firstError({ errors: [{ extensions: { code: 'BAD_USER_INPUT', reasons: ['TOO_SHORT', { code: 'common' }, 3] } }] });
  assert.deepEqual([e.code, [...e.reasons]], ['BAD_USER_INPUT', ['too_short', 'common']]);
  assert.equal(P.errorMessage({ code: 'RATE_LIMITED', retryAfter: 30 }, M), format(M.rateLimited, { n: 30 }));
  assert.equal(P.errorMessage({ code: 'RATE_LIMITED', retryAfter: 1 }, M), M.rateLimitedOne);
  assert.equal(P.errorMessage({ code: 'RATE_LIMITED', retryAfter: null }, M), M.rateLimitedLater);
  assert.equal(P.errorMessage({ code: 'INVALID_TOKEN' }, M), M.invalidToken);
  assert.equal(P.errorMessage({ code: 'EMAIL_TAKEN' }, M), M.emailTaken);
  assert.equal(P.errorMessage({ code: 'WHATEVER' }, M), M.generic);
}

// ---------------------------------------------------------------------
// The confirmation page.

async function testConfirm() {
  const M = MESSAGES.en;

  // No token: a message, no button, no request.
  let p = load('confirm');
  assert.deepEqual(state(p), { state: 'error', text: M.missingToken });
  assert.equal(p.el('confirm-button'), null, 'the button is removed');
  assert.equal(p.requests.length, 0);

  // A token: nothing is posted until the click.
  let inFlight = null;
  p = load('confirm', {
    location: { hash: '#token=tok%2Ben' },
    server: (req, page) => {
      inFlight = { disabled: page.el('confirm-button').disabled, status: state(page) };
      return json({ data: { confirmEmail: { email: 'a<b>&"c"@example.com', emailConfirmed: true } } });
    },
  });
  await settle();
  assert.equal(p.requests.length, 0, 'opening the page posts nothing');
  const button = p.el('confirm-button');
  assert.equal(button.disabled, false, 'the script enables the button');
  assert.equal(p.doc.body.getAttribute('data-ready'), 'true');
  assert.equal(p.el('lang-switch').getAttribute('href'), '?lang=fr#token=tok%2Ben');
  await button.dispatch('click');
  assert.equal(p.requests.length, 1);
  const req = p.requests[0];
  assert.equal(req.url, '/graphql');
  assert.equal(req.op, 'confirmEmail');
  assert.match(req.body.query, /^mutation \w*\(\$t: String!\) \{ confirmEmail\(token: \$t\) \{ email emailConfirmed \} \}$/);
  assert.deepEqual(req.body.variables, { t: 'tok+en' });
  assert.equal(req.headers.Authorization, undefined);
  assert.deepEqual(inFlight, { disabled: true, status: { state: 'busy', text: M.confirming } });
  assert.deepEqual(state(p), { state: 'success', text: format(M.confirmed, { email: 'a<b>&"c"@example.com' }) });
  assert.equal(button.removed, true, 'the button is gone after success');

  // A link to the same page pasted in the address bar changes only the
  // fragment: the page starts again with the new token.
  p.win.location.hash = '#token=tok%2Ben';
  p.winListeners.hashchange.forEach((fn) => fn());
  assert.equal(p.reloads, 0, 'same token, no reload');
  p.win.location.hash = '#token=newer';
  p.winListeners.hashchange.forEach((fn) => fn());
  assert.equal(p.reloads, 1, 'a new token reloads the page');

  // Final errors remove the button.
  for (const [code, text] of [['INVALID_TOKEN', M.invalidToken], ['EMAIL_TAKEN', M.emailTaken]]) {
    p = load('confirm', { location: { hash: '#token=t' }, server: () => gqlError(code) });
    await p.el('confirm-button').dispatch('click');
    assert.deepEqual(state(p), { state: 'error', text }, code);
    assert.equal(p.el('confirm-button'), null, code);
  }

  // Passing errors leave the button, enabled, for another try.
  const answers = [
    () => gqlError('RATE_LIMITED', { retryAfter: 42 }),
    () => { throw new TypeError('Failed to fetch'); },
    () => gqlError('INTERNAL'),
    () => ({ status: 502, headers: { get: () => null }, json: async () => { throw new SyntaxError('not JSON'); } }),
    () => gqlError('UNAVAILABLE'),
    () => json({ data: { confirmEmail: { email: 'ok@example.com', emailConfirmed: true } } }),
  ];
  const texts = [format(M.rateLimited, { n: 42 }), M.network, M.generic, M.unavailable, M.unavailable,
    format(M.confirmed, { email: 'ok@example.com' })];
  p = load('confirm', { location: { hash: '#token=t' }, server: (req) => answers[p.requests.length - 1](req) });
  for (let i = 0; i < answers.length; i++) {
    await p.el('confirm-button').dispatch('click');
    assert.equal(state(p).text, texts[i], `answer ${i}`);
    if (i < answers.length - 1) {
      assert.equal(state(p).state, 'error', `answer ${i}`);
      assert.equal(p.el('confirm-button').disabled, false, `answer ${i}`);
    }
  }
  assert.equal(state(p).state, 'success');

  // A token in the query: dropped from the address bar, used all the same.
  p = load('confirm', {
    location: { search: '?lang=fr&token=qtok', hash: '' },
    lang: 'fr',
    server: () => json({ data: { confirmEmail: { email: 'é@example.com', emailConfirmed: true } } }),
  });
  assert.deepEqual(p.replaced, ['/confirm-email?lang=fr']);
  assert.equal(p.el('lang-switch').getAttribute('href'), '?lang=fr#token=qtok');
  await p.el('confirm-button').dispatch('click');
  assert.deepEqual(p.requests[0].body.variables, { t: 'qtok' });
  assert.equal(state(p).text, format(MESSAGES.fr.confirmed, { email: 'é@example.com' }));
  assert.match(state(p).text, /confirmée/);

  // ANONYMOUS_TOKEN_REQUIRED: one anonymous token, one more try.
  p = load('confirm', {
    location: { hash: '#token=t' },
    server: (req) => {
      if (req.op === 'anonymousToken') return json({ data: { anonymousToken: { token: 'anon-1' } } });
      if (!req.headers.Authorization) return gqlError('ANONYMOUS_TOKEN_REQUIRED');
      return json({ data: { confirmEmail: { email: 'x@example.com', emailConfirmed: true } } });
    },
  });
  await p.el('confirm-button').dispatch('click');
  assert.deepEqual(p.requests.map((r) => r.op), ['confirmEmail', 'anonymousToken', 'confirmEmail']);
  assert.equal(p.requests[2].headers.Authorization, 'Bearer anon-1');
  assert.equal(state(p).state, 'success');
}

// ---------------------------------------------------------------------
// The reset page.

function resetServer(cfg, onReset) {
  return (req, page) => {
    if (req.op === 'authConfig') return json({ data: { authConfig: cfg } });
    if (req.op === 'anonymousToken') return json({ data: { anonymousToken: { token: 'anon-tok' } } });
    assert.equal(req.op, 'resetPassword');
    return onReset(req, page);
  };
}

async function fill(p, pw, confirmation) {
  p.el('password').value = pw;
  p.el('password-confirm').value = confirmation === undefined ? pw : confirmation;
  const ev = await p.el('reset-form').dispatch('submit');
  assert.equal(ev.defaultPrevented, true, 'the form is never submitted natively');
}

async function testReset() {
  const M = MESSAGES.en;
  const R = M.reasons;
  const GOOD = 'correct horse battery staple';

  // No token: a message, no form, no request at all.
  let p = load('reset');
  await settle();
  assert.deepEqual(state(p), { state: 'error', text: M.missingToken });
  assert.equal(p.el('reset-form'), null);
  assert.equal(p.requests.length, 0);

  // Opening the page reads authConfig only.
  let resets = 0;
  p = load('reset', {
    location: { hash: '#token=rtok' },
    server: resetServer(PLAIN_CONFIG, (req) => {
      resets++;
      if (req.body.variables.p === 'alice-is-weak-password') {
        return gqlError('BAD_USER_INPUT', { field: 'newPassword', reasons: ['contains_email', 'common', 'mystery'] });
      }
      if (req.body.variables.p === 'refused without reasons') return gqlError('BAD_USER_INPUT', { field: 'newPassword' });
      return gqlError('RATE_LIMITED', { retryAfter: 1 });
    }),
  });
  await settle();
  assert.deepEqual(p.requests.map((r) => r.op), ['authConfig']);
  assert.ok(!JSON.stringify(p.requests[0].body).includes('rtok'), 'authConfig does not carry the token');
  assert.equal(p.el('password-hint').textContent, format(M.lengthHint, { min: 12, max: 64 }));
  assert.equal(p.el('submit').disabled, false);

  // Client-side checks: nothing is posted.
  await fill(p, '');
  assert.deepEqual(state(p), { state: 'error', text: M.passwordEmpty });
  await fill(p, 'short');
  assert.deepEqual(state(p), { state: 'error', text: M.weakPassword });
  assert.equal(p.el('reasons').hidden, false);
  assert.deepEqual(p.el('reasons').children.map((li) => li.textContent), [format(R.too_short, { min: 12 })]);
  assert.equal(p.el('password').getAttribute('aria-invalid'), 'true');
  await fill(p, 'x'.repeat(65));
  assert.deepEqual(p.el('reasons').children.map((li) => li.textContent), [format(R.too_long, { max: 64 })]);
  await fill(p, 'e\u0301'.repeat(12), 'other'); // 12 code points after NFC, 24 before: long enough
  assert.deepEqual(state(p), { state: 'error', text: M.passwordMismatch });
  assert.equal(p.el('reasons').hidden, true, 'the reasons are cleared');
  await fill(p, GOOD, GOOD + ' ');
  assert.deepEqual(state(p), { state: 'error', text: M.passwordMismatch });
  assert.equal(p.el('password-confirm').getAttribute('aria-invalid'), 'true');
  assert.equal(resets, 0, 'client-side errors post nothing');

  // The policy's reasons, in words.
  await fill(p, 'alice-is-weak-password');
  assert.equal(resets, 1);
  assert.deepEqual(state(p), { state: 'error', text: M.weakPassword });
  assert.deepEqual(p.el('reasons').children.map((li) => li.textContent),
    [R.contains_email, R.common, format(R.other, { reason: 'mystery' })]);
  assert.deepEqual(p.el('reasons').children.map((li) => li.getAttribute('data-reason')), ['contains_email', 'common', 'mystery']);
  assert.equal(p.el('submit').disabled, false);
  await fill(p, 'refused without reasons');
  assert.deepEqual(state(p), { state: 'error', text: M.passwordRefused });
  assert.equal(p.el('reasons').hidden, true);
  await fill(p, GOOD);
  assert.deepEqual(state(p), { state: 'error', text: M.rateLimitedOne });
  assert.equal(p.el('reset-form').removed, false);

  // An invalid token ends the page.
  p = load('reset', { location: { hash: '#token=t' }, server: resetServer(PLAIN_CONFIG, () => gqlError('INVALID_TOKEN')) });
  await fill(p, GOOD);
  assert.deepEqual(state(p), { state: 'error', text: M.invalidToken });
  assert.equal(p.el('reset-form'), null);

  // Success in clear, without anonymous token; submit disabled in flight.
  let inFlight = null;
  p = load('reset', {
    location: { hash: '#token=tok1' },
    server: resetServer(PLAIN_CONFIG, (req, page) => {
      inFlight = { disabled: page.el('submit').disabled, status: state(page), busy: page.el('reset-form').getAttribute('aria-busy') };
      return json({ data: { resetPassword: true } });
    }),
  });
  await fill(p, GOOD);
  const req = p.requests.find((r) => r.op === 'resetPassword');
  assert.match(req.body.query, /^mutation \w*\(\$t: String!, \$p: String!\) \{ resetPassword\(token: \$t, newPassword: \$p\) \}$/);
  assert.deepEqual(req.body.variables, { t: 'tok1', p: GOOD });
  assert.equal(req.headers.Authorization, undefined);
  assert.deepEqual(inFlight, { disabled: true, status: { state: 'busy', text: M.resetting }, busy: 'true' });
  assert.deepEqual(state(p), { state: 'success', text: M.resetDone });
  assert.equal(p.el('reset-form'), null, 'the form is removed');

  // --salt and --anojwt: encrypted, with an anonymous token (French page).
  const F = MESSAGES.fr;
  const secret = 'mot de passe très secret ☃';
  const cfg = Object.assign({}, PLAIN_CONFIG, {
    anonymousTokenRequired: true, encryptedCredentials: true, encryptionKey: PEM, encryptionAlgorithm: 'RSA-OAEP-256',
  });
  p = load('reset', {
    lang: 'fr',
    location: { hash: '#token=tok2' },
    server: resetServer(cfg, (r) => {
      ciphertexts.reset = r.body.variables.p;
      plaintexts.reset = secret;
      return json({ data: { resetPassword: true } });
    }),
  });
  await fill(p, secret);
  assert.deepEqual(p.requests.map((r) => r.op), ['authConfig', 'anonymousToken', 'resetPassword']);
  const enc = p.requests[2];
  assert.equal(enc.headers.Authorization, 'Bearer anon-tok');
  assert.equal(enc.body.variables.t, 'tok2', 'the token itself is not encrypted');
  assert.match(enc.body.variables.p, /^[A-Za-z0-9+/]+={0,2}$/);
  assert.notEqual(enc.body.variables.p, secret);
  assert.deepEqual(state(p), { state: 'success', text: F.resetDone });

  // Too long for the key (2048 bits: 190 bytes).
  p = load('reset', { location: { hash: '#token=t' }, server: resetServer(Object.assign({}, cfg, { passwordMaxLength: 256 }), () => assert.fail('posted')) });
  await fill(p, 'é'.repeat(120));
  assert.deepEqual(state(p), { state: 'error', text: M.tooLongToEncrypt });

  // No WebCrypto (plain HTTP): said so, nothing posted.
  p = load('reset', { location: { hash: '#token=t' }, server: resetServer(cfg, () => assert.fail('posted')) });
  p.win.crypto = undefined;
  await fill(p, GOOD);
  assert.deepEqual(state(p), { state: 'error', text: M.insecureContext });

  // A server that refuses the anonymous token on resetPassword: once more without.
  p = load('reset', {
    location: { hash: '#token=t' },
    server: resetServer(Object.assign({}, PLAIN_CONFIG, { anonymousTokenRequired: true }), (r) =>
      (r.headers.Authorization ? gqlError('UNAUTHENTICATED') : json({ data: { resetPassword: true } }))),
  });
  await fill(p, GOOD);
  assert.deepEqual(p.requests.map((r) => [r.op, r.headers.Authorization || null]),
    [['authConfig', null], ['anonymousToken', null], ['resetPassword', 'Bearer anon-tok'], ['resetPassword', null]]);
  assert.equal(state(p).state, 'success');

  // authConfig fails at load: tried again at submit.
  let configCalls = 0;
  p = load('reset', {
    location: { hash: '#token=t' },
    server: (r) => {
      if (r.op === 'authConfig' && ++configCalls === 1) throw new TypeError('offline');
      return resetServer(PLAIN_CONFIG, () => json({ data: { resetPassword: true } }))(r);
    },
  });
  await settle();
  assert.equal(p.el('password-hint').textContent, '', 'no hint without authConfig');
  await fill(p, GOOD);
  assert.equal(configCalls, 2);
  assert.equal(state(p).state, 'success');
}

// The RSA-OAEP helpers that the pages export, from toktok-crypto.js, with
// the pages' flags and wording.
async function testCryptoHelpers() {
  const ctx = { atob, btoa, TextEncoder, crypto: globalThis.crypto };
  ctx.window = ctx;
  vm.createContext(ctx);
  assert.throws(() => vm.runInContext(SOURCES.pages, ctx), /toktok-crypto\.js/, 'pages.js without toktok-crypto.js');
  vm.runInContext(SOURCES.crypto, ctx);
  vm.runInContext(SOURCES.pages, ctx);
  const P = ctx.toktokPages;

  const der = P.pemToDer(PEM);
  assert.equal(Buffer.from(der).toString('base64'), PEM.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''));
  assert.deepEqual(ctx.toktokCrypto.pemToDer(PEM), der);
  assert.throws(() => P.pemToDer('not a key'), /PEM/);
  assert.equal(P.bytesToBase64(new Uint8Array([0xfb, 0xff, 0x00])), '+/8A');
  const key = await P.importPublicKey(PEM);
  await assert.rejects(P.encryptValue('x'.repeat(191), key),
    (e) => e.tooLong === true && /^a value of 191 UTF-8 bytes .* 190 bytes/.test(e.message));
  const ct = await P.encryptValue('pages helper', key);
  assert.match(ct, /^[A-Za-z0-9+/]+={0,2}$/);
  ciphertexts['helpers.encryptValue'] = ct;
  plaintexts['helpers.encryptValue'] = 'pages helper';

  ctx.crypto = undefined;
  assert.throws(() => P.importPublicKey(PEM),
    (e) => e.insecureContext === true && /only in secure contexts$/.test(e.message));
}

(async () => {
  testHelpers();
  await testCryptoHelpers();
  await testConfirm();
  await testReset();
  process.stdout.write(JSON.stringify({ ciphertexts, plaintexts }));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
