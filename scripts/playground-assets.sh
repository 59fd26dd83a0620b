#!/usr/bin/env bash
# playground-assets.sh: fetches the GraphiQL/React files that the playground
# serves from a local directory (config --playground-assets-dir, that is
# web.PlaygroundOptions.AssetsDir) on machines without access to the CDN.
#
# Usage: scripts/playground-assets.sh [DIR]   (DIR defaults to ./playground-assets)
#
# It takes the exact versions that web/web.go pins for the CDN page, with
# `npm pack` from the npm registry (npm's own registry setting applies), and
# extracts only the four files that the page loads:
#   react.production.min.js, react-dom.production.min.js,
#   graphiql.min.js, graphiql.min.css
# It also prints their sha384 in the form of the page's integrity values (when
# openssl is there), so they can be compared with web.go's; the browser test
# TestBrowserPlaygroundGraphiQL/AssetsMatchCDN compares them.
set -euo pipefail

# Keep in step with cdnAssets in web/web.go.
REACT_VERSION=18.3.1
GRAPHIQL_VERSION=3.9.0

dest=${1:-./playground-assets}

for tool in npm tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "playground-assets: $tool is required" >&2; exit 1; }
done

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "react@$REACT_VERSION" "react-dom@$REACT_VERSION" "graphiql@$GRAPHIQL_VERSION" >/dev/null

# extract TARBALL MEMBER...: copies package/MEMBER of TARBALL into $dest.
extract() {
  local tgz=$1
  shift
  local members=()
  local m
  for m in "$@"; do members+=("package/$m"); done
  rm -rf package
  tar -xzf "$tgz" "${members[@]}"
  for m in "$@"; do
    install -m 0644 "package/$m" "$dest/$(basename "$m")"
  done
  rm -rf package
}

extract "react-$REACT_VERSION.tgz" umd/react.production.min.js
extract "react-dom-$REACT_VERSION.tgz" umd/react-dom.production.min.js
extract "graphiql-$GRAPHIQL_VERSION.tgz" graphiql.min.js graphiql.min.css

echo "playground assets in $dest:"
for f in react.production.min.js react-dom.production.min.js graphiql.min.js graphiql.min.css; do
  if command -v openssl >/dev/null 2>&1; then
    printf '  %-28s sha384-%s\n' "$f" "$(openssl dgst -sha384 -binary "$dest/$f" | openssl base64 -A)"
  else
    printf '  %s\n' "$f"
  fi
done
