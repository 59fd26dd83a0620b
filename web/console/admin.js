/*
 * admin.js: the admin console (/admin), for STAFF and ADMIN.
 *
 * The console has no privilege of its own: it signs in through the
 * GraphQL API like any client (console.js's session, tokens in memory
 * only) and calls the staff and admin operations of the schema with the
 * access token of whoever signed in. The server decides what each role
 * may do; the page only follows: a USER is told the console is not for
 * them, a STAFF sees the users read-only (the action buttons and the
 * audit log, ADMIN-only in the schema, are taken out of the page, not
 * merely disabled), an ADMIN gets everything. A role changed while the
 * page is open shows as FORBIDDEN, after which the page asks for the
 * role again and adapts.
 *
 * Second factors (docs/mfa.md): a password sign-in that answers
 * mfaRequired shows console.js's second sign-in step (a TOTP code, a
 * recovery code or a passkey: verifyMfa) before the console; so does any
 * operation that answers MFA_REQUIRED with reason "verify". Reason
 * "enroll" (--mfa-required-roles and no factor yet) shows why, with a link
 * to the account console, where factors are enrolled: this console
 * enrols none.
 *
 * A user's page shows the user's second factors (User.factors, answered
 * to STAFF and ADMIN): whether MFA is on, each factor with its type, name,
 * dates and whether it awaits its first code, and the recovery codes
 * left. An ADMIN may reset them (resetUserMfa, after a confirmation): the
 * button is taken out of the page for STAFF, and for a user with nothing
 * to reset. The list of users reads only mfaEnabled, a field of the user
 * itself: factors would cost a query per user.
 *
 * Plain ES2020, no build step. Every text comes from the page's messages
 * (console/i18n/admin.<lang>.json merged with console.<lang>.json) and is
 * set with textContent, never as HTML: emails and names are typed by
 * users.
 */
(function (win) {
  'use strict';

  const C = win.toktokConsole;
  const P = win.toktokPages;
  const doc = win.document;

  const USER_FIELDS = 'id email emailConfirmed pendingEmail role name surname pseudo lang disabled ' +
    'createdAt updatedAt lastLoginAt loginCount mfaEnabled recoveryCodesRemaining ' +
    'factors { id type name createdAt lastUsedAt confirmed }';
  const ME_QUERY = 'query TokTokAdminMe { me { id email role } }';
  const USERS_QUERY = 'query TokTokAdminUsers($filter: UserFilter, $first: Int, $after: String) { ' +
    'users(filter: $filter, first: $first, after: $after) { ' +
    'nodes { id email name surname role emailConfirmed disabled mfaEnabled createdAt } ' +
    'pageInfo { hasNextPage endCursor } totalCount } }';
  const USER_QUERY = `query TokTokAdminUser($id: ID!) { user(id: $id) { ${USER_FIELDS} } }`;
  const UPDATE_MUTATION = 'mutation TokTokAdminUpdateUser($id: ID!, $input: AdminUpdateUserInput!) { ' +
    `updateUser(id: $id, input: $input) { ${USER_FIELDS} } }`;
  const DELETE_MUTATION = 'mutation TokTokAdminDeleteUser($id: ID!) { deleteUser(id: $id) }';
  const REVOKE_MUTATION = 'mutation TokTokAdminRevokeSessions($id: ID!) { revokeUserSessions(id: $id) }';
  const RESET_MUTATION = 'mutation TokTokAdminSendPasswordReset($id: ID!) { sendPasswordReset(id: $id) }';
  const MFA_RESET_MUTATION = 'mutation TokTokAdminResetUserMfa($id: ID!) { resetUserMfa(id: $id) }';
  const AUDIT_QUERY = 'query TokTokAdminAudit($userId: ID, $first: Int, $after: String) { ' +
    'auditEvents(userId: $userId, first: $first, after: $after) { ' +
    'nodes { id at type outcome userId actorId ip detail } pageInfo { hasNextPage endCursor } } }';
  const ROLES = ['USER', 'STAFF', 'ADMIN'];
  // The message of each factor type; another type shows as its name.
  const FACTOR_TYPES = { TOTP: 'factorTypeTOTP', WEBAUTHN: 'factorTypeWEBAUTHN' };

  // The server says "the last active ADMIN cannot be demoted, disabled or
  // deleted" as a BAD_USER_INPUT whose field is the one refused (role,
  // disabled or id); its message is the only thing that tells it from an
  // unknown id (also BAD_USER_INPUT on id).
  const LAST_ADMIN = /last active admin/i;

  const $ = (id) => doc.getElementById(id);

  // ---------------------------------------------------------------------
  // Pure helpers (exported as window.toktokAdmin for tests).

  /**
   * createPager keeps the cursors of the pages seen so far: cursors[i] is
   * the `after` of page i+1 (null for the first), so Previous needs no
   * backward cursor from the server.
   */
  function createPager() {
    let cursors = [null];
    let index = 0;
    return {
      reset() {
        cursors = [null];
        index = 0;
      },
      get after() {
        return cursors[index];
      },
      get page() {
        return index + 1;
      },
      get hasPrevious() {
        return index > 0;
      },
      next(endCursor) {
        if (typeof endCursor !== 'string' || endCursor === '') return false;
        cursors = cursors.slice(0, index + 1);
        cursors.push(endCursor);
        index++;
        return true;
      },
      previous() {
        if (index === 0) return false;
        index--;
        return true;
      },
    };
  }

  /**
   * readFilter turns the search form's values into a UserFilter: empty
   * values are left out ("any"), "true"/"false" become booleans.
   */
  function readFilter(values) {
    const f = {};
    const q = String(values.query || '').trim();
    if (q !== '') f.query = q;
    if (ROLES.includes(values.role)) f.role = values.role;
    for (const k of ['emailConfirmed', 'disabled']) {
      if (values[k] === 'true') f[k] = true;
      else if (values[k] === 'false') f[k] = false;
    }
    return f;
  }

  /** pageSize reads a page-size select: 1 to 100, else 20. */
  function pageSize(value) {
    const n = Number(value);
    return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 20;
  }

  /**
   * detailText writes an event's detail as "key: value; ..." (arrays of
   * plain values joined), which wraps where compact JSON would not.
   */
  function detailText(detail) {
    if (!detail || typeof detail !== 'object') return '';
    return Object.entries(detail).map(([k, v]) => {
      if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) return `${k}: ${v.join(', ')}`;
      return `${k}: ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
    }).join('; ');
  }

  win.toktokAdmin = Object.freeze({ createPager, readFilter, pageSize, detailText });

  // ---------------------------------------------------------------------
  // Set-up.

  const page = C.setup(win);
  const M = page.M;
  const session = page.session;
  const t = (key, vars) => C.t(M, key, vars);
  const dateFormat = (() => {
    try {
      return new Intl.DateTimeFormat(page.lang, { dateStyle: 'medium', timeStyle: 'short' });
    } catch (e) {
      return null;
    }
  })();

  const state = {
    me: null, // {id, email, role} of whoever signed in
    admin: false,
    users: { filter: {}, first: 20, pager: createPager(), loading: false, seq: 0 },
    audit: { userId: '', first: 20, pager: createPager(), loading: false, seq: 0 },
    user: null, // the user opened
    openedFrom: null, // the id of the row whose button opened it
  };

  /**
   * detachable marks the place of the element id with a comment, so that
   * set(false) can take it out of the document and set(true) put it back
   * there.
   */
  function detachable(id) {
    const el = $(id);
    const anchor = doc.createComment(id);
    el.parentNode.insertBefore(anchor, el);
    return {
      el,
      set(on) {
        if (on && !el.isConnected) anchor.parentNode.insertBefore(el, anchor.nextSibling);
        if (!on && el.isConnected) el.remove();
      },
    };
  }

  // Parts that only an ADMIN gets are taken out of the document for the
  // others, and put back where they were if an ADMIN signs in later.
  const adminOnly = ['user-actions', 'nav-audit', 'audit-view'].map(detachable);
  // The reset of a user's factors: an ADMIN's, and only when there is
  // something to reset. Its parts are held here: they are not always in
  // the document.
  const mfaReset = detachable('mfa-reset-box');
  const resetParts = {
    button: $('mfa-reset'), confirm: $('mfa-reset-confirm'), text: $('mfa-reset-text'),
    yes: $('mfa-reset-yes'), no: $('mfa-reset-no'),
  };

  function setAdminParts(on) {
    for (const part of adminOnly) part.set(on);
    if (!on) mfaReset.set(false);
  }

  // ---------------------------------------------------------------------
  // Formatting.

  function fmtDate(s) {
    if (!s) return t('never');
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) return String(s);
    return dateFormat ? dateFormat.format(d) : d.toISOString();
  }

  const yesNo = (b) => t(b ? 'yes' : 'no');
  const roleText = (r) => (ROLES.includes(r) ? t(`role${r}`) : String(r || ''));
  const orEmpty = (s) => (s === null || s === undefined || s === '' ? t('empty') : String(s));

  /**
   * idCell is a table cell holding an id (26 characters with no natural
   * break), with a break opportunity every 13 characters (<wbr>) so that
   * the audit table fits the page.
   */
  function idCell(id) {
    const td = doc.createElement('td');
    if (!id) {
      td.textContent = t('empty');
      return td;
    }
    const s = String(id);
    for (let i = 0; i < s.length; i += 13) {
      if (i > 0) td.appendChild(doc.createElement('wbr'));
      td.appendChild(doc.createTextNode(s.slice(i, i + 13)));
    }
    return td;
  }

  function cell(tag, text, attrs) {
    const el = doc.createElement(tag);
    el.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    return el;
  }

  /** adminError is the text of a refused admin call. */
  function adminError(r) {
    const err = P.firstError(r) || { code: 'INTERNAL' };
    const message = r && Array.isArray(r.errors) && r.errors[0] ? String(r.errors[0].message || '') : '';
    switch (err.code) {
      case 'BAD_USER_INPUT':
        if (LAST_ADMIN.test(message)) return t('adminErrLastAdmin');
        if (err.field === 'id') return t('adminErrNotFound');
        return t('adminErrBadInput', { field: err.field || '?' });
      case 'FORBIDDEN':
        return t('adminErrForbidden');
      case 'MFA_REQUIRED':
        return t('adminErrMfaRequired');
      default:
        return C.errorText(M, r);
    }
  }

  /**
   * call runs one operation and returns its data, or null after showing
   * the error in status. A FORBIDDEN means the role changed since sign-in:
   * the page asks for it again and adapts.
   */
  async function call(query, variables, status) {
    let r;
    try {
      r = await session.request(query, variables);
    } catch (e) {
      r = null;
    }
    const err = P.firstError(r);
    if (!err && r && r.data) return r.data;
    if (err && err.code === 'MFA_REQUIRED' && session.signedIn) {
      C.showStatus(status, '', '');
      mfaRequired(r);
      return null;
    }
    C.showStatus(status, 'error', r ? adminError(r) : t('errGeneric'));
    if (err && err.code === 'FORBIDDEN') recheckRole();
    return null;
  }

  // ---------------------------------------------------------------------
  // Views.

  const views = ['users-view', 'user-view', 'audit-view'];

  function showView(id) {
    for (const v of views) {
      const el = $(v);
      if (el) el.hidden = v !== id;
    }
    const nav = { 'nav-users': id !== 'audit-view', 'nav-audit': id === 'audit-view' };
    for (const [navId, on] of Object.entries(nav)) {
      const b = $(navId);
      if (!b) continue;
      if (on) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
  }

  function focus(el) {
    if (el && typeof el.focus === 'function') el.focus();
  }

  /**
   * clearData empties every view, so that no user data stays in the page
   * (hidden) after a sign-out, or for the next account that signs in.
   */
  function clearData() {
    state.user = null;
    state.users.seq++;
    state.audit.seq++;
    state.users.loading = false;
    state.audit.loading = false;
    for (const el of dataParts.lists) el.replaceChildren();
    for (const el of dataParts.statuses) C.showStatus(el, '', '');
    dataParts.auditUser.value = '';
  }

  // Held from the start: some of them are out of the document for STAFF.
  const dataParts = {
    lists: ['users-body', 'user-fields', 'user-mfa-facts', 'user-factors', 'audit-body'].map($),
    statuses: ['users-status', 'user-status', 'user-mfa-status', 'audit-status'].map($),
    auditUser: $('audit-user'),
  };

  function showSignIn(message) {
    state.me = null;
    clearData();
    mfaStep.reset();
    $('console-view').hidden = true;
    $('staff-only').hidden = true;
    $('mfa-view').hidden = true;
    $('mfa-enroll').hidden = true;
    $('who').hidden = true;
    $('signout').hidden = true;
    $('signin-view').hidden = false;
    if (message) C.showStatus($('signin-status'), 'error', message);
    focus($('signin-email'));
  }

  /** enter shows what the signed-in user's role allows. */
  function enter(me) {
    state.me = me;
    $('signin-view').hidden = true;
    $('mfa-view').hidden = true;
    $('mfa-enroll').hidden = true;
    $('who').textContent = `${t('signedInAs', { email: me.email })} (${roleText(me.role)})`;
    $('who').hidden = false;
    $('signout').hidden = false;
    if (me.role !== 'STAFF' && me.role !== 'ADMIN') {
      $('console-view').hidden = true;
      $('staff-only').hidden = false;
      focus($('staff-only-title'));
      return;
    }
    $('staff-only').hidden = true;
    clearData();
    state.admin = me.role === 'ADMIN';
    setAdminParts(state.admin);
    $('readonly-note').hidden = state.admin;
    $('console-view').hidden = false;
    showView('users-view');
    focus($('users-title'));
    state.users.pager.reset();
    loadUsers();
  }

  /**
   * mfaRequired answers an MFA_REQUIRED: reason "enroll" (the role
   * requires a second factor, and the admin has none) says so and links
   * to the account console; "verify" (a session that has not verified
   * its factor yet) shows the second sign-in step, after which the
   * console opens again.
   */
  function mfaRequired(r) {
    const ext = (r.errors[0] && r.errors[0].extensions) || {};
    if (ext.reason === 'enroll') {
      showEnroll();
      return;
    }
    if ($('mfa-view').hidden) mfaStep.show(t('mfaVerifyToContinue'));
  }

  /** showEnroll tells a signed-in admin that their role needs a factor. */
  function showEnroll() {
    clearData();
    for (const id of ['signin-view', 'console-view', 'staff-only', 'mfa-view']) $(id).hidden = true;
    $('who').hidden = !state.me;
    $('signout').hidden = false;
    $('mfa-enroll').hidden = false;
    focus($('mfa-enroll-title'));
  }

  const mfaStep = C.mountMfaStep(win, session, M, {
    hide: ['console-view', 'staff-only', 'mfa-enroll'],
    onVerified: (user) => enter({ id: user.id, email: user.email, role: user.role }),
    onCancelled: () => C.showStatus($('signin-status'), 'ok', t('signedOut')),
  });

  let rechecking = false;

  async function recheckRole() {
    if (rechecking || !state.me) return;
    rechecking = true;
    try {
      const r = await session.request(ME_QUERY, null);
      const me = r && r.data && r.data.me;
      if (me && state.me && me.role !== state.me.role) {
        session.setUser(me);
        enter(me);
      }
    } finally {
      rechecking = false;
    }
  }

  // ---------------------------------------------------------------------
  // Users.

  function searchValues() {
    return {
      query: $('search-query').value,
      role: $('search-role').value,
      emailConfirmed: $('search-confirmed').value,
      disabled: $('search-disabled').value,
    };
  }

  function userRow(u) {
    const tr = doc.createElement('tr');
    const first = doc.createElement('th');
    first.setAttribute('scope', 'row');
    const open = cell('button', u.email, { type: 'button', class: 'link', 'data-user-id': u.id });
    open.addEventListener('click', () => openUser(u.id));
    first.appendChild(open);
    tr.appendChild(first);
    tr.appendChild(cell('td', orEmpty([u.name, u.surname].filter(Boolean).join(' '))));
    tr.appendChild(cell('td', roleText(u.role)));
    tr.appendChild(cell('td', yesNo(u.emailConfirmed)));
    tr.appendChild(cell('td', yesNo(u.disabled)));
    tr.appendChild(cell('td', t(u.mfaEnabled ? 'mfaStateOn' : 'mfaStateOff'), { 'data-mfa': u.mfaEnabled ? 'on' : 'off' }));
    tr.appendChild(cell('td', fmtDate(u.createdAt)));
    return tr;
  }

  /**
   * loadUsers shows the pager's current page of the last search; message,
   * when given, is shown in the status once the page is loaded (the outcome
   * of a deletion, say). When searches overlap, the last one started wins:
   * an older answer that comes late is dropped.
   */
  async function loadUsers(message) {
    const u = state.users;
    const status = $('users-status');
    const view = $('users-view');
    const seq = ++u.seq;
    u.loading = true;
    view.setAttribute('aria-busy', 'true');
    $('users-prev').disabled = true;
    $('users-next').disabled = true;
    if (!message) C.showStatus(status, 'busy', t('loading'));
    const data = await call(USERS_QUERY, { filter: u.filter, first: u.first, after: u.pager.after }, status);
    if (seq !== u.seq) return;
    u.loading = false;
    view.removeAttribute('aria-busy');
    if (!data) return;
    const conn = data.users;
    const body = $('users-body');
    body.replaceChildren(...conn.nodes.map(userRow));
    const n = conn.totalCount;
    $('users-caption').textContent = n === 1 ? t('usersCountOne', { page: u.pager.page })
      : t('usersCount', { n, page: u.pager.page });
    u.endCursor = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
    $('users-prev').disabled = !u.pager.hasPrevious;
    $('users-next').disabled = !u.endCursor;
    if (message) C.showStatus(status, 'ok', message);
    else if (conn.nodes.length === 0) C.showStatus(status, 'ok', t('usersNone'));
    else C.showStatus(status, '', '');
  }

  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.users.filter = readFilter(searchValues());
    state.users.first = pageSize($('search-first').value);
    state.users.pager.reset();
    loadUsers();
  });
  // A new page size starts again from the first page of the same search.
  $('search-first').addEventListener('change', () => {
    state.users.first = pageSize($('search-first').value);
    state.users.pager.reset();
    loadUsers();
  });
  $('users-next').addEventListener('click', () => {
    if (!state.users.loading && state.users.pager.next(state.users.endCursor)) loadUsers();
  });
  $('users-prev').addEventListener('click', () => {
    if (!state.users.loading && state.users.pager.previous()) loadUsers();
  });

  // ---------------------------------------------------------------------
  // One user.

  async function openUser(id) {
    state.openedFrom = id;
    C.showStatus($('users-status'), 'busy', t('loading'));
    const data = await call(USER_QUERY, { id }, $('users-status'));
    if (!data) return;
    if (!data.user) {
      C.showStatus($('users-status'), 'error', t('adminErrNotFound'));
      return;
    }
    C.showStatus($('users-status'), '', '');
    C.showStatus($('user-status'), '', '');
    C.showStatus($('user-mfa-status'), '', '');
    renderUser(data.user);
    if (state.admin) $('delete-confirm').value = '';
    updateDeleteButton();
    showView('user-view');
    focus($('user-title'));
  }

  function renderUser(u) {
    state.user = u;
    $('user-title').textContent = u.email;
    const rows = [
      ['fieldId', u.id],
      ['fieldEmail', u.email],
      ['fieldPendingEmail', orEmpty(u.pendingEmail)],
      ['fieldName', orEmpty(u.name)],
      ['fieldSurname', orEmpty(u.surname)],
      ['fieldPseudo', orEmpty(u.pseudo)],
      ['fieldRole', roleText(u.role)],
      ['fieldConfirmed', yesNo(u.emailConfirmed)],
      ['fieldDisabled', yesNo(u.disabled)],
      ['fieldLang', orEmpty(u.lang)],
      ['fieldCreated', fmtDate(u.createdAt)],
      ['fieldUpdated', fmtDate(u.updatedAt)],
      ['fieldLastLogin', fmtDate(u.lastLoginAt)],
      ['fieldLoginCount', String(u.loginCount)],
    ];
    const dl = $('user-fields');
    dl.replaceChildren();
    for (const [key, value] of rows) {
      const div = doc.createElement('div');
      div.appendChild(cell('dt', t(key)));
      div.appendChild(cell('dd', value, { 'data-field': key }));
      dl.appendChild(div);
    }
    renderMfa(u);
    if (!state.admin) return;
    $('role-select').value = u.role;
    $('confirm-email').hidden = u.emailConfirmed;
    $('disable-toggle').textContent = t(u.disabled ? 'enableButton' : 'disableButton');
    $('delete-hint').textContent = t('deleteHint', { email: u.email });
  }

  /** factorItem is one factor of the opened user, as a list item. */
  function factorItem(f) {
    const li = doc.createElement('li');
    li.setAttribute('data-factor', f.id);
    li.setAttribute('data-type', f.type);
    li.setAttribute('data-confirmed', String(Boolean(f.confirmed)));
    const main = doc.createElement('div');
    main.className = 'item-main';
    const type = FACTOR_TYPES[f.type] ? t(FACTOR_TYPES[f.type]) : String(f.type || '');
    const title = cell('p', f.name ? String(f.name) : type, { class: 'item-title' });
    if (!f.confirmed) title.append(' ', cell('span', t('factorPending'), { class: 'badge warn' }));
    const vars = { type, created: fmtDate(f.createdAt), lastUsed: fmtDate(f.lastUsedAt) };
    main.append(title, cell('p', t(f.lastUsedAt ? 'factorMeta' : 'factorMetaUnused', vars), { class: 'item-meta' }));
    li.appendChild(main);
    return li;
  }

  /**
   * renderMfa shows the opened user's second factors, oldest first; the
   * reset is offered to an ADMIN when MFA is on or a factor or a recovery
   * code is left (MFA can be on with no factor after a crash, see
   * docs/operations.md).
   */
  function renderMfa(u) {
    const factors = (Array.isArray(u.factors) ? u.factors : []).slice()
      .sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)));
    const codes = Number(u.recoveryCodesRemaining) || 0;
    const facts = $('user-mfa-facts');
    facts.replaceChildren();
    const rows = [['fieldMfa', t(u.mfaEnabled ? 'mfaStateOn' : 'mfaStateOff')], ['fieldRecoveryCodes', String(codes)]];
    for (const [key, value] of rows) {
      const div = doc.createElement('div');
      div.append(cell('dt', t(key)), cell('dd', value, { 'data-field': key }));
      facts.appendChild(div);
    }
    $('user-factors').replaceChildren(...factors.map(factorItem));
    $('user-factors-none').hidden = factors.length > 0;
    resetParts.confirm.hidden = true;
    resetParts.button.setAttribute('aria-expanded', 'false');
    mfaReset.set(state.admin && (Boolean(u.mfaEnabled) || factors.length > 0 || codes > 0));
  }

  let running = false; // an action on the opened user is in flight

  function updateDeleteButton() {
    const button = $('delete-submit');
    if (!button || !state.user) return;
    button.disabled = running || $('delete-confirm').value !== state.user.email;
  }

  /**
   * act runs one action on the opened user: the buttons of box (the
   * action buttons, by default) are disabled meanwhile, the outcome goes
   * to status (#user-status by default). fn returns the success text, or
   * null when it showed an error.
   */
  async function act(fn, box = $('user-actions'), status = $('user-status')) {
    if (running || !state.user) return;
    running = true;
    C.busy(box, true);
    C.showStatus(status, 'busy', t('loading'));
    let text = null;
    try {
      text = await fn(state.user, status);
    } catch (e) {
      C.showStatus(status, 'error', t('errGeneric'));
    } finally {
      running = false;
      C.busy(box, false);
      updateDeleteButton();
    }
    if (text) C.showStatus(status, 'ok', text);
  }

  async function update(u, input, status) {
    const data = await call(UPDATE_MUTATION, { id: u.id, input }, status);
    if (!data) return null;
    renderUser(data.updateUser);
    if (state.me && data.updateUser.id === state.me.id) recheckRole();
    return data.updateUser;
  }

  $('role-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const role = $('role-select').value;
    act(async (u, status) => {
      const done = await update(u, { role }, status);
      return done && t('roleChanged', { email: done.email, role: roleText(done.role) });
    });
  });
  $('confirm-email').addEventListener('click', () => act(async (u, status) => {
    const done = await update(u, { emailConfirmed: true }, status);
    if (done) focus($('user-title'));
    return done && t('emailConfirmedDone', { email: done.email });
  }));
  $('disable-toggle').addEventListener('click', () => act(async (u, status) => {
    const done = await update(u, { disabled: !u.disabled }, status);
    return done && t(done.disabled ? 'disabledDone' : 'enabledDone', { email: done.email });
  }));
  $('revoke-sessions').addEventListener('click', () => act(async (u, status) => {
    const data = await call(REVOKE_MUTATION, { id: u.id }, status);
    return data && t('revokedDone', { email: u.email });
  }));
  $('send-reset').addEventListener('click', () => act(async (u, status) => {
    const data = await call(RESET_MUTATION, { id: u.id }, status);
    return data && t('resetSent', { email: u.email });
  }));
  $('delete-confirm').addEventListener('input', updateDeleteButton);
  $('delete-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!state.user || $('delete-confirm').value !== state.user.email) return;
    act(async (u, status) => {
      const data = await call(DELETE_MUTATION, { id: u.id }, status);
      if (!data) return null;
      state.user = null;
      showView('users-view');
      focus($('users-title'));
      loadUsers(t('deletedDone', { email: u.email }));
      return null;
    });
  });

  // The reset of the opened user's second factors, after a confirmation.
  resetParts.button.addEventListener('click', () => {
    if (!state.user) return;
    const self = state.me && state.me.id === state.user.id;
    resetParts.text.textContent = t(self ? 'mfaResetSelf' : 'mfaResetQuestion', { email: state.user.email });
    resetParts.confirm.hidden = false;
    resetParts.button.setAttribute('aria-expanded', 'true');
    C.showStatus($('user-mfa-status'), '', '');
    focus(resetParts.text);
  });
  resetParts.no.addEventListener('click', () => {
    resetParts.confirm.hidden = true;
    resetParts.button.setAttribute('aria-expanded', 'false');
    focus(resetParts.button);
  });
  resetParts.yes.addEventListener('click', () => act(async (u, status) => {
    const data = await call(MFA_RESET_MUTATION, { id: u.id }, status);
    if (!data) return null;
    if (!data.resetUserMfa) {
      C.showStatus(status, 'error', t('adminErrNotFound'));
      return null;
    }
    const again = await call(USER_QUERY, { id: u.id }, status);
    if (!again) return null;
    if (!again.user) {
      C.showStatus(status, 'error', t('adminErrNotFound'));
      return null;
    }
    if (state.user && state.user.id === u.id) renderUser(again.user);
    focus($('user-mfa-title'));
    return t('mfaResetDone', { email: u.email });
  }, mfaReset.el, $('user-mfa-status')));

  $('user-back').addEventListener('click', () => {
    showView('users-view');
    const id = state.openedFrom;
    const row = id ? [...doc.querySelectorAll('#users-body button[data-user-id]')]
      .find((b) => b.getAttribute('data-user-id') === id) : null;
    focus(row || $('users-title'));
  });
  $('user-audit').addEventListener('click', () => {
    if (!state.user) return;
    $('audit-user').value = state.user.id;
    openAudit(state.user.id);
  });

  // ---------------------------------------------------------------------
  // The audit log.

  function auditRow(ev) {
    const tr = doc.createElement('tr');
    tr.appendChild(cell('td', fmtDate(ev.at)));
    tr.appendChild(cell('td', ev.type));
    tr.appendChild(cell('td', ev.outcome));
    tr.appendChild(idCell(ev.userId));
    tr.appendChild(idCell(ev.actorId));
    tr.appendChild(cell('td', orEmpty(ev.ip)));
    tr.appendChild(cell('td', orEmpty(detailText(ev.detail))));
    return tr;
  }

  async function loadAudit() {
    const a = state.audit;
    const status = $('audit-status');
    const view = $('audit-view');
    const seq = ++a.seq;
    a.loading = true;
    view.setAttribute('aria-busy', 'true');
    $('audit-prev').disabled = true;
    $('audit-next').disabled = true;
    C.showStatus(status, 'busy', t('loading'));
    const vars = { userId: a.userId || null, first: a.first, after: a.pager.after };
    const data = await call(AUDIT_QUERY, vars, status);
    if (seq !== a.seq) return;
    a.loading = false;
    view.removeAttribute('aria-busy');
    if (!data) return;
    const conn = data.auditEvents;
    $('audit-body').replaceChildren(...conn.nodes.map(auditRow));
    $('audit-caption').textContent = a.userId ? t('auditCountUser', { user: a.userId, page: a.pager.page })
      : t('auditCount', { page: a.pager.page });
    a.endCursor = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
    $('audit-prev').disabled = !a.pager.hasPrevious;
    $('audit-next').disabled = !a.endCursor;
    if (conn.nodes.length === 0) C.showStatus(status, 'ok', t('auditNone'));
    else C.showStatus(status, '', '');
  }

  function openAudit(userId) {
    state.audit.userId = userId;
    state.audit.first = pageSize($('audit-first').value);
    state.audit.pager.reset();
    showView('audit-view');
    focus($('audit-title'));
    loadAudit();
  }

  $('audit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    openAudit($('audit-user').value.trim());
  });
  $('audit-next').addEventListener('click', () => {
    if (!state.audit.loading && state.audit.pager.next(state.audit.endCursor)) loadAudit();
  });
  $('audit-prev').addEventListener('click', () => {
    if (!state.audit.loading && state.audit.pager.previous()) loadAudit();
  });

  // ---------------------------------------------------------------------
  // Navigation and session.

  $('nav-users').addEventListener('click', () => {
    showView('users-view');
    focus($('users-title'));
  });
  $('nav-audit').addEventListener('click', () => {
    if (state.audit.pager.page === 1 && $('audit-body').children.length === 0) {
      openAudit($('audit-user').value.trim());
      return;
    }
    showView('audit-view');
    focus($('audit-title'));
  });
  $('signout').addEventListener('click', async () => {
    $('signout').disabled = true;
    try {
      await session.signOut('CURRENT');
    } finally {
      $('signout').disabled = false;
    }
  });
  session.onChange((user) => {
    if (user === null) showSignIn(null);
  });
  session.onSignedOut(() => showSignIn(t('errSessionEnded')));
  C.mountSignIn(doc, session, M, (user, payload) => {
    C.showStatus($('signin-status'), '', '');
    if (payload && payload.mfaRequired) {
      state.me = { id: user.id, email: user.email, role: user.role };
      mfaStep.show('');
      return;
    }
    enter({ id: user.id, email: user.email, role: user.role });
  });
})(window);
