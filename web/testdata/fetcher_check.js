// Checks playground/toktok-fetcher.js, with the RSA-OAEP helpers of
// shared/toktok-crypto.js that it loads after, under Node (>= 20, for
// WebCrypto). Run by TestFetcherWithNode:
// node fetcher_check.js <toktok-crypto.js> <toktok-fetcher.js>,
// with the test's RSA public key (SPKI PEM) in TOKTOK_TEST_PEM. It fails
// with a non-zero exit status and prints, on success, the ciphertexts it
// made as JSON {"ciphertexts": {"label": base64}, "plaintexts": {"label": text}}
// for the Go side to decrypt with the private key.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const vm = require('node:vm');

globalThis.window = globalThis;
vm.runInThisContext(fs.readFileSync(process.argv[2], 'utf8'), { filename: 'toktok-crypto.js' });
vm.runInThisContext(fs.readFileSync(process.argv[3], 'utf8'), { filename: 'toktok-fetcher.js' });
const t = window.toktok;
const PEM = process.env.TOKTOK_TEST_PEM;
assert.ok(PEM, 'TOKTOK_TEST_PEM is not set');

const ciphertexts = {};
const plaintexts = {};
function expectCiphertext(label, value, plain) {
  assert.equal(typeof value, 'string', label);
  assert.match(value, /^[A-Za-z0-9+/]+={0,2}$/, `${label} is not standard base64`);
  assert.notEqual(value, plain, `${label} was sent in clear`);
  ciphertexts[label] = value;
  plaintexts[label] = plain;
}

function jwt(claims) {
  const b64url = (s) => Buffer.from(s).toString('base64url');
  return `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify(claims))}.sig`;
}

const WALKTHROUGH = `# login( register( in a comment
query AuthConfig { authConfig { encryptedCredentials } }
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken expiresAt user { id email } }
}
mutation Login($input: LoginInput!) { login(input: $input) { accessToken refreshToken expiresAt } }
query Me { me { email } }
`;

async function testOperationInfo() {
  let info = t.operationInfo('{ me { email } }');
  assert.equal(info.ok, true);
  assert.equal(info.type, 'query');
  assert.deepEqual(info.fieldNames, ['me']);
  assert.equal(info.document, null, 'a lone operation is sent as it is');

  info = t.operationInfo(WALKTHROUGH, 'Register');
  assert.equal(info.type, 'mutation');
  assert.equal(info.name, 'Register');
  assert.deepEqual(info.fieldNames, ['register']);
  assert.deepEqual(info.variables, ['input']);
  assert.ok(info.document.startsWith('mutation Register($input: RegisterInput!)'), info.document);
  assert.ok(!info.document.includes('login') && !info.document.includes('authConfig'), info.document);

  info = t.operationInfo(WALKTHROUGH, 'Me');
  assert.deepEqual([info.type, info.fieldNames, info.variables], ['query', ['me'], []]);

  // Strings, block strings and comments hide what looks like fields.
  info = t.operationInfo(`mutation M {
    updateProfile(input: {name: "login(x) { register", pseudo: """ "} login( """}) { id } # register(
  }`);
  assert.deepEqual(info.fieldNames, ['updateProfile']);

  // Aliases, directives, inline fragments and fragment spreads.
  info = t.operationInfo('mutation @a(b: 1) { l: login(input: $i) @include(if: true) { accessToken } }');
  assert.deepEqual(info.fields.map((f) => [f.name, f.responseKey]), [['login', 'l']]);
  info = t.operationInfo('mutation { ... on Mutation { register(input: $i) { accessToken } } }');
  assert.deepEqual(info.fieldNames, ['register']);
  info = t.operationInfo(`mutation M { ...F }
    fragment Unused on Query { me { id } }
    fragment F on Mutation { login(input: $i) { ...P } }
    fragment P on AuthPayload { accessToken }
    query Other { me { id } }`, 'M');
  assert.deepEqual(info.fieldNames, ['login']);
  assert.ok(info.document.includes('fragment F') && info.document.includes('fragment P'), info.document);
  assert.ok(!info.document.includes('Unused') && !info.document.includes('Other'), info.document);

  // Credentials passed as other variables, or inline.
  info = t.operationInfo('mutation ($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }');
  assert.deepEqual(info.credentialVariables, ['e', 'p']);
  assert.deepEqual(info.variables, ['e', 'p']);
  info = t.operationInfo('mutation { forgotPassword(email: "a@example.com") }');
  assert.deepEqual(info.inlineCredentials, ['email']);
  info = t.operationInfo('mutation { changePassword(currentPassword: """old""", newPassword: $n) { accessToken } }');
  assert.deepEqual([info.inlineCredentials, info.credentialVariables], [['currentPassword'], ['n']]);

  // No operation chosen.
  assert.equal(t.operationInfo(WALKTHROUGH).ok, false);
  assert.equal(t.operationInfo(WALKTHROUGH, 'Nope').ok, false);
  assert.equal(t.operationInfo('').ok, false);
  // A broken document is sent as it is, for the server to explain.
  info = t.operationInfo('query A { me { id }\nquery B { me }', 'B');
  assert.equal(info.document, null);
}

async function testPem() {
  const der = t.pemToDer(PEM);
  assert.ok(der instanceof Uint8Array && der.length > 200);
  const body = PEM.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  assert.equal(Buffer.from(der).toString('base64'), body);
  assert.throws(() => t.pemToDer(PEM.replace(/PUBLIC KEY/g, 'RSA PUBLIC KEY')), /SPKI/);
  assert.throws(() => t.pemToDer('not a key'), /PEM/);
  assert.throws(() => t.pemToDer('-----BEGIN PUBLIC KEY-----\n%%%\n-----END PUBLIC KEY-----'), /base64/);
  // The helpers are those of toktok-crypto.js.
  assert.deepEqual(window.toktokCrypto.pemToDer(PEM), der);
  assert.equal(t.bytesToBase64(new Uint8Array([0xfb, 0xff, 0x00])), '+/8A');
}

async function testEncryptCredentials() {
  const key = await t.importPublicKey(PEM);
  const variables = {
    input: { email: 'alice@example.com', password: 'pässwörd ✓ 🔑', name: 'Alice', agreement: true },
    list: [{ newPassword: 'new-password-1' }, 'plain'],
    currentPassword: 'current-password',
    p: 'by-variable-name',
    count: 3,
    nothing: null,
  };
  const before = JSON.parse(JSON.stringify(variables));
  const out = await t.encryptCredentials(variables, key, { variableNames: ['p'] });
  assert.deepEqual(variables, before, 'the editor variables were changed');
  assert.notEqual(out, variables);
  expectCiphertext('input.email', out.input.email, 'alice@example.com');
  expectCiphertext('input.password', out.input.password, 'pässwörd ✓ 🔑');
  expectCiphertext('list[0].newPassword', out.list[0].newPassword, 'new-password-1');
  expectCiphertext('currentPassword', out.currentPassword, 'current-password');
  expectCiphertext('p', out.p, 'by-variable-name');
  assert.equal(out.input.name, 'Alice');
  assert.equal(out.input.agreement, true);
  assert.equal(out.list[1], 'plain');
  assert.equal(out.count, 3);
  assert.equal(out.nothing, null);
  // Two encryptions of one value differ (OAEP is randomized).
  const again = await t.encryptCredentials({ email: 'alice@example.com' }, key);
  assert.notEqual(again.email, out.input.email);

  // "__proto__" stays a data key.
  const tricky = JSON.parse('{"__proto__": {"password": "proto-password"}}');
  const outTricky = await t.encryptCredentials(tricky, key);
  assert.equal(Object.getPrototypeOf(outTricky), Object.prototype);
  assert.ok(Object.prototype.hasOwnProperty.call(outTricky, '__proto__'));
  expectCiphertext('__proto__.password', outTricky['__proto__'].password, 'proto-password');

  assert.equal(await t.encryptCredentials(undefined, key), undefined);
  await assert.rejects(t.encryptCredentials({ password: 'x'.repeat(191) }, key),
    (e) => e.tooLong === true && /^a credential of 191 UTF-8 bytes .* 190 bytes/.test(e.message));
  await t.encryptCredentials({ password: 'x'.repeat(190) }, key);
}

// fakeServer answers like TokTok with anonymous tokens and encrypted
// credentials on, and records what it was sent.
function fakeServer(options) {
  const o = Object.assign({ anonymousTokenRequired: true, encryptedCredentials: true }, options);
  const s = { requests: [], anonCount: 0, rejectAnon: new Set(), failAuthConfig: 0, clock: 1_700_000_000_000 };
  s.fetchImpl = async (url, init) => {
    assert.equal(url, '/graphql');
    assert.equal(init.method, 'POST');
    assert.equal(init.headers['Content-Type'], 'application/json');
    const body = JSON.parse(init.body);
    const req = { headers: init.headers, body, auth: init.headers.Authorization };
    s.requests.push(req);
    const reply = (obj) => ({ status: 200, text: async () => JSON.stringify(obj) });
    const q = body.query;
    if (q.includes('authConfig')) {
      if (s.failAuthConfig > 0) {
        s.failAuthConfig--;
        return { status: 502, text: async () => '<html>bad gateway</html>' };
      }
      return reply({ data: { authConfig: {
        anonymousTokenRequired: o.anonymousTokenRequired, encryptedCredentials: o.encryptedCredentials,
        encryptionKey: o.encryptedCredentials ? PEM : null,
        encryptionAlgorithm: o.encryptedCredentials ? 'RSA-OAEP-256' : null,
        passwordMinLength: 12, passwordMaxLength: 256, registrationOpen: true, antispamRequired: false,
      } } });
    }
    if (q.includes('anonymousToken')) {
      s.anonCount++;
      const expiresAt = new Date(s.clock + 12 * 3600 * 1000).toISOString();
      return reply({ data: { anonymousToken: { token: `anon-${s.anonCount}`, tokenType: 'Bearer', expiresAt } } });
    }
    const session = (field, n) => reply({ data: { [field]: {
      accessToken: jwt({ sub: 'user-1', n }), refreshToken: `refresh-${n}`,
      expiresAt: new Date(s.clock + 15 * 60 * 1000).toISOString(),
      ...(field === 'refreshToken' ? {} : { user: { id: 'user-1', email: 'alice@example.com' } }),
    } } });
    if (/\b(register|login)\(/.test(q)) {
      if (o.anonymousTokenRequired && (!req.auth || s.rejectAnon.has(req.auth))) {
        return reply({ errors: [{ message: 'no', extensions: { code: 'ANONYMOUS_TOKEN_REQUIRED' } }], data: null });
      }
      return session(q.includes('register(') ? 'register' : 'login', s.requests.length);
    }
    if (q.includes('refreshToken(')) return session('refreshToken', s.requests.length);
    if (/\b(beginPasskeyLogin|finishPasskeyLogin)\b/.test(q)) {
      if (o.anonymousTokenRequired && !(req.auth || '').startsWith('Bearer anon-')) {
        return reply({ errors: [{ message: 'no', extensions: { code: 'ANONYMOUS_TOKEN_REQUIRED' } }], data: null });
      }
      if (q.includes('beginPasskeyLogin')) return reply({ data: { beginPasskeyLogin: { challengeId: 'ch-1', options: {} } } });
      return session('finishPasskeyLogin', `passkey-${s.requests.length}`);
    }
    const n = s.requests.length;
    const expiresAt = new Date(s.clock + 15 * 60 * 1000).toISOString();
    if (q.includes('verifyMfa(')) {
      // The same session at aal2: a new access token, no refresh token selected.
      return reply({ data: { verifyMfa: { accessToken: jwt({ sub: 'user-1', n, aal: 'aal2' }), expiresAt, aal: 'aal2' } } });
    }
    const enrolled = /\b(confirmTotp|finishWebAuthnRegistration)\(/.exec(q);
    if (enrolled) {
      const value = { recoveryCodes: ['k7pqm-3xw2a'] };
      const auth = /\bauth\s*\{([^}]*)\}/.exec(q);
      if (auth) {
        value.auth = { aal: 'aal2' };
        if (/\baccessToken\b/.test(auth[1])) Object.assign(value.auth, { accessToken: jwt({ sub: 'user-1', n }), expiresAt });
        if (/\brefreshToken\b/.test(auth[1])) value.auth.refreshToken = `refresh-${enrolled[1]}-${n}`;
      }
      const key = /(\w+)\s*:\s*(confirmTotp|finishWebAuthnRegistration)\(/.exec(q);
      return reply({ data: { [key ? key[1] : enrolled[1]]: value } });
    }
    if (q.includes('logout')) return reply({ data: { logout: true } });
    return reply({ data: { me: req.auth ? { email: 'alice@example.com' } : null } });
  };
  return s;
}

async function testFetcher() {
  const server = fakeServer();
  const states = [];
  const fetcher = window.createToktokFetcher({
    endpoint: '/graphql', fetchImpl: server.fetchImpl, now: () => server.clock,
    onStateChange: (st) => states.push(st),
  });
  const variables = { input: { email: 'alice@example.com', password: 'correct horse battery staple' } };
  const before = JSON.parse(JSON.stringify(variables));
  const run = (operationName, opts, vars, query) =>
    fetcher({ query: query || WALKTHROUGH, variables: vars === undefined ? variables : vars, operationName }, opts || { headers: {} });

  // register: authConfig, then an anonymous token, then the encrypted call.
  let res = await run('Register');
  assert.equal(res.data.register.user.email, 'alice@example.com');
  let ops = server.requests.map((r) => r.body.operationName);
  assert.deepEqual(ops, ['TokTokPlaygroundAuthConfig', 'TokTokPlaygroundAnonymousToken', 'Register']);
  let reg = server.requests[2];
  assert.equal(reg.auth, 'Bearer anon-1');
  assert.ok(reg.body.query.startsWith('mutation Register') && !reg.body.query.includes('login('), reg.body.query);
  expectCiphertext('register.input.email', reg.body.variables.input.email, 'alice@example.com');
  expectCiphertext('register.input.password', reg.body.variables.input.password, 'correct horse battery staple');
  assert.deepEqual(variables, before, 'the editor variables were changed');
  let st = fetcher.state();
  assert.deepEqual([st.anonymousToken, st.signedInAs, st.encryptedCredentials, st.accessTokenValid],
    [true, 'alice@example.com', true, true]);
  assert.ok(states.length > 0);

  // me: the access token, and none of the walk-through's credentials.
  res = await run('Me');
  let me = server.requests.at(-1);
  assert.match(me.auth, /^Bearer .+\..+\.sig$/);
  assert.deepEqual(me.body.variables, {});
  assert.equal(me.body.query, 'query Me { me { email } }');
  assert.equal(res.data.me.email, 'alice@example.com');

  // login: the cached anonymous token, not the access token.
  await run('Login');
  assert.equal(server.anonCount, 1);
  assert.equal(server.requests.at(-1).auth, 'Bearer anon-1');

  // The user's own Authorization header wins; an empty one sends none.
  await run('Me', { headers: { authorization: 'Bearer mine' } });
  me = server.requests.at(-1);
  assert.deepEqual([me.headers.authorization, me.headers.Authorization], ['Bearer mine', undefined]);
  await run('Login', { headers: { Authorization: 'Bearer mine' } });
  assert.equal(server.requests.at(-1).auth, 'Bearer mine');
  await run('Me', { headers: { Authorization: '', 'X-Other': 'yes' } });
  me = server.requests.at(-1);
  assert.deepEqual([me.auth, me.headers['X-Other']], [undefined, 'yes']);

  // Inline credentials are refused before anything is sent.
  const count = server.requests.length;
  res = await fetcher({ query: 'mutation { login(input: {email: "a@example.com", password: "p"}) { accessToken } }' }, {});
  assert.match(res.errors[0].message, /as variables/);
  assert.equal(server.requests.length, count);

  // Credentials under other variable names.
  await fetcher({
    query: 'mutation L($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }',
    variables: { e: 'bob@example.com', p: 'bob password 123', unused: 'x' },
    operationName: 'L',
  }, { headers: {} });
  const byName = server.requests.at(-1).body.variables;
  assert.deepEqual(Object.keys(byName), ['e', 'p']);
  expectCiphertext('login.e', byName.e, 'bob@example.com');
  expectCiphertext('login.p', byName.p, 'bob password 123');

  // The anonymous token is renewed a minute before it expires.
  server.clock += 12 * 3600 * 1000 - 59 * 1000;
  // (The access token expired long ago: me refreshes it first.)
  await run('Me');
  ops = server.requests.slice(-2).map((r) => r.body.operationName);
  assert.deepEqual(ops, ['TokTokPlaygroundRefresh', 'Me']);
  assert.equal(server.requests.at(-2).body.variables.refreshToken.startsWith('refresh-'), true);
  assert.match(server.requests.at(-1).auth, /^Bearer /);
  assert.equal(fetcher.state().signedInAs, 'alice@example.com', 'the refresh kept the user');
  await run('Login');
  assert.equal(server.anonCount, 2);
  assert.equal(server.requests.at(-1).auth, 'Bearer anon-2');

  // A refused anonymous token is replaced once.
  server.rejectAnon.add('Bearer anon-2');
  res = await run('Login');
  assert.ok(res.data && res.data.login, JSON.stringify(res));
  assert.equal(server.requests.at(-1).auth, 'Bearer anon-3');

  // forget tokens.
  fetcher.forgetTokens();
  st = fetcher.state();
  assert.deepEqual([st.anonymousToken, st.signedInAs], [false, null]);
  await run('Me');
  assert.equal(server.requests.at(-1).auth, undefined);

  // logout ends the remembered session, logout(scope: OTHERS) does not.
  await run('Login');
  await fetcher({ query: 'mutation { logout(scope: OTHERS) }' }, {});
  assert.equal(fetcher.state().signedInAs, 'alice@example.com');
  await fetcher({ query: 'mutation { logout }' }, {});
  assert.equal(fetcher.state().signedInAs, null);
}

// testMfa: the tokens of verifyMfa, of confirmTotp's and finishWebAuthnRegistration's
// auth and of finishPasskeyLogin replace the remembered ones; an MfaEnrolled without
// auth { accessToken } changes nothing; the passkey sign-in takes the anonymous token.
async function testMfa() {
  const server = fakeServer();
  const fetcher = window.createToktokFetcher({ fetchImpl: server.fetchImpl, now: () => server.clock });
  const vars = { input: { email: 'alice@example.com', password: 'correct horse battery staple' } };
  const bearer = () => server.requests.at(-1).auth;
  const me = async () => {
    await fetcher({ query: '{ me { email } }' }, { headers: {} });
    return bearer();
  };
  const res = await fetcher({ query: WALKTHROUGH, variables: vars, operationName: 'Login' }, {});
  const aal1 = `Bearer ${res.data.login.accessToken}`;
  const loginRefresh = res.data.login.refreshToken;
  assert.equal(await me(), aal1);

  // verifyMfa, sent with the aal1 token: its token is remembered.
  const verify = await fetcher({
    query: 'mutation V($code: String!) { verifyMfa(input: {totpCode: $code}) { accessToken aal } }',
    variables: { code: '492039', input: vars.input }, operationName: 'V',
  }, { headers: {} });
  assert.equal(bearer(), aal1);
  assert.deepEqual(server.requests.at(-1).body.variables, { code: '492039' });
  const aal2 = `Bearer ${verify.data.verifyMfa.accessToken}`;
  assert.notEqual(aal2, aal1);
  assert.equal(await me(), aal2, 'the request after verifyMfa carries the aal1 token');
  let st = fetcher.state();
  assert.deepEqual([st.signedInAs, st.refreshToken, st.accessTokenValid], ['alice@example.com', true, true]);

  // An MfaEnrolled without auth, or with auth but no accessToken, changes nothing.
  for (const query of [
    'mutation { confirmTotp(factorId: "f1", code: "123456") { recoveryCodes } }',
    'mutation { confirmTotp(factorId: "f1", code: "123456") { recoveryCodes auth { aal } } }',
    'mutation { finishWebAuthnRegistration(challengeId: "c1", credential: {}) { recoveryCodes } }',
  ]) {
    const r = await fetcher({ query }, {});
    assert.equal(bearer(), aal2, query);
    assert.ok(r.data && !r.errors, JSON.stringify(r));
    assert.equal(await me(), aal2, query);
  }

  // confirmTotp's auth (under an alias) replaces both tokens.
  const confirm = await fetcher({
    query: 'mutation C($factorId: ID!, $code: String!) { c: confirmTotp(factorId: $factorId, code: $code) ' +
      '{ recoveryCodes auth { accessToken refreshToken aal } } }',
    variables: { factorId: 'f1', code: '123456' }, operationName: 'C',
  }, {});
  const confirmed = `Bearer ${confirm.data.c.auth.accessToken}`;
  assert.notEqual(confirmed, aal2);
  assert.equal(await me(), confirmed);
  assert.equal(fetcher.state().signedInAs, 'alice@example.com');

  // finishWebAuthnRegistration's auth, without a refresh token: the one of the same
  // user is kept, and used when the access token expires.
  const fin = await fetcher({
    query: 'mutation { finishWebAuthnRegistration(challengeId: "c1", credential: {}) { auth { accessToken } } }',
  }, {});
  const passkeyAdded = `Bearer ${fin.data.finishWebAuthnRegistration.auth.accessToken}`;
  assert.equal(await me(), passkeyAdded);
  server.clock += 16 * 60 * 1000;
  await me();
  const refresh = server.requests.at(-2);
  assert.equal(refresh.body.operationName, 'TokTokPlaygroundRefresh');
  assert.equal(refresh.body.variables.refreshToken, confirm.data.c.auth.refreshToken);
  assert.notEqual(refresh.body.variables.refreshToken, loginRefresh);

  // A passkey sign-in: both steps take the anonymous token, not the access token,
  // and the new session is remembered.
  const anonBefore = server.anonCount;
  await fetcher({ query: 'mutation { beginPasskeyLogin { challengeId options } }' }, {});
  assert.match(bearer(), /^Bearer anon-/);
  const cred = { id: 'cred', response: { clientDataJSON: 'x' } };
  const pk = await fetcher({
    query: 'mutation F($id: ID!, $cred: JSON!) { finishPasskeyLogin(challengeId: $id, credential: $cred) ' +
      '{ accessToken refreshToken user { id email } } }',
    variables: { id: 'ch-1', cred }, operationName: 'F',
  }, {});
  assert.match(bearer(), /^Bearer anon-/);
  assert.deepEqual(server.requests.at(-1).body.variables, { id: 'ch-1', cred });
  assert.equal(server.anonCount, anonBefore, 'a new anonymous token was fetched though one was cached');
  assert.ok(pk.data.finishPasskeyLogin.refreshToken.startsWith('refresh-passkey-'));
  assert.equal(await me(), `Bearer ${pk.data.finishPasskeyLogin.accessToken}`);
  st = fetcher.state();
  assert.deepEqual([st.signedInAs, st.refreshToken], ['alice@example.com', true]);

  // With a fresh fetcher the anonymous token is fetched first.
  const fresh = window.createToktokFetcher({ fetchImpl: server.fetchImpl, now: () => server.clock });
  const r = await fresh({ query: 'mutation { beginPasskeyLogin(email: "alice@example.com") { challengeId } }' }, {});
  assert.ok(r.data.beginPasskeyLogin, JSON.stringify(r));
  assert.deepEqual(server.requests.slice(-2).map((q) => q.body.operationName),
    ['TokTokPlaygroundAnonymousToken', undefined]);
  assert.equal(fresh.state().signedInAs, null);

  // Without anonymous tokens, no Authorization at all (not the access token).
  const plain = fakeServer({ anonymousTokenRequired: false, encryptedCredentials: false });
  const pf = window.createToktokFetcher({ fetchImpl: plain.fetchImpl, now: () => plain.clock });
  await pf({ query: WALKTHROUGH, variables: vars, operationName: 'Login' }, {});
  await pf({ query: 'mutation { beginPasskeyLogin { challengeId } }' }, {});
  assert.equal(plain.requests.at(-1).auth, undefined);
  assert.equal(plain.anonCount, 0);
}

async function testAuthConfigFailure() {
  const server = fakeServer();
  server.failAuthConfig = 1;
  const fetcher = window.createToktokFetcher({ fetchImpl: server.fetchImpl, now: () => server.clock });
  const vars = { input: { email: 'alice@example.com', password: 'correct horse battery staple' } };
  let res = await fetcher({ query: WALKTHROUGH, variables: vars, operationName: 'Login' }, {});
  assert.match(res.errors[0].message, /authConfig/);
  assert.equal(server.requests.length, 1, 'credentials were sent without authConfig');
  res = await fetcher({ query: WALKTHROUGH, variables: vars, operationName: 'Login' }, {});
  assert.ok(res.data.login);
}

async function testPlainServer() {
  const server = fakeServer({ anonymousTokenRequired: false, encryptedCredentials: false });
  const fetcher = window.createToktokFetcher({ fetchImpl: server.fetchImpl, now: () => server.clock });
  const vars = { input: { email: 'alice@example.com', password: 'correct horse battery staple' } };
  await fetcher({ query: WALKTHROUGH, variables: vars, operationName: 'Register' }, {});
  const reg = server.requests.at(-1);
  assert.deepEqual(reg.body.variables, vars);
  assert.equal(reg.auth, undefined);
  assert.equal(server.anonCount, 0);
  assert.equal(fetcher.state().encryptedCredentials, false);
}

async function testNoWebCrypto() {
  const server = fakeServer();
  const fetcher = window.createToktokFetcher({ fetchImpl: server.fetchImpl, subtle: null });
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true });
  try {
    const res = await fetcher({ query: WALKTHROUGH, variables: {}, operationName: 'Login' }, {});
    assert.match(res.errors[0].message, /secure contexts, so open the playground over HTTPS or on localhost/);
  } finally {
    Object.defineProperty(globalThis, 'crypto', saved);
  }
}

(async () => {
  await testOperationInfo();
  await testPem();
  await testEncryptCredentials();
  await testFetcher();
  await testMfa();
  await testAuthConfigFailure();
  await testPlainServer();
  await testNoWebCrypto();
  process.stdout.write(JSON.stringify({ ciphertexts, plaintexts }));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
