/*
 * toktok-fetcher.js: the GraphiQL fetcher of the TokTok playground.
 *
 * A stock GraphiQL fetcher cannot talk to TokTok with its security defaults
 * on: register, login, forgotPassword, beginPasskeyLogin and
 * finishPasskeyLogin need an anonymous token, and the credential fields
 * must travel encrypted under the key that authConfig publishes, in the
 * scheme that authConfig.encryptionAlgorithm names:
 * ECDH-ES+A256GCM (each field a JWE compact serialization for
 * authConfig.encryptionJwk, the server's default) or RSA-OAEP-256 (base64
 * of an RSA-OAEP SHA-256 ciphertext under the PEM authConfig.encryptionKey;
 * also when authConfig names no scheme). This fetcher does both, remembers
 * the session that register/login/refreshToken/changePassword return, and
 * the second-factor ones (verifyMfa and finishPasskeyLogin, the auth field
 * of confirmTotp and finishWebAuthnRegistration), and sends its access
 * token with later operations, so the IDE works by hand.
 *
 * Plain ES2020, no build step. It needs toktok-crypto.js (web/shared, the
 * encryption helpers of both schemes, shared with the hosted pages), loaded
 * before it, and defines:
 *   window.createToktokFetcher({endpoint, fetchImpl, ...}) -> async fetcher
 *   window.toktok = {operationInfo, encryptCredentials, pemToDer, ...}
 * The pure helpers are exported so that tests can call them directly.
 */
(function (root) {
  'use strict';

  // Mutations whose credential fields are encrypted when
  // authConfig.encryptedCredentials is true.
  const CREDENTIAL_MUTATIONS = Object.freeze([
    'register', 'login', 'forgotPassword', 'resetPassword',
    'changePassword', 'changeEmail', 'deleteAccount',
  ]);
  // Mutations that take an anonymous token (required when
  // authConfig.anonymousTokenRequired is true) instead of an access token.
  const ANONYMOUS_TOKEN_MUTATIONS = Object.freeze([
    'register', 'login', 'forgotPassword', 'beginPasskeyLogin', 'finishPasskeyLogin',
  ]);
  // Mutations that return an AuthPayload: a new session, or the same one
  // with new tokens (verifyMfa raises it to aal2; the aal1 token it
  // replaces is of no use to other services).
  const SESSION_MUTATIONS = Object.freeze([
    'register', 'login', 'refreshToken', 'changePassword', 'verifyMfa', 'finishPasskeyLogin',
  ]);
  // Mutations that return an MfaEnrolled, whose auth field is the
  // AuthPayload of the calling session, raised to aal2 by the new factor.
  const ENROLL_MUTATIONS = Object.freeze(['confirmTotp', 'finishWebAuthnRegistration']);
  // Names whose string values, in the variables of a credential mutation,
  // are credentials.
  const CREDENTIAL_FIELDS = Object.freeze(['email', 'password', 'newPassword', 'currentPassword', 'newEmail']);

  // Cached tokens are dropped this long before they expire.
  const ANONYMOUS_TOKEN_MARGIN_MS = 60 * 1000;
  const ACCESS_TOKEN_MARGIN_MS = 10 * 1000;

  const AUTH_CONFIG_QUERY = 'query TokTokPlaygroundAuthConfig { authConfig { ' +
    'anonymousTokenRequired encryptedCredentials encryptionKey encryptionJwk encryptionAlgorithm ' +
    'passwordMinLength passwordMaxLength registrationOpen antispamRequired } }';
  const ANONYMOUS_TOKEN_MUTATION = 'mutation TokTokPlaygroundAnonymousToken { ' +
    'anonymousToken { token tokenType expiresAt } }';
  const REFRESH_MUTATION = 'mutation TokTokPlaygroundRefresh($refreshToken: String!) { ' +
    'refreshToken(refreshToken: $refreshToken) { accessToken refreshToken expiresAt user { id email } } }';

  // ---------------------------------------------------------------------
  // A small GraphQL lexer and a parser of executable documents, just deep
  // enough to find the selected operation, its root fields and variables.

  const NAME_RE = /[_A-Za-z][_0-9A-Za-z]*/y;
  const NUMBER_RE = /-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const PUNCTUATORS = '!$&()...:=@[]{|}';

  /**
   * tokenize splits a GraphQL document into tokens
   * {kind: 'name'|'string'|'number'|'punct', value, start, end},
   * skipping white space, commas and comments. It never throws: an
   * unterminated string ends at the end of its line (or block).
   */
  function tokenize(source) {
    const src = String(source == null ? '' : source);
    const tokens = [];
    const n = src.length;
    let i = 0;
    while (i < n) {
      const c = src[i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',' || c === '\ufeff') {
        i++;
        continue;
      }
      if (c === '#') {
        while (i < n && src[i] !== '\n' && src[i] !== '\r') i++;
        continue;
      }
      const start = i;
      if (src.startsWith('"""', i)) {
        i += 3;
        while (i < n && !src.startsWith('"""', i)) i += src.startsWith('\\"""', i) ? 4 : 1;
        i = Math.min(n, i + 3);
        tokens.push({ kind: 'string', value: src.slice(start, i), start, end: i, block: true });
        continue;
      }
      if (c === '"') {
        i++;
        while (i < n && src[i] !== '"' && src[i] !== '\n' && src[i] !== '\r') i += src[i] === '\\' ? 2 : 1;
        if (src[i] === '"') i++;
        i = Math.min(n, i);
        tokens.push({ kind: 'string', value: src.slice(start, i), start, end: i });
        continue;
      }
      NAME_RE.lastIndex = i;
      let m = NAME_RE.exec(src);
      if (m) {
        i += m[0].length;
        tokens.push({ kind: 'name', value: m[0], start, end: i });
        continue;
      }
      NUMBER_RE.lastIndex = i;
      m = NUMBER_RE.exec(src);
      if (m) {
        i += m[0].length;
        tokens.push({ kind: 'number', value: m[0], start, end: i });
        continue;
      }
      if (src.startsWith('...', i)) {
        i += 3;
        tokens.push({ kind: 'punct', value: '...', start, end: i });
        continue;
      }
      i++;
      tokens.push({ kind: PUNCTUATORS.includes(c) ? 'punct' : 'invalid', value: c, start, end: i });
    }
    return tokens;
  }

  /**
   * parseDocument finds the operations and fragments of an executable
   * GraphQL document. Each definition has its type ('query', 'mutation',
   * 'subscription' or 'fragment'), name, source range, token range,
   * declared variables and top-level selections. `problem` is set when the
   * document is not well formed (the server will say what is wrong).
   */
  function parseDocument(source) {
    const src = String(source == null ? '' : source);
    const toks = tokenize(src);
    const operations = [];
    const fragments = new Map();
    let problem = null;
    let p = 0;

    const peek = () => toks[p];
    const isPunct = (t, v) => t !== undefined && t.kind === 'punct' && t.value === v;
    const isName = (t, v) => t !== undefined && t.kind === 'name' && (v === undefined || t.value === v);

    function skipBalanced(open, close) {
      let depth = 0;
      while (p < toks.length) {
        const t = toks[p++];
        if (isPunct(t, open)) depth++;
        else if (isPunct(t, close) && --depth === 0) return;
      }
      problem = problem || `unbalanced "${open}"`;
    }

    function skipDirectives() {
      while (isPunct(peek(), '@')) {
        p++;
        if (isName(peek())) p++;
        if (isPunct(peek(), '(')) skipBalanced('(', ')');
      }
    }

    // parseArguments reads "( ... )" and reports which credential fields
    // are given a variable ("password: $p") or an inline string literal.
    function parseArguments() {
      const first = p;
      skipBalanced('(', ')');
      const credentialVariables = [];
      const inlineCredentials = [];
      for (let j = first; j + 2 < p; j++) {
        const t = toks[j];
        if (!isName(t) || !CREDENTIAL_FIELDS.includes(t.value) || !isPunct(toks[j + 1], ':')) continue;
        const v = toks[j + 2];
        if (isPunct(v, '$') && isName(toks[j + 3])) credentialVariables.push(toks[j + 3].value);
        else if (v.kind === 'string') inlineCredentials.push(t.value);
      }
      return {
        text: src.slice(toks[first].start, toks[p - 1].end),
        credentialVariables,
        inlineCredentials,
      };
    }

    function parseSelectionSet() {
      const out = [];
      p++; // {
      for (;;) {
        const t = peek();
        if (t === undefined) {
          problem = problem || 'unterminated selection set';
          return out;
        }
        if (isPunct(t, '}')) {
          p++;
          return out;
        }
        if (isPunct(t, '...')) {
          p++;
          if (isName(peek()) && peek().value !== 'on') {
            out.push({ kind: 'spread', name: toks[p++].value });
            skipDirectives();
            continue;
          }
          if (isName(peek(), 'on')) {
            p++;
            if (isName(peek())) p++;
          }
          skipDirectives();
          if (isPunct(peek(), '{')) out.push({ kind: 'inline', selections: parseSelectionSet() });
          continue;
        }
        if (isName(t)) {
          p++;
          let name = t.value;
          let alias = null;
          if (isPunct(peek(), ':') && isName(toks[p + 1])) {
            alias = name;
            name = toks[p + 1].value;
            p += 2;
          }
          const args = isPunct(peek(), '(') ? parseArguments() : null;
          skipDirectives();
          if (isPunct(peek(), '{')) skipBalanced('{', '}');
          out.push({ kind: 'field', name, alias, responseKey: alias || name, args });
          continue;
        }
        problem = problem || `unexpected "${t.value}"`;
        p++;
      }
    }

    while (p < toks.length) {
      const t = peek();
      const firstTok = p;
      if (isPunct(t, '{')) {
        const selections = parseSelectionSet();
        operations.push({
          type: 'query', name: null, variables: [], selections,
          start: t.start, end: toks[p - 1].end, firstTok, lastTok: p,
        });
        continue;
      }
      if (isName(t, 'query') || isName(t, 'mutation') || isName(t, 'subscription')) {
        p++;
        const name = isName(peek()) ? toks[p++].value : null;
        const variables = [];
        if (isPunct(peek(), '(')) {
          const from = p;
          skipBalanced('(', ')');
          for (let j = from; j + 1 < p; j++) {
            if (isPunct(toks[j], '$') && isName(toks[j + 1])) variables.push(toks[j + 1].value);
          }
        }
        skipDirectives();
        let selections = [];
        if (isPunct(peek(), '{')) selections = parseSelectionSet();
        else problem = problem || `${t.value} ${name || ''} has no selection set`;
        operations.push({
          type: t.value, name, variables, selections,
          start: t.start, end: toks[p - 1].end, firstTok, lastTok: p,
        });
        continue;
      }
      if (isName(t, 'fragment')) {
        p++;
        const name = isName(peek()) ? toks[p++].value : null;
        if (isName(peek(), 'on')) {
          p++;
          if (isName(peek())) p++;
        }
        skipDirectives();
        let selections = [];
        if (isPunct(peek(), '{')) selections = parseSelectionSet();
        else problem = problem || `fragment ${name || ''} has no selection set`;
        if (name !== null && !fragments.has(name)) {
          fragments.set(name, {
            type: 'fragment', name, selections,
            start: t.start, end: toks[p - 1].end, firstTok, lastTok: p,
          });
        }
        continue;
      }
      problem = problem || `unexpected "${t.value}"`;
      p++;
    }
    return { source: src, tokens: toks, operations, fragments, problem };
  }

  /**
   * operationInfo describes the operation that a request runs: the one
   * named operationName, or the only one of the document. It returns
   * {ok, error, type, name, fields, fieldNames, variables,
   *  credentialVariables, inlineCredentials, document}, where fields are
   * the root fields (through fragments) with their alias and arguments,
   * variables the declared variable names, and document the operation
   * alone with the fragments it uses (null when the query should be sent
   * as it is).
   */
  function operationInfo(query, operationName) {
    const doc = parseDocument(query);
    const result = {
      ok: false, error: null, type: null, name: null, fields: [], fieldNames: [],
      variables: [], credentialVariables: [], inlineCredentials: [], document: null,
    };
    let op;
    if (operationName) {
      op = doc.operations.find((o) => o.name === operationName);
      if (!op) {
        result.error = `no operation named "${operationName}"`;
        return result;
      }
    } else if (doc.operations.length === 1) {
      op = doc.operations[0];
    } else {
      result.error = doc.operations.length === 0 ? 'no operation' : 'several operations and no operationName';
      return result;
    }
    result.ok = true;
    result.type = op.type;
    result.name = op.name;
    result.variables = op.variables.slice();

    // Root fields, through inline fragments and fragment spreads.
    const seen = new Set();
    const walk = (selections) => {
      for (const s of selections) {
        if (s.kind === 'field') result.fields.push(s);
        else if (s.kind === 'inline') walk(s.selections);
        else if (s.kind === 'spread' && !seen.has(s.name) && doc.fragments.has(s.name)) {
          seen.add(s.name);
          walk(doc.fragments.get(s.name).selections);
        }
      }
    };
    walk(op.selections);
    const unique = (xs) => Array.from(new Set(xs));
    result.fieldNames = unique(result.fields.map((f) => f.name));
    result.credentialVariables = unique(result.fields.flatMap((f) => (f.args ? f.args.credentialVariables : [])));
    result.inlineCredentials = unique(result.fields.flatMap((f) => (f.args ? f.args.inlineCredentials : [])));

    // The operation alone, with the fragments it uses at any depth, so
    // that the other operations of the editor (the walk-through has
    // several sensitive mutations) do not count against the server's
    // per-document limits.
    const used = new Set();
    const collect = (def) => {
      for (let j = def.firstTok; j + 1 < def.lastTok; j++) {
        const t = doc.tokens[j];
        const next = doc.tokens[j + 1];
        if (t.kind === 'punct' && t.value === '...' && next.kind === 'name' && next.value !== 'on' &&
            !used.has(next.value) && doc.fragments.has(next.value)) {
          used.add(next.value);
          collect(doc.fragments.get(next.value));
        }
      }
    };
    collect(op);
    const definitionCount = doc.operations.length + doc.fragments.size;
    if (!doc.problem && definitionCount > 1 + used.size) {
      const defs = [op].concat(Array.from(used, (name) => doc.fragments.get(name)));
      defs.sort((a, b) => a.start - b.start);
      result.document = defs.map((d) => doc.source.slice(d.start, d.end)).join('\n\n');
    }
    return result;
  }

  // ---------------------------------------------------------------------
  // Encryption of credentials.

  // The helpers of both schemes are those of toktok-crypto.js (web/shared,
  // served as /playground/toktok-crypto.js and loaded first), worded for
  // the IDE.
  if (!root.toktokCrypto) throw new Error('toktok-fetcher.js needs toktok-crypto.js, loaded before it');
  const {
    pemToDer, importPublicKey, bytesToBase64, encryptValue, encryptJWE, encryptForConfig,
    serverKeyId, importServerKey, encryptWithServerKey, ALG_ECDH, ALG_RSA,
  } = root.toktokCrypto.create({
    insecureContextHint: ', so open the playground over HTTPS or on localhost',
    valueNoun: 'credential',
  });

  function setOwn(obj, k, v) {
    // defineProperty, not assignment, so that a "__proto__" key stays data.
    Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  }

  /**
   * encryptCredentials returns a deep copy of variables in which every
   * string value of a credential field (email, password, newPassword,
   * currentPassword, newEmail), at any depth, is replaced by its ciphertext
   * under key: a key from importServerKey (either scheme: a JWE compact
   * serialization for ECDH-ES+A256GCM, base64 of the RSA-OAEP-SHA256
   * ciphertext for RSA-OAEP-256), or a bare RSA CryptoKey from
   * importPublicKey. The variables themselves are never changed.
   * options.variableNames lists top-level variables that are credentials
   * whatever their name (the query passes them as "password: $p");
   * options.fields replaces the list of field names.
   */
  async function encryptCredentials(variables, key, options) {
    const o = options || {};
    const fields = new Set(o.fields || CREDENTIAL_FIELDS);
    const topLevel = new Set(o.variableNames || []);
    const walk = async (value, top) => {
      if (Array.isArray(value)) return Promise.all(value.map((v) => walk(v, false)));
      if (value === null || typeof value !== 'object') return value;
      const out = {};
      for (const [k, v] of Object.entries(value)) {
        const secret = typeof v === 'string' && (fields.has(k) || (top && topLevel.has(k)));
        setOwn(out, k, secret ? await encryptWithServerKey(v, key, o.subtle) : await walk(v, false));
      }
      return out;
    };
    return walk(variables, true);
  }

  /** pickVariables keeps the variables that the operation declares. */
  function pickVariables(variables, names) {
    if (variables === null || typeof variables !== 'object' || Array.isArray(variables)) return variables;
    const out = {};
    for (const name of names) {
      if (Object.prototype.hasOwnProperty.call(variables, name)) setOwn(out, name, variables[name]);
    }
    return out;
  }

  /** findCredential returns the first string value of field at any depth. */
  function findCredential(value, field) {
    if (value === null || typeof value !== 'object') return null;
    for (const [k, v] of Object.entries(value)) {
      if (k === field && typeof v === 'string') return v;
    }
    for (const v of Object.values(value)) {
      const found = findCredential(v, field);
      if (found !== null) return found;
    }
    return null;
  }

  // ---------------------------------------------------------------------
  // Tokens.

  /** decodeJwt returns the claims of a JWT, without checking anything, or null. */
  function decodeJwt(token) {
    try {
      const part = String(token).split('.')[1];
      const b64 = part.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((part.length + 3) % 4);
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims !== null && typeof claims === 'object' ? claims : null;
    } catch (e) {
      return null;
    }
  }

  /**
   * expiryMs returns when a token expires on the browser's clock, in ms; null if unknown.
   * The token's own lifetime (exp - iat) counted from receipt comes first, so a browser
   * clock that is off from the server's does not make a fresh token look expired; then an
   * absolute expiresAt (RFC 3339 or epoch); then the JWT's exp.
   */
  function expiryMs(expiresAt, jwt, receivedAt) {
    const c = jwt ? decodeJwt(jwt) : null;
    if (c && typeof c.exp === 'number' && typeof c.iat === 'number' && typeof receivedAt === 'number' && c.exp > c.iat) {
      return receivedAt + (c.exp - c.iat) * 1000;
    }
    if (typeof expiresAt === 'number' && isFinite(expiresAt)) return expiresAt < 1e12 ? expiresAt * 1000 : expiresAt;
    if (typeof expiresAt === 'string') {
      const t = Date.parse(expiresAt);
      if (!isNaN(t)) return t;
    }
    const claims = jwt ? decodeJwt(jwt) : null;
    return claims && typeof claims.exp === 'number' ? claims.exp * 1000 : null;
  }

  function headerValue(headers, name) {
    for (const k of Object.keys(headers)) {
      if (k.toLowerCase() === name) return { key: k, value: headers[k] };
    }
    return null;
  }

  function errorsText(result) {
    if (result && Array.isArray(result.errors) && result.errors.length) {
      return result.errors.map((e) => (e && e.message) || String(e)).join('; ');
    }
    return '';
  }

  function errorCodes(result) {
    if (!result || !Array.isArray(result.errors)) return [];
    return result.errors.map((e) => e && e.extensions && e.extensions.code).filter((c) => typeof c === 'string');
  }

  function localError(message) {
    return { errors: [{ message: `TokTok playground: ${message}`, extensions: { code: 'PLAYGROUND' } }] };
  }

  // ---------------------------------------------------------------------
  // The fetcher.

  /**
   * createToktokFetcher returns a GraphiQL fetcher for TokTok.
   * options: endpoint (default "/graphql"), fetchImpl (default fetch),
   * subtle (default crypto.subtle), now (default Date.now), onStateChange
   * (called with state() whenever it changes).
   * The fetcher also has state(), forgetTokens(), loadAuthConfig() and
   * subscribe(listener) -> unsubscribe.
   */
  function createToktokFetcher(options) {
    const o = options || {};
    const endpoint = o.endpoint || '/graphql';
    const fetchImpl = o.fetchImpl || ((url, init) => root.fetch(url, init));
    const now = o.now || (() => Date.now());
    const listeners = new Set();
    if (typeof o.onStateChange === 'function') listeners.add(o.onStateChange);

    let configPromise = null;
    let config = null;
    let configError = null;
    let keyCache = null; // {id: serverKeyId(cfg), key: importServerKey(cfg)}
    let anon = null; // {token, expiresAt}
    let anonPromise = null;
    let session = null; // {accessToken, refreshToken, expiresAt, user, emailHint}
    let refreshPromise = null;
    let generation = 0; // bumped by forgetTokens, so late answers are dropped

    function anonValid() {
      return anon !== null && anon.expiresAt !== null && now() < anon.expiresAt - ANONYMOUS_TOKEN_MARGIN_MS;
    }

    function accessValid() {
      return session !== null && (session.expiresAt === null || now() < session.expiresAt - ACCESS_TOKEN_MARGIN_MS);
    }

    function signedInAs() {
      if (session === null) return null;
      const user = session.user || {};
      const claims = decodeJwt(session.accessToken) || {};
      return user.email || session.emailHint || claims.email || user.id || claims.sub || 'unknown user';
    }

    function state() {
      return {
        authConfigLoaded: config !== null,
        authConfigError: configError,
        encryptedCredentials: config ? Boolean(config.encryptedCredentials) : null,
        anonymousTokenRequired: config ? Boolean(config.anonymousTokenRequired) : null,
        anonymousToken: anonValid(),
        signedInAs: signedInAs(),
        accessTokenValid: accessValid(),
        accessTokenExpiresAt: session ? session.expiresAt : null,
        refreshToken: Boolean(session && session.refreshToken),
      };
    }

    function emit() {
      const s = state();
      for (const l of listeners) {
        try {
          l(s);
        } catch (e) {
          if (root.console) root.console.error(e);
        }
      }
    }

    async function post(body, headers) {
      let res;
      try {
        res = await fetchImpl(endpoint, {
          method: 'POST',
          headers: Object.assign({ 'Content-Type': 'application/json', Accept: 'application/json' }, headers),
          body: JSON.stringify(body),
          credentials: 'same-origin',
        });
      } catch (e) {
        return localError(`cannot reach ${endpoint}: ${(e && e.message) || e}`);
      }
      const text = await res.text();
      try {
        return JSON.parse(text);
      } catch (e) {
        return localError(`${endpoint} answered HTTP ${res.status} with a body that is not JSON: ` +
          JSON.stringify(text.slice(0, 200)));
      }
    }

    function loadAuthConfig() {
      if (!configPromise) {
        configPromise = post({ query: AUTH_CONFIG_QUERY, operationName: 'TokTokPlaygroundAuthConfig' }, {})
          .then((res) => {
            const c = res && res.data && res.data.authConfig;
            if (!c) throw new Error(errorsText(res) || 'no authConfig in the answer');
            config = c;
            configError = null;
            emit();
            return c;
          })
          .catch((e) => {
            configPromise = null; // try again next time
            configError = (e && e.message) || String(e);
            emit();
            throw e;
          });
      }
      return configPromise;
    }

    // serverKey returns the key that cfg publishes, imported for its scheme
    // (a JWK for ECDH-ES+A256GCM, a PEM for RSA-OAEP-256), once per key.
    async function serverKey(cfg) {
      const alg = cfg.encryptionAlgorithm;
      if (alg && alg !== ALG_ECDH && alg !== ALG_RSA) {
        throw new Error(`unsupported encryptionAlgorithm "${alg}" (this IDE knows ${ALG_ECDH} and ${ALG_RSA})`);
      }
      const id = serverKeyId(cfg);
      if (keyCache === null || keyCache.id !== id) {
        keyCache = { id, key: await importServerKey(cfg, o.subtle) };
      }
      return keyCache.key;
    }

    function rememberAnonymous(t) {
      if (t && typeof t.token === 'string') {
        anon = { token: t.token, expiresAt: expiryMs(t.expiresAt, t.token, now()) };
      }
    }

    function anonymousToken() {
      if (anonValid()) return Promise.resolve(anon.token);
      if (!anonPromise) {
        const gen = generation;
        anonPromise = post({ query: ANONYMOUS_TOKEN_MUTATION, operationName: 'TokTokPlaygroundAnonymousToken' }, {})
          .then((res) => {
            const t = res && res.data && res.data.anonymousToken;
            if (!t || typeof t.token !== 'string') throw new Error(errorsText(res) || 'no token in the answer');
            if (gen === generation) {
              rememberAnonymous(t);
              emit();
            }
            return t.token;
          })
          .finally(() => {
            anonPromise = null;
          });
      }
      return anonPromise;
    }

    function rememberSession(payload, emailHint) {
      const previous = session;
      const claims = decodeJwt(payload.accessToken) || {};
      const prevClaims = previous ? decodeJwt(previous.accessToken) || {} : {};
      const sameUser = previous !== null && claims.sub !== undefined && claims.sub === prevClaims.sub;
      session = {
        accessToken: payload.accessToken,
        refreshToken: typeof payload.refreshToken === 'string' ? payload.refreshToken
          : (sameUser ? previous.refreshToken : null),
        expiresAt: expiryMs(payload.expiresAt, payload.accessToken, now()),
        user: payload.user && typeof payload.user === 'object' ? payload.user
          : (sameUser ? previous.user : null),
        emailHint: emailHint || (sameUser ? previous.emailHint : null),
      };
    }

    // accessToken returns the session's access token, refreshing it
    // first (once) when it expired and a refresh token is known.
    async function accessToken() {
      if (session === null) return null;
      if (accessValid()) return session.accessToken;
      if (!session.refreshToken) return null;
      if (!refreshPromise) {
        const gen = generation;
        const rt = session.refreshToken;
        refreshPromise = post({
          query: REFRESH_MUTATION,
          variables: { refreshToken: rt },
          operationName: 'TokTokPlaygroundRefresh',
        }, {}).then((res) => {
          if (gen !== generation) return;
          const payload = res && res.data && res.data.refreshToken;
          if (payload && typeof payload.accessToken === 'string') rememberSession(payload, null);
          else if (errorCodes(res).some((c) => c !== 'PLAYGROUND')) session = null; // refused: signed out
          emit();
        }).finally(() => {
          refreshPromise = null;
        });
      }
      await refreshPromise;
      return accessValid() ? session.accessToken : null;
    }

    function afterResult(info, result, variables) {
      if (!info.ok || info.type !== 'mutation' || !result || !result.data || typeof result.data !== 'object') return;
      let changed = false;
      for (const f of info.fields) {
        const value = result.data[f.responseKey];
        if (SESSION_MUTATIONS.includes(f.name) && value && typeof value.accessToken === 'string') {
          const email = f.name === 'register' || f.name === 'login' ? findCredential(variables, 'email') : null;
          rememberSession(value, email);
          changed = true;
        } else if (ENROLL_MUTATIONS.includes(f.name) && value && value.auth && typeof value.auth.accessToken === 'string') {
          rememberSession(value.auth, null);
          changed = true;
        } else if (f.name === 'anonymousToken' && value && typeof value.token === 'string') {
          rememberAnonymous(value);
          changed = true;
        } else if (value === true && (f.name === 'deleteAccount' || f.name === 'logout') && session !== null) {
          // logout(scope: OTHERS) keeps the current session.
          const args = f.args ? f.args.text : '';
          const others = /\bOTHERS\b/.test(args) ||
            (variables !== null && typeof variables === 'object' && Object.values(variables).includes('OTHERS'));
          if (f.name === 'deleteAccount' || !others) {
            session = null;
            changed = true;
          }
        }
      }
      if (changed) emit();
    }

    async function fetcher(graphQLParams, fetcherOpts) {
      const params = graphQLParams || {};
      const query = typeof params.query === 'string' ? params.query : '';
      const info = operationInfo(query, params.operationName);
      const fieldNames = info.ok && info.type === 'mutation' ? info.fieldNames : [];
      const credential = fieldNames.some((f) => CREDENTIAL_MUTATIONS.includes(f));
      const anonymous = fieldNames.some((f) => ANONYMOUS_TOKEN_MUTATIONS.includes(f));

      const headers = {};
      const userHeaders = fetcherOpts && fetcherOpts.headers;
      if (userHeaders && typeof userHeaders === 'object') {
        for (const [k, v] of Object.entries(userHeaders)) {
          if (v !== undefined && v !== null) headers[k] = String(v);
        }
      }
      // An Authorization header from the headers editor wins; an empty one
      // means "send none".
      const userAuth = headerValue(headers, 'authorization');
      if (userAuth !== null && userAuth.value.trim() === '') delete headers[userAuth.key];

      // Send only the variables that the operation declares, so that the
      // walk-through's credentials never leave unencrypted with another
      // operation of the editor.
      const variables = info.ok ? pickVariables(params.variables, info.variables) : params.variables;
      const body = { query: info.document || query };
      if (variables !== undefined) body.variables = variables;
      if (params.operationName) body.operationName = params.operationName;

      // beginPasskeyLogin and finishPasskeyLogin take an anonymous token
      // but no credential: authConfig says whether they need one.
      if (credential || anonymous) {
        let cfg;
        try {
          cfg = await loadAuthConfig();
        } catch (e) {
          const why = credential ? 'to send credentials safely' : 'to know whether an anonymous token is required';
          return localError(`cannot load authConfig, needed ${why}: ${(e && e.message) || e}`);
        }
        if (credential && cfg.encryptedCredentials) {
          if (info.inlineCredentials.length) {
            return localError(`pass ${info.inlineCredentials.join(', ')} as variables, not inline literals, ` +
              'so the IDE can encrypt them (the server expects them encrypted; nothing was sent)');
          }
          try {
            body.variables = await encryptCredentials(variables, await serverKey(cfg), {
              variableNames: info.credentialVariables,
              subtle: o.subtle,
            });
          } catch (e) {
            return localError(`cannot encrypt the credentials: ${(e && e.message) || e}`);
          }
        }
        if (anonymous && cfg.anonymousTokenRequired && userAuth === null) {
          const cached = anonValid();
          try {
            headers.Authorization = `Bearer ${await anonymousToken()}`;
          } catch (e) {
            return localError(`cannot get an anonymous token: ${(e && e.message) || e}`);
          }
          const gen = generation;
          const result = await post(body, headers);
          if (cached && gen === generation && errorCodes(result).includes('ANONYMOUS_TOKEN_REQUIRED')) {
            // The cached token was refused (the server's keys changed, say):
            // get a new one and try once more.
            anon = null;
            emit();
            return fetcher(graphQLParams, fetcherOpts);
          }
          if (gen === generation) afterResult(info, result, variables);
          return result;
        }
      }
      if (!anonymous && userAuth === null) {
        const token = await accessToken();
        if (token) headers.Authorization = `Bearer ${token}`;
      }

      const gen = generation;
      const result = await post(body, headers);
      if (gen === generation) afterResult(info, result, variables);
      return result;
    }

    fetcher.state = state;
    fetcher.loadAuthConfig = loadAuthConfig;
    fetcher.forgetTokens = function forgetTokens() {
      generation++;
      anon = null;
      session = null;
      emit();
    };
    fetcher.subscribe = function subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };
    return fetcher;
  }

  root.createToktokFetcher = createToktokFetcher;
  root.toktok = Object.freeze({
    CREDENTIAL_MUTATIONS,
    ANONYMOUS_TOKEN_MUTATIONS,
    SESSION_MUTATIONS,
    ENROLL_MUTATIONS,
    CREDENTIAL_FIELDS,
    tokenize,
    parseDocument,
    operationInfo,
    pemToDer,
    importPublicKey,
    bytesToBase64,
    encryptValue,
    encryptJWE,
    encryptForConfig,
    importServerKey,
    encryptCredentials,
    pickVariables,
    findCredential,
    decodeJwt,
    expiryMs,
    createToktokFetcher,
  });
})(typeof window !== 'undefined' ? window : globalThis);
