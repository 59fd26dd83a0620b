/*
 * confirm.js: the /confirm-email page.
 *
 * Opening the page sends nothing: a mail scanner or a browser prefetch
 * that fetches the link confirms nothing. The token is posted only when
 * the user clicks #confirm-button. Every outcome is shown in #status, whose
 * data-state is "busy", "success" or "error"; the button is removed when
 * trying again is pointless (success, no token, invalid token, address
 * taken).
 */
(function (win) {
  'use strict';

  const CONFIRM_MUTATION = 'mutation TokTokPageConfirmEmail($t: String!) { ' +
    'confirmEmail(token: $t) { email emailConfirmed } }';

  const P = win.toktokPages;
  const doc = win.document;
  const button = doc.getElementById('confirm-button');
  const page = P.setup(win);
  const M = page.M;

  function done() {
    if (button) button.remove();
    doc.body.setAttribute('data-ready', 'true');
  }

  if (!page.token) {
    P.setStatus(page.status, 'error', M.missingToken);
    done();
    return;
  }
  if (!button) return;

  let busy = false;
  button.addEventListener('click', async () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    P.setStatus(page.status, 'busy', M.confirming);
    let finished = false;
    try {
      const r = await page.client.request(CONFIRM_MUTATION, { t: page.token }, false);
      const err = P.firstError(r);
      const user = r && r.data && r.data.confirmEmail;
      if (!err && user && typeof user.email === 'string') {
        P.setStatus(page.status, 'success', P.format(M.confirmed, { email: user.email }));
        finished = true;
        return;
      }
      const e = err || { code: 'INTERNAL' };
      P.setStatus(page.status, 'error', P.errorMessage(e, M));
      finished = e.code === 'INVALID_TOKEN' || e.code === 'EMAIL_TAKEN';
    } catch (e) {
      P.setStatus(page.status, 'error', M.generic);
    } finally {
      busy = false;
      button.removeAttribute('aria-busy');
      if (finished) {
        button.remove();
      } else {
        button.disabled = false;
      }
    }
  });
  button.disabled = false;
  doc.body.setAttribute('data-ready', 'true');
})(window);
