#!/usr/bin/env bash
# Runs a test binary of the `axum-login-tests` package RUNS times in a row while two busy-loop
# threads keep the machine's cores occupied, and stops at the first failing run. For tests that
# race, time out or poll: a pass under load, many times over, is what says they are not flaky.
# Not part of CI (it takes long by design).
#
#   tests/stress/loop.sh RUNS BINARY [TEST-FILTER...]
#   tests/stress/loop.sh 200 session_stores mariadb::fifty_logouts
#   BUSY=0 tests/stress/loop.sh 50 registry        # without the busy loops
#
# The services come from the same variables as the suite's (DATABASE_URL_POSTGRES,
# DATABASE_URL_MYSQL, REDIS_URL; `CI=true` makes a missing one fail rather than skip). Each
# run's output goes to $LOG_DIR (default /tmp/axum-login-loop), and the last line printed is
# `BINARY: N passed, N failed` counting runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs="${1:?usage: tests/stress/loop.sh RUNS BINARY [TEST-FILTER...]}"
binary="${2:?usage: tests/stress/loop.sh RUNS BINARY [TEST-FILTER...]}"
shift 2
busy="${BUSY:-2}"
log_dir="${LOG_DIR:-/tmp/axum-login-loop}"
mkdir -p "$log_dir"

executable=$(cargo test -p axum-login-tests --all-features --test "$binary" --no-run \
  --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["executable"])' | tail -n 1)
[ -x "$executable" ] || { echo "error: could not build the test binary $binary" >&2; exit 2; }
# A copy, so that a rebuild during the loop does not change what is being run.
cp "$executable" "$log_dir/$binary.bin"
executable="$log_dir/$binary.bin"

spinners=()
stop_spinners() { for pid in "${spinners[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_spinners EXIT
for _ in $(seq 1 "$busy"); do
  (while :; do :; done) &
  spinners+=("$!")
done

passed=0
failed=0
start=$(date +%s)
for run in $(seq 1 "$runs"); do
  log="$log_dir/$binary-$run.log"
  # cargo runs a test binary in its package's directory; so does this.
  if (cd tests && "$executable" "$@") >"$log" 2>&1; then
    passed=$((passed + 1))
    rm -f "$log"
  else
    failed=$((failed + 1))
    echo "run $run failed; its output: $log" >&2
    break
  fi
done
echo "$binary ($busy busy threads, $(( $(date +%s) - start )) s): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
