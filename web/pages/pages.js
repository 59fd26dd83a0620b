/*
 * pages.js: what the hosted pages /confirm-email and /reset-password share.
 *
 * It lives in a file, not in an inline <script>, so that the pages'
 * Content-Security-Policy needs no 'unsafe-inline'. The page passes its
 * settings as data-* attributes of <body> and its messages, in its
 * language, as a <script type="application/json" id="messages"> block.
 *
 * Plain ES2020, no build step. It defines window.toktokPages, used by
 * confirm.js and reset.js, whose pure helpers tests call directly.
 *
 * The encryption of credentials comes from toktok-crypto.js (web/shared,
 * served as /pages/toktok-crypto.js), which the page loads first; the
 * playground's fetcher uses the same file. encryptForServer encrypts in
 * the scheme authConfig.encryptionAlgorithm names: ECDH-ES+A256GCM (a JWE
 * compact serialization for authConfig.encryptionJwk, or for the same key
 * as encryptionKey's PEM when the page did not ask for the JWK) or
 * RSA-OAEP-256 (base64 of an RSA-OAEP SHA-256 ciphertext under
 * encryptionKey). Its helpers (pemToDer, importPublicKey, bytesToBase64,
 * encryptValue, encryptJWE, encryptForConfig) are exported too.
 */
(function (root) {
  'use strict';

  if (!root.toktokCrypto) throw new Error('pages.js needs toktok-crypto.js, loaded before it');
  const { pemToDer, importPublicKey, bytesToBase64, encryptValue, encryptJWE, encryptForConfig } = root.toktokCrypto;

  const ANONYMOUS_TOKEN_MUTATION = 'mutation TokTokPageAnonymousToken { anonymousToken { token } }';
  // Longer tokens are not ours: the page says the link is broken.
  const MAX_TOKEN_LENGTH = 1024;

  // ---------------------------------------------------------------------
  // The token in the URL.

  /**
   * readParam returns the value of name in an "a=b&c=d" string (without
   * its leading "?" or "#"), percent-decoded, or null when absent. Unlike
   * URLSearchParams it keeps "+" as it is, as tokens may be base64.
   */
  function readParam(s, name) {
    for (const part of String(s || '').split('&')) {
      const eq = part.indexOf('=');
      if ((eq < 0 ? part : part.slice(0, eq)) !== name) continue;
      try {
        return decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
      } catch (e) {
        return ''; // malformed percent-encoding: a broken link
      }
    }
    return null;
  }

  /** cleanToken returns a plausible token, trimmed, or '' for none. */
  function cleanToken(t) {
    if (typeof t !== 'string') return '';
    const s = t.trim();
    if (s === '' || s.length > MAX_TOKEN_LENGTH || /[\s\u0000-\u001f\u007f]/.test(s)) return '';
    return s;
  }

  /**
   * takeToken returns the token of the page's URL: from the fragment
   * (#token=...), else from the query (?token=..., for front ends set up
   * that way), or '' when there is none. A token in the query is dropped
   * from the address bar at once with history.replaceState (the rest of
   * the URL is kept), so that it stays out of the history and of what the
   * user may copy or share.
   */
  function takeToken(loc, hist) {
    const hash = String(loc.hash || '').replace(/^#/, '');
    const query = String(loc.search || '').replace(/^\?/, '');
    const fromHash = readParam(hash, 'token');
    const fromQuery = readParam(query, 'token');
    if (fromQuery !== null && hist && typeof hist.replaceState === 'function') {
      const rest = query.split('&').filter((p) => p !== '' && p.split('=')[0] !== 'token').join('&');
      try {
        hist.replaceState(hist.state, '', String(loc.pathname || '') + (rest ? `?${rest}` : '') + String(loc.hash || ''));
      } catch (e) {
        // A sandboxed or odd document: the token stays in the bar.
      }
    }
    return cleanToken(fromHash) || cleanToken(fromQuery);
  }

  // ---------------------------------------------------------------------
  // Messages.

  /** format fills the {name} placeholders of template in one pass. */
  function format(template, vars) {
    const v = vars || {};
    return String(template).replace(/\{(\w+)\}/g, (m, k) =>
      (Object.prototype.hasOwnProperty.call(v, k) ? String(v[k]) : m));
  }

  /** readMessages parses the page's JSON block of messages. */
  function readMessages(doc) {
    const el = doc.getElementById('messages');
    try {
      const m = JSON.parse(el ? el.textContent : '');
      if (m && typeof m === 'object') return m;
    } catch (e) {
      // fall through
    }
    return {};
  }

  /**
   * setStatus shows text in the status element, with data-state "success",
   * "error" or "busy"; no state and no text clears it. textContent only:
   * the text may hold an email address.
   */
  function setStatus(el, state, text) {
    if (!el) return;
    el.textContent = text || '';
    if (state) el.setAttribute('data-state', state);
    else el.removeAttribute('data-state');
  }

  // ---------------------------------------------------------------------
  // GraphQL.

  /**
   * firstError returns {code, retryAfter, reasons, field} for the first
   * error of a result, or null when the result has none. Results of
   * requests that never reached the API carry code NETWORK.
   */
  function firstError(result) {
    if (!result || typeof result !== 'object') return { code: 'INTERNAL', reasons: [] };
    if (!Array.isArray(result.errors) || result.errors.length === 0) return null;
    const e = result.errors[0] || {};
    const ext = e.extensions && typeof e.extensions === 'object' ? e.extensions : {};
    const retry = Number(ext.retryAfter);
    const reasons = Array.isArray(ext.reasons) ? ext.reasons
      .map((r) => (r && typeof r === 'object' ? r.code : r))
      .filter((r) => typeof r === 'string' && r !== '')
      .map((r) => r.toLowerCase()) : [];
    return {
      code: typeof ext.code === 'string' ? ext.code : 'INTERNAL',
      retryAfter: Number.isFinite(retry) && retry >= 0 ? Math.ceil(retry) : null,
      reasons,
      field: typeof ext.field === 'string' ? ext.field : null,
    };
  }

  /**
   * errorMessage returns the text, in the page's language, for an error
   * from firstError. BAD_USER_INPUT's reasons are the caller's business.
   */
  function errorMessage(err, M) {
    const code = err && err.code;
    switch (code) {
      case 'INVALID_TOKEN':
        return M.invalidToken;
      case 'EMAIL_TAKEN':
        return M.emailTaken;
      case 'RATE_LIMITED':
        if (err.retryAfter === null || err.retryAfter === undefined) return M.rateLimitedLater;
        if (err.retryAfter <= 1) return M.rateLimitedOne;
        return format(M.rateLimited, { n: err.retryAfter });
      case 'UNAVAILABLE':
        return M.unavailable;
      case 'NETWORK':
        return M.network;
      default:
        return M.generic;
    }
  }

  function localError(code, retryAfter) {
    return { errors: [{ message: code, extensions: { code, retryAfter } }] };
  }

  /**
   * postGraphQL posts one operation and returns its result ({data,
   * errors}). It never throws: a network failure is an error with code
   * NETWORK, an answer that is not GraphQL one with code INTERNAL (or
   * RATE_LIMITED for a 429 from a proxy, with its Retry-After).
   */
  async function postGraphQL(fetchImpl, endpoint, query, variables, bearer) {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    const body = { query };
    if (variables) body.variables = variables;
    let res;
    try {
      res = await fetchImpl(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
        referrerPolicy: 'no-referrer',
      });
    } catch (e) {
      return localError('NETWORK');
    }
    let result = null;
    try {
      result = await res.json();
    } catch (e) {
      result = null;
    }
    if (result && typeof result === 'object' && !Array.isArray(result) && ('data' in result || 'errors' in result)) {
      return result;
    }
    if (res.status === 429) {
      const after = res.headers && typeof res.headers.get === 'function' ? Number(res.headers.get('Retry-After')) : NaN;
      return localError('RATE_LIMITED', Number.isFinite(after) ? after : undefined);
    }
    return localError(res.status === 502 || res.status === 503 || res.status === 504 ? 'UNAVAILABLE' : 'INTERNAL');
  }

  /**
   * createClient returns {request(query, variables, useAnonymousToken)}
   * for endpoint. With useAnonymousToken, the request carries an
   * anonymous token (mutation anonymousToken, fetched once). Whatever it
   * was asked, a request that the server refuses with
   * ANONYMOUS_TOKEN_REQUIRED is sent once more with a fresh anonymous
   * token, and one refused with UNAUTHENTICATED while it carried an
   * anonymous token once more without it: the server refuses those
   * before it looks at the link's token, so nothing is consumed twice.
   */
  function createClient(endpoint, fetchImpl) {
    let anonymous = null;

    async function anonymousToken(fresh) {
      if (anonymous && !fresh) return { token: anonymous };
      const r = await postGraphQL(fetchImpl, endpoint, ANONYMOUS_TOKEN_MUTATION, null, null);
      const t = r && r.data && r.data.anonymousToken && r.data.anonymousToken.token;
      if (typeof t !== 'string' || t === '') return { result: firstError(r) ? r : localError('INTERNAL') };
      anonymous = t;
      return { token: t };
    }

    async function request(query, variables, useAnonymousToken) {
      let bearer = null;
      if (useAnonymousToken) {
        const a = await anonymousToken(false);
        if (!a.token) return a.result;
        bearer = a.token;
      }
      let r = await postGraphQL(fetchImpl, endpoint, query, variables, bearer);
      const err = firstError(r);
      if (err && err.code === 'ANONYMOUS_TOKEN_REQUIRED') {
        const a = await anonymousToken(true);
        if (!a.token) return a.result;
        r = await postGraphQL(fetchImpl, endpoint, query, variables, a.token);
      } else if (err && err.code === 'UNAUTHENTICATED' && bearer) {
        r = await postGraphQL(fetchImpl, endpoint, query, variables, null);
      }
      return r;
    }

    return { request };
  }

  // ---------------------------------------------------------------------
  // Encryption (the helpers of toktok-crypto.js).

  /**
   * encryptForServer encrypts value under authConfig's key (cfg is the
   * authConfig object) in the scheme that cfg.encryptionAlgorithm names,
   * ECDH-ES+A256GCM or RSA-OAEP-256 (also when it names none); another
   * scheme throws. The imported key is kept for the next value.
   */
  async function encryptForServer(value, cfg, subtle) {
    return encryptForConfig(value, cfg, subtle);
  }

  /** codePoints counts a password as the server does: code points after NFC. */
  function codePoints(s) {
    const n = typeof s.normalize === 'function' ? s.normalize('NFC') : s;
    return Array.from(n).length;
  }

  // ---------------------------------------------------------------------
  // Page set-up.

  /**
   * setup reads what every page needs: its messages, the endpoint, the
   * token (taken from the URL) and the status element; it points the
   * language link at the same page in the other language, token included
   * (in the fragment, never sent to the server), and returns
   * {M, endpoint, token, status, client}.
   */
  function setup(win) {
    const doc = win.document;
    const M = readMessages(doc);
    const endpoint = (doc.body && doc.body.getAttribute('data-endpoint')) || '/graphql';
    const token = takeToken(win.location, win.history);
    const link = doc.getElementById('lang-switch');
    if (link && token) {
      const href = link.getAttribute('href') || '';
      link.setAttribute('href', `${href.split('#')[0]}#token=${encodeURIComponent(token)}`);
    }
    // Pasting a link to the same page changes only the fragment, which
    // loads nothing: start again with the new token.
    if (typeof win.addEventListener === 'function') {
      win.addEventListener('hashchange', () => {
        const t = cleanToken(readParam(String(win.location.hash || '').replace(/^#/, ''), 'token'));
        if (t && t !== token) win.location.reload();
      });
    }
    const fetchImpl = (url, init) => win.fetch(url, init);
    return {
      M,
      endpoint,
      token,
      status: doc.getElementById('status'),
      client: createClient(endpoint, fetchImpl),
    };
  }

  root.toktokPages = Object.freeze({
    readParam,
    cleanToken,
    takeToken,
    format,
    readMessages,
    setStatus,
    firstError,
    errorMessage,
    postGraphQL,
    createClient,
    pemToDer,
    importPublicKey,
    bytesToBase64,
    encryptValue,
    encryptJWE,
    encryptForConfig,
    encryptForServer,
    codePoints,
    setup,
  });
})(typeof window !== 'undefined' ? window : globalThis);
