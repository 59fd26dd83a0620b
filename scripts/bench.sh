#!/usr/bin/env bash
# scripts/bench.sh: every measurement behind docs/benchmarks.md, against the built binaries
# over real HTTP and with go test benchmarks in process. Parts, run in this order (PARTS):
#
#  http     `me` on TokTok against cmd/toktok-floor, a bare net/http handler that verifies
#           the same ES256 token in full, at $CONNS connections, $HTTP_ROUNDS rounds (the
#           two alternate, so both meet the same machine); then refresh. cmd/toktok-load
#           drives both and reads each server's CPU time from /proc (-pid).
#  memory   idle RSS of a fresh server; $IDLE_CONNS idle keep-alive connections; the peak
#           RSS of $LOGINS concurrent logins (VmHWM, reset just before them).
#  sizes    for each store size in $SIZES: a seeded SQLite file (cmd/toktok-seed, cached
#           in $CACHE, since a million accounts take minutes to write), copied fresh; the
#           time from exec to /readyz 200 with existing keys; me, refreshToken, login,
#           register, users (search by prefix, deep cursor pages); then the periodic purge
#           with refreshes (writes) running through it.
#  mesizes  `me` at the smallest and the largest of $SIZES with both servers up at once,
#           $ME_ROUNDS rounds that alternate which goes first: the two sizes then meet the
#           same machine, which one pass per size (sizes) does not promise, and the
#           verdict on `me`'s cost as the store grows is the median of the rounds.
#  gotest   the go test benchmarks of e2e/ (BenchmarkMe, BenchmarkRefresh, login against
#           the raw argon2id rate, paired and separate), $COUNT rounds, with the medians.
#  profile  CPU profiles of the timed part of those benchmarks (kept in $OUT, never
#           committed).
#
# Then it writes the result tables (http.tsv, sizes.tsv, memory.tsv), the verdicts on the
# targets (verdicts.txt) and the charts ($CHARTS, SVG, cmd/toktok-benchplot). Everything
# is bounded and cleaned up on exit; results go to $OUT (bench-results/, ignored by git).
#
#   scripts/bench.sh                                   # everything, about 25 minutes
#   PARTS="http memory" scripts/bench.sh                # some parts
#   CHARTS=docs/benchmarks scripts/bench.sh             # the charts docs/benchmarks.md shows
#   QUICK=1 scripts/bench.sh                            # every part, one short iteration
#                                                       # (what CI runs: the code works)
#
# Settings, from the environment (defaults in brackets): PARTS [http memory sizes mesizes
# gotest profile], CONNS [1 16 64], HTTP_ROUNDS [3], HTTP_SECONDS [6], SIZES [10000 100000
# 1000000], SIZE_SECONDS [6], ME_ROUNDS [4], CACHE [~/.cache/toktok-bench], LOGINS [200], IDLE_CONNS
# [2000], BENCHTIME [2s], COUNT [3], OUT [bench-results], CHARTS [$OUT/charts],
# START_PORT [4197] (a free loopback port for the start-time measurement).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  : "${CONNS:=1 16}" "${HTTP_ROUNDS:=1}" "${HTTP_SECONDS:=1}" "${SIZES:=1000}" "${SIZE_SECONDS:=1}"
  : "${LOGINS:=8}" "${IDLE_CONNS:=50}" "${BENCHTIME:=1x}" "${COUNT:=1}" "${ME_ROUNDS:=1}"
  : "${PARTS:=http memory sizes mesizes gotest}"
fi
PARTS=${PARTS:-http memory sizes mesizes gotest profile}
CONNS=${CONNS:-1 16 64}
HTTP_ROUNDS=${HTTP_ROUNDS:-3}
HTTP_SECONDS=${HTTP_SECONDS:-6}
SIZES=${SIZES:-10000 100000 1000000}
SIZE_SECONDS=${SIZE_SECONDS:-6}
ME_ROUNDS=${ME_ROUNDS:-4}
CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toktok-bench}
LOGINS=${LOGINS:-200}
IDLE_CONNS=${IDLE_CONNS:-2000}
BENCHTIME=${BENCHTIME:-2s}
COUNT=${COUNT:-3}
OUT=${OUT:-bench-results}
START_PORT=${START_PORT:-4197}
SEED_PASSWORD="correct horse battery staple"
ISSUER=http://127.0.0.1 # TokTok's --jwt-issuer, which the floor checks too

has_part() { [[ " $PARTS " == *" $1 "* ]]; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/toktok-bench.XXXXXX")
pids=()
sampler_pid=""

# stop_pid stops one process started here: TERM, then KILL after 20 s.
stop_pid() {
  local p=$1
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
}

cleanup() {
  [ -n "$sampler_pid" ] && { kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; }
  for p in "${pids[@]}"; do stop_pid "$p"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # absolute: the go benchmarks run in e2e/
CHARTS=${CHARTS:-$OUT/charts}

echo "== machine"
{
  echo "nproc:   $(nproc)"
  echo "cpu:     $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "memory:  $(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "go:      $(go version)"
  echo "kernel:  $(uname -sr)"
  echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine skews wall-clock figures)"
} | tee "$OUT/machine.txt"

kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
# kv LINE KEY prints the value of KEY=VALUE in a toktok-load result line ("-" if absent).
kv() { local v; v=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1); echo "${v:--}"; }

echo
echo "== building toktok, toktok-load, toktok-floor, toktok-seed, toktok-benchplot"
go build -o "$tmp/toktok" .
for c in toktok-load toktok-floor toktok-seed toktok-benchplot; do
  go build -o "$tmp/$c" "./cmd/$c"
done

# Every load client is 127.0.0.1: the per-IP limits are raised so that none trips, while
# their counters are still kept (the work a request does in production). Argon2id at the
# defaults (m=19456 KiB, t=2, p=1), hashing slots = CPUs, --salt and --anojwt at their
# default (yes).
server_flags=(--host 127.0.0.1 --log-level warn --jwt-issuer "$ISSUER"
  --limit-ip-login 1000000/1m --limit-ip-register 1000000/1m --limit-ip-anonymous-token 1000000/1m)

# start_toktok NAME ARGS...: starts toktok on a free port; sets server_pid and url.
start_toktok() {
  local name=$1
  shift
  "$tmp/toktok" "${server_flags[@]}" --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  url=""
  for _ in $(seq 600); do
    url=$(sed -n 's/^TokTok .* listening on \(http:[^ ]*\)$/\1/p' "$tmp/$name.out")
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "toktok ($name) did not start:" >&2
  cat "$tmp/$name.out" "$tmp/$name.err" >&2
  exit 1
}

# load LOGNAME ARGS...: runs toktok-load, keeps its report in $OUT/load.log and prints its
# result line. A run with failed requests stops the script: its figures would mislead.
load() {
  local name=$1 rc=0
  shift
  echo "-- $name: toktok-load $*" >>"$OUT/load.log"
  "$tmp/toktok-load" "$@" >"$tmp/load.out" 2>&1 || rc=$?
  cat "$tmp/load.out" >>"$OUT/load.log"
  if [ "$rc" != 0 ] && ! { [ "$rc" = 1 ] && [ "${ALLOW_ERRORS:-0}" = 1 ]; }; then
    echo "toktok-load ($name) failed (exit $rc):" >&2
    tail -20 "$tmp/load.out" >&2
    exit 1
  fi
  grep '^result ' "$tmp/load.out" | tail -1
}
: >"$OUT/load.log"

# ---------------------------------------------------------------------------- http
if has_part http; then
  echo
  echo "== http: me on TokTok and on the floor at $CONNS connections, $HTTP_ROUNDS rounds of ${HTTP_SECONDS}s"
  start_toktok http --data-dir "$tmp/http"
  toktok_pid=$server_pid toktok_url=$url
  load register -url "$toktok_url" -op register -users 64 -concurrency 4 -requests 64 -duration 300s >/dev/null
  "$tmp/toktok-floor" -key "$tmp/http/jwt-es256.pem" -issuer "$ISSUER" >"$tmp/floor.out" 2>"$tmp/floor.err" &
  floor_pid=$!
  pids+=("$floor_pid")
  floor_url=""
  for _ in $(seq 100); do
    floor_url=$(sed -n 's/^toktok-floor listening on \(http:[^ ]*\)$/\1/p' "$tmp/floor.out")
    [ -n "$floor_url" ] && break
    sleep 0.1
  done
  [ -n "$floor_url" ] || { cat "$tmp/floor.err" >&2; exit 1; }
  echo "toktok: pid $toktok_pid at $toktok_url; floor: pid $floor_pid at $floor_url"

  printf 'target\tconns\trps\tcpu_ms_per_req\tp50_ms\tp99_ms\n' >"$OUT/http.tsv"
  me_run() { # target conns
    local args=(-url "$toktok_url" -op me -users 64 -concurrency "$2" -requests 100000000 -duration "${HTTP_SECONDS}s" -label "$1")
    if [ "$1" = floor ]; then
      args+=(-target-url "$floor_url" -pid "$floor_pid")
    else
      args+=(-pid "$toktok_pid")
    fi
    local r
    r=$(load "me-$1-$2" "${args[@]}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(kv "$r" rps)" "$(kv "$r" server_cpu_ms_per_req)" \
      "$(kv "$r" p50_ms)" "$(kv "$r" p99_ms)" | tee -a "$OUT/http.tsv"
  }
  for round in $(seq "$HTTP_ROUNDS"); do
    for c in $CONNS; do
      if [ $((round % 2)) = 1 ]; then me_run toktok "$c"; me_run floor "$c"; else me_run floor "$c"; me_run toktok "$c"; fi
    done
  done

  echo "-- refresh: rotations of 64 sessions at 16 connections"
  printf 'conns\trps\tcpu_ms_per_req\tp50_ms\tp99_ms\n' >"$OUT/refresh.tsv"
  for round in $(seq "$HTTP_ROUNDS"); do
    r=$(load refresh -url "$toktok_url" -op refresh -users 64 -concurrency 16 -requests 100000000 \
      -duration "${HTTP_SECONDS}s" -pid "$toktok_pid" -label toktok)
    printf '16\t%s\t%s\t%s\t%s\n' "$(kv "$r" rps)" "$(kv "$r" server_cpu_ms_per_req)" "$(kv "$r" p50_ms)" \
      "$(kv "$r" p99_ms)" | tee -a "$OUT/refresh.tsv"
  done
  stop_pid "$floor_pid"
  stop_pid "$toktok_pid"
fi

# ---------------------------------------------------------------------------- memory
if has_part memory; then
  echo
  echo "== memory: idle, $IDLE_CONNS idle keep-alive connections, $LOGINS concurrent logins"
  printf 'measure\tmib\n' >"$OUT/memory.tsv"
  start_toktok memory --data-dir "$tmp/memory"
  sleep 2
  printf 'idle_rss\t%s\n' "$(kib_to_mib "$(status_kib "$server_pid" VmRSS)")" | tee -a "$OUT/memory.tsv"
  r=$(load idle -url "$url" -op idle -concurrency "$IDLE_CONNS" -duration 5s -pid "$server_pid")
  echo "$r"
  [ "$(kv "$r" conns)" = "$IDLE_CONNS" ] || { echo "only $(kv "$r" conns) of $IDLE_CONNS connections stayed open" >&2; exit 1; }
  printf 'idle_conns_extra\t%s\n' "$(kv "$r" extra_mib)" | tee -a "$OUT/memory.tsv"

  load register -url "$url" -op register -users "$LOGINS" -concurrency 4 -requests "$LOGINS" -duration 300s >/dev/null
  printf 'before_logins_rss\t%s\n' "$(kib_to_mib "$(status_kib "$server_pid" VmRSS)")" | tee -a "$OUT/memory.tsv"
  reset=no
  echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null && reset=yes # resets VmHWM
  (
    while kill -0 "$server_pid" 2>/dev/null; do
      r=$(status_kib "$server_pid" VmRSS) || break
      [ -n "$r" ] && echo "$r"
      sleep 0.05
    done
  ) >"$tmp/rss.samples" &
  sampler_pid=$!
  r=$(load logins -url "$url" -op login -users "$LOGINS" -concurrency "$LOGINS" -requests $((2 * LOGINS)) -duration 180s)
  kill "$sampler_pid" 2>/dev/null || true
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
  echo "$r"
  hwm=$(status_kib "$server_pid" VmHWM)
  max_sample=$(sort -n "$tmp/rss.samples" | tail -1)
  [ "$reset" = yes ] || echo "(the VmHWM reset was refused: the peak includes the registrations)"
  printf 'logins_peak_rss\t%s\n' "$(kib_to_mib "$hwm")" | tee -a "$OUT/memory.tsv"
  printf 'logins_max_sample\t%s\n' "$(kib_to_mib "${max_sample:-0}")" | tee -a "$OUT/memory.tsv"
  printf 'logins_rps\t%s\n' "$(kv "$r" rps)" >>"$OUT/memory.tsv"
  stop_pid "$server_pid"
fi

# ---------------------------------------------------------------------------- sizes
if has_part sizes; then
  echo
  echo "== sizes: $SIZES accounts, seeded files cached in $CACHE"
  mkdir -p "$CACHE"
  printf 'users\top\tp50_ms\tp99_ms\tcpu_ms_per_req\trps\tmax_ms\n' >"$OUT/sizes.tsv"
  printf 'users\tstart_ms\tfile_mib\n' >"$OUT/start.tsv"
  : >"$OUT/purge.log"
  for n in $SIZES; do
    db="$CACHE/seed-$n.db"
    if [ ! -s "$db" ]; then
      echo "-- seeding $n accounts into $db (once; later runs reuse it)"
      rm -f "$db.tmp"
      "$tmp/toktok-seed" -db "$db.tmp" -users "$n" -password "$SEED_PASSWORD"
      mv "$db.tmp" "$db"
      rm -f "$db.tmp.lock"
    fi
    d="$tmp/size-$n"
    rm -rf "$d"
    mkdir -p "$d"
    cp --sparse=always "$db" "$d/toktok.db"
    admin=seed-1@example.com # seed-0 is one of the unconfirmed 1 %
    "$tmp/toktok" admin promote --email "$admin" --data-dir "$d" >/dev/null
    # A first start writes the keys; the measured start finds them, as production does.
    start_toktok "keys-$n" --data-dir "$d"
    stop_pid "$server_pid"
    # The seed leaves 5 % of its mails pending (for the purge measurement), a backlog no
    # healthy instance has: the outbox worker would send them, 25 000 at a million accounts,
    # its writes competing with the requests measured here. It polls hourly instead.
    size_flags=(--data-dir "$d" --mail-poll-interval 1h)
    # From exec to the first /readyz 200 (toktok-load runs the server and polls every
    # millisecond), then the server that the requests below go to.
    r=$(load "start-$n" -url "http://127.0.0.1:$START_PORT" -op start -duration 60s -label "size-$n" -- \
      "$tmp/toktok" "${server_flags[@]}" --port "$START_PORT" "${size_flags[@]}")
    printf '%s\t%s\t%s\n' "$n" "$(kv "$r" start_ms)" "$(($(stat -c %s "$d/toktok.db") / 1048576))" | tee -a "$OUT/start.tsv"
    "$tmp/toktok" "${server_flags[@]}" --port "$START_PORT" "${size_flags[@]}" >"$tmp/size-$n.out" 2>"$tmp/size-$n.err" &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 600); do
      grep -q 'listening on' "$tmp/size-$n.out" && break
      kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/size-$n.err" >&2; exit 1; }
      sleep 0.1
    done
    u="http://127.0.0.1:$START_PORT"
    row() { # op result-line
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$1" "$(kv "$2" p50_ms)" "$(kv "$2" p99_ms)" \
        "$(kv "$2" server_cpu_ms_per_req)" "$(kv "$2" rps)" "$(kv "$2" max_ms)" | tee -a "$OUT/sizes.tsv"
    }
    common=(-url "$u" -pid "$server_pid" -label "size-$n" -password "$SEED_PASSWORD")
    timed=(-requests 100000000 -duration "${SIZE_SECONDS}s")
    logins=$((QUICK == 1 ? 4 : 24))
    # A warm-up of each kind of request first, untimed: the figures are the steady state
    # of a running server, not its first seconds on a freshly copied file (the page cache,
    # SQLite's caches, the heap the argon2id hashes grow).
    warm=(-requests 100000000 -duration "$((QUICK == 1 ? 1 : 2))s")
    load "warm-$n" "${common[@]}" "${warm[@]}" -op me -email-prefix seed -users 64 -concurrency 16 >/dev/null
    load "warm-$n" "${common[@]}" "${warm[@]}" -op refresh -email-prefix seed -users 64 -concurrency 16 >/dev/null
    load "warm-$n" "${common[@]}" -op login -email-prefix seed -users 64 -concurrency 2 -requests 16 -duration 120s >/dev/null
    load "warm-$n" "${common[@]}" -op register -email-prefix "warm$n" -users 8 -concurrency 2 -requests 8 -duration 120s >/dev/null
    r=$(load "me-$n" "${common[@]}" "${timed[@]}" -op me -email-prefix seed -users 64 -concurrency 16)
    row me "$r"
    r=$(load "refresh-$n" "${common[@]}" "${timed[@]}" -op refresh -email-prefix seed -users 64 -concurrency 16)
    row refresh "$r"
    r=$(load "login-$n" "${common[@]}" -op login -email-prefix seed -users 64 -concurrency 2 \
      -requests "$logins" -duration 120s)
    row login "$r"
    r=$(load "register-$n" "${common[@]}" -op register -email-prefix "reg$n" -users "$logins" \
      -concurrency 2 -requests "$logins" -duration 120s)
    row register "$r"
    admin_args=(-admin-email "$admin" -admin-password "$SEED_PASSWORD" -email-prefix seed -concurrency 4)
    load "warm-$n" "${common[@]}" "${warm[@]}" -op users-search "${admin_args[@]}" -users "$n" >/dev/null
    r=$(load "users-search-$n" "${common[@]}" "${timed[@]}" -op users-search "${admin_args[@]}" -users "$n")
    row users-search "$r"
    r=$(load "users-page-$n" "${common[@]}" "${timed[@]}" -op users-page "${admin_args[@]}" \
      -users $((n < 20000 ? n : 20000)))
    row users-page "$r"
    stop_pid "$server_pid"

    # The purge: the first pass of a fresh copy, with refreshes (each one a write) running
    # through it; their latency is how long a writer waited for the purge's batches.
    cp --sparse=always "$db" "$d/toktok.db"
    rm -f "$d/toktok.db-wal" "$d/toktok.db-shm"
    purge_seconds=$((QUICK == 1 ? 5 : 20))
    start_toktok "purge-$n" "${size_flags[@]}" --log-level info --purge-interval "$((QUICK == 1 ? 3 : 6))s"
    # seed-0 is unconfirmed and older than --unconfirmed-ttl: the purge deletes it, and
    # its session's next refresh is refused, as it should be (ALLOW_ERRORS).
    r=$(ALLOW_ERRORS=1 load "purge-$n" -url "$url" -pid "$server_pid" -label "purge-$n" -password "$SEED_PASSWORD" \
      -op refresh -email-prefix seed -users 16 -concurrency 4 -requests 100000000 -duration "${purge_seconds}s")
    row purge "$r"
    grep -E 'purged|finished interrupted|unconfirmed' "$tmp/purge-$n.err" | sed "s/^/$n: /" | tee -a "$OUT/purge.log" || true
    stop_pid "$server_pid"
    rm -rf "$d"
  done
fi
if has_part mesizes; then
  lo=$(tr ' ' '\n' <<<"$SIZES" | grep . | sort -g | head -1)
  hi=$(tr ' ' '\n' <<<"$SIZES" | grep . | sort -g | tail -1)
  echo
  echo "== mesizes: me at $lo and at $hi accounts, both servers up, $ME_ROUNDS rounds of ${SIZE_SECONDS}s each"
  printf 'round\tusers\tp50_ms\tp99_ms\tcpu_ms_per_req\trps\n' >"$OUT/me-sizes.tsv"
  declare -A me_url me_pid
  pair=$(printf '%s\n' "$lo" "$hi" | sort -gu) # one server when there is one size (QUICK)
  for n in $pair; do
    db="$CACHE/seed-$n.db"
    [ -s "$db" ] || { echo "mesizes: $db missing (run the sizes part once to seed it)" >&2; exit 1; }
    d="$tmp/me-$n"
    rm -rf "$d"
    mkdir -p "$d"
    cp --sparse=always "$db" "$d/toktok.db"
    start_toktok "me-$n" --data-dir "$d" --mail-poll-interval 1h
    me_url[$n]=$url me_pid[$n]=$server_pid
    load "warm-me-$n" -url "$url" -pid "$server_pid" -password "$SEED_PASSWORD" -requests 100000000 \
      -duration "$((QUICK == 1 ? 1 : 3))s" -op me -email-prefix seed -users 64 -concurrency 16 >/dev/null
  done
  for round in $(seq "$ME_ROUNDS"); do
    order=$pair
    [ $((round % 2)) = 0 ] && order=$(sort -gr <<<"$pair")
    for n in $order; do
      r=$(load "me-$n-round-$round" -url "${me_url[$n]}" -pid "${me_pid[$n]}" -password "$SEED_PASSWORD" -label "me-$n" \
        -requests 100000000 -duration "${SIZE_SECONDS}s" -op me -email-prefix seed -users 64 -concurrency 16)
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$n" "$(kv "$r" p50_ms)" "$(kv "$r" p99_ms)" \
        "$(kv "$r" server_cpu_ms_per_req)" "$(kv "$r" rps)" | tee -a "$OUT/me-sizes.tsv"
    done
  done
  for n in $pair; do stop_pid "${me_pid[$n]}"; rm -rf "$tmp/me-$n"; done
fi
if has_part gotest; then
  echo
  echo "== go test benchmarks: $COUNT rounds, benchtime $BENCHTIME"
  # Rounds of -count=1 rather than one -count=N: each round runs every benchmark once, so
  # a benchmark and its floor are measured minutes apart at most, under the same load.
  cmd=(go test -run '^$' -bench 'VerifyAccess|Me|Refresh|Argon2idRaw|Login' -benchtime="$BENCHTIME" -count=1 ./e2e/)
  : >"$OUT/bench.txt"
  for round in $(seq "$COUNT"); do
    echo "== round $round: ${cmd[*]}" | tee -a "$OUT/bench.txt"
    "${cmd[@]}" | tee -a "$OUT/bench.txt"
  done

  echo
  echo "== medians of $COUNT rounds, and the targets"
  awk '
    /^== round / { round = $3 + 0; rounds[round] = 1 }
    /^Benchmark/ {
      name = $1; sub(/-[0-9]+$/, "", name)
      if (!(name in seen)) { seen[name] = 1; order[++n] = name }
      for (i = 3; i < NF; i += 2) {
        vals[name, $(i + 1)] = vals[name, $(i + 1)] " " $i
        by[name, $(i + 1), round] = $i
      }
    }
    function median(list,    a, m, i, j, t) {
      m = split(list, a, " ")
      if (m == 0) return ""
      for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    function med(name, unit) { return ((name, unit) in vals) ? median(vals[name, unit]) : "" }
    # ratio prints the median over rounds of num/den (each round pairs its own runs) and the
    # per-round values; inv divides den by num instead.
    function ratio(label, num, den, unit, inv, target, cmp,    r, list, v, m, ok) {
      list = ""
      for (r in rounds) if ((num, unit, r) in by && (den, unit, r) in by && by[num, unit, r] > 0 && by[den, unit, r] > 0) {
        v = inv ? by[den, unit, r] / by[num, unit, r] : by[num, unit, r] / by[den, unit, r]
        list = list " " sprintf("%.2f", v)
      }
      if (list == "") return
      m = median(list)
      ok = (cmp == "<=") ? (m <= target) : (m >= target)
      printf "%-66s %.2fx  (rounds:%s)%s\n", label, m, list,
        target == "" ? "" : sprintf("  target %s %sx: %s", cmp, target, ok ? "met" : "NOT met")
    }
    # paired prints the median over rounds of one ratio metric of a paired benchmark (inv:
    # of its inverse).
    function paired(label, b, unit, inv, target, cmp,    r, list, v, m, ok) {
      list = ""
      for (r in rounds) if ((b, unit, r) in by && by[b, unit, r] > 0) {
        v = inv ? 1 / by[b, unit, r] : by[b, unit, r]
        list = list " " sprintf("%.2f", v)
      }
      if (list == "") return
      m = median(list)
      ok = (cmp == "<=") ? (m <= target) : (m >= target)
      printf "%-66s %.2fx  (rounds:%s; others %s%%)%s\n", label, m, list, sprintf("%.0f", med(b, "others-%")),
        target == "" ? "" : sprintf("  target %s %sx: %s", cmp, target, ok ? "met" : "NOT met")
    }
    function fmt(v, scale) {
      if (v == "") return "-"
      return scale == "ms" ? sprintf("%.2f ms", v / 1e6) : sprintf("%.1f us", v / 1e3)
    }
    END {
      printf "%-35s %11s %11s %12s %7s %7s %9s %7s\n", "benchmark (medians)", "wall/op", "cpu-ns/op", "proc-cpu/op", "others", "rate/s", "B/op", "allocs"
      for (k = 1; k <= n; k++) {
        b = order[k]
        if (b ~ /Vs/) continue
        scale = (b ~ /Argon|Login/) ? "ms" : "us"
        rate = med(b, "logins/s"); if (rate == "") rate = med(b, "hashes/s")
        o = med(b, "others-%")
        printf "%-35s %11s %11s %12s %7s %7s %9s %7s\n", b, fmt(med(b, "ns/op"), scale), fmt(med(b, "cpu-ns/op"), scale),
          fmt(med(b, "proc-cpu-ns/op"), scale), (o == "" ? "-" : sprintf("%.0f%%", o)),
          (rate == "" ? "-" : sprintf("%.1f", rate)), med(b, "B/op"), med(b, "allocs/op")
      }
      print ""
      print "targets, from the paired benchmarks (bursts of both workloads alternate in one run):"
      paired("  me / floor, CPU per request", "BenchmarkMeVsFloor", "me/floor-cpu", 0, 2, "<=")
      paired("  me / floor, wall time per request", "BenchmarkMeVsFloor", "me/floor-wall", 0, "", "")
      for (k = 1; k <= n; k++) {
        b = order[k]
        if (b !~ /^BenchmarkLoginVsArgon2idRaw/) continue
        v = substr(b, 29)
        paired("  login(" v ") / raw hash, throughput from CPU", b, "login/raw-cpu", 1, 0.9, ">=")
        paired("  login(" v ") / raw hash, throughput from wall time", b, "login/raw-wall", 1, "", "")
      }
      paired("  raw hash on 4 x CPUs goroutines / on CPUs goroutines, CPU per hash", "BenchmarkArgon2idRawVs4xCPUs", "4x/1x-cpu", 0, "", "")
      print ""
      print "the same from the separate benchmarks (medians of rounds; each pair of runs is"
      print "seconds apart, so a change in the machine load shows up as noise):"
      ratio("  me / floor, process CPU per request", "BenchmarkMe", "BenchmarkMeFloor", "proc-cpu-ns/op", 0, 2, "<=")
      ratio("  me / floor, wall x GOMAXPROCS", "BenchmarkMe", "BenchmarkMeFloor", "cpu-ns/op", 0, "", "")
      for (k = 1; k <= n; k++) {
        b = order[k]
        if (b !~ /^BenchmarkLogin/ || b ~ /Vs/) continue
        ratio("  " substr(b, 10) " / raw hash, throughput from CPU", b, "BenchmarkArgon2idRaw", "proc-cpu-ns/op", 1, 0.9, ">=")
        ratio("  " substr(b, 10) " / raw hash, logins/s over hashes/s", b, "BenchmarkArgon2idRaw", "ns/op", 1, "", "")
      }
      print "(wall-clock ratios mean something only where others-% is near 0)"
    }' "$OUT/bench.txt" | tee "$OUT/summary.txt"
fi

if has_part profile; then
  echo
  echo "== CPU profiles of the timed part (benchtime $BENCHTIME): where the time goes"
  profile() { # name, -bench regexp
    go test -run '^$' -bench "$2" -benchtime="$BENCHTIME" -count=1 ./e2e/ \
      -args -toktok.benchcpuprofile="$OUT/$1.cpu.out" | grep '^Benchmark' >>"$OUT/profiled-bench.txt"
  }
  pct() { # profile name, frame regexp: % of the samples with a matching frame
    local v
    v=$(go tool pprof -top -focus="$2" -nodefraction=0 "$OUT/$1.cpu.out" 2>/dev/null |
      sed -n 's/^Showing nodes accounting for .*, \([0-9.]*\)% of .* total$/\1/p')
    echo "${v:-0}"
  }
  : >"$OUT/profiled-bench.txt"
  profile floor '^BenchmarkMeFloor$'
  profile me '^BenchmarkMe$'
  profile raw '^BenchmarkArgon2idRaw$'
  profile login '^BenchmarkLogin$'
  profile salt2048 '^BenchmarkLoginSaltAnojwt$/^rsa=2048$'
  profile salt3072 '^BenchmarkLoginSaltAnojwt$/^rsa=3072$'
  cat "$OUT/profiled-bench.txt"

  verify='token\.\(\*Service\)\.VerifyAccess'
  argon='golang\.org/x/crypto/argon2\.'
  {
    echo
    echo "share of CPU samples (a sample counts for every line whose frame it contains)"
    printf "%-10s %8s %8s %8s %8s %8s %8s %8s\n" profile verify argon2 rsa-dec sqlite gqlgen gc driver
    for p in floor me raw login salt2048 salt3072; do
      printf "%-10s %7s%% %7s%% %7s%% %7s%% %7s%% %7s%% %7s%%\n" "$p" "$(pct $p "$verify")" "$(pct $p "$argon")" \
        "$(pct $p 'rsa\.\(\*PrivateKey\)\.Decrypt')" "$(pct $p 'modernc\.org/sqlite|database/sql')" \
        "$(pct $p '99designs/gqlgen|toktok/graph\.')" "$(pct $p 'runtime\.gcBgMarkWorker')" \
        "$(pct $p 'benchGraphQLRequest|httptest\.NewRe')"
    done
    echo
    echo "top of the BenchmarkMe profile:"
    go tool pprof -top -nodecount=25 "$OUT/me.cpu.out" 2>/dev/null | sed -n '/flat%/,$p'
  } | tee "$OUT/profiles.txt"
fi

# ---------------------------------------------------------------------------- verdicts
echo
echo "== targets and verdicts (medians of the rounds)"
{
  med() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
  # col FILE COLUMN [AWK-CONDITION]: the values of COLUMN (by header name) in rows matching.
  col() {
    awk -F'\t' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
      '"${3:-1}"' { v = $h[c]; if (v != "" && v != "-") print v }' "$1"
  }
  verdict() { # label value op target
    awk -v l="$1" -v v="$2" -v op="$3" -v t="$4" 'BEGIN {
      if (v == "-" || v == "") { printf "%-64s %10s   target %s %s: no figure\n", l, "-", op, t; exit }
      ok = (op == "<=") ? (v + 0 <= t + 0) : (op == "<") ? (v + 0 < t + 0) : (v + 0 >= t + 0)
      printf "%-64s %10.3f   target %s %s: %s\n", l, v, op, t, ok ? "met" : "NOT met" }'
  }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
  if [ -s "$OUT/http.tsv" ] && has_part http; then
    for c in $CONNS; do
      tr=$(col "$OUT/http.tsv" rps "\$h[\"target\"] == \"toktok\" && \$h[\"conns\"] == $c" | med)
      fr=$(col "$OUT/http.tsv" rps "\$h[\"target\"] == \"floor\" && \$h[\"conns\"] == $c" | med)
      tc=$(col "$OUT/http.tsv" cpu_ms_per_req "\$h[\"target\"] == \"toktok\" && \$h[\"conns\"] == $c" | med)
      fc=$(col "$OUT/http.tsv" cpu_ms_per_req "\$h[\"target\"] == \"floor\" && \$h[\"conns\"] == $c" | med)
      echo "me at $c conns: toktok $tr req/s, $tc ms CPU; floor $fr req/s, $fc ms CPU"
      t=""; [ "$c" = 1 ] && t="(informative)"
      verdict "  me / floor, requests/s at $c conns $t" "$(ratio "$tr" "$fr")" ">=" 0.8
      verdict "  me / floor, CPU per request at $c conns $t" "$(ratio "$tc" "$fc")" "<=" 1.5
    done
    verdict "refresh over HTTP, server CPU ms per rotation (16 conns)" "$(col "$OUT/refresh.tsv" cpu_ms_per_req | med)" "<=" 0.2
  fi
  if [ -s "$OUT/bench.txt" ] && has_part gotest; then
    v=$(awk '$1 ~ /^BenchmarkRefresh(-[0-9]+)?$/ { for (i = 3; i < NF; i++) if ($(i + 1) == "proc-cpu-ns/op") print $i / 1e6 }' "$OUT/bench.txt" | med)
    verdict "refresh in process (BenchmarkRefresh), CPU ms per rotation" "$v" "<=" 0.2
    v=$(awk '$1 ~ /^BenchmarkLoginVsArgon2idRaw\/salt_anojwt_ecdh/ { for (i = 3; i < NF; i++) if ($(i + 1) == "login/raw-cpu") print 1 / $i }' "$OUT/bench.txt" | med)
    verdict "login with the defaults / raw argon2id rate (paired, from CPU)" "$v" ">=" 0.95
  fi
  if [ -s "$OUT/sizes.tsv" ] && has_part sizes; then
    lo=$(col "$OUT/sizes.tsv" users | sort -g | head -1)
    hi=$(col "$OUT/sizes.tsv" users | sort -g | tail -1)
    for op in me refresh login register users-search users-page; do
      for m in p50_ms cpu_ms_per_req; do
        a=$(col "$OUT/sizes.tsv" "$m" "\$h[\"op\"] == \"$op\" && \$h[\"users\"] == $hi" | med)
        b=$(col "$OUT/sizes.tsv" "$m" "\$h[\"op\"] == \"$op\" && \$h[\"users\"] == $lo" | med)
        verdict "$op $m at $hi / at $lo accounts" "$(ratio "$a" "$b")" "<=" 1.5
      done
    done
    # What a writer waits while the purge runs (its batches hold the write lock); the
    # longest single wait is printed too, but one refresh in thousands also waits for a
    # WAL checkpoint or the scheduler, purge or not (compare the refresh row).
    verdict "p99 refresh during the purge at $hi accounts, ms" "$(col "$OUT/sizes.tsv" p99_ms "\$h[\"op\"] == \"purge\" && \$h[\"users\"] == $hi" | med)" "<=" 50
    echo "  (longest refresh during the purge: $(col "$OUT/sizes.tsv" max_ms "\$h[\"op\"] == \"purge\" && \$h[\"users\"] == $hi" | med) ms; without it: $(col "$OUT/sizes.tsv" max_ms "\$h[\"op\"] == \"refresh\" && \$h[\"users\"] == $hi" | med) ms at 16 conns)"
    verdict "exec to /readyz 200 at $hi accounts, ms" "$(col "$OUT/start.tsv" start_ms "\$h[\"users\"] == $hi" | med)" "<" 300
  fi
  if [ -s "$OUT/me-sizes.tsv" ] && has_part mesizes; then
    lo=$(col "$OUT/me-sizes.tsv" users | sort -g | head -1)
    hi=$(col "$OUT/me-sizes.tsv" users | sort -g | tail -1)
    for m in p50_ms cpu_ms_per_req; do
      a=$(col "$OUT/me-sizes.tsv" "$m" "\$h[\"users\"] == $hi" | med)
      b=$(col "$OUT/me-sizes.tsv" "$m" "\$h[\"users\"] == $lo" | med)
      verdict "me $m at $hi / at $lo accounts, interleaved (mesizes)" "$(ratio "$a" "$b")" "<=" 1.5
    done
  fi
  if [ -s "$OUT/memory.tsv" ] && has_part memory; then
    mb() { awk -F'\t' -v k="$1" '$1 == k { printf "%.1f", $2 * 1.048576 }' "$OUT/memory.tsv"; }
    verdict "idle RSS, MB" "$(mb idle_rss)" "<" 40
    verdict "$IDLE_CONNS idle keep-alive connections, MB over idle" "$(mb idle_conns_extra)" "<" 60
    verdict "$LOGINS concurrent logins, peak RSS (VmHWM), MB" "$(mb logins_peak_rss)" "<" 200
  fi
} | tee "$OUT/verdicts.txt"

echo
echo "== charts into $CHARTS"
plot=()
[ -s "$OUT/http.tsv" ] && has_part http && plot+=(-http "$OUT/http.tsv")
[ -s "$OUT/sizes.tsv" ] && has_part sizes && plot+=(-sizes "$OUT/sizes.tsv")
if [ "${#plot[@]}" -gt 0 ]; then
  "$tmp/toktok-benchplot" "${plot[@]}" -out "$CHARTS"
fi
