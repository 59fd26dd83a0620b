/*
 * console.js: what the account console (/account) and the admin console
 * (/admin) share.
 *
 * Plain ES2020, no build step, no dependency. It needs toktok-crypto.js and
 * pages.js (window.toktokPages: the GraphQL client, error decoding and the
 * credential encryption of the hosted pages), loaded before it, and defines
 * window.toktokWebAuthn, the WebAuthn Level 3 JSON conversions (pure, and
 * the only part defined without a page, for the tests under Node):
 *
 *   toBase64url(buf), fromBase64url(s), groupSecret(secret)
 *   creationOptions(json, PKC), requestOptions(json, PKC)  the server's
 *                         options for navigator.credentials.create / .get
 *   credentialJSON(cred)  a credential as the server reads it
 *
 * and window.toktokConsole:
 *
 *   setup(win)            -> {M, endpoint, lang, session}; marks the page
 *                            ready (body[data-ready="true"]), so the console
 *                            script wires its page synchronously after it
 *   createSession(endpoint, fetchImpl, subtle) -> a session (below)
 *   mountSignIn(doc, session, M, onSignedIn)    the standard sign-in form
 *   mountMfaStep(win, session, M, opts) -> {show(message), reset()}
 *                         the second sign-in step (see the function)
 *   ceremony(win, kind, options) -> {json} | {error: message key}
 *                         a WebAuthn ceremony, "create" or "get"
 *   t(M, key, vars)       a message of M with its {placeholders} filled
 *   showStatus(el, state, text)   state "ok", "error", "busy" or ""
 *   errorText(M, result)  the localized text of a result's first error
 *   reasonsText(M, result, cfg)   the weak-password reasons of a result
 *   busy(form, on)        disables a form's buttons while a request runs
 *   invalid(field, yes)   marks a field aria-invalid or not
 *   formatTime(iso, lang) a date and time in lang
 *   describeUserAgent(ua) -> {browser, os}, e.g. "Firefox", "Windows"
 *   USER_FIELDS           the User fields that signIn asks for
 *
 * The session keeps its tokens in this page's memory only, never in
 * localStorage, sessionStorage or cookies: a script injected into another
 * page of the origin cannot read them, and closing or reloading the page
 * signs out (the page then ends its server session too, see setup).
 *
 *   session.signIn(email, password) -> {ok: true, user, payload}
 *                                    | {ok: false, code, message, result}
 *                            (payload.mfaRequired: a second factor is due)
 *   session.request(query, variables) -> the GraphQL result ({data, errors})
 *   session.anonymousRequest(query, variables)  the same, with the
 *                            anonymous token when authConfig asks for one
 *   session.encrypt(value)   a credential field as authConfig wants it
 *   session.config()         authConfig (cached), or null when unreachable
 *   session.adopt(payload)   take the tokens of an AuthPayload
 *   session.signOut(scope)   logout(scope) then forget the tokens
 *   session.forget()         forget the tokens without asking the server
 *   session.user, session.signedIn, session.setUser(user)
 *   session.onChange(fn)     fn(user | null) on sign in and sign out
 *   session.onSignedOut(fn)  fn() when the server ended the session
 */
(function (root) {
  'use strict';

  // ---------------------------------------------------------------------
  // WebAuthn JSON (pure; tested under Node).

  /** toBase64url encodes an ArrayBuffer or a view as unpadded base64url. */
  function toBase64url(buf) {
    const bytes = ArrayBuffer.isView(buf) ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /** fromBase64url decodes base64url (padded or not) to an ArrayBuffer; throws on anything else. */
  function fromBase64url(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(s)) throw new TypeError('not base64url');
    const b64 = s.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
    if (b64.length % 4 === 1) throw new TypeError('not base64url');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  const withIds = (list) => (Array.isArray(list) ? list.map((c) => Object.assign({}, c, { id: fromBase64url(c.id) })) : list);

  /**
   * creationOptions turns the JSON options of beginWebAuthnRegistration
   * (with or without a "publicKey" wrapper) into what
   * navigator.credentials.create wants as publicKey: through
   * PKC.parseCreationOptionsFromJSON where the browser has it.
   */
  function creationOptions(json, PKC) {
    const o = json && json.publicKey ? json.publicKey : json;
    if (PKC && typeof PKC.parseCreationOptionsFromJSON === 'function') return PKC.parseCreationOptionsFromJSON(o);
    const out = Object.assign({}, o, { challenge: fromBase64url(o.challenge), user: Object.assign({}, o.user, { id: fromBase64url(o.user.id) }) });
    if (o.excludeCredentials) out.excludeCredentials = withIds(o.excludeCredentials);
    return out;
  }

  /** requestOptions is creationOptions for navigator.credentials.get. */
  function requestOptions(json, PKC) {
    const o = json && json.publicKey ? json.publicKey : json;
    if (PKC && typeof PKC.parseRequestOptionsFromJSON === 'function') return PKC.parseRequestOptionsFromJSON(o);
    const out = Object.assign({}, o, { challenge: fromBase64url(o.challenge) });
    if (o.allowCredentials) out.allowCredentials = withIds(o.allowCredentials);
    return out;
  }

  /**
   * credentialJSON returns a PublicKeyCredential (new or an assertion) in
   * the JSON form the server reads: its toJSON() where the browser has
   * it, else the same fields built here.
   */
  function credentialJSON(cred) {
    if (typeof cred.toJSON === 'function') return cred.toJSON();
    const r = cred.response;
    const out = {
      id: cred.id, rawId: toBase64url(cred.rawId), type: cred.type,
      clientExtensionResults: typeof cred.getClientExtensionResults === 'function' ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) },
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      if (typeof r.getTransports === 'function') out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) out.response.userHandle = toBase64url(r.userHandle);
    }
    return out;
  }

  /** groupSecret spaces a base32 secret in groups of 4, for typing. */
  function groupSecret(secret) {
    return String(secret || '').replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
  }

  const W = Object.freeze({ toBase64url, fromBase64url, creationOptions, requestOptions, credentialJSON, groupSecret });
  root.toktokWebAuthn = W;
})(typeof window !== 'undefined' ? window : globalThis);

(function (root) {
  'use strict';

  // Without a page (Node), the WebAuthn helpers above are all there is;
  // in a page, pages.js must come first.
  if (!root.toktokPages && !root.document) return;
  if (!root.toktokPages) throw new Error('console.js needs pages.js, loaded before it');
  const P = root.toktokPages;

  const AUTH_CONFIG_QUERY = 'query TokTokConsoleAuthConfig { authConfig { anonymousTokenRequired ' +
    'encryptedCredentials encryptionKey encryptionJwk encryptionAlgorithm antispamRequired ' +
    'passwordMinLength passwordMaxLength registrationOpen } }';
  const USER_FIELDS = 'id email emailConfirmed pendingEmail role name surname pseudo lang ' +
    'createdAt updatedAt lastLoginAt loginCount';
  const PAYLOAD_FIELDS = `accessToken refreshToken expiresAt refreshExpiresAt aal mfaRequired user { ${USER_FIELDS} }`;
  const LOGIN_MUTATION = 'mutation TokTokConsoleLogin($input: LoginInput!) { ' +
    `login(input: $input) { ${PAYLOAD_FIELDS} } }`;
  const REFRESH_MUTATION = 'mutation TokTokConsoleRefresh($rt: String!) { ' +
    `refreshToken(refreshToken: $rt) { ${PAYLOAD_FIELDS} } }`;
  const LOGOUT_MUTATION = 'mutation TokTokConsoleLogout($scope: LogoutScope!) { logout(scope: $scope) }';
  const FORGOT_MUTATION = 'mutation TokTokConsoleForgotPassword($email: String!) { forgotPassword(email: $email) }';

  // ---------------------------------------------------------------------
  // Messages.

  /** t returns M[key] with its {placeholders} filled, or key when M lacks it. */
  function t(M, key, vars) {
    const s = M && typeof M[key] === 'string' ? M[key] : key;
    return P.format(s, vars);
  }

  /**
   * showStatus shows text in a status element (role="status"), with
   * data-state "ok", "error" or "busy"; no state clears the state. Text
   * only (textContent): messages may hold addresses typed by users.
   */
  function showStatus(el, state, text) {
    if (!el) return;
    el.textContent = text || '';
    if (state) el.setAttribute('data-state', state);
    else el.removeAttribute('data-state');
  }

  /** rateText says how long to wait, in seconds or minutes. */
  function rateText(M, retryAfter) {
    if (retryAfter === null || retryAfter === undefined) return t(M, 'errRateLimitedLater');
    if (retryAfter <= 1) return t(M, 'errRateLimitedOne');
    if (retryAfter >= 120) return t(M, 'errRateLimitedMinutes', { n: Math.ceil(retryAfter / 60) });
    return t(M, 'errRateLimited', { n: retryAfter });
  }

  // The message key of each error code; RATE_LIMITED and BAD_USER_INPUT
  // are worked out apart.
  const ERROR_KEYS = Object.freeze({
    INVALID_CREDENTIALS: 'errInvalidCredentials',
    ACCOUNT_DISABLED: 'errAccountDisabled',
    EMAIL_TAKEN: 'errEmailTaken',
    INVALID_TOKEN: 'errInvalidToken',
    UNAUTHENTICATED: 'errSessionEnded',
    INVALID_REFRESH_TOKEN: 'errSessionEnded',
    FORBIDDEN: 'errForbidden',
    MFA_REQUIRED: 'errMfaRequired',
    UNAVAILABLE: 'errUnavailable',
    NETWORK: 'errNetwork',
    INSECURE_CONTEXT: 'errInsecureContext',
    ENCRYPT_FAILED: 'errEncryptFailed',
    TOO_LONG_TO_ENCRYPT: 'errTooLongToEncrypt',
    ANTISPAM_REQUIRED: 'errAntispam',
  });

  /**
   * errorText returns the localized text of the first error of a GraphQL
   * result (or of an error from firstError), '' when it has none.
   */
  function errorText(M, result) {
    const err = result && Array.isArray(result.errors) ? P.firstError(result)
      : (result && typeof result.code === 'string' ? result : P.firstError(result));
    if (!err) return '';
    if (err.code === 'RATE_LIMITED') return rateText(M, err.retryAfter);
    if (err.code === 'BAD_USER_INPUT') {
      if (err.reasons && err.reasons.length > 0) return t(M, 'errWeakPassword');
      if (err.field === 'antispam') return t(M, 'errAntispam');
      return t(M, 'errBadInput');
    }
    const key = ERROR_KEYS[err.code];
    return t(M, key || 'errGeneric');
  }

  /**
   * reasonsText lists, in words, why the password policy refused a
   * password (extensions.reasons of a BAD_USER_INPUT), [] for none.
   */
  function reasonsText(M, result, cfg) {
    const err = P.firstError(result);
    if (!err || !err.reasons || err.reasons.length === 0) return [];
    const texts = M && M.reasons && typeof M.reasons === 'object' ? M.reasons : {};
    const vars = { min: cfg ? cfg.passwordMinLength : '', max: cfg ? cfg.passwordMaxLength : '' };
    return [...new Set(err.reasons)].map((reason) => {
      const known = Object.prototype.hasOwnProperty.call(texts, reason) && reason !== 'other';
      return P.format(known ? texts[reason] : (texts.other || reason), Object.assign({ reason }, vars));
    });
  }

  /**
   * formatTime renders an RFC 3339 time in lang, as a medium date and a
   * short time in the browser's time zone; the input itself when it is no
   * time.
   */
  function formatTime(iso, lang) {
    const d = new Date(iso);
    if (!iso || Number.isNaN(d.getTime())) return String(iso || '');
    try {
      return new Intl.DateTimeFormat(lang || 'en', { dateStyle: 'medium', timeStyle: 'short' }).format(d);
    } catch (e) {
      return d.toISOString();
    }
  }

  // Browsers and systems, the first match wins: Edge and Opera claim to
  // be Chrome, Chrome claims to be Safari, iOS claims to be macOS.
  const BROWSERS = [
    [/\bEdg(?:e|A|iOS)?\//, 'Edge'], [/\b(?:OPR|Opera)\//, 'Opera'], [/\bSamsungBrowser\//, 'Samsung Internet'],
    [/\bFirefox\/|\bFxiOS\//, 'Firefox'], [/\b(?:Headless)?Chrom(?:e|ium)\/|\bCriOS\//, 'Chrome'],
    [/\bVersion\/[\d.]+.*Safari\//, 'Safari'],
  ];
  const SYSTEMS = [
    [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'], [/\bAndroid\b/, 'Android'], [/\bCrOS\b/, 'ChromeOS'],
    [/\bWindows\b/, 'Windows'], [/\bMac OS X\b|\bMacintosh\b/, 'macOS'], [/\bLinux\b/, 'Linux'],
  ];

  /**
   * describeUserAgent summarises a User-Agent header as {browser, os}
   * (either may be ''): "Firefox" and "Windows"; for a program that is no
   * browser, such as "curl/8.5.0", its name ("curl") as the browser.
   */
  function describeUserAgent(ua) {
    const s = typeof ua === 'string' ? ua.slice(0, 512) : '';
    const find = (table) => (table.find(([re]) => re.test(s)) || [null, ''])[1];
    let browser = find(BROWSERS);
    const os = find(SYSTEMS);
    if (!browser && !/^Mozilla\//.test(s)) {
      const m = /^([A-Za-z][\w.+-]{0,40})/.exec(s.trim());
      if (m) browser = m[1].replace(/-?http-?client$/i, '') || m[1];
    }
    return { browser, os };
  }

  function localError(code) {
    return { errors: [{ message: code, extensions: { code } }] };
  }

  // ---------------------------------------------------------------------
  // The session.

  /**
   * createSession returns a session against endpoint (see the top of the
   * file). fetchImpl is window.fetch (bound); subtle is WebCrypto's
   * SubtleCrypto (undefined: the global one).
   */
  function createSession(endpoint, fetchImpl, subtle) {
    const client = P.createClient(endpoint, fetchImpl);
    const changeListeners = [];
    const signedOutListeners = [];
    let cfg = null; // the promise of authConfig
    let access = null;
    let refresh = null;
    let refreshing = null; // the promise of the refresh in flight
    let user = null;

    function config() {
      if (!cfg) {
        cfg = P.postGraphQL(fetchImpl, endpoint, AUTH_CONFIG_QUERY, null, null).then((r) => {
          const c = r && r.data && r.data.authConfig;
          if (P.firstError(r) || !c || typeof c !== 'object') {
            cfg = null; // tried again next time
            return { error: r };
          }
          return { config: c };
        });
      }
      return cfg.then((c) => c);
    }

    function notify(list, value) {
      for (const fn of list.slice()) {
        try {
          fn(value);
        } catch (e) {
          // One listener's failure must not keep the others uninformed.
          if (root.console) root.console.error(e);
        }
      }
    }

    function adopt(payload) {
      if (!payload || typeof payload.accessToken !== 'string') return;
      const was = user !== null;
      access = payload.accessToken;
      refresh = payload.refreshToken || null;
      if (payload.user) user = payload.user;
      if (!was) notify(changeListeners, user);
    }

    function forget() {
      const was = access !== null || user !== null;
      access = null;
      refresh = null;
      user = null;
      if (was) notify(changeListeners, null);
    }

    /** encrypt returns value as a credential field of authConfig's kind. */
    async function encrypt(value) {
      const c = await config();
      if (!c.config) throw Object.assign(new Error('authConfig'), { result: c.error });
      if (!c.config.encryptedCredentials) return value;
      return P.encryptForServer(value, c.config, subtle);
    }

    // encryptAll encrypts values, or returns the local error result of
    // the failure (INSECURE_CONTEXT, TOO_LONG_TO_ENCRYPT, ...).
    async function encryptAll(values) {
      try {
        const out = [];
        for (const v of values) out.push(await encrypt(v));
        return { values: out };
      } catch (e) {
        if (e && e.result) return { result: e.result };
        if (e && e.insecureContext) return { result: localError('INSECURE_CONTEXT') };
        if (e && e.tooLong) return { result: localError('TOO_LONG_TO_ENCRYPT') };
        return { result: localError('ENCRYPT_FAILED') };
      }
    }

    async function signIn(email, password) {
      const c = await config();
      const fail = (result) => {
        const err = P.firstError(result) || { code: 'INTERNAL' };
        return { ok: false, code: err.code, result, error: err };
      };
      if (!c.config) return fail(c.error);
      const enc = await encryptAll([email, password]);
      if (!enc.values) return fail(enc.result);
      const r = await client.request(LOGIN_MUTATION, { input: { email: enc.values[0], password: enc.values[1] } },
        Boolean(c.config.anonymousTokenRequired));
      const payload = r && r.data && r.data.login;
      if (P.firstError(r) || !payload) return fail(P.firstError(r) ? r : localError('INTERNAL'));
      forget();
      adopt(payload);
      return { ok: true, user, payload };
    }

    // anonymousRequest sends an operation that the anonymous token
    // guards (passwordless sign-in), with it when authConfig asks for it.
    async function anonymousRequest(query, variables) {
      const c = await config();
      if (!c.config) return c.error;
      return client.request(query, variables || null, Boolean(c.config.anonymousTokenRequired));
    }

    // refreshOnce rotates the tokens; concurrent callers share one call,
    // as a replayed refresh token would end the session.
    function refreshOnce() {
      if (!refreshing) {
        const rt = refresh;
        refreshing = P.postGraphQL(fetchImpl, endpoint, REFRESH_MUTATION, { rt }, null).then((r) => {
          const payload = r && r.data && r.data.refreshToken;
          if (!P.firstError(r) && payload && refresh === rt) {
            adopt(payload);
            return true;
          }
          return false;
        }).finally(() => {
          refreshing = null;
        });
      }
      return refreshing;
    }

    function endedByServer() {
      if (access === null && user === null) return;
      forget();
      notify(signedOutListeners);
    }

    async function request(query, variables) {
      if (!access) return localError('UNAUTHENTICATED');
      const sentWith = access;
      let r = await P.postGraphQL(fetchImpl, endpoint, query, variables || null, sentWith);
      const err = P.firstError(r);
      if (!err || err.code !== 'UNAUTHENTICATED') return r;
      // Another request may have rotated the tokens meanwhile.
      const fresh = access !== null && access !== sentWith;
      if (!fresh && !(refresh && await refreshOnce())) {
        endedByServer();
        return r;
      }
      if (!access) return r;
      r = await P.postGraphQL(fetchImpl, endpoint, query, variables || null, access);
      const again = P.firstError(r);
      if (again && again.code === 'UNAUTHENTICATED') endedByServer();
      return r;
    }

    async function signOut(scope) {
      let r = null;
      if (access) r = await request(LOGOUT_MUTATION, { scope: scope || 'CURRENT' });
      forget();
      return r;
    }

    async function forgotPassword(email) {
      const c = await config();
      if (!c.config) return c.error;
      const enc = await encryptAll([email]);
      if (!enc.values) return enc.result;
      return client.request(FORGOT_MUTATION, { email: enc.values[0] }, Boolean(c.config.anonymousTokenRequired));
    }

    /**
     * endOnUnload ends the server session when the page goes away: its
     * tokens go with the page, so the session could never be used again
     * and would only clutter the user's list of sessions.
     */
    function endOnUnload(win) {
      if (!win || typeof win.addEventListener !== 'function') return;
      win.addEventListener('pagehide', () => {
        if (!access) return;
        try {
          fetchImpl(endpoint, {
            method: 'POST',
            keepalive: true,
            credentials: 'omit',
            referrerPolicy: 'no-referrer',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${access}` },
            body: JSON.stringify({ query: LOGOUT_MUTATION, variables: { scope: 'CURRENT' } }),
          }).catch(() => {});
        } catch (e) {
          // Nothing to do: the page is going away.
        }
        forget();
      });
    }

    return {
      config: () => config().then((c) => c.config || null),
      configResult: config,
      encrypt,
      encryptAll,
      signIn,
      request,
      anonymousRequest,
      adopt,
      forget,
      signOut,
      forgotPassword,
      endOnUnload,
      setUser(u) {
        if (u && user) user = Object.assign({}, user, u);
      },
      get user() {
        return user;
      },
      get signedIn() {
        return access !== null;
      },
      onChange(fn) {
        changeListeners.push(fn);
      },
      onSignedOut(fn) {
        signedOutListeners.push(fn);
      },
    };
  }

  // ---------------------------------------------------------------------
  // Forms.

  /** busy marks a form busy (aria-busy, buttons disabled) or not. */
  function busy(form, on) {
    if (!form) return;
    if (on) form.setAttribute('aria-busy', 'true');
    else form.removeAttribute('aria-busy');
    for (const b of form.querySelectorAll('button')) b.disabled = Boolean(on);
  }

  /**
   * runner returns run(fn) for a form: fn runs once at a time, with the
   * form busy meanwhile; an unexpected exception shows errGeneric in
   * status.
   */
  function runner(form, status, M) {
    let running = false;
    return async function run(fn) {
      if (running) return;
      running = true;
      busy(form, true);
      try {
        await fn();
      } catch (e) {
        showStatus(status, 'error', t(M, 'errGeneric'));
      } finally {
        running = false;
        busy(form, false);
      }
    };
  }

  /** invalid marks a field as invalid (aria-invalid) or not. */
  function invalid(field, yes) {
    if (!field) return;
    if (yes) field.setAttribute('aria-invalid', 'true');
    else field.removeAttribute('aria-invalid');
  }

  /**
   * mountSignIn wires the standard sign-in form: #signin-form with
   * #signin-email, #signin-password, #signin-submit and the status
   * #signin-status; and, when the page has it, the #signin-forgot button
   * (mails a reset link to the address typed). On success it empties the
   * password field and calls onSignedIn(user, payload), payload being the
   * login's AuthPayload (its mfaRequired tells whether a second factor is
   * due before anything else). Errors go to the status,
   * and the focus to the field to fix.
   */
  function mountSignIn(doc, session, M, onSignedIn) {
    const form = doc.getElementById('signin-form');
    const email = doc.getElementById('signin-email');
    const password = doc.getElementById('signin-password');
    const status = doc.getElementById('signin-status');
    const forgot = doc.getElementById('signin-forgot');
    if (!form || !email || !password) return;
    const run = runner(form, status, M);

    function needEmail() {
      invalid(email, false);
      invalid(password, false);
      if (email.value.trim() !== '') return true;
      invalid(email, true);
      showStatus(status, 'error', t(M, 'signInEmailEmpty'));
      email.focus();
      return false;
    }

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!needEmail()) return;
      if (password.value === '') {
        invalid(password, true);
        showStatus(status, 'error', t(M, 'signInPasswordEmpty'));
        password.focus();
        return;
      }
      run(async () => {
        showStatus(status, 'busy', t(M, 'signingIn'));
        const r = await session.signIn(email.value.trim(), password.value);
        if (r.ok) {
          password.value = '';
          showStatus(status, '', '');
          onSignedIn(r.user, r.payload);
          return;
        }
        showStatus(status, 'error', errorText(M, r.result));
        if (r.code === 'INVALID_CREDENTIALS') {
          invalid(password, true);
          password.focus();
          password.select();
        }
      });
    });

    if (forgot) {
      forgot.addEventListener('click', () => {
        if (!needEmail()) return;
        run(async () => {
          const address = email.value.trim();
          showStatus(status, 'busy', t(M, 'forgotSending'));
          const r = await session.forgotPassword(address);
          if (P.firstError(r)) showStatus(status, 'error', errorText(M, r));
          else showStatus(status, 'ok', t(M, 'forgotSent', { email: address }));
        });
      });
    }
  }

  // ---------------------------------------------------------------------
  // Passkey ceremonies and the second sign-in step.

  /**
   * ceremony runs navigator.credentials.create or .get (kind "create" or
   * "get") with the server's JSON options, and returns {json} (the
   * credential as the server reads it) or {error} (the key of the message
   * to show).
   */
  async function ceremony(win, kind, options) {
    const W = root.toktokWebAuthn;
    const PKC = win.PublicKeyCredential;
    if (!PKC || !win.navigator.credentials) return { error: 'passkeyUnsupported' };
    try {
      const publicKey = kind === 'create' ? W.creationOptions(options, PKC) : W.requestOptions(options, PKC);
      const cred = await win.navigator.credentials[kind]({ publicKey });
      return cred ? { json: W.credentialJSON(cred) } : { error: 'passkeyCancelled' };
    } catch (e) {
      const name = e && e.name;
      if (name === 'NotAllowedError' || name === 'AbortError') return { error: 'passkeyCancelled' };
      if (name === 'InvalidStateError') return { error: 'passkeyAlreadyRegistered' };
      if (name === 'SecurityError') return { error: 'passkeyInsecure' };
      return { error: 'passkeyFailed' };
    }
  }

  const MFA_FACTORS_QUERY = 'query TokTokConsoleMfaFactors { me { id factors { type confirmed } } }';
  const BEGIN_MFA_MUTATION = 'mutation TokTokConsoleBeginMfa { beginMfaChallenge { challengeId options } }';
  const VERIFY_MFA_MUTATION = 'mutation TokTokConsoleVerifyMfa($input: MfaVerifyInput!) { ' +
    `verifyMfa(input: $input) { ${PAYLOAD_FIELDS} } }`;

  /**
   * mountMfaStep wires the second sign-in step, the markup of layout.html's
   * "mfaStep" block: #mfa-view with the form #mfa-form, a TOTP code
   * (#mfa-code) or, after #mfa-toggle, a recovery code (#mfa-recovery),
   * #mfa-passkey (shown when the user has a passkey and the browser can
   * use it), #mfa-cancel (signs out) and the status #mfa-status. opts:
   *
   *   hide            the ids of the page's views to hide with the step
   *   onVerified(user, payload)   after verifyMfa raised the session
   *                   (its tokens already adopted)
   *   onCancelled()   after #mfa-cancel signed out
   *
   * It returns {show(message), reset()}: show hides the sign-in form and
   * opts.hide, shows the step with message (may be '') and moves the focus
   * to its heading; reset empties its fields (back to the TOTP code).
   */
  function mountMfaStep(win, session, M, opts) {
    const doc = win.document;
    const $ = (id) => doc.getElementById(id);
    const form = $('mfa-form');
    const status = $('mfa-status');
    const code = $('mfa-code');
    const recovery = $('mfa-recovery');
    const passkey = $('mfa-passkey');
    let recoveryMode = false;
    const run = runner(form, status, M);

    function setRecoveryMode(on) {
      recoveryMode = on;
      $('mfa-totp-field').hidden = on;
      $('mfa-recovery-field').hidden = !on;
      $('mfa-toggle').textContent = on ? t(M, 'mfaUseTotp') : t(M, 'mfaUseRecovery');
      for (const f of [code, recovery]) {
        f.value = '';
        invalid(f, false);
      }
    }

    function show(message) {
      for (const id of ['signin-view', 'signout', 'who'].concat(opts.hide || [])) {
        if ($(id)) $(id).hidden = true;
      }
      $('mfa-view').hidden = false;
      setRecoveryMode(false);
      showStatus(status, '', message);
      $('mfa-title').focus();
      // A passkey is offered when the user has one (me answers at aal1).
      passkey.hidden = true;
      session.request(MFA_FACTORS_QUERY).then((r) => {
        const me = r && r.data && r.data.me;
        const has = me && me.factors.some((f) => f.type === 'WEBAUTHN' && f.confirmed);
        passkey.hidden = !(has && win.PublicKeyCredential);
      });
    }

    // verified adopts the raised session of a verifyMfa result, or shows
    // why it failed (field: the code's field, null for a passkey).
    function verified(r, field) {
      const err = P.firstError(r);
      if (err && err.code !== 'INVALID_CREDENTIALS') {
        showStatus(status, 'error', errorText(M, r));
      } else if (err) {
        showStatus(status, 'error', t(M, field ? (recoveryMode ? 'mfaWrongRecovery' : 'mfaWrongCode') : 'passkeyRefused'));
        if (field) {
          invalid(field, true);
          field.focus();
          field.select();
        }
      } else {
        const payload = r.data.verifyMfa;
        session.adopt(payload);
        setRecoveryMode(false);
        showStatus(status, '', '');
        $('mfa-view').hidden = true;
        opts.onVerified(payload.user, payload);
      }
    }

    function submit() {
      run(async () => {
        const field = recoveryMode ? recovery : code;
        invalid(field, false);
        const value = recoveryMode ? field.value.trim() : field.value.replace(/\s+/g, '');
        if (value === '') {
          invalid(field, true);
          showStatus(status, 'error', t(M, recoveryMode ? 'mfaRecoveryEmpty' : 'mfaCodeEmpty'));
          field.focus();
          return;
        }
        showStatus(status, 'busy', t(M, 'mfaVerifying'));
        const input = recoveryMode ? { recoveryCode: value } : { totpCode: value };
        verified(await session.request(VERIFY_MFA_MUTATION, { input }), field);
      });
    }

    function usePasskey() {
      run(async () => {
        showStatus(status, 'busy', t(M, 'passkeyWaiting'));
        const b = await session.request(BEGIN_MFA_MUTATION);
        if (P.firstError(b)) {
          showStatus(status, 'error', errorText(M, b));
          return;
        }
        const ch = b.data.beginMfaChallenge;
        const c = await ceremony(win, 'get', ch.options);
        if (c.error) {
          showStatus(status, 'error', t(M, c.error));
          return;
        }
        const input = { webauthnChallengeId: ch.challengeId, webauthnCredential: c.json };
        verified(await session.request(VERIFY_MFA_MUTATION, { input }), null);
      });
    }

    $('mfa-toggle').addEventListener('click', () => {
      setRecoveryMode(!recoveryMode);
      showStatus(status, '', '');
      (recoveryMode ? recovery : code).focus();
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submit();
    });
    passkey.addEventListener('click', usePasskey);
    $('mfa-cancel').addEventListener('click', () => {
      run(async () => {
        await session.signOut('CURRENT');
        $('mfa-view').hidden = true;
        opts.onCancelled();
      });
    });
    return { show, reset: () => setRecoveryMode(false) };
  }

  // ---------------------------------------------------------------------
  // Page set-up.

  /**
   * setup reads what every console needs (its messages, the endpoint from
   * <body data-endpoint>, the language of <html lang>), makes the session,
   * which ends its server session when the page goes away, and marks the
   * page ready (body[data-ready="true"], what tests wait for).
   */
  function setup(win) {
    const doc = win.document;
    const M = P.readMessages(doc);
    const endpoint = (doc.body && doc.body.getAttribute('data-endpoint')) || '/graphql';
    const lang = (doc.documentElement && doc.documentElement.getAttribute('lang')) || 'en';
    const fetchImpl = (url, init) => win.fetch(url, init);
    const session = createSession(endpoint, fetchImpl, win.crypto && win.crypto.subtle);
    session.endOnUnload(win);
    if (doc.body) doc.body.setAttribute('data-ready', 'true');
    return { M, endpoint, lang, session };
  }

  root.toktokConsole = Object.freeze({
    t,
    showStatus,
    errorText,
    reasonsText,
    createSession,
    mountSignIn,
    mountMfaStep,
    ceremony,
    busy,
    invalid,
    setup,
    formatTime,
    describeUserAgent,
    USER_FIELDS,
  });
})(typeof window !== 'undefined' ? window : globalThis);
