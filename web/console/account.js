/*
 * account.js: the account console (/account).
 *
 * A user signs in (console.js's standard form: anonymous token and
 * credential encryption as authConfig asks), then sees and edits their
 * profile (me, updateProfile), changes their password (changePassword,
 * whose new session the console adopts), asks for an email change
 * (changeEmail, confirmed by the mailed link), lists their sessions
 * (mySessions) and ends any of them (revokeSession), signs out here or
 * everywhere (logout CURRENT or ALL), and deletes the account
 * (deleteAccount, after an explicit confirmation step). Every call goes
 * through GraphQL with the in-memory session of console.js; every
 * password and new address travels encrypted when authConfig says so.
 *
 * Second factors (docs/consoles.md): a login that answers mfaRequired
 * shows the verification step (a TOTP code, a recovery code or a
 * passkey: verifyMfa) before the account; the sign-in form also signs in
 * with a passkey alone (beginPasskeyLogin, finishPasskeyLogin, with the
 * anonymous token). The "Two-factor authentication" section lists the
 * factors (removeFactor), enrols an authenticator app (enrollTotp,
 * confirmTotp), shows recovery codes once and makes new ones
 * (regenerateRecoveryCodes); "Passkeys" registers one
 * (beginWebAuthnRegistration, finishWebAuthnRegistration). An operation
 * that answers MFA_REQUIRED shows the verification step (reason
 * "verify") or the two-factor section (reason "enroll").
 *
 * The WebAuthn options and credentials travel in the WebAuthn Level 3
 * JSON form (base64url); window.toktokWebAuthn (console.js) holds the
 * conversions, and console.js the ceremonies and the verification step,
 * which the admin console shares.
 *
 * After each action the outcome goes to the section's status element
 * (role="status"), and the focus to that section's heading when the view
 * changes, so that keyboard and screen reader users follow along.
 */
(function (win) {
  'use strict';

  // The WebAuthn JSON helpers are console.js's (window.toktokWebAuthn).
  const W = win.toktokWebAuthn;
  if (!win.document || !win.toktokConsole) return;

  const P = win.toktokPages;
  const C = win.toktokConsole;
  const doc = win.document;
  const $ = (id) => doc.getElementById(id);

  const F = C.USER_FIELDS;
  const ME_QUERY = `query TokTokConsoleMe { me { ${F} } }`;
  const SESSIONS_QUERY = 'query TokTokConsoleSessions { mySessions { id createdAt lastUsedAt expiresAt userAgent ip current } }';
  const UPDATE_PROFILE = 'mutation TokTokConsoleUpdateProfile($input: UpdateProfileInput!) { ' +
    `updateProfile(input: $input) { ${F} } }`;
  const CHANGE_PASSWORD = 'mutation TokTokConsoleChangePassword($current: String!, $next: String!) { ' +
    `changePassword(currentPassword: $current, newPassword: $next) { accessToken refreshToken expiresAt user { ${F} } } }`;
  const CHANGE_EMAIL = 'mutation TokTokConsoleChangeEmail($email: String!, $password: String!) { ' +
    'changeEmail(newEmail: $email, currentPassword: $password) }';
  const REVOKE_SESSION = 'mutation TokTokConsoleRevokeSession($id: ID!) { revokeSession(id: $id) }';
  const DELETE_ACCOUNT = 'mutation TokTokConsoleDeleteAccount($password: String!) { deleteAccount(currentPassword: $password) }';
  const RESEND = 'mutation TokTokConsoleResendConfirmation { resendConfirmation }';

  const FACTOR_FIELDS = 'id type name createdAt lastUsedAt confirmed';
  const AUTH_FIELDS = `accessToken refreshToken expiresAt refreshExpiresAt aal mfaRequired user { ${F} }`;
  const ENROLLED_FIELDS = `factor { ${FACTOR_FIELDS} } recoveryCodes auth { ${AUTH_FIELDS} }`;
  const MFA_QUERY = `query TokTokConsoleFactors { me { id mfaEnabled recoveryCodesRemaining factors { ${FACTOR_FIELDS} } } }`;
  const ENROLL_TOTP = 'mutation TokTokConsoleEnrollTotp($name: String) { ' +
    'enrollTotp(name: $name) { factorId secret otpauthUri qrCodeSvg } }';
  const CONFIRM_TOTP = 'mutation TokTokConsoleConfirmTotp($id: ID!, $code: String!) { ' +
    `confirmTotp(factorId: $id, code: $code) { ${ENROLLED_FIELDS} } }`;
  const BEGIN_REGISTRATION = 'mutation TokTokConsoleBeginPasskey($name: String) { ' +
    'beginWebAuthnRegistration(name: $name) { challengeId options } }';
  const FINISH_REGISTRATION = 'mutation TokTokConsoleFinishPasskey($id: ID!, $credential: JSON!) { ' +
    `finishWebAuthnRegistration(challengeId: $id, credential: $credential) { ${ENROLLED_FIELDS} } }`;
  const BEGIN_PASSKEY_LOGIN = 'mutation TokTokConsoleBeginPasskeyLogin($email: String) { ' +
    'beginPasskeyLogin(email: $email) { challengeId options } }';
  const FINISH_PASSKEY_LOGIN = 'mutation TokTokConsoleFinishPasskeyLogin($id: ID!, $credential: JSON!) { ' +
    `finishPasskeyLogin(challengeId: $id, credential: $credential) { ${AUTH_FIELDS} } }`;
  const REMOVE_FACTOR = 'mutation TokTokConsoleRemoveFactor($id: ID!) { removeFactor(id: $id) }';
  const REGENERATE_CODES = 'mutation TokTokConsoleRegenerateRecoveryCodes { regenerateRecoveryCodes }';
  const STATUS_IDS = ['account-status', 'profile-status', 'sessions-status', 'password-status', 'email-status',
    'delete-status', 'mfa-status', 'twofactor-status', 'totp-status', 'recovery-status', 'passkey-status'];

  const { M, lang, session } = C.setup(win);
  const t = (key, vars) => C.t(M, key, vars);
  const when = (iso) => C.formatTime(iso, lang);

  // ---------------------------------------------------------------------
  // Views.

  function focus(el) {
    if (el && typeof el.focus === 'function') el.focus();
  }

  function showSignIn(state, message) {
    $('account-view').hidden = true;
    $('mfa-view').hidden = true;
    $('who').hidden = true;
    $('signout').hidden = true;
    $('signin-view').hidden = false;
    for (const id of STATUS_IDS) C.showStatus($(id), '', '');
    resetDelete();
    resetMfa();
    C.showStatus($('signin-status'), state, message);
    if (message) focus($('signin-title'));
  }

  function showAccount(user) {
    $('signin-view').hidden = true;
    $('mfa-view').hidden = true;
    $('account-view').hidden = false;
    $('signout').hidden = false;
    renderUser(user, true);
    focus($('account-title'));
    loadSessions(false);
    loadFactors();
  }

  // signedIn follows a sign-in: the verification step when the login
  // answered mfaRequired, else the account.
  function signedIn(user, payload) {
    if (payload && payload.mfaRequired) showMfaStep('');
    else showAccount(user);
  }

  function renderUser(u, fillForm) {
    if (!u) return;
    $('who').hidden = false;
    $('who').textContent = t('signedInAs', { email: u.email });
    $('fact-email').textContent = u.email;
    // The hidden username fields tell password managers whose password it is.
    for (const el of doc.querySelectorAll('input.username')) el.value = u.email;
    $('fact-status').textContent = u.emailConfirmed ? t('confirmed') : t('unconfirmed');
    $('fact-role').textContent = (M.roles && M.roles[u.role]) || u.role;
    $('fact-created').textContent = when(u.createdAt);
    $('fact-last-login').textContent = u.lastLoginAt ? when(u.lastLoginAt) : t('never');
    $('confirm-box').hidden = Boolean(u.emailConfirmed);
    const pending = $('email-pending');
    pending.hidden = !u.pendingEmail;
    pending.textContent = u.pendingEmail ? t('emailPending', { email: u.pendingEmail }) : '';
    if (!fillForm) return;
    $('profile-name').value = u.name || '';
    $('profile-surname').value = u.surname || '';
    $('profile-pseudo').value = u.pseudo || '';
    const select = $('profile-lang');
    if (u.lang && ![...select.options].some((o) => o.value === u.lang)) {
      const o = doc.createElement('option');
      o.value = u.lang;
      o.textContent = u.lang;
      select.appendChild(o);
    }
    select.value = u.lang || 'en';
  }

  // run runs an action of a form (or button's form) once at a time, with
  // the form busy meanwhile; an unexpected exception becomes a message.
  const running = new Set();
  async function run(form, status, fn) {
    if (running.has(form)) return;
    running.add(form);
    C.busy(form, true);
    try {
      await fn();
    } catch (e) {
      C.showStatus(status, 'error', t('errGeneric'));
    } finally {
      running.delete(form);
      C.busy(form, false);
    }
  }

  // failed shows the error of r in status and reports whether there was
  // one; MFA_REQUIRED shows the verification step or the two-factor
  // section instead (mfaRequired).
  function failed(r, status) {
    const err = P.firstError(r);
    if (!err) return false;
    if (err.code === 'MFA_REQUIRED' && session.signedIn) mfaRequired(r);
    else if (session.signedIn) C.showStatus(status, 'error', C.errorText(M, r));
    return true;
  }

  // mfaRequired answers an MFA_REQUIRED error: reason "enroll" (the role
  // requires a second factor) points at the two-factor section, "verify"
  // (an aal1 session) shows the verification step.
  function mfaRequired(r) {
    const ext = (r.errors[0] && r.errors[0].extensions) || {};
    if (ext.reason === 'enroll') {
      C.showStatus($('twofactor-status'), 'error', t('mfaEnrollRequired'));
      focus($('twofactor-title'));
      return;
    }
    showMfaStep(t('mfaVerifyToContinue'));
  }

  // encryptFailed shows why credentials could not be encrypted, if so.
  function encryptFailed(enc, status) {
    if (enc.values) return false;
    C.showStatus(status, 'error', C.errorText(M, enc.result));
    return true;
  }

  // ---------------------------------------------------------------------
  // Profile.

  async function reloadMe() {
    const r = await session.request(ME_QUERY);
    const u = r && r.data && r.data.me;
    if (!P.firstError(r) && u) {
      session.setUser(u);
      renderUser(u, false);
    }
  }

  function wireProfile() {
    const form = $('profile-form');
    const status = $('profile-status');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      run(form, status, async () => {
        const fields = { name: $('profile-name'), surname: $('profile-surname'), pseudo: $('profile-pseudo') };
        for (const f of Object.values(fields)) C.invalid(f, false);
        C.showStatus(status, 'busy', t('profileSaving'));
        const input = { lang: $('profile-lang').value };
        for (const [k, f] of Object.entries(fields)) input[k] = f.value.trim();
        const r = await session.request(UPDATE_PROFILE, { input });
        if (failed(r, status)) {
          const err = P.firstError(r);
          if (err.field && fields[err.field]) {
            C.invalid(fields[err.field], true);
            focus(fields[err.field]);
          }
          return;
        }
        session.setUser(r.data.updateProfile);
        renderUser(r.data.updateProfile, true);
        C.showStatus(status, 'ok', t('profileSaved'));
      });
    });
    const resend = $('resend-confirmation');
    resend.addEventListener('click', () => {
      run($('confirm-box'), status, async () => {
        C.showStatus(status, 'busy', t('resending'));
        const r = await session.request(RESEND);
        if (failed(r, status)) return;
        const email = session.user ? session.user.email : '';
        C.showStatus(status, 'ok', r.data.resendConfirmation ? t('resent', { email }) : t('alreadyConfirmed'));
        await reloadMe();
      });
    });
  }

  // ---------------------------------------------------------------------
  // Sessions.

  function deviceName(ua) {
    const d = C.describeUserAgent(ua);
    if (!d.browser && !d.os) return t('unknownDevice');
    if (d.browser && d.os) return t('deviceOn', { browser: d.browser, os: d.os });
    return d.browser || d.os;
  }

  function sessionItem(s) {
    const li = doc.createElement('li');
    li.setAttribute('data-session', s.id);
    if (s.current) li.setAttribute('data-current', 'true');
    const main = doc.createElement('div');
    main.className = 'item-main';
    const title = doc.createElement('p');
    title.className = 'item-title';
    const device = deviceName(s.userAgent);
    title.textContent = device;
    if (s.current) {
      const badge = doc.createElement('span');
      badge.className = 'badge';
      badge.textContent = t('thisDevice');
      title.append(' ', badge);
    }
    const meta = doc.createElement('p');
    meta.className = 'item-meta';
    meta.textContent = t('sessionMeta', { ip: s.ip || t('unknownIp'), lastUsed: when(s.lastUsedAt), created: when(s.createdAt) });
    if (s.userAgent) meta.title = s.userAgent;
    main.append(title, meta);
    const end = doc.createElement('button');
    end.type = 'button';
    end.className = 'secondary';
    end.textContent = t('endSession');
    end.setAttribute('aria-label', t('endSessionLabel', { device, lastUsed: when(s.lastUsedAt) }));
    end.addEventListener('click', () => endSession(s, device));
    li.append(main, end);
    return li;
  }

  async function loadSessions(announce) {
    const status = $('sessions-status');
    const list = $('sessions-list');
    list.setAttribute('aria-busy', 'true');
    if (announce) C.showStatus(status, 'busy', t('sessionsLoading'));
    const r = await session.request(SESSIONS_QUERY);
    list.removeAttribute('aria-busy');
    if (failed(r, status)) return;
    const sessions = (r.data.mySessions || []).slice().sort((a, b) =>
      (Number(b.current) - Number(a.current)) || String(b.lastUsedAt).localeCompare(String(a.lastUsedAt)));
    list.textContent = '';
    for (const s of sessions) list.appendChild(sessionItem(s));
    if (announce) {
      C.showStatus(status, 'ok', sessions.length === 1 ? t('sessionsLoadedOne') : t('sessionsLoaded', { n: sessions.length }));
    }
  }

  function endSession(s, device) {
    const section = $('sessions');
    const status = $('sessions-status');
    run(section, status, async () => {
      C.showStatus(status, 'busy', t('endingSession'));
      const r = await session.request(REVOKE_SESSION, { id: s.id });
      if (failed(r, status)) return;
      if (s.current) {
        // This page's own session: nothing left to act with.
        session.forget();
        showSignIn('ok', t('signedOut'));
        return;
      }
      await loadSessions(false);
      C.showStatus(status, 'ok', t('sessionEndedOk', { device }));
      focus($('sessions-title'));
    });
  }

  function wireSessions() {
    const section = $('sessions');
    const status = $('sessions-status');
    $('sessions-reload').addEventListener('click', () => run(section, status, () => loadSessions(true)));
    $('signout-all').addEventListener('click', () => {
      run(section, status, async () => {
        C.showStatus(status, 'busy', t('signingOut'));
        const r = await session.signOut('ALL');
        if (r && P.firstError(r) && P.firstError(r).code !== 'UNAUTHENTICATED') {
          showSignIn('error', C.errorText(M, r));
          return;
        }
        showSignIn('ok', t('signedOutAll'));
      });
    });
    $('signout').addEventListener('click', async () => {
      const btn = $('signout');
      btn.disabled = true;
      try {
        await session.signOut('CURRENT');
      } finally {
        btn.disabled = false;
      }
      showSignIn('ok', t('signedOut'));
    });
  }

  // ---------------------------------------------------------------------
  // Password, email, deletion.

  function showReasons(texts) {
    const list = $('password-reasons');
    list.textContent = '';
    for (const text of texts) {
      const li = doc.createElement('li');
      li.textContent = text;
      list.appendChild(li);
    }
    list.hidden = texts.length === 0;
  }

  // checkNewPassword checks what the page can check itself, and returns
  // the message of the first problem with the field to focus, or null.
  function checkNewPassword(cfg, current, next, confirm) {
    if (current.value === '') return [current, t('passwordEmpty')];
    if (next.value === '') return [next, t('newPasswordEmpty')];
    const n = P.codePoints(next.value);
    if (cfg && (n < cfg.passwordMinLength || n > cfg.passwordMaxLength)) {
      return [next, t('lengthHint', { min: cfg.passwordMinLength, max: cfg.passwordMaxLength })];
    }
    if (confirm.value !== next.value) return [confirm, t('passwordMismatch')];
    return null;
  }

  function wirePassword() {
    const form = $('password-form');
    const status = $('password-status');
    const current = $('password-current');
    const next = $('password-new');
    const confirm = $('password-confirm');
    session.config().then((cfg) => {
      if (cfg) $('password-hint').textContent = t('lengthHint', { min: cfg.passwordMinLength, max: cfg.passwordMaxLength });
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      run(form, status, async () => {
        for (const f of [current, next, confirm]) C.invalid(f, false);
        showReasons([]);
        const cfg = await session.config();
        const problem = checkNewPassword(cfg, current, next, confirm);
        if (problem) {
          C.invalid(problem[0], true);
          C.showStatus(status, 'error', problem[1]);
          focus(problem[0]);
          return;
        }
        C.showStatus(status, 'busy', t('passwordChanging'));
        const enc = await session.encryptAll([current.value, next.value]);
        if (encryptFailed(enc, status)) return;
        const r = await session.request(CHANGE_PASSWORD, { current: enc.values[0], next: enc.values[1] });
        if (failed(r, status)) {
          const err = P.firstError(r);
          if (err.code === 'INVALID_CREDENTIALS') {
            C.showStatus(status, 'error', t('wrongPassword'));
            C.invalid(current, true);
            focus(current);
          } else if (err.code === 'BAD_USER_INPUT') {
            showReasons(C.reasonsText(M, r, cfg));
            C.invalid(next, true);
            focus(next);
          }
          return;
        }
        // Every session ended, this one included: the payload is the new one.
        session.adopt(r.data.changePassword);
        for (const f of [current, next, confirm]) f.value = '';
        C.showStatus(status, 'ok', t('passwordChanged'));
        loadSessions(false);
      });
    });
  }

  function wireEmail() {
    const form = $('email-form');
    const status = $('email-status');
    const address = $('email-new');
    const password = $('email-password');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      run(form, status, async () => {
        C.invalid(address, false);
        C.invalid(password, false);
        const email = address.value.trim();
        const problem = email === '' ? [address, t('emailEmpty')]
          : (session.user && email.toLowerCase() === session.user.email ? [address, t('emailSame')]
            : (password.value === '' ? [password, t('passwordEmpty')] : null));
        if (problem) {
          C.invalid(problem[0], true);
          C.showStatus(status, 'error', problem[1]);
          focus(problem[0]);
          return;
        }
        C.showStatus(status, 'busy', t('emailChanging'));
        const enc = await session.encryptAll([email, password.value]);
        if (encryptFailed(enc, status)) return;
        const r = await session.request(CHANGE_EMAIL, { email: enc.values[0], password: enc.values[1] });
        if (failed(r, status)) {
          const err = P.firstError(r);
          if (err.code === 'INVALID_CREDENTIALS') {
            C.showStatus(status, 'error', t('wrongPassword'));
            C.invalid(password, true);
            focus(password);
          } else if (err.code === 'EMAIL_TAKEN' || err.code === 'BAD_USER_INPUT') {
            C.invalid(address, true);
            focus(address);
          }
          return;
        }
        address.value = '';
        password.value = '';
        C.showStatus(status, 'ok', t('emailChangeSent', { email }));
        await reloadMe();
      });
    });
  }

  function resetDelete() {
    $('delete-form').hidden = true;
    $('delete-start').hidden = false;
    $('delete-start').setAttribute('aria-expanded', 'false');
    $('delete-password').value = '';
    $('delete-understand').checked = false;
  }

  function wireDelete() {
    const form = $('delete-form');
    const status = $('delete-status');
    const password = $('delete-password');
    const understand = $('delete-understand');
    $('delete-start').addEventListener('click', () => {
      form.hidden = false;
      $('delete-start').hidden = true;
      $('delete-start').setAttribute('aria-expanded', 'true');
      C.showStatus(status, '', '');
      focus(password);
    });
    $('delete-cancel').addEventListener('click', () => {
      resetDelete();
      C.showStatus(status, '', '');
      focus($('delete-start'));
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      run(form, status, async () => {
        C.invalid(password, false);
        if (password.value === '') {
          C.invalid(password, true);
          C.showStatus(status, 'error', t('passwordEmpty'));
          focus(password);
          return;
        }
        if (!understand.checked) {
          C.showStatus(status, 'error', t('deleteNeedsCheck'));
          focus(understand);
          return;
        }
        C.showStatus(status, 'busy', t('deleting'));
        const enc = await session.encryptAll([password.value]);
        if (encryptFailed(enc, status)) return;
        const r = await session.request(DELETE_ACCOUNT, { password: enc.values[0] });
        if (failed(r, status)) {
          if (P.firstError(r).code === 'INVALID_CREDENTIALS') {
            C.showStatus(status, 'error', t('wrongPassword'));
            C.invalid(password, true);
            focus(password);
          }
          return;
        }
        session.forget();
        showSignIn('ok', t('deleted'));
      });
    });
  }

  // ---------------------------------------------------------------------
  // Passkey sign-in.

  // ceremony runs a WebAuthn ceremony (console.js): {json} or {error}.
  const ceremony = (kind, options) => C.ceremony(win, kind, options);

  // wirePasskeySignIn: "Sign in with a passkey", for the address typed or,
  // without one, any passkey of this site that the device offers.
  function wirePasskeySignIn() {
    const btn = $('signin-passkey');
    const form = $('signin-form');
    const status = $('signin-status');
    if (!win.PublicKeyCredential) $('signin-passkey-box').hidden = true;
    btn.addEventListener('click', () => {
      run($('signin-passkey-box'), status, async () => {
        C.busy(form, true);
        try {
          C.invalid($('signin-email'), false);
          C.showStatus(status, 'busy', t('passkeyWaiting'));
          const email = $('signin-email').value.trim();
          // The address travels encrypted, as login's does, when authConfig asks.
          let sent = null;
          if (email) {
            const enc = await session.encryptAll([email]);
            if (!enc.values) {
              C.showStatus(status, 'error', C.errorText(M, enc.result));
              return;
            }
            sent = enc.values[0];
          }
          const b = await session.anonymousRequest(BEGIN_PASSKEY_LOGIN, { email: sent });
          if (P.firstError(b)) {
            C.showStatus(status, 'error', C.errorText(M, b));
            return;
          }
          const ch = b.data.beginPasskeyLogin;
          const c = await ceremony('get', ch.options);
          if (c.error) {
            C.showStatus(status, 'error', t(c.error));
            return;
          }
          const r = await session.anonymousRequest(FINISH_PASSKEY_LOGIN, { id: ch.challengeId, credential: c.json });
          const err = P.firstError(r);
          if (err) {
            C.showStatus(status, 'error', err.code === 'INVALID_CREDENTIALS' ? t('passkeyRefused') : C.errorText(M, r));
            return;
          }
          session.forget();
          session.adopt(r.data.finishPasskeyLogin);
          $('signin-password').value = '';
          C.showStatus(status, '', '');
          showAccount(r.data.finishPasskeyLogin.user);
        } finally {
          C.busy(form, false);
        }
      });
    });
  }

  // ---------------------------------------------------------------------
  // The verification step (an aal1 session of a user with a factor):
  // console.js's, shared with the admin console.

  const mfaStep = C.mountMfaStep(win, session, M, {
    hide: ['account-view'],
    onVerified: (user) => showAccount(user),
    onCancelled: () => showSignIn('ok', t('signedOut')),
  });
  const showMfaStep = (message) => mfaStep.show(message);

  // ---------------------------------------------------------------------
  // Two-factor authentication: the factors, TOTP, recovery codes.

  let factors = [];
  let pendingTotp = null; // the factor id of the TOTP enrolment shown
  let removing = null; // the factor whose removal awaits confirmation
  let codes = []; // the recovery codes shown

  function factorItem(f) {
    const li = doc.createElement('li');
    li.setAttribute('data-factor', f.id);
    li.setAttribute('data-type', f.type);
    const main = doc.createElement('div');
    main.className = 'item-main';
    const title = doc.createElement('p');
    title.className = 'item-title';
    const name = f.name || ((M.factorTypes && M.factorTypes[f.type]) || f.type);
    title.textContent = name;
    if (!f.confirmed) {
      const badge = doc.createElement('span');
      badge.className = 'badge warn';
      badge.textContent = t('factorPending');
      title.append(' ', badge);
    }
    const meta = doc.createElement('p');
    meta.className = 'item-meta';
    const type = (M.factorTypes && M.factorTypes[f.type]) || f.type;
    meta.textContent = f.lastUsedAt ? t('factorMeta', { type, created: when(f.createdAt), lastUsed: when(f.lastUsedAt) })
      : t('factorMetaUnused', { type, created: when(f.createdAt) });
    main.append(title, meta);
    const remove = doc.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary';
    remove.textContent = t('factorRemove');
    remove.setAttribute('aria-label', t('factorRemoveLabel', { name }));
    remove.setAttribute('aria-controls', 'factor-remove');
    remove.addEventListener('click', () => askRemove(f, name, remove));
    li.append(main, remove);
    return li;
  }

  function renderFactors(me) {
    factors = (me.factors || []).slice().sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)));
    const list = $('factors-list');
    list.textContent = '';
    for (const f of factors) list.appendChild(factorItem(f));
    $('twofactor-state').textContent = me.mfaEnabled ? t('mfaOn') : t('mfaOff');
    const n = me.recoveryCodesRemaining;
    $('recovery-remaining').textContent = !me.mfaEnabled ? t('recoveryNone')
      : (n === 1 ? t('recoveryRemainingOne') : t('recoveryRemaining', { n }));
    $('recovery-regenerate').hidden = !me.mfaEnabled;
  }

  async function loadFactors() {
    const list = $('factors-list');
    list.setAttribute('aria-busy', 'true');
    const r = await session.request(MFA_QUERY);
    list.removeAttribute('aria-busy');
    if (failed(r, $('twofactor-status'))) return;
    if (r.data.me) renderFactors(r.data.me);
  }

  function askRemove(f, name, button) {
    const confirmed = factors.filter((x) => x.confirmed);
    removing = { f, name, button };
    const last = f.confirmed && confirmed.length === 1;
    $('factor-remove-text').textContent = t(last ? 'factorRemoveLast' : 'factorRemoveQuestion', { name });
    $('factor-remove').hidden = false;
    C.showStatus($('twofactor-status'), '', '');
    focus($('factor-remove-text'));
  }

  function wireFactors() {
    const box = $('factor-remove');
    const status = $('twofactor-status');
    $('factor-remove-no').addEventListener('click', () => {
      box.hidden = true;
      const back = removing && removing.button;
      removing = null;
      focus(back && back.isConnected ? back : $('twofactor-title'));
    });
    $('factor-remove-yes').addEventListener('click', () => {
      run(box, status, async () => {
        if (!removing) return;
        const { f, name } = removing;
        C.showStatus(status, 'busy', t('removingFactor'));
        const r = await session.request(REMOVE_FACTOR, { id: f.id });
        if (failed(r, status)) return;
        box.hidden = true;
        removing = null;
        if (f.id === pendingTotp) resetTotp();
        if (r.data.removeFactor) C.showStatus(status, 'ok', t('factorRemoved', { name }));
        else C.showStatus(status, 'error', t('factorGone'));
        focus($('twofactor-title'));
        await loadFactors();
        loadSessions(false); // the other sessions were ended
      });
    });
  }

  function resetTotp() {
    pendingTotp = null;
    $('totp-enroll').hidden = true;
    $('totp-start-form').hidden = false;
    $('totp-qr').removeAttribute('src');
    $('totp-secret').textContent = '';
    $('totp-code').value = '';
    C.invalid($('totp-code'), false);
  }

  // enrolled follows a confirmed factor: the session's new (aal2) tokens,
  // the recovery codes when they came with it, the factors again.
  async function enrolled(payload, status, message) {
    session.adopt(payload.auth);
    C.showStatus(status, 'ok', message);
    if (payload.recoveryCodes && payload.recoveryCodes.length > 0) showCodes(payload.recoveryCodes);
    await loadFactors();
  }

  function wireTotp() {
    const start = $('totp-start-form');
    const form = $('totp-confirm-form');
    const status = $('totp-status');
    const code = $('totp-code');
    start.addEventListener('submit', (ev) => {
      ev.preventDefault();
      run(start, status, async () => {
        C.showStatus(status, 'busy', t('totpStarting'));
        const name = $('totp-name').value.trim();
        const r = await session.request(ENROLL_TOTP, { name: name || null });
        if (failed(r, status)) return;
        const e = r.data.enrollTotp;
        pendingTotp = e.factorId;
        $('totp-qr').src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(e.qrCodeSvg);
        $('totp-secret').textContent = W.groupSecret(e.secret);
        start.hidden = true;
        $('totp-enroll').hidden = false;
        C.showStatus(status, 'ok', t('totpStarted'));
        focus(code);
        loadFactors();
      });
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      run(form, status, async () => {
        C.invalid(code, false);
        const value = code.value.replace(/\s+/g, '');
        if (value === '') {
          C.invalid(code, true);
          C.showStatus(status, 'error', t('mfaCodeEmpty'));
          focus(code);
          return;
        }
        C.showStatus(status, 'busy', t('totpConfirming'));
        const r = await session.request(CONFIRM_TOTP, { id: pendingTotp, code: value });
        const err = P.firstError(r);
        if (err && err.code === 'INVALID_CREDENTIALS') {
          C.showStatus(status, 'error', t('mfaWrongCode'));
          C.invalid(code, true);
          focus(code);
          code.select();
          return;
        }
        if (failed(r, status)) return;
        resetTotp();
        $('totp-name').value = '';
        await enrolled(r.data.confirmTotp, status, t('totpAdded'));
        if (!codesShown()) focus($('twofactor-title'));
      });
    });
    $('totp-cancel').addEventListener('click', () => {
      // The pending enrolment expires by itself (removeFactor would end
      // the other sessions).
      resetTotp();
      C.showStatus(status, '', '');
      focus($('totp-start'));
    });
  }

  const codesShown = () => !$('recovery-box').hidden;

  function showCodes(list) {
    codes = list.slice();
    const ul = $('recovery-list');
    ul.textContent = '';
    for (const c of codes) {
      const li = doc.createElement('li');
      const code = doc.createElement('code');
      code.textContent = c;
      li.appendChild(code);
      ul.appendChild(li);
    }
    $('recovery-box').hidden = false;
    C.showStatus($('recovery-status'), 'ok', t('recoveryShown'));
    focus($('recovery-codes-title'));
  }

  function hideCodes() {
    codes = [];
    $('recovery-list').textContent = '';
    $('recovery-box').hidden = true;
  }

  function hideRegenerate() {
    $('recovery-confirm').hidden = true;
    $('recovery-regenerate').setAttribute('aria-expanded', 'false');
  }

  function wireRecovery() {
    const status = $('recovery-status');
    const ask = $('recovery-regenerate');
    ask.addEventListener('click', () => {
      $('recovery-confirm').hidden = false;
      ask.setAttribute('aria-expanded', 'true');
      C.showStatus(status, '', '');
      focus($('recovery-confirm-text'));
    });
    $('recovery-confirm-no').addEventListener('click', () => {
      hideRegenerate();
      focus(ask);
    });
    $('recovery-confirm-yes').addEventListener('click', () => {
      run($('recovery-confirm'), status, async () => {
        C.showStatus(status, 'busy', t('recoveryRegenerating'));
        const r = await session.request(REGENERATE_CODES);
        if (failed(r, status)) return;
        hideRegenerate();
        showCodes(r.data.regenerateRecoveryCodes);
        C.showStatus(status, 'ok', t('recoveryRegenerated'));
        await loadFactors();
      });
    });
    $('recovery-copy').addEventListener('click', async () => {
      try {
        await win.navigator.clipboard.writeText(codes.join('\n') + '\n');
        C.showStatus(status, 'ok', t('recoveryCopied'));
      } catch (e) {
        C.showStatus(status, 'error', t('recoveryCopyFailed'));
      }
    });
    $('recovery-download').addEventListener('click', () => {
      const url = win.URL.createObjectURL(new win.Blob([codes.join('\n') + '\n'], { type: 'text/plain' }));
      const a = doc.createElement('a');
      a.href = url;
      a.download = t('recoveryFileName');
      doc.body.appendChild(a);
      a.click();
      a.remove();
      win.setTimeout(() => win.URL.revokeObjectURL(url), 1000);
      C.showStatus(status, 'ok', t('recoveryDownloaded'));
    });
    $('recovery-done').addEventListener('click', () => {
      hideCodes();
      C.showStatus(status, '', '');
      focus($('recovery-title'));
    });
  }

  // resetMfa forgets what the two-factor parts showed: codes and keys
  // are for the user who saw them, not for whoever signs in next.
  function resetMfa() {
    resetTotp();
    hideCodes();
    hideRegenerate();
    $('factor-remove').hidden = true;
    removing = null;
    factors = [];
    $('factors-list').textContent = '';
    mfaStep.reset();
  }

  // ---------------------------------------------------------------------
  // Passkeys.

  function wirePasskeys() {
    const form = $('passkey-form');
    const status = $('passkey-status');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      run(form, status, async () => {
        C.showStatus(status, 'busy', t('passkeyWaiting'));
        const name = $('passkey-name').value.trim();
        const b = await session.request(BEGIN_REGISTRATION, { name: name || null });
        if (failed(b, status)) return;
        const ch = b.data.beginWebAuthnRegistration;
        const c = await ceremony('create', ch.options);
        if (c.error) {
          C.showStatus(status, 'error', t(c.error));
          return;
        }
        const r = await session.request(FINISH_REGISTRATION, { id: ch.challengeId, credential: c.json });
        if (failed(r, status)) return;
        $('passkey-name').value = '';
        await enrolled(r.data.finishWebAuthnRegistration, status, t('passkeyAdded'));
        if (!codesShown()) focus($('passkeys-title'));
      });
    });
  }

  // ---------------------------------------------------------------------
  // Start.

  session.onSignedOut(() => showSignIn('error', t('sessionEnded')));
  // Tokens forgotten for any other reason (the page going away, to come
  // back from the browser's cache): never show an account without them.
  session.onChange((u) => {
    if (!u && (!$('account-view').hidden || !$('mfa-view').hidden)) showSignIn('', '');
  });
  C.mountSignIn(doc, session, M, signedIn);
  wirePasskeySignIn();
  wireProfile();
  wireSessions();
  wirePassword();
  wireEmail();
  wireFactors();
  wireTotp();
  wireRecovery();
  wirePasskeys();
  wireDelete();
})(typeof window !== 'undefined' ? window : globalThis);
