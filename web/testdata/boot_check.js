// Runs playground/toktok-boot.js under Node in a minimal stand-in for the
// page (no browser needed) and prints, as JSON, what it did in each case:
// {"case": {"message": text of #graphiql, "classes": [...], "query": the
// editor's default query or null}}. Run by TestBootWithNode:
// node boot_check.js <toktok-boot.js>
'use strict';

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

process.stdout.write(JSON.stringify({
  cdn: run({ endpoint: '/graphql', assets: 'https://unpkg.com' }, false),
  local: run({ endpoint: '/graphql', assets: 'dir' }, false),
  embedded: run({ endpoint: '/graphql', assets: 'embedded' }, false),
  inbox: run({ endpoint: '/graphql', assets: 'embedded', devInbox: 'yes' }, true),
  noInbox: run({ endpoint: '/graphql', assets: 'embedded' }, true),
}));
