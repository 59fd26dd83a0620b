#!/usr/bin/env bash
# scripts/soak.sh: a soak test, not run in CI. It builds toktok and cmd/toktok-load, starts
# the server on a free loopback port with a temp data dir (SQLite), and runs
# `toktok-load -op mixed` (register, login, refresh, me, changePassword, forgotPassword)
# for $SOAK_DURATION. Every $SOAK_INTERVAL it samples the server's resident memory
# (VmRSS in /proc/PID/status), threads (Threads), open files (entries of /proc/PID/fd)
# and goroutines (the first line of /debug/pprof/goroutine?debug=1 on the loopback
# --debug-addr listener; "n/a" when the binary has no such flag), once before the load,
# during it, and once after it. At the end it prints, for each series, the idle value
# before the load, the value at the end of the warm-up (the first two minutes, or the
# first fifth of a shorter run), the last value under load, the lowest and highest under
# load after the warm-up, the change from the warm-up to the end, and the idle value
# after the load: a leak shows as a steady rise after the warm-up, not as the one-off
# growth of caches and pools at start.
#
# The server runs as in development (`--mode=default`: --salt and --anojwt on, default
# argon2id parameters), with its per-IP and reset-mail limits raised since every client is
# 127.0.0.1, and mails going to the log sender (at --log-level=warn they are not printed,
# but the outbox worker claims, "sends" and records every one). Settings, from the
# environment:
#
#   SOAK_DURATION=10m  SOAK_INTERVAL=10  SOAK_CONCURRENCY=16  SOAK_USERS=500
#   SOAK_SERVER_ARGS=""   extra toktok flags (e.g. "--argon2-memory=64 --argon2-time=1")
#   TOKTOK_DEBUG_ADDR=""  the --debug-addr to use (default: a free 127.0.0.1 port)
#   OUT=""                a directory to keep the samples and the logs in (default: none)
#
# The exit status is the load generator's: 0 when every request succeeded, 1 when some
# failed, 2 when the run could not be set up.
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_DURATION=${SOAK_DURATION:-10m}
SOAK_INTERVAL=${SOAK_INTERVAL:-10}
SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-16}
SOAK_USERS=${SOAK_USERS:-500}
SOAK_SERVER_ARGS=${SOAK_SERVER_ARGS:-}
OUT=${OUT:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/toktok-soak.XXXXXX")
server_pid=""
load_pid=""

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 150); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  [ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

cleanup() {
  if [ -n "$load_pid" ]; then
    kill "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
  fi
  stop_server
  if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    cp "$tmp"/*.txt "$tmp"/*.tsv "$OUT"/ 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# seconds converts a Go-style duration of s, m or h ("10m", "90s", "1h") to seconds.
seconds() {
  case "$1" in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

# free_port prints a loopback port nothing listens on (bash's /dev/tcp: a refused
# connection means free).
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "no free port found" >&2
  return 1
}

status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

goroutines() {
  [ -n "$debug_addr" ] || { echo n/a; return; }
  curl -fsS --max-time 5 "http://$debug_addr/debug/pprof/goroutine?debug=1" 2>/dev/null |
    sed -n '1s/^goroutine profile: total \([0-9]*\).*/\1/p' | grep . || echo n/a
}

echo "== machine"
echo "nproc:   $(nproc)"
echo "memory:  $(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine slows the load, not the figures' shape)"

go build -o "$tmp/toktok" .
go build -o "$tmp/toktok-load" ./cmd/toktok-load

many=1000000/1m
server_args=(--host 127.0.0.1 --port 0 --data-dir "$tmp/data" --log-level warn
  --limit-ip-login "$many" --limit-ip-register "$many" --limit-ip-anonymous-token "$many"
  --limit-ip-forgot-password "$many" --limit-reset-mails "$many")
# shellcheck disable=SC2206 # SOAK_SERVER_ARGS is a list of flags, split on purpose
server_args+=($SOAK_SERVER_ARGS)

# start_server starts toktok with server_args and "$@" and sets url, or returns 1 when it
# exits first.
start_server() {
  "$tmp/toktok" "${server_args[@]}" "$@" >"$tmp/server.out.txt" 2>"$tmp/server.err.txt" &
  server_pid=$!
  url=""
  for _ in $(seq 300); do # the first start generates the development keys: allow 60 s
    url=$(sed -n 's/^TokTok .* listening on \(http:[^ ]*\)$/\1/p' "$tmp/server.out.txt")
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  return 1
}

# Goroutines need the process's help: the loopback pprof listener (--debug-addr). A binary
# without the flag refuses to start with it, and is started again without.
debug_addr=${TOKTOK_DEBUG_ADDR:-127.0.0.1:$(free_port)}
if ! start_server --debug-addr "$debug_addr"; then
  echo "toktok did not start with --debug-addr=$debug_addr (goroutines: n/a):"
  sed 's/^/  /' "$tmp/server.err.txt" | tail -5
  debug_addr=""
  if ! start_server; then
    echo "the server did not start:" >&2
    cat "$tmp/server.out.txt" "$tmp/server.err.txt" >&2
    exit 2
  fi
fi
if [ -n "$debug_addr" ] && [ "$(goroutines)" = n/a ]; then
  echo "no goroutine profile at http://$debug_addr/debug/pprof/goroutine (goroutines: n/a)"
  debug_addr=""
fi
echo "server:  pid $server_pid at $url, debug ${debug_addr:-off}"
echo "load:    mixed, $SOAK_CONCURRENCY clients, $SOAK_USERS accounts, $SOAK_DURATION; a sample every ${SOAK_INTERVAL}s"

samples="$tmp/samples.tsv"
printf "phase\telapsed_s\trss_kib\tthreads\tfds\tgoroutines\n" | tee "$samples"
start=$(date +%s)
# sample PHASE appends one sample.
sample() {
  local rss thr fds gor
  rss=$(status_kib "$server_pid" VmRSS) || return 1
  thr=$(status_kib "$server_pid" Threads)
  fds=$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  gor=$(goroutines)
  [ -n "$rss" ] || return 1
  printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$1" "$(($(date +%s) - start))" "$rss" "$thr" "$fds" "$gor" | tee -a "$samples"
}
sample before

"$tmp/toktok-load" -url "$url" -op mixed -users "$SOAK_USERS" -concurrency "$SOAK_CONCURRENCY" \
  -requests 1000000000 -duration "$SOAK_DURATION" >"$tmp/load.txt" 2>&1 &
load_pid=$!
next=$((SECONDS + SOAK_INTERVAL))
while kill -0 "$load_pid" 2>/dev/null; do
  while [ "$SECONDS" -lt "$next" ] && kill -0 "$load_pid" 2>/dev/null; do
    sleep 0.2
  done
  next=$((next + SOAK_INTERVAL))
  kill -0 "$server_pid" 2>/dev/null || { echo "the server died:" >&2; tail -20 "$tmp/server.err.txt" >&2; exit 2; }
  kill -0 "$load_pid" 2>/dev/null || break
  sample load || true
done
load_rc=0
wait "$load_pid" || load_rc=$?
load_pid=""
sample after || true

echo
echo "== load (machine load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
cat "$tmp/load.txt"

warm=$(($(seconds "$SOAK_DURATION") / 5))
[ "$warm" -gt 120 ] && warm=120
echo
echo "== series (warm-up: the first ${warm}s)"
awk -F'\t' -v warm="$warm" '
  NR == 1 { for (i = 3; i <= NF; i++) name[i] = $i; n = NF; next }
  {
    for (i = 3; i <= n; i++) {
      v = $i
      if ($1 == "before") { before[i] = v; continue }
      if ($1 == "after") { after[i] = v; continue }
      if (v == "n/a") continue
      if ($2 + 0 <= warm || !(i in atwarm)) atwarm[i] = v
      if ($2 + 0 < warm) continue
      last[i] = v
      if (!(i in lo) || v + 0 < lo[i]) lo[i] = v + 0
      if (!(i in hi) || v + 0 > hi[i]) hi[i] = v + 0
    }
  }
  END {
    printf "%-11s %9s %9s %9s %9s %9s %10s %9s\n", "series", "before", "warm", "last", "min", "max", "warm->last", "after"
    for (i = 3; i <= n; i++) {
      if (!(i in last)) { printf "%-11s %9s %9s %9s\n", name[i], before[i], "n/a", "n/a"; continue }
      d = (atwarm[i] + 0 > 0) ? sprintf("%+.1f%%", 100 * (last[i] - atwarm[i]) / atwarm[i]) : "-"
      printf "%-11s %9s %9s %9s %9s %9s %10s %9s\n", name[i], before[i], atwarm[i], last[i], lo[i], hi[i], d, after[i]
    }
    print "(rss in KiB; min and max are of the samples under load from the end of the warm-up)"
  }' "$samples"

stop_server
exit "$load_rc"
