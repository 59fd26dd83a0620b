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
 * After each action the outcome goes to the section's status element
 * (role="status"), and the focus to that section's heading when the view
 * changes, so that keyboard and screen reader users follow along.
 */
(function (win) {
  'use strict';

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
    $('who').hidden = true;
    $('signout').hidden = true;
    $('signin-view').hidden = false;
    for (const id of ['account-status', 'profile-status', 'sessions-status', 'password-status', 'email-status', 'delete-status']) {
      C.showStatus($(id), '', '');
    }
    resetDelete();
    C.showStatus($('signin-status'), state, message);
    if (message) focus($('signin-title'));
  }

  function showAccount(user) {
    $('signin-view').hidden = true;
    $('account-view').hidden = false;
    $('signout').hidden = false;
    renderUser(user, true);
    focus($('account-title'));
    loadSessions(false);
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

  // failed shows the error of r in status and reports whether there was one.
  function failed(r, status) {
    if (!P.firstError(r)) return false;
    if (session.signedIn) C.showStatus(status, 'error', C.errorText(M, r));
    return true;
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
  // Start.

  session.onSignedOut(() => showSignIn('error', t('sessionEnded')));
  // Tokens forgotten for any other reason (the page going away, to come
  // back from the browser's cache): never show an account without them.
  session.onChange((u) => {
    if (!u && !$('account-view').hidden) showSignIn('', '');
  });
  C.mountSignIn(doc, session, M, (user) => showAccount(user));
  wireProfile();
  wireSessions();
  wirePassword();
  wireEmail();
  wireDelete();
})(window);
