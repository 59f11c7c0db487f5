#!/usr/bin/env bash
# make bench: the Go benchmarks, then — in the same run — the raw SQLite insert baseline
# and a short cdtload against a real `cdtsync serve` on 127.0.0.1, and the ratio
# server-ingest / raw-500-row-limit. See docs/BENCHMARKS.md.
#
# Environment (all optional):
#   GO=go BIN=bin             the go command; where `make build` put cdtsync and cdtload
#   BENCH_GO=1                run the Go benchmarks (0: skip them)
#   BENCHTIME=2s              -benchtime of the Go benchmarks
#   BENCH_DIR=.artifacts      where the run's folder goes (data, logs, JSON summaries).
#                             It must be on the disk a server would use, not a tmpfs:
#                             fsync is the point.
#   BENCH_KEEP=0              1: keep the server's data directory afterwards
#   BENCH_RUNS=1              raw + load pairs to run against the one server (each prints
#                             its ratio; the summary lists them all)
#   LOAD_DEVICES=32 LOAD_BATCH=500 LOAD_DURATION=20s LOAD_ARGS=   the cdtload run
#   RAW_ROWS=100000 RAW_REPEAT=3                                  the raw baseline
#   BENCH_STORM=0             1: also run the storm (STORM_DEVICES=10000 STORM_OUTBOX=50
#                             STORM_WINDOW=60s STORM_ARGS=); it is stopped if the server's
#                             RSS passes STORM_ABORT_RSS_MB=4096 (other work shares the machine)
set -euo pipefail

GO=${GO:-go}
BIN=${BIN:-bin}
BENCH_GO=${BENCH_GO:-1}
BENCHTIME=${BENCHTIME:-2s}
BENCH_DIR=${BENCH_DIR:-.artifacts}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_RUNS=${BENCH_RUNS:-1}
LOAD_DEVICES=${LOAD_DEVICES:-32}
LOAD_BATCH=${LOAD_BATCH:-500}
LOAD_DURATION=${LOAD_DURATION:-20s}
LOAD_ARGS=${LOAD_ARGS:-}
RAW_ROWS=${RAW_ROWS:-100000}
RAW_REPEAT=${RAW_REPEAT:-3}
BENCH_STORM=${BENCH_STORM:-0}
STORM_DEVICES=${STORM_DEVICES:-10000}
STORM_OUTBOX=${STORM_OUTBOX:-50}
STORM_WINDOW=${STORM_WINDOW:-60s}
STORM_ARGS=${STORM_ARGS:-}
STORM_ABORT_RSS_MB=${STORM_ABORT_RSS_MB:-4096}

say() { printf '\n== %s\n' "$*"; }

# jsonnum KEY FILE prints the first number of "KEY": in a JSON summary, or nothing.
jsonnum() { (sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$2" 2>/dev/null || true) | head -1; }

# run runs a step in the background and waits for it, so that an interrupt is handled at
# once (bash runs traps only between foreground commands) and reaches the step too.
CHILD=""
run() {
	"$@" &
	CHILD=$!
	local rc=0
	wait "$CHILD" || rc=$?
	CHILD=""
	return $rc
}

for b in cdtsync cdtload; do
	[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b is missing: run make build" >&2; exit 1; }
done

if [ "$BENCH_GO" = 1 ]; then
	say "Go benchmarks (-benchtime $BENCHTIME)"
	pkgs=$(grep -rl --include='*_test.go' '^func Benchmark' . | xargs -n1 dirname | sort -u)
	# shellcheck disable=SC2086
	run $GO test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" $pkgs
fi

mkdir -p "$BENCH_DIR"
RUN=$(mktemp -d "$BENCH_DIR/bench-$(date +%Y%m%d-%H%M%S)-XXXX")
DATA="$RUN/data"
SERVER_PID=""
cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [ "$BENCH_KEEP" != 1 ]; then rm -rf "$DATA"; fi
}
on_signal() {
	if [ -n "$CHILD" ]; then kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
	exit 130
}
trap cleanup EXIT
trap on_signal INT TERM

say "Machine"
echo "cpus: $(nproc) × $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); kernel $(uname -r); $($GO version)"
echo "disk of $RUN: $(df -hT "$RUN" | awk 'NR==2 {print $1, $2, $3}')"
echo "code: $(git describe --always --dirty 2>/dev/null || echo unknown) (dirty: other engineers' uncommitted work was built too)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews every figure; compare ratios from one run)"

say "Deployment: cdtsync demo, an admin made with cdtsync user add"
run "$BIN/cdtsync" demo --data "$DATA" >"$RUN/demo.txt"
PROVINCE=$(sed -n 's/.*Tỉnh Đồng Tháp (unit \([0-9]*\)).*/\1/p' "$RUN/demo.txt" | head -1)
SADEC=$(sed -n 's/.*Phường Sa Đéc (unit \([0-9]*\)).*/\1/p' "$RUN/demo.txt" | head -1)
[ -n "$PROVINCE" ] && [ -n "$SADEC" ] || { echo "bench: cannot read the unit ids from cdtsync demo:" >&2; cat "$RUN/demo.txt" >&2; exit 1; }
ADMIN=bench.admin
export CDTSYNC_PASSWORD="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
"$BIN/cdtsync" user add --role admin --username "$ADMIN" --unit "$PROVINCE" --name "Quản trị viên đo tải" --data "$DATA" >/dev/null
export CDTLOAD_PASSWORD="$CDTSYNC_PASSWORD"
echo "Tỉnh Đồng Tháp is unit $PROVINCE, Phường Sa Đéc unit $SADEC; admin $ADMIN"

say "cdtsync serve on 127.0.0.1"
# --trust-proxy: every simulated phone enrols from its own X-Forwarded-For address, as
# phones behind a reverse proxy do; without it the enrolment throttle would pace the setup.
"$BIN/cdtsync" serve --addr 127.0.0.1:0 --data "$DATA" --trust-proxy >"$RUN/serve.out" 2>"$RUN/serve.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
	URL=$(sed -n 's/.*serving at \(http:[^ ]*\).*/\1/p' "$RUN/serve.out" | head -1)
	[ -n "$URL" ] && break
	kill -0 "$SERVER_PID" 2>/dev/null || { echo "bench: cdtsync serve exited:" >&2; tail -20 "$RUN/serve.log" >&2; exit 1; }
	sleep 0.1
done
[ -n "$URL" ] || { echo "bench: cdtsync serve did not start" >&2; exit 1; }
echo "pid $SERVER_PID at $URL; its log: $RUN/serve.log"

ratios=()
for n in $(seq 1 "$BENCH_RUNS"); do
	say "Raw SQLite baseline, run $n ($RAW_ROWS rows per size, $RAW_REPEAT times, in $RUN)"
	run "$BIN/cdtload" raw --dir "$RUN" --rows "$RAW_ROWS" --repeat "$RAW_REPEAT" --quiet --json-out "$RUN/raw-$n.json"

	say "cdtload, run $n: $LOAD_DEVICES devices, batch $LOAD_BATCH, $LOAD_DURATION"
	# shellcheck disable=SC2086
	run "$BIN/cdtload" --server "$URL" --user "$ADMIN" --unit "$SADEC" --devices "$LOAD_DEVICES" --batch "$LOAD_BATCH" \
		--duration "$LOAD_DURATION" --server-pid "$SERVER_PID" --baseline "$RUN/raw-$n.json" --quiet \
		--json-out "$RUN/load-$n.json" $LOAD_ARGS || echo "bench: cdtload reported a failure (see above)"
	# The machine's speed drifts within minutes: measure the 500-row rate again right after
	# the load, and compare the load with the mean of before and after.
	say "Raw SQLite baseline again, 500-row transactions, after load run $n"
	run "$BIN/cdtload" raw --dir "$RUN" --rows "$RAW_ROWS" --repeat 1 --tx 500 --pk-only=false --quiet \
		--json-out "$RUN/raw-after-$n.json"
	ops=$(jsonnum ops_per_sec "$RUN/load-$n.json")
	before=$(jsonnum rows_per_sec_500tx "$RUN/raw-$n.json")
	after=$(jsonnum rows_per_sec_500tx "$RUN/raw-after-$n.json")
	ratios+=("$(awk -v o="$ops" -v b="$before" -v a="$after" 'BEGIN {
		if (o == "" || b == "" || a == "") { print "n/a"; exit }
		printf "%.0f ops/s ÷ mean(%.0f before, %.0f after) rows/s = %.1f %%", o, b, a, 100 * o / ((a + b) / 2) }')")
done

if [ "$BENCH_STORM" = 1 ]; then
	say "Storm: $STORM_DEVICES devices × $STORM_OUTBOX ops within $STORM_WINDOW"
	# shellcheck disable=SC2086
	run "$BIN/cdtload" --storm --server "$URL" --user "$ADMIN" --unit "$SADEC" --devices "$STORM_DEVICES" \
		--outbox "$STORM_OUTBOX" --window "$STORM_WINDOW" --team "Tổ CNSCĐ bão đồng bộ (cdtload)" \
		--server-pid "$SERVER_PID" --abort-rss-mb "$STORM_ABORT_RSS_MB" --quiet --json-out "$RUN/storm.json" $STORM_ARGS || echo "bench: the storm reported a failure (see above)"
fi

say "Summary"
for i in "${!ratios[@]}"; do
	echo "run $((i + 1)): server ingest / raw SQLite 500-row rate: ${ratios[$i]} (target ≥ 60 %)"
done
echo "JSON summaries and the server's log: $RUN"
