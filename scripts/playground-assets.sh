#!/usr/bin/env bash
# playground-assets.sh: fetches the GraphiQL/React files that the playground
# serves. The binary has a copy built in (web/playground/vendor, embedded);
# this script refreshes that copy, or fills a directory for
# --playground-assets-dir (web.PlaygroundOptions.AssetsDir).
#
# Usage: scripts/playground-assets.sh [DIR]   (DIR defaults to ./playground-assets)
#        scripts/playground-assets.sh web/playground/vendor   (refresh the built-in copy)
#
# It takes the exact versions that web/web.go pins, with `npm pack` from the
# npm registry (npm's own registry setting applies; npm checks each tarball
# against the registry's own integrity value), extracts only the four files
# that the page loads:
#   react.production.min.js, react-dom.production.min.js,
#   graphiql.min.js, graphiql.min.css
# and checks each one's sha384 against the integrity value web/web.go pins
# (the page's integrity attribute, which the browser enforces too): a file
# that differs is refused and the script fails. The web tests check that the
# values below are web.go's.
set -euo pipefail

# Keep in step with pinned in web/web.go (web.TestAssetsScriptPinsWebGo checks).
REACT_VERSION=18.3.1
GRAPHIQL_VERSION=3.9.0
declare -A SHA384=(
  [react.production.min.js]=sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z
  [react-dom.production.min.js]=sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1
  [graphiql.min.js]=sha384-8NGfVj4CVlqHajlZj+bPJT4thxPMHMJYn7DWK2CvtopLd02E7qsPHazniBYvVjOO
  [graphiql.min.css]=sha384-QMux00XgRtwRLSYIY3kw2rj1ovk5AuuliAchk+HSQbqdbGFnz9GYuqIlOqxhwCE2
)

dest=${1:-./playground-assets}

for tool in npm tar openssl; do
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
    local name got
    name=$(basename "$m")
    got="sha384-$(openssl dgst -sha384 -binary "package/$m" | openssl base64 -A)"
    if [ "$got" != "${SHA384[$name]}" ]; then
      echo "playground-assets: $name from $tgz is $got, not the pinned ${SHA384[$name]}: refused" >&2
      exit 1
    fi
    install -m 0644 "package/$m" "$dest/$name"
  done
  rm -rf package
}

extract "react-$REACT_VERSION.tgz" umd/react.production.min.js
extract "react-dom-$REACT_VERSION.tgz" umd/react-dom.production.min.js
extract "graphiql-$GRAPHIQL_VERSION.tgz" graphiql.min.js graphiql.min.css

echo "playground assets in $dest (each checked against its pinned sha384):"
for f in react.production.min.js react-dom.production.min.js graphiql.min.js graphiql.min.css; do
  printf '  %-28s %s\n' "$f" "${SHA384[$f]}"
done
