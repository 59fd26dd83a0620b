#!/usr/bin/env bash
# scripts/fuzz.sh: runs every Go fuzz target of the repository (each `func FuzzXxx(f
# *testing.F)` in a _test.go file, found by grep so that new targets are picked up without
# editing this script), one `go test -fuzz` per target, each for $FUZZTIME.
#
# It stops at the first failure and prints where the failing input was written
# (<package>/testdata/fuzz/<FuzzXxx>/<hash>). Such a file is a seed from then on: commit it
# with the fix, and plain `go test` replays it forever after. A failure while the seed
# corpus itself is replayed (a committed crasher whose fix is missing) names that file too.
#
# Usage:
#   scripts/fuzz.sh                    every target, 5s each (what CI runs)
#   FUZZTIME=60s scripts/fuzz.sh       longer runs, locally
#   FUZZ_ONLY='token/' scripts/fuzz.sh only targets whose "<package dir>/<FuzzXxx>" matches
#                                      this extended regular expression
#
# Settings, from the environment:
#   FUZZTIME=5s           how long each target fuzzes (a duration, or Nx for N inputs)
#   FUZZMINIMIZETIME=5s   how long the fuzzer may spend shrinking one input: interesting
#                         inputs are shrunk inside the FUZZTIME budget, crashers after it
#   FUZZ_ONLY=            regular expression selecting targets (default: all)
#
# Fuzzing builds every package of a test binary with coverage instrumentation, a build of
# its own in the go build cache. Once it is cached each target costs FUZZTIME plus a few
# seconds (about two minutes for the whole set with FUZZTIME=5s on two cores); from a cold
# cache the instrumented build of account's test binary, which holds the SQLite driver,
# takes about four minutes more on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-5s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
FUZZ_ONLY=${FUZZ_ONLY:-}

# targets prints "<package dir> <FuzzXxx>" for every fuzz target, sorted.
targets() {
  grep -r -l -E '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' \
    --exclude-dir=testdata --exclude-dir=vendor --exclude-dir=node_modules --exclude-dir=.git . |
    while read -r file; do
      dir=$(dirname "$file")
      dir=${dir#./}
      grep -o -E '^func Fuzz[A-Za-z0-9_]*\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(/\1/' |
        while read -r name; do echo "$dir $name"; done
    done | sort
}

# deadline_race reports whether a failed run is only the race in Go's fuzz coordinator
# (go.dev/issue/75804, fixed in Go 1.27): at the end of -fuzztime a worker's cancelled
# context escapes as a failure, "context deadline exceeded", with no input to blame. A real
# finding always names an input (a crasher written, or a seed corpus entry); the seeds ran
# before fuzzing started, so nothing is left to replay.
deadline_race() {
  grep -q -E '^[[:space:]]+context deadline exceeded$' "$1" &&
    ! grep -q -E 'Failing input written|seed corpus entry|panic:|--- FAIL: .*/' "$1"
}

# report_failure prints the end of the log and where the failing input is.
report_failure() {
  local dir=$1 name=$2 crasher seed
  tail -n 40 "$log"
  echo
  echo "FAIL: $dir $name"
  # go test prints the crasher path relative to the package directory.
  if crasher=$(grep -o -E 'testdata/fuzz/[A-Za-z0-9_]+/[A-Za-z0-9_.-]+' "$log" | tail -n 1); then
    echo "failing input: $dir/$crasher"
    echo "replay it with: go test -run='^$name/$(basename "$crasher")\$' ./$dir/"
  elif seed=$(grep -o -E 'seed corpus entry: [^ ]+' "$log" | tail -n 1); then
    echo "failing $seed (see $dir/testdata/fuzz/$name/ or the f.Add seeds of $name)"
  fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

count=0
start=$SECONDS
while read -r dir name; do
  if [ -n "$FUZZ_ONLY" ] && ! [[ "$dir/$name" =~ $FUZZ_ONLY ]]; then
    continue
  fi
  count=$((count + 1))
  t0=$SECONDS
  echo "== $dir $name ($FUZZTIME)"
  if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" \
    -fuzzminimizetime="$FUZZMINIMIZETIME" "./$dir/" </dev/null >"$log" 2>&1; then
    if deadline_race "$log"; then
      echo "   ok in $((SECONDS - t0))s (the seeds passed and no input failed; Go's fuzz coordinator"
      echo "   then reported its own stop deadline, go.dev/issue/75804)"
      continue
    fi
    report_failure "$dir" "$name"
    exit 1
  fi
  echo "   ok in $((SECONDS - t0))s"
done < <(targets)

if [ "$count" -eq 0 ]; then
  echo "no fuzz target matched${FUZZ_ONLY:+ FUZZ_ONLY=$FUZZ_ONLY}" >&2
  exit 1
fi
echo "== $count fuzz targets passed in $((SECONDS - start))s"
