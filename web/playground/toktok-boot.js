/*
 * toktok-boot.js: starts GraphiQL on the TokTok playground page.
 *
 * It lives in a file, not in an inline <script>, so that the page's
 * Content-Security-Policy needs no 'unsafe-inline' for scripts. The page
 * passes its settings as data-* attributes of <body>.
 */
(function () {
  'use strict';

  const body = document.body;

  // With a dev inbox (development), step 2 says where the confirmation
  // mail went.
  const CONFIRM = body.dataset.devInbox ? `# 2b. Confirm the address: the confirmation mail is in
#    the dev inbox ("Mails (dev inbox)", top right).
#    Open the newest mail, follow its link and press
#    the page's button. Confirming through the link
#    ends the sessions opened before it (someone else
#    may have registered your address), so run Login
#    (step 3) again; Me (step 4) then shows
#    emailConfirmed: true.

` : '';

  const WALKTHROUGH = `# Welcome to the TokTok playground.
#
# This IDE speaks to the API with its security
# defaults on:
#  * register, login, forgotPassword and the
#    passkey sign-in (beginPasskeyLogin,
#    finishPasskeyLogin) need an anonymous token: the
#    IDE gets one (mutation anonymousToken) and sends
#    it for you.
#  * credentials (email, password, currentPassword,
#    newPassword, newEmail) travel encrypted under
#    authConfig.encryptionJwk (a JWE each, ECDH-ES with
#    A256GCM; or RSA-OAEP with --salt-alg=rsa-oaep-256).
#    The IDE encrypts
#    them when you pass them as variables, never when
#    you write them as inline literals.
#  * after register, login, refreshToken,
#    changePassword, verifyMfa, finishPasskeyLogin
#    and confirmTotp (its auth) the IDE keeps the
#    access token in memory and sends it with the
#    next operations ("forget tokens" above drops it).
#  Your own "Authorization" header (Headers tab)
#  always wins; set it to "" to send none.
#
# Put the cursor in an operation and press the run
# button (or Ctrl-Enter).

# 1. What a client must do to sign up and in.
query AuthConfig {
  authConfig {
    anonymousTokenRequired
    encryptedCredentials
    encryptionAlgorithm
    passwordMinLength
    passwordMaxLength
    registrationOpen
    antispamRequired
  }
}

# 2. Create an account. Edit $input in the Variables
#    tab below: the IDE encrypts input.email and
#    input.password before sending them. (When
#    antispamRequired is true, input needs "antispam".)
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    accessToken
    refreshToken
    expiresAt
    user { id email emailConfirmed role }
  }
}

${CONFIRM}# 3. Or sign in to an existing account, same $input.
mutation Login($input: LoginInput!) {
  login(input: $input) {
    accessToken
    refreshToken
    expiresAt
    aal
    mfaRequired
    user { id email }
  }
}

# 4. Who am I? Sent with the access token that step 2
#    or 3 returned.
query Me {
  me { id email emailConfirmed role createdAt }
}

# 5. Add a second factor: an authenticator app
#    (TOTP). Add the secret to the app by hand, or
#    paste otpauthUri into a QR code maker and scan
#    the code with the app.
mutation EnrollTotp {
  enrollTotp { factorId secret otpauthUri }
}

# 6. Confirm it with a code of the app: add
#    "factorId" (step 5) and "code" (the app's six
#    digits) to the Variables tab. Save the recovery
#    codes now: they are shown once. The session is
#    now aal2; the IDE keeps auth's new tokens.
mutation ConfirmTotp($factorId: ID!, $code: String!) {
  confirmTotp(factorId: $factorId, code: $code) {
    recoveryCodes
    auth { accessToken refreshToken aal }
  }
}

# 7. From now on Login (step 3) answers aal1 tokens
#    with mfaRequired: true, and the other
#    operations answer MFA_REQUIRED until you verify:
#    run Login, set "code" to the app's next code (a
#    code works once) and run this. Or write
#    recoveryCode instead of totpCode and set "code"
#    to one of the recovery codes (each works once).
mutation VerifyMfa($code: String!) {
  verifyMfa(input: {totpCode: $code}) {
    accessToken
    aal
  }
}
`;

  const VARIABLES = `{
  "input": {
    "email": "alice@example.com",
    "password": "correct horse battery staple"
  }
}`;

  const container = document.getElementById('graphiql');
  const statusLine = document.getElementById('toktok-status');
  const forgetButton = document.getElementById('toktok-forget');

  function yesNo(v) {
    if (v === null || v === undefined) return '…';
    return v ? 'yes' : 'no';
  }

  function renderStatus(s) {
    if (!statusLine) return;
    const encrypted = s.authConfigError && !s.authConfigLoaded ? 'unknown (authConfig failed)' : yesNo(s.encryptedCredentials);
    let who = s.signedInAs || 'nobody';
    if (s.signedInAs && !s.accessTokenValid) who += s.refreshToken ? ' (token expired, will refresh)' : ' (token expired)';
    // textContent only: the email comes from the user and the server.
    statusLine.textContent = `anonymous token: ${yesNo(s.anonymousToken)}, signed in as: ${who}, ` +
      `credentials encrypted: ${encrypted}`;
    if (forgetButton) forgetButton.disabled = !s.anonymousToken && !s.signedInAs;
  }

  // firstVisit tells whether GraphiQL saved no editor state in this
  // browser yet (it uses localStorage keys "graphiql:*").
  function firstVisit() {
    try {
      return window.localStorage.getItem('graphiql:tabState') === null &&
        window.localStorage.getItem('graphiql:variables') === null;
    } catch (e) {
      return true; // no storage: nothing would be overwritten
    }
  }

  function fail(message) {
    container.textContent = message;
    container.classList.add('toktok-error');
    if (statusLine) statusLine.textContent = '';
  }

  if (typeof window.createToktokFetcher !== 'function') {
    fail('The TokTok playground could not load /playground/toktok-fetcher.js.');
    return;
  }
  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    // data-assets says where GraphiQL came from: "embedded" (the binary's
    // copy, the default), "dir" (--playground-assets-dir) or the CDN's URL
    // (--playground-cdn).
    const from = body.dataset.assets || 'embedded';
    if (/^https?:/.test(from)) {
      fail(`GraphiQL could not be loaded from ${from} (--playground-cdn): this browser ` +
        'cannot reach it, or refused a file that did not match its integrity value. ' +
        'Start the server without --playground-cdn (TOKTOK_PLAYGROUND_CDN): the binary ' +
        "has GraphiQL's files built in. Or fetch them once, from TokTok's repository " +
        'root, with scripts/playground-assets.sh DIR, and start the server with ' +
        '--playground-assets-dir DIR (or TOKTOK_PLAYGROUND_ASSETS_DIR=DIR).');
    } else if (from === 'dir') {
      fail('GraphiQL could not be loaded from /playground/assets/, which serves the ' +
        'directory that --playground-assets-dir (TOKTOK_PLAYGROUND_ASSETS_DIR) names. ' +
        "Refill that directory, from TokTok's repository root, with " +
        'scripts/playground-assets.sh DIR, and restart the server; or unset the option ' +
        "to use the copy built into the binary.");
    } else {
      fail("GraphiQL could not be loaded from /playground/assets/, the copy built into " +
        'the binary: something between this browser and the server (a proxy, an ' +
        'extension) blocked or changed those files. Reload the page; the browser ' +
        "console names the file that failed.");
    }
    return;
  }

  const fetcher = window.createToktokFetcher({
    endpoint: body.dataset.endpoint || '/graphql',
    onStateChange: renderStatus,
  });
  renderStatus(fetcher.state());
  // Learn early whether credentials are encrypted; the fetcher retries
  // by itself when this fails.
  fetcher.loadAuthConfig().catch(() => {});
  // Cached tokens expire on their own: refresh the status line now and then.
  window.setInterval(() => renderStatus(fetcher.state()), 15000);
  if (forgetButton) forgetButton.addEventListener('click', () => fetcher.forgetTokens());

  const props = {
    fetcher,
    defaultQuery: WALKTHROUGH,
    defaultEditorToolsVisibility: 'variables',
    shouldPersistHeaders: false,
  };
  // GraphiQL 3 has no "default variables": give the example's variables on
  // a first visit only, so that the user's own are not overwritten.
  if (firstVisit()) props.variables = VARIABLES;
  const root = window.ReactDOM.createRoot(container);
  root.render(window.React.createElement(window.GraphiQL, props));
})();
