// console_check.js: checks of web/console/console.js under Node, run by
// TestConsoleWithNode: its pure helpers, and its session against a fake
// GraphQL server. Prints "ok" on success; throws (exit 1) otherwise.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');

globalThis.window = globalThis;
require(path.join(__dirname, '..', 'shared', 'toktok-crypto.js'));
require(path.join(__dirname, '..', 'pages', 'pages.js'));
require(path.join(__dirname, '..', 'console', 'console.js'));
const C = globalThis.toktokConsole;
const M = JSON.parse(process.env.TOKTOK_CONSOLE_MESSAGES || '{}');

const err = (code, ext) => ({ errors: [{ message: code, extensions: Object.assign({ code }, ext || {}) }] });

function helpers() {
  assert.equal(C.t(M, 'forgotSent', { email: 'a@b.c' }), M.forgotSent.replace('{email}', 'a@b.c'));
  assert.equal(C.t(M, 'nonesuch'), 'nonesuch');
  assert.equal(C.errorText(M, { data: {} }), '');
  assert.equal(C.errorText(M, err('INVALID_CREDENTIALS')), M.errInvalidCredentials);
  assert.equal(C.errorText(M, err('RATE_LIMITED', { retryAfter: 42 })), M.errRateLimited.replace('{n}', '42'));
  assert.equal(C.errorText(M, err('RATE_LIMITED', { retryAfter: 1 })), M.errRateLimitedOne);
  assert.equal(C.errorText(M, err('RATE_LIMITED', { retryAfter: 900 })), M.errRateLimitedMinutes.replace('{n}', '15'));
  assert.equal(C.errorText(M, err('RATE_LIMITED')), M.errRateLimitedLater);
  assert.equal(C.errorText(M, err('ACCOUNT_DISABLED')), M.errAccountDisabled);
  assert.equal(C.errorText(M, err('NETWORK')), M.errNetwork);
  assert.equal(C.errorText(M, err('SOMETHING_NEW')), M.errGeneric);
  assert.equal(C.errorText(M, err('BAD_USER_INPUT', { field: 'antispam' })), M.errAntispam);
  assert.equal(C.errorText(M, err('BAD_USER_INPUT', { reasons: ['COMMON'] })), M.errWeakPassword);
  assert.deepEqual(C.reasonsText(M, err('BAD_USER_INPUT', { reasons: ['TOO_SHORT', 'common', 'common', 'weird'] }),
    { passwordMinLength: 12, passwordMaxLength: 256 }),
  [M.reasons.too_short.replace('{min}', '12'), M.reasons.common, M.reasons.other.replace('{reason}', 'weird')]);

  const ua = (s) => C.describeUserAgent(s);
  assert.deepEqual(ua('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36'), { browser: 'Chrome', os: 'Linux' });
  assert.deepEqual(ua('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0'), { browser: 'Firefox', os: 'Windows' });
  assert.deepEqual(ua('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1'), { browser: 'Safari', os: 'iOS' });
  assert.deepEqual(ua('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0'), { browser: 'Edge', os: 'macOS' });
  assert.deepEqual(ua('Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36'), { browser: 'Chrome', os: 'Android' });
  assert.deepEqual(ua('curl/8.5.0'), { browser: 'curl', os: '' });
  assert.deepEqual(ua(''), { browser: '', os: '' });
  assert.deepEqual(ua(null), { browser: '', os: '' });
  assert.match(C.formatTime('2026-01-02T03:04:05Z', 'en'), /2026/);
  assert.equal(C.formatTime('not a time', 'en'), 'not a time');
  assert.equal(C.formatTime(null, 'en'), '');

  const el = { textContent: 'x', attrs: {}, setAttribute(k, v) { this.attrs[k] = v; }, removeAttribute(k) { delete this.attrs[k]; } };
  C.showStatus(el, 'error', 'boom');
  assert.equal(el.textContent, 'boom');
  assert.equal(el.attrs['data-state'], 'error');
  C.showStatus(el, '', '');
  assert.equal(el.textContent, '');
  assert.equal(el.attrs['data-state'], undefined);
}

// fakeServer answers the console's operations as TokTok would, with
// --anojwt on and --salt off, and records what it was sent.
function fakeServer() {
  const s = { sent: [], access: 'access-1', refresh: 'refresh-1', n: 1, refreshWorks: true, expired: false };
  const payload = () => ({ accessToken: s.access, refreshToken: s.refresh, expiresAt: '2030-01-01T00:00:00Z', user: { id: 'u1', email: 'ann@example.com' } });
  s.fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    const auth = init.headers.Authorization || '';
    const op = /^(?:query|mutation) (\w+)/.exec(body.query)[1];
    s.sent.push({ op, auth, variables: body.variables });
    let result;
    switch (op) {
      case 'TokTokConsoleAuthConfig':
        result = { data: { authConfig: { anonymousTokenRequired: true, encryptedCredentials: false, passwordMinLength: 12, passwordMaxLength: 256 } } };
        break;
      case 'TokTokPageAnonymousToken':
        result = { data: { anonymousToken: { token: 'anon' } } };
        break;
      case 'TokTokConsoleLogin':
        if (auth !== 'Bearer anon') result = err('ANONYMOUS_TOKEN_REQUIRED');
        else if (body.variables.input.password !== 'right') result = err('INVALID_CREDENTIALS');
        else result = { data: { login: payload() } };
        break;
      case 'TokTokConsoleForgotPassword':
        result = auth === 'Bearer anon' ? { data: { forgotPassword: true } } : err('ANONYMOUS_TOKEN_REQUIRED');
        break;
      case 'TokTokConsoleRefresh':
        if (!s.refreshWorks || body.variables.rt !== s.refresh) {
          result = err('INVALID_REFRESH_TOKEN');
        } else {
          s.n++;
          s.access = `access-${s.n}`;
          s.refresh = `refresh-${s.n}`;
          s.expired = false;
          result = { data: { refreshToken: payload() } };
        }
        break;
      default:
        if (s.expired || auth !== `Bearer ${s.access}`) result = err('UNAUTHENTICATED');
        else result = { data: { ok: op } };
    }
    return { status: 200, headers: { get: () => null }, json: async () => result };
  };
  return s;
}

async function session() {
  const srv = fakeServer();
  const ses = C.createSession('/graphql', srv.fetch);
  const changes = [];
  let signedOut = 0;
  ses.onChange((u) => changes.push(u && u.email));
  ses.onSignedOut(() => signedOut++);

  assert.equal(ses.signedIn, false);
  assert.equal(C.errorText(M, await ses.request('query Q { me { id } }')), M.errSessionEnded);

  let r = await ses.signIn('ann@example.com', 'wrong');
  assert.equal(r.ok, false);
  assert.equal(r.code, 'INVALID_CREDENTIALS');
  assert.equal(ses.signedIn, false);
  r = await ses.signIn('ann@example.com', 'right');
  assert.equal(r.ok, true);
  assert.equal(r.user.email, 'ann@example.com');
  assert.deepEqual(changes, ['ann@example.com']);
  assert.equal(srv.sent.filter((x) => x.op === 'TokTokConsoleAuthConfig').length, 1, 'authConfig is cached');

  r = await ses.request('query Q { me { id } }');
  assert.deepEqual(r.data, { ok: 'Q' });
  assert.equal(srv.sent.at(-1).auth, 'Bearer access-1');

  // The access token expires: one refresh, shared by concurrent requests, then the retries.
  srv.expired = true;
  const [a, b] = await Promise.all([ses.request('query A { me { id } }'), ses.request('query B { me { id } }')]);
  assert.deepEqual([a.data, b.data], [{ ok: 'A' }, { ok: 'B' }]);
  assert.equal(srv.sent.filter((x) => x.op === 'TokTokConsoleRefresh').length, 1, 'one refresh for both');
  assert.equal(srv.sent.at(-1).auth, 'Bearer access-2');

  // The session ends on the server: the refresh fails, the session signs out.
  srv.expired = true;
  srv.refreshWorks = false;
  r = await ses.request('query C { me { id } }');
  assert.equal(P().firstError(r).code, 'UNAUTHENTICATED');
  assert.equal(ses.signedIn, false);
  assert.equal(ses.user, null);
  assert.equal(signedOut, 1);
  assert.deepEqual(changes, ['ann@example.com', null]);

  // signOut sends logout with the scope, then forgets the tokens.
  srv.refreshWorks = true;
  srv.expired = false;
  assert.equal((await ses.signIn('ann@example.com', 'right')).ok, true);
  await ses.signOut('ALL');
  const logout = srv.sent.at(-1);
  assert.equal(logout.op, 'TokTokConsoleLogout');
  assert.deepEqual(logout.variables, { scope: 'ALL' });
  assert.equal(ses.signedIn, false);
  assert.equal(signedOut, 1, 'a sign-out asked for is no server-side end');

  // encrypt is the identity with --salt=no; forgotPassword takes an anonymous token.
  assert.equal(await ses.encrypt('secret'), 'secret');
  await ses.forgotPassword('ann@example.com');
  assert.equal(srv.sent.at(-1).op, 'TokTokConsoleForgotPassword');
  assert.equal(srv.sent.at(-1).auth, 'Bearer anon');

  // No token ever reached storage.
  assert.equal(typeof globalThis.localStorage, 'undefined');
}

const P = () => globalThis.toktokPages;

(async () => {
  helpers();
  await session();
  console.log('ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
