// Runs playground/toktok-boot.js under Node in a minimal stand-in for the
// page (no browser needed) and prints, as JSON, what it did in each case:
// {"case": {"message": text of #graphiql, "classes": [...], "query": the
// editor's default query or null}}. Run by TestBootWithNode:
// node boot_check.js <toktok-boot.js>
// It exits non-zero when the walkthrough lacks its second-factor steps.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const vm = require('node:vm');

const source = fs.readFileSync(process.argv[2], 'utf8');

function element() {
  const classes = [];
  return {
    textContent: '',
    disabled: false,
    classList: { add: (c) => classes.push(c), list: classes },
    addEventListener() {},
  };
}

// run boots the page with these <body> data-* attributes, with or without
// GraphiQL's scripts loaded.
function run(dataset, withGraphiQL) {
  const elements = { graphiql: element(), 'toktok-status': element(), 'toktok-forget': element() };
  let rendered = null;
  const page = {
    document: { body: { dataset }, getElementById: (id) => elements[id] || null },
    localStorage: { getItem: () => null },
    setInterval: () => 0,
    createToktokFetcher: () => ({
      state: () => ({}),
      loadAuthConfig: () => Promise.resolve(),
      forgetTokens() {},
    }),
  };
  page.window = page;
  if (withGraphiQL) {
    page.React = { createElement: (component, props) => ({ component, props }) };
    page.ReactDOM = { createRoot: () => ({ render: (el) => { rendered = el; } }) };
    page.GraphiQL = function GraphiQL() {};
  }
  vm.runInNewContext(source, page, { filename: 'toktok-boot.js' });
  const container = elements.graphiql;
  return {
    message: container.textContent,
    classes: container.classList.list,
    query: rendered ? rendered.props.defaultQuery : null,
  };
}

const results = {
  cdn: run({ endpoint: '/graphql', assets: 'https://unpkg.com' }, false),
  local: run({ endpoint: '/graphql', assets: 'dir' }, false),
  embedded: run({ endpoint: '/graphql', assets: 'embedded' }, false),
  inbox: run({ endpoint: '/graphql', assets: 'embedded', devInbox: 'yes' }, true),
  noInbox: run({ endpoint: '/graphql', assets: 'embedded' }, true),
};

// The walkthrough's second-factor steps come after "Who am I?", in order, and keep
// the comment width of the others.
for (const name of ['inbox', 'noInbox']) {
  const q = results[name].query;
  let at = q.indexOf('query Me {');
  assert.ok(at > 0, `${name}: no query Me`);
  for (const step of [
    '# 5. ', 'otpauthUri', 'mutation EnrollTotp {', 'enrollTotp { factorId secret otpauthUri }',
    '# 6. ', 'recovery', 'shown once',
    'mutation ConfirmTotp($factorId: ID!, $code: String!) {', 'confirmTotp(factorId: $factorId, code: $code) {',
    'recoveryCodes', 'auth { accessToken refreshToken aal }',
    '# 7. ', 'mfaRequired: true', 'recoveryCode',
    'mutation VerifyMfa($code: String!) {', 'verifyMfa(input: {totpCode: $code}) {',
  ]) {
    const next = q.indexOf(step, at);
    assert.ok(next >= 0, `${name}: the walkthrough lacks ${JSON.stringify(step)} after the previous step`);
    at = next;
  }
  for (const line of q.split('\n')) {
    assert.ok(line.length <= 56, `${name}: walkthrough line wider than 56: ${JSON.stringify(line)}`);
  }
}

process.stdout.write(JSON.stringify(results));
