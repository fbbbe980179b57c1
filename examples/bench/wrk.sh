#!/usr/bin/env bash
# The deployment-shape rows driven by wrk, a load generator in a process of its own, as an
# outside comparison measures them: the bench serves the rows (`BENCH_SERVE`), each logged in
# as one user, and wrk runs each row in turn for `SECS` seconds, `ROUNDS` times over. Prints
# each row's requests/s per round and its median, then each of ours against axum-login 0.18,
# round by round (the median of the rounds' ratios).
#
#   DATABASE_URL_POSTGRES=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 \
#     examples/bench/wrk.sh
#
# Knobs: ROWS (default D3,D4,D4d,D7a,D7b,D7d), ROUNDS (5), SECS (5), CONNS (32), THREADS (2),
# BENCH_BIN (target/release/bench, built first when it is the default).
set -euo pipefail

rows=${ROWS:-D3,D4,D4d,D7a,D7b,D7d}
rounds=${ROUNDS:-5}
secs=${SECS:-5}
conns=${CONNS:-32}
threads=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 1; }
: "${DATABASE_URL_POSTGRES:?the D rows need DATABASE_URL_POSTGRES}" "${REDIS_URL:?and REDIS_URL}"
if [[ -z ${BENCH_BIN:-} ]]; then
    cargo build --release -p bench --bin bench
    BENCH_BIN=target/release/bench
fi

served=$(mktemp)
BENCH_SERVE=$rows "$BENCH_BIN" >"$served" 2>"$served.err" &
server=$!
# SIGINT: the bench stops serving and drops its PostgreSQL schema.
stop() { kill -INT "$server" 2>/dev/null && wait "$server" || true; }
trap 'stop; rm -f "$served" "$served.err"' EXIT
until grep -q '^serving' "$served"; do
    kill -0 "$server" 2>/dev/null || { echo "the bench exited before serving:" >&2; cat "$served.err" >&2; exit 1; }
    sleep 0.5
done

results=$(mktemp)
trap 'stop; rm -f "$served" "$served.err" "$results"' EXIT
for round in $(seq "$rounds"); do
    while read -r id url cookie; do
        [[ $id == serving ]] && continue
        report=$(wrk -t"$threads" -c"$conns" -d"${secs}s" -H "Cookie: $cookie" "$url")
        # A row that refuses (a lost session) would measure its refusal: stop instead.
        if grep -q 'Non-2xx' <<<"$report"; then
            echo "row $id answered non-2xx responses:" >&2
            echo "$report" >&2
            exit 1
        fi
        rate=$(awk '/^Requests\/sec/ { print $2 }' <<<"$report")
        echo "$round $id $rate" >>"$results"
        echo "round $round/$rounds: $id $rate" >&2
    done <"$served"
done

python3 - "$results" "$conns" "$threads" "$secs" <<'PY'
import statistics, sys
path, conns, threads, secs = sys.argv[1:]
rates = {}
for line in open(path):
    _, row, rate = line.split()
    rates.setdefault(row, []).append(float(rate))
print(f"wrk -t{threads} -c{conns}, {secs} s per row per round, {len(next(iter(rates.values())))} rounds")
print()
print("| row | requests/s per round | median |")
print("| --- | --- | ---: |")
for row, values in rates.items():
    print(f"| {row} | {' '.join(f'{v:.0f}' for v in values)} | {statistics.median(values):.0f} |")
print()
for ours, theirs in [("D4", "D3"), ("D4d", "D3"), ("D7b", "D7a"), ("D7d", "D7a"), ("D4f", "D4")]:
    if ours in rates and theirs in rates:
        paired = statistics.median(a / b for a, b in zip(rates[ours], rates[theirs]))
        print(f"- {ours} / {theirs}: {paired:.2f}x round by round")
PY
