#!/usr/bin/env bash
# The README's curl walk-through: a new user registers, confirms the address through the
# link of the dev inbox, and asks who they are, as an SPA would with the defaults
# (--salt=yes: credentials travel encrypted, JWE ECDH-ES; --anojwt=yes: register needs an
# anonymous token). Run it from the repository's root; it needs curl, jq and Go, and
# `go run .` serving. Every run uses a fresh address, and the first error stops it with
# its code and message.
set -euo pipefail
BASE=${TOKTOK_URL:-http://localhost:4100}
WORK=$(mktemp -d) && trap 'rm -rf "$WORK"' EXIT # the key and ciphertexts stay out of your tree
EMAIL="ann+$(date +%s)-$RANDOM@example.com"      # a fresh address on every run
PASSWORD='correct horse battery staple'

# gql QUERY [VARIABLES] [TOKEN]: posts an operation and prints its data as JSON, or
# prints the first error and stops the walk-through.
gql() {
  local body out
  body=$(jq -nc --arg q "$1" --argjson v "${2:-null}" '{query: $q, variables: $v}')
  out=$(curl -sS "$BASE/graphql" -H 'Content-Type: application/json' \
    ${3:+-H "Authorization: Bearer $3"} -d "$body")
  if jq -e '.errors' <<<"$out" >/dev/null; then
    jq -r '.errors[0] | "error: \(.extensions.code // "?"): \(.message)"' <<<"$out" >&2
    exit 1
  fi
  jq -c .data <<<"$out"
}

# 1. The public key that encrypts credentials (a JWK), and the email and password
#    encrypted with it: one JWE each (ECDH-ES, A256GCM), what `jose` makes in a browser.
#    cmd/toktok-encrypt is a few lines around go-jose.
gql '{ authConfig { encryptionJwk } }' | jq .authConfig.encryptionJwk >"$WORK/key.jwk"
go run ./cmd/toktok-encrypt -jwk "$WORK/key.jwk" "$EMAIL" "$PASSWORD" >"$WORK/sealed"
{ read -r SEALED_EMAIL && read -r SEALED_PASSWORD; } <"$WORK/sealed"

# 2. An anonymous token, which register and login require.
ANON=$(gql 'mutation { anonymousToken { token } }' | jq -r .anonymousToken.token)

# 3. Register: the account is signed in at once, its address not yet confirmed.
INPUT=$(jq -nc --arg e "$SEALED_EMAIL" --arg p "$SEALED_PASSWORD" '{email: $e, password: $p, name: "Ann"}')
ACCESS=$(gql 'mutation($in: RegisterInput!) { register(input: $in) { accessToken } }' \
  "{\"in\": $INPUT}" "$ANON" | jq -r .register.accessToken)
gql '{ me { email emailConfirmed } }' '' "$ACCESS"

# 4. The confirmation mail, from the dev inbox (default mode); the token follows #token=.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  LINK=$(curl -sS -G "$BASE/dev/mail/mails.json" --data-urlencode "to=$EMAIL" | jq -r 'first(.mails[0].links[]? | select(contains("token="))) // empty')
  [ -n "$LINK" ] && break
  sleep 0.5 # the outbox sends it right after the answer
done
[ -n "$LINK" ] || { echo "error: no mail to $EMAIL in $BASE/dev/mail" >&2; exit 1; }
gql 'mutation($t: String!) { confirmEmail(token: $t) { email emailConfirmed } }' \
  "{\"t\": \"${LINK#*token=}\"}" "$ACCESS"

# 5. Who am I, with the same session (it presented the link, so it was kept).
gql '{ me { id email emailConfirmed role } }' '' "$ACCESS"
