#!/usr/bin/env bash
# scripts/bench.sh: the measurements behind docs/benchmarks.md, in three parts.
#
#  1. Memory under a burst of logins: builds toktok and cmd/toktok-load, starts the server
#     on a free loopback port with a temp data dir and the default argon2id parameters
#     (m=19456 KiB, t=2, p=1; --salt and --anojwt at their default, yes; per-IP limits
#     raised, since every client is 127.0.0.1), registers $LOGINS accounts, resets the
#     server's peak-RSS counter, sends 2 × $LOGINS logins from $LOGINS concurrent clients,
#     samples VmRSS from /proc/PID/status meanwhile, stops the server and prints the peak
#     (VmHWM, the kernel's own high-water mark).
#  2. The go test benchmarks (e2e/bench_test.go), $COUNT rounds, then the medians and the
#     ratios the targets are about: me vs its floor, login vs the raw hash rate, first from
#     the paired benchmarks (which alternate both workloads in one run, so that a change
#     in the load of a shared machine hits both alike), then from the separate ones.
#  3. CPU profiles of the timed part of the benchmarks the targets compare, with the share
#     of the CPU each part of the work takes; profiles stay in $OUT (never commit them).
#
# Everything is bounded (request counts and durations) and cleaned up on exit. Results
# are kept in $OUT (bench-results/, ignored by git). Settings, from the environment:
#
#   BENCHTIME=2s  COUNT=3  LOGINS=200  OUT=bench-results  SKIP_RSS=0  SKIP_BENCH=0
#   SKIP_PROFILE=0
#
# Takes about four minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHTIME=${BENCHTIME:-2s}
COUNT=${COUNT:-3}
LOGINS=${LOGINS:-200}
OUT=${OUT:-bench-results}
SKIP_PROFILE=${SKIP_PROFILE:-0}
SKIP_RSS=${SKIP_RSS:-0}
SKIP_BENCH=${SKIP_BENCH:-0}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/toktok-bench.XXXXXX")
server_pid=""
sampler_pid=""

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

cleanup() {
  if [ -n "$sampler_pid" ]; then
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
  fi
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # absolute: the benchmarks run in e2e/

echo "== machine"
echo "nproc:   $(nproc)"
echo "cpu:     $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "memory:  $(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version)"
echo "kernel:  $(uname -sr)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine skews wall-clock figures)"

kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

if [ "$SKIP_RSS" != 1 ]; then
  echo
  echo "== peak RSS during $LOGINS concurrent logins"
  go build -o "$tmp/toktok" .
  go build -o "$tmp/toktok-load" ./cmd/toktok-load

  # Every load client is 127.0.0.1: the per-IP limits are raised so that none trips,
  # while their counters are still kept (the work a login does in production).
  "$tmp/toktok" --host 127.0.0.1 --port 0 --data-dir "$tmp/data" --log-level warn \
    --argon2-memory 19456 --argon2-time 2 --argon2-threads 1 --hash-concurrency 0 \
    --limit-ip-login 1000000/1m --limit-ip-register 1000000/1m --limit-ip-anonymous-token 1000000/1m \
    >"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
  url=""
  for _ in $(seq 300); do # the first start generates an RSA-3072 key: allow 60 s
    url=$(sed -n 's/^TokTok .* listening on \(http:[^ ]*\)$/\1/p' "$tmp/server.out")
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$url" ]; then
    echo "the server did not start:" >&2
    cat "$tmp/server.out" "$tmp/server.err" >&2
    exit 1
  fi
  echo "server:  pid $server_pid at $url (hash concurrency = CPUs = $(nproc))"

  echo "-- registering $LOGINS accounts"
  "$tmp/toktok-load" -url "$url" -op register -users "$LOGINS" -concurrency 4 \
    -requests "$LOGINS" -duration 300s | tee "$OUT/register.txt"

  base_rss=$(status_kib "$server_pid" VmRSS)
  reset="no"
  if echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null; then
    reset="yes"
  fi
  # A sampler for the curve; VmHWM catches peaks between samples.
  (
    while kill -0 "$server_pid" 2>/dev/null; do
      r=$(status_kib "$server_pid" VmRSS) || break
      [ -n "$r" ] && echo "$r"
      sleep 0.05
    done
  ) >"$tmp/rss.samples" &
  sampler_pid=$!

  echo "-- $((2 * LOGINS)) logins from $LOGINS concurrent clients"
  load_rc=0
  "$tmp/toktok-load" -url "$url" -op login -users "$LOGINS" -concurrency "$LOGINS" \
    -requests $((2 * LOGINS)) -duration 180s | tee "$OUT/login-load.txt" || load_rc=$?

  kill "$sampler_pid" 2>/dev/null || true
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
  hwm=$(status_kib "$server_pid" VmHWM)
  end_rss=$(status_kib "$server_pid" VmRSS)
  max_sample=$(sort -n "$tmp/rss.samples" | tail -1)
  samples=$(wc -l <"$tmp/rss.samples")
  stop_server

  {
    echo "RSS before the logins:            $(kib_to_mib "$base_rss")"
    if [ "$reset" = yes ]; then
      echo "peak RSS during the logins:       $(kib_to_mib "$hwm")  (VmHWM, reset just before them)"
    else
      echo "peak RSS since start:             $(kib_to_mib "$hwm")  (VmHWM; the reset was refused, so registration is included)"
    fi
    echo "highest of $samples VmRSS samples: $(kib_to_mib "${max_sample:-0}")"
    echo "RSS after the logins:             $(kib_to_mib "$end_rss")"
    echo "target: under 200 MB (190.7 MiB) -> $(awk -v k="$hwm" 'BEGIN { print (k * 1024 < 200e6) ? "met" : "NOT met" }')"
  } | tee "$OUT/rss.txt"
  if [ "$load_rc" != 0 ]; then
    echo "toktok-load reported failed requests (exit $load_rc): see above" >&2
  fi
fi

if [ "$SKIP_BENCH" != 1 ]; then
  echo
  echo "== go test benchmarks: $COUNT rounds, benchtime $BENCHTIME"
  # Rounds of -count=1 rather than one -count=N: each round runs every benchmark once, so
  # a benchmark and its floor are measured minutes apart at most, under the same load.
  cmd=(go test -run '^$' -bench 'VerifyAccess|Me|Argon2idRaw|Login' -benchtime="$BENCHTIME" -count=1 ./e2e/)
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

if [ "$SKIP_PROFILE" != 1 ]; then
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
