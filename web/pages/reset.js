/*
 * reset.js: the /reset-password page.
 *
 * Opening the page posts no token: it only reads the public authConfig
 * (password lengths, encryption, anonymous tokens). The token is posted
 * with the new password when #reset-form is submitted, after the two
 * fields (#password, #password-confirm) are checked to match and to have
 * a length the policy allows. With authConfig.encryptedCredentials the
 * new password travels encrypted under authConfig's key (a JWE, ECDH-ES
 * with A256GCM, for encryptionJwk; or base64 of RSA-OAEP SHA-256 under
 * encryptionKey with --salt-alg=rsa-oaep-256); with anonymousTokenRequired the
 * request carries an anonymous token. Outcomes are shown in #status
 * (data-state "busy", "success" or "error") and, for a password the policy
 * refuses, its reasons in #reasons. #submit is disabled while a request is
 * in flight. The form is removed when trying again is pointless (success,
 * no token, invalid token).
 */
(function (win) {
  'use strict';

  const AUTH_CONFIG_QUERY = 'query TokTokPageAuthConfig { authConfig { anonymousTokenRequired ' +
    'encryptedCredentials encryptionKey encryptionJwk encryptionAlgorithm passwordMinLength passwordMaxLength } }';
  const RESET_MUTATION = 'mutation TokTokPageResetPassword($t: String!, $p: String!) { ' +
    'resetPassword(token: $t, newPassword: $p) }';

  const P = win.toktokPages;
  const doc = win.document;
  const form = doc.getElementById('reset-form');
  const password = doc.getElementById('password');
  const confirmation = doc.getElementById('password-confirm');
  const submit = doc.getElementById('submit');
  const reasonList = doc.getElementById('reasons');
  const hint = doc.getElementById('password-hint');
  const page = P.setup(win);
  const M = page.M;
  const reasonText = M.reasons && typeof M.reasons === 'object' ? M.reasons : {};

  function ready() {
    doc.body.setAttribute('data-ready', 'true');
  }

  if (!page.token) {
    P.setStatus(page.status, 'error', M.missingToken);
    if (form) form.remove();
    ready();
    return;
  }
  if (!form || !password || !confirmation || !submit) return;

  // authConfig, loaded once; a failed load is tried again at the next submit.
  let config = null;
  function loadConfig() {
    if (!config) {
      config = page.client.request(AUTH_CONFIG_QUERY, null, false).then((r) => {
        const c = r && r.data && r.data.authConfig;
        if (P.firstError(r) || !c || typeof c !== 'object') {
          config = null;
          return { error: P.firstError(r) || { code: 'INTERNAL', reasons: [] } };
        }
        return { config: c };
      });
    }
    return config;
  }

  function limits(cfg) {
    return { min: cfg.passwordMinLength, max: cfg.passwordMaxLength };
  }

  function clearReasons() {
    if (!reasonList) return;
    reasonList.textContent = '';
    reasonList.hidden = true;
  }

  // showReasons lists why the policy refuses the password, in words.
  function showReasons(reasons, vars) {
    P.setStatus(page.status, 'error', M.weakPassword);
    if (!reasonList) return;
    reasonList.textContent = '';
    const seen = new Set();
    for (const reason of reasons) {
      if (seen.has(reason)) continue;
      seen.add(reason);
      const li = doc.createElement('li');
      li.setAttribute('data-reason', reason);
      const known = Object.prototype.hasOwnProperty.call(reasonText, reason) && reason !== 'other';
      li.textContent = P.format(known ? reasonText[reason] : reasonText.other, Object.assign({ reason }, vars));
      reasonList.appendChild(li);
    }
    reasonList.hidden = false;
  }

  function invalid(field, yes) {
    if (yes) field.setAttribute('aria-invalid', 'true');
    else field.removeAttribute('aria-invalid');
  }

  function fail(field, message) {
    P.setStatus(page.status, 'error', message);
    if (field) {
      invalid(field, true);
      field.focus();
    }
  }

  let removed = false;
  function finish(state, message) {
    P.setStatus(page.status, state, message);
    clearReasons();
    removed = true;
    form.remove();
  }

  loadConfig().then((c) => {
    if (c.config && hint) hint.textContent = P.format(M.lengthHint, limits(c.config));
  });

  let busy = false;
  async function onSubmit() {
    clearReasons();
    invalid(password, false);
    invalid(confirmation, false);
    const value = password.value;
    if (value === '') {
      fail(password, M.passwordEmpty);
      return;
    }
    P.setStatus(page.status, 'busy', M.resetting);

    const c = await loadConfig();
    if (!c.config) {
      P.setStatus(page.status, 'error', P.errorMessage(c.error, M));
      return;
    }
    const cfg = c.config;
    const vars = limits(cfg);
    const n = P.codePoints(value);
    const tooShort = Number.isFinite(vars.min) && n < vars.min;
    const tooLong = Number.isFinite(vars.max) && n > vars.max;
    if (tooShort || tooLong) {
      showReasons([tooShort ? 'too_short' : 'too_long'], vars);
      invalid(password, true);
      password.focus();
      return;
    }
    if (confirmation.value !== value) {
      fail(confirmation, M.passwordMismatch);
      return;
    }

    let sent = value;
    if (cfg.encryptedCredentials) {
      try {
        sent = await P.encryptForServer(value, cfg);
      } catch (e) {
        if (e && e.tooLong) fail(password, M.tooLongToEncrypt);
        else P.setStatus(page.status, 'error', e && e.insecureContext ? M.insecureContext : M.encryptFailed);
        return;
      }
    }

    const r = await page.client.request(RESET_MUTATION, { t: page.token, p: sent },
      Boolean(cfg.anonymousTokenRequired));
    const err = P.firstError(r);
    if (!err && r.data && r.data.resetPassword === true) {
      finish('success', M.resetDone);
      return;
    }
    const e = err || { code: 'INTERNAL', reasons: [] };
    if (e.code === 'BAD_USER_INPUT') {
      if (e.reasons.length > 0) showReasons(e.reasons, vars);
      else P.setStatus(page.status, 'error', M.passwordRefused);
      invalid(password, true);
      password.focus();
      return;
    }
    if (e.code === 'INVALID_TOKEN') {
      finish('error', M.invalidToken);
      return;
    }
    P.setStatus(page.status, 'error', P.errorMessage(e, M));
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    busy = true;
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await onSubmit();
    } catch (e) {
      P.setStatus(page.status, 'error', M.generic);
    } finally {
      busy = false;
      if (!removed) {
        form.removeAttribute('aria-busy');
        submit.disabled = false;
      }
    }
  });
  submit.disabled = false;
  ready();
})(window);
