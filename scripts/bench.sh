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
#   BENCH_PG=0                1: also the PostgreSQL store (issue 10), after the SQLite runs:
#                             a fresh database in the PostgreSQL that CDTSYNC_TEST_DATABASE_URL
#                             names (without it the script runs itself under scripts/pg-test.sh,
#                             which starts a throwaway PostgreSQL on 127.0.0.1); the demo loaded
#                             into it; then PG_RUNS times: the bare pgx baseline (cdtload raw
#                             --database), cdtload against ONE `cdtsync serve --database`, cdtload
#                             against PG_SERVERS=3 of them (round robin), the baseline again;
#                             ratio = load ÷ mean(baseline before, after). The 1- and 3-process
#                             loads alternate in order from run to run (the database grows).
#   PG_RUNS=$BENCH_RUNS       PostgreSQL runs; PG_RAW_ROWS=100000 PG_RAW_REPEAT=3 PG_RAW_CONNS=1,2,4
#   PG_STATEMENTS=0           1: the throwaway PostgreSQL loads pg_stat_statements (planning
#                             tracked too), and after each PostgreSQL load the statements that
#                             took the most time are listed (calls, rows, plans, time)
#   BENCH_MIGRATE=0           1: also time `cdtsync migrate-store` (SQLite → PostgreSQL, issue 10)
#                             on a province-sized SQLite database: cdtload fills the SQLite
#                             server with MIGRATE_LOGS=1000000 more ops (~3 % edits and deletes
#                             among them), the server stops, and the move runs into a fresh
#                             PostgreSQL database (as for BENCH_PG); copy and rebuild times,
#                             rows, and both databases' sizes
#   The field's shape — phones of many small teams pushing ~20 ops — is, for example:
#     BENCH_PG=1 LOAD_DEVICES=64 LOAD_BATCH=20 LOAD_ARGS="--teams 8" make bench
set -euo pipefail

BENCH_PG=${BENCH_PG:-0}
BENCH_MIGRATE=${BENCH_MIGRATE:-0}
if { [ "$BENCH_PG" = 1 ] || [ "$BENCH_MIGRATE" = 1 ]; } && [ -z "${CDTSYNC_TEST_DATABASE_URL:-}" ]; then
	# The lock table as docs/SCALING.md asks a deployment to size it.
	if [ "${PG_STATEMENTS:-0}" = 1 ]; then
		export PG_OPTS="${PG_OPTS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on"
	fi
	PG_STANDBY=${PG_STANDBY:-0} PG_MAX_LOCKS=${PG_MAX_LOCKS:-1024} exec "$(dirname "$0")/pg-test.sh" "$0" "$@"
fi

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
PG_RUNS=${PG_RUNS:-$BENCH_RUNS}
PG_STATEMENTS=${PG_STATEMENTS:-0}
PG_SERVERS=${PG_SERVERS:-3}
PG_RAW_ROWS=${PG_RAW_ROWS:-100000}
PG_RAW_REPEAT=${PG_RAW_REPEAT:-3}
PG_RAW_CONNS=${PG_RAW_CONNS:-1,2,4}
MIGRATE_LOGS=${MIGRATE_LOGS:-1000000}

say() { printf '\n== %s\n' "$*"; }

# jsonnum KEY FILE prints the first number of "KEY": in a JSON summary, or nothing.
jsonnum() { (sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$2" 2>/dev/null || true) | head -1; }

# wait_serving PID OUT LOG NAME TRIES prints the URL a starting `cdtsync serve` announces
# in OUT, polling every 0.1 s; it fails, with LOG's tail, if the server exits or is silent.
wait_serving() {
	local pid=$1 out=$2 log=$3 name=$4 tries=$5 url=""
	for _ in $(seq 1 "$tries"); do
		url=$(sed -n 's/.*serving at \(http:[^ ]*\).*/\1/p' "$out" | head -1)
		[ -n "$url" ] && { echo "$url"; return 0; }
		kill -0 "$pid" 2>/dev/null || { echo "bench: $name exited:" >&2; tail -20 "$log" >&2; return 1; }
		sleep 0.1
	done
	echo "bench: $name did not start" >&2
	return 1
}

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
PG_PIDS=()
PG_DB_URL=""
WAITS_PID=""
# stop_pid ends one server we started: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
	local pid=$1
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
}
cleanup() {
	if [ -n "$WAITS_PID" ]; then kill "$WAITS_PID" 2>/dev/null || true; wait "$WAITS_PID" 2>/dev/null || true; fi
	stop_pid "$SERVER_PID"
	for pid in "${PG_PIDS[@]}"; do stop_pid "$pid"; done
	if [ "$BENCH_KEEP" != 1 ]; then
		rm -rf "$DATA" "${RUN:-/nonexistent}"/pg-data-*
		if [ -n "$PG_DB_URL" ]; then psql_cmd -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
	fi
}
# psql_db runs psql on the bench database (PG_DB).
# psql_url URL ARGS… runs psql on URL; psql_cmd on the cluster's test database, psql_db
# on the bench database (PG_DB).
psql_url() {
	local psql url=$1
	shift
	psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
	"$psql" "$url" -v ON_ERROR_STOP=1 -q "$@"
}
psql_db() { psql_url "$PG_DB_URL" "$@"; }
psql_cmd() { psql_url "$CDTSYNC_TEST_DATABASE_URL" "$@"; }
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
if [ "$BENCH_PG" = 1 ] || [ "$BENCH_MIGRATE" = 1 ]; then
	echo "PostgreSQL: $(psql_cmd -At -c "SELECT version()" | cut -d, -f1) at ${CDTSYNC_TEST_DATABASE_URL%%/cdtsync_test*}; $(psql_cmd -At -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level', 'max_wal_size')")"
fi

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
URL=$(wait_serving "$SERVER_PID" "$RUN/serve.out" "$RUN/serve.log" "cdtsync serve" 300) || exit 1
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

# ratio_of LOAD.json BEFORE.json AFTER.json prints load ÷ mean(before, after) of the baselines'
# 500-row rates.
ratio_of() {
	local ops before after
	ops=$(jsonnum ops_per_sec "$1")
	before=$(jsonnum rows_per_sec_500tx "$2")
	after=$(jsonnum rows_per_sec_500tx "$3")
	awk -v o="$ops" -v b="$before" -v a="$after" 'BEGIN {
		if (o == "" || b == "" || a == "") { print "n/a"; exit }
		printf "%.0f ops/s ÷ mean(%.0f before, %.0f after) rows/s = %.1f %%", o, b, a, 100 * o / ((a + b) / 2) }'
}

# start_pg_server N starts `cdtsync serve` number N on the PostgreSQL database, with its own
# data directory holding a copy of the shared keys, and sets PG_URL_N and PG_PID_N.
start_pg_server() {
	local n=$1 dir="$RUN/pg-data-$1" url="" pid
	if [ ! -d "$dir" ]; then
		mkdir -p "$dir"
		cp -a "$RUN/pg-data-1/keys" "$dir/"
	fi
	"$BIN/cdtsync" serve --addr 127.0.0.1:0 --data "$dir" --database "$PG_DB_URL" --trust-proxy >"$dir/serve.out" 2>>"$dir/serve.log" &
	pid=$!
	PG_PIDS+=("$pid")
	url=$(wait_serving "$pid" "$dir/serve.out" "$dir/serve.log" "cdtsync serve $n" 600) || exit 1
	printf -v "PG_URL_$n" '%s' "$url"
	printf -v "PG_PID_$n" '%s' "$pid"
	echo "serve $n: pid $pid at $url (--data $dir)"
}

# stop_pg_servers stops every PostgreSQL-backed server started so far.
stop_pg_servers() {
	for pid in "${PG_PIDS[@]}"; do stop_pid "$pid"; done
	PG_PIDS=()
}

# pg_ticks prints "pid ticks" (user + system CPU, 1/100 s) of every PostgreSQL backend
# serving the bench database: the work the servers' queries cost PostgreSQL.
pg_ticks() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}; pid=${pid%/cmdline}
		if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q "^postgres: [^ ]* $PG_DB "; then
			awk -v p="$pid" '{ sub(/.*\) /, ""); print p, $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || true
		fi
	done
}

# pg_side BEFORE AFTER WAL0 SECONDS OPS prints what the load cost PostgreSQL: its backends'
# CPU (pids in AFTER missing from BEFORE started at 0) and the WAL written, per op.
pg_side() {
	local wal
	wal=$(psql_cmd -At -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$3')")
	awk -v secs="$4" -v ops="$5" -v wal="$wal" -v cores="$(nproc)" '
		FNR == NR { before[$1] = $2; next }
		{ cpu += $2 - ($1 in before ? before[$1] : 0) }
		END { printf "PostgreSQL backends: CPU %.1f s = %.1f %% of the machine; WAL %.0f MB = %.2f kB per acknowledged op\n",
			cpu / 100, 100 * cpu / 100 / (secs * cores), wal / 1048576, (ops > 0 ? wal / 1024 / ops : 0) }' "$1" "$2"
}

# pg_waits FILE samples, every 0.5 s until killed, what each active backend of the bench
# database waits for (CPU: not waiting), with the class of an advisory lock it waits on
# (store/postgres/locks.go: 1 op, 2 log, 3 group, 4 reports, 5 report member).
pg_waits() {
	while :; do
		psql_cmd -At -c "SELECT coalesce(a.wait_event_type, 'CPU') || ':' || coalesce(a.wait_event, '-') ||
			coalesce(' class ' || (l.classid::bigint >> 24)::text, '')
			FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted AND l.locktype = 'advisory'
			WHERE a.state = 'active' AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
			AND a.datname = '$PG_DB'" >>"$1" 2>/dev/null || true
		sleep 0.5
	done
}

# pg_load NAME SERVERS RUN: cdtload against SERVERS `cdtsync serve` processes.
pg_load() {
	local name=$1 k=$2 n=$3 urls="" pids="" i u p
	for i in $(seq 1 "$k"); do start_pg_server "$i"; done
	for i in $(seq 1 "$k"); do
		u="PG_URL_$i" p="PG_PID_$i"
		urls="$urls${urls:+,}${!u}" pids="$pids${pids:+,}${!p}"
	done
	say "cdtload against $k PostgreSQL-backed server process(es), run $n: $LOAD_DEVICES devices, batch $LOAD_BATCH, $LOAD_DURATION (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	local wal0 t0
	if [ "$PG_STATEMENTS" = 1 ]; then
		psql_db -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
	fi
	pg_ticks >"$RUN/$name-$n.ticks0"
	wal0=$(psql_cmd -At -c "SELECT pg_current_wal_lsn()")
	t0=$(date +%s.%N)
	pg_waits "$RUN/$name-$n.waits" &
	WAITS_PID=$!
	# shellcheck disable=SC2086
	run "$BIN/cdtload" --server "$urls" --user "$ADMIN" --unit "$SADEC" --devices "$LOAD_DEVICES" --batch "$LOAD_BATCH" \
		--duration "$LOAD_DURATION" --server-pid "$pids" --baseline "$RUN/raw-pg-$n.json" --quiet \
		--json-out "$RUN/$name-$n.json" $LOAD_ARGS || echo "bench: cdtload reported a failure (see above)"
	kill "$WAITS_PID" 2>/dev/null || true
	wait "$WAITS_PID" 2>/dev/null || true
	WAITS_PID=""
	pg_ticks >"$RUN/$name-$n.ticks1"
	pg_side "$RUN/$name-$n.ticks0" "$RUN/$name-$n.ticks1" "$wal0" "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { print a - b }')" \
		"$(jsonnum ops_acked "$RUN/$name-$n.json")" | tee "$RUN/$name-$n.pgside"
	echo "active backends of the database, sampled every 0.5 s (what they wait for):"
	sort "$RUN/$name-$n.waits" | uniq -c | sort -rn | head -8
	if [ "$PG_STATEMENTS" = 1 ]; then
		echo "statements by time (pg_stat_statements; time includes waits): ms, calls, rows, plans, statement"
		psql_db -At -F' | ' -c "SELECT round(total_exec_time + total_plan_time), calls, rows, plans,
			left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements
			WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
			ORDER BY total_exec_time + total_plan_time DESC LIMIT 12" | tee "$RUN/$name-$n.statements"
	fi
	stop_pg_servers
}

# new_pg_db PREFIX creates a fresh database in the test PostgreSQL and prints its URL.
new_pg_db() {
	local name="$1_$(date +%H%M%S)_$$"
	psql_cmd -c "CREATE DATABASE $name" >/dev/null
	printf '%s' "$CDTSYNC_TEST_DATABASE_URL" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$name#"
}

if [ "$BENCH_MIGRATE" = 1 ]; then
	say "migrate-store: $MIGRATE_LOGS more ops into the SQLite server, then the move to PostgreSQL"
	run "$BIN/cdtload" --server "$URL" --user "$ADMIN" --unit "$SADEC" --devices 32 --batch 500 --count "$MIGRATE_LOGS" \
		--team "Tổ CNSCĐ chuyển kho (cdtload)" --quiet --json-out "$RUN/migrate-fill.json" || echo "bench: cdtload reported a failure (see above)"
	stop_pid "$SERVER_PID"
	SERVER_PID=""
	MIGRATE_URL=$(new_pg_db cdtsync_migrate)
	echo "SQLite: $(du -sh "$DATA/cdtsync.db" | cut -f1) in $DATA/cdtsync.db (the table counts follow)"
	t0=$(date +%s.%N)
	run "$BIN/cdtsync" migrate-store --from "$DATA" --to "$MIGRATE_URL" | tee "$RUN/migrate.txt"
	echo "migrate-store took $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s in all; PostgreSQL database: $(psql_url "$MIGRATE_URL" -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
fi

pg_ratios1=()
pg_ratios3=()
if [ "$BENCH_PG" = 1 ]; then
	stop_pid "$SERVER_PID" # the SQLite server: idle from here on, but not in the way
	SERVER_PID=""
	PG_DB_URL=$(new_pg_db cdtsync_bench)
	PG_DB=$(printf '%s' "$PG_DB_URL" | sed -E 's#^postgres(ql)?://[^/]*/([^?]*).*#\2#')
	say "PostgreSQL: database $PG_DB, the demo loaded into it, an admin"
	mkdir -p "$RUN/pg-data-1"
	"$BIN/cdtsync" keys rotate --data "$RUN/pg-data-1" >/dev/null # the keys every server process shares
	run "$BIN/cdtsync" demo --data "$RUN/pg-data-1" --database "$PG_DB_URL" >"$RUN/pg-demo.txt"
	PROVINCE=$(sed -n 's/.*Tỉnh Đồng Tháp (unit \([0-9]*\)).*/\1/p' "$RUN/pg-demo.txt" | head -1)
	SADEC=$(sed -n 's/.*Phường Sa Đéc (unit \([0-9]*\)).*/\1/p' "$RUN/pg-demo.txt" | head -1)
	[ -n "$PROVINCE" ] && [ -n "$SADEC" ] || { echo "bench: cannot read the unit ids from cdtsync demo:" >&2; cat "$RUN/pg-demo.txt" >&2; exit 1; }
	"$BIN/cdtsync" user add --role admin --username "$ADMIN" --unit "$PROVINCE" --name "Quản trị viên đo tải" \
		--data "$RUN/pg-data-1" --database "$PG_DB_URL" >/dev/null
	echo "Tỉnh Đồng Tháp is unit $PROVINCE, Phường Sa Đéc unit $SADEC; admin $ADMIN"
	for n in $(seq 1 "$PG_RUNS"); do
		say "Bare pgx baseline, run $n ($PG_RAW_ROWS rows, batches of 500, $PG_RAW_CONNS connections, $PG_RAW_REPEAT times; load average $(cut -d' ' -f1-3 /proc/loadavg))"
		run "$BIN/cdtload" raw --database "$PG_DB_URL" --rows "$PG_RAW_ROWS" --repeat "$PG_RAW_REPEAT" --conns "$PG_RAW_CONNS" \
			--quiet --json-out "$RUN/raw-pg-$n.json"
		if [ $((n % 2)) = 1 ]; then
			pg_load pg1 1 "$n"
			pg_load "pg$PG_SERVERS" "$PG_SERVERS" "$n"
		else
			pg_load "pg$PG_SERVERS" "$PG_SERVERS" "$n"
			pg_load pg1 1 "$n"
		fi
		say "Bare pgx baseline again, after run $n"
		run "$BIN/cdtload" raw --database "$PG_DB_URL" --rows "$PG_RAW_ROWS" --repeat "$PG_RAW_REPEAT" --conns "$PG_RAW_CONNS" \
			--quiet --json-out "$RUN/raw-pg-after-$n.json"
		pg_ratios1+=("$(ratio_of "$RUN/pg1-$n.json" "$RUN/raw-pg-$n.json" "$RUN/raw-pg-after-$n.json")")
		pg_ratios3+=("$(ratio_of "$RUN/pg$PG_SERVERS-$n.json" "$RUN/raw-pg-$n.json" "$RUN/raw-pg-after-$n.json")")
		echo "run $n: 1 process: ${pg_ratios1[-1]}; $PG_SERVERS processes: ${pg_ratios3[-1]}"
	done
fi

say "Summary"
for i in "${!ratios[@]}"; do
	echo "run $((i + 1)): server ingest / raw SQLite 500-row rate: ${ratios[$i]} (target ≥ 60 %)"
done
for i in "${!pg_ratios1[@]}"; do
	echo "PostgreSQL run $((i + 1)): 1 server process / bare pgx 500-row rate: ${pg_ratios1[$i]} (target ≥ 50 %)"
	echo "PostgreSQL run $((i + 1)): $PG_SERVERS server processes / bare pgx 500-row rate: ${pg_ratios3[$i]} (target ≥ 50 %)"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "JSON summaries and the servers' logs: $RUN"
