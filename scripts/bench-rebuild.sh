#!/usr/bin/env bash
# bench-rebuild.sh: pushes while the report aggregates are rebuilt, on a PostgreSQL
# database of province size (docs/BENCHMARKS.md → "Rebuilding the aggregates while phones
# push").
#
#   scripts/bench-rebuild.sh SOURCE_URL BIN_DIR [BIN_DIR…]
#
# SOURCE_URL is a PostgreSQL database holding a deployment with the demo's sign-ins (for
# example the one `BENCH_MIGRATE=1 make bench` leaves: cdtsync_migrate_*, 929,000 logs).
# For each BIN_DIR (a folder with cdtsync and cdtload, e.g. bin/ or a build of another
# commit) the script:
#   1. copies SOURCE_URL's database (CREATE DATABASE … TEMPLATE) and starts
#      `BIN_DIR/cdtsync serve` on the copy;
#   2. runs cdtload against it: LOAD_DEVICES phones (8) pushing LOAD_BATCH ops (20) back to
#      back, as the admin `admin` of the demo, for at most LOAD_DURATION (3600 s);
#   3. STALE_AT seconds (30) into the load marks the aggregates stale, as an import that
#      moves a hamlet does, and asks for a coverage report as the province officer
#      `dongthap` (which, before the build runs in the background, is what started it);
#   4. polls meta.rpt_state each second until the aggregates are ready again, lets the
#      pushes go on AFTER_READY seconds (30) more, and stops cdtload (SIGTERM: it prints
#      and writes its summary of the run so far).
# It prints when the build started and ended, the report request's status and time, the
# pushes' acknowledged ops per 5 s (cdtload's progress lines, with the clock) and cdtload's
# summary with push latencies; everything is kept in .artifacts/bench-rebuild-*/.
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,22p' "$0" >&2; exit 2; }
SRC_URL=$1
shift
LOAD_DEVICES=${LOAD_DEVICES:-8}
LOAD_BATCH=${LOAD_BATCH:-20}
LOAD_DURATION=${LOAD_DURATION:-3600s}
AFTER_READY=${AFTER_READY:-30}
PREBUILD_RATE=${PREBUILD_RATE:-300} # bodies built before the clock: rate × duration of them
STALE_AT=${STALE_AT:-30}
PASSWORD=cdtsync-demo-2026

RUN=.artifacts/bench-rebuild-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN"
SRC_DB=$(printf '%s' "$SRC_URL" | sed -E 's#^postgres(ql)?://[^/]*/([^?]*).*#\2#')
url_of() { printf '%s' "$SRC_URL" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$1#"; }
psql_on() { psql "$1" -X -q -v ON_ERROR_STOP=1 "${@:2}"; }
ADMIN_URL=$(url_of postgres)

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "source: $SRC_DB, $(psql_on "$SRC_URL" -At -c "SELECT count(*) FROM logs") logs, $(psql_on "$SRC_URL" -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"

n=0
for BIN in "$@"; do
	n=$((n + 1))
	DB="rebuild_${n}_$$"
	echo
	echo "== $BIN: copy of $SRC_DB as $DB"
	psql_on "$ADMIN_URL" -c "CREATE DATABASE $DB TEMPLATE $SRC_DB"
	URL=$(url_of "$DB")
	SADEC=$(psql_on "$URL" -At -c "SELECT id FROM units WHERE name = 'Phường Sa Đéc' LIMIT 1")
	PROVINCE=$(psql_on "$URL" -At -c "SELECT id FROM units WHERE name = 'Tỉnh Đồng Tháp' LIMIT 1")
	DATA=$RUN/data-$n
	mkdir -p "$DATA"
	"$BIN/cdtsync" serve --addr 127.0.0.1:0 --data "$DATA" --database "$URL" --trust-proxy >"$RUN/serve-$n.out" 2>"$RUN/serve-$n.log" &
	SERVER=$!
	trap 'kill $SERVER 2>/dev/null || true' EXIT
	SERVER_URL=""
	for _ in $(seq 1 600); do
		SERVER_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$RUN/serve-$n.out" | head -1 || true)
		[ -n "$SERVER_URL" ] && break
		kill -0 "$SERVER" 2>/dev/null || { cat "$RUN/serve-$n.log" >&2; exit 1; }
		sleep 0.5
	done
	echo "serving at $SERVER_URL (pid $SERVER)"
	TOKEN=$(curl -s "$SERVER_URL/v1/auth/login" -H 'Content-Type: application/json' \
		-d "{\"username\":\"dongthap\",\"password\":\"$PASSWORD\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')

	T0=$(date +%s.%N)
	CDTLOAD_PASSWORD=$PASSWORD "$BIN/cdtload" --server "$SERVER_URL" --user admin --unit "$SADEC" \
		--devices "$LOAD_DEVICES" --batch "$LOAD_BATCH" --duration "$LOAD_DURATION" --prebuild-rate "$PREBUILD_RATE" \
		--team "Tổ CNSCĐ đo tính lại báo cáo" --server-pid "$SERVER" --json-out "$RUN/load-$n.json" \
		>"$RUN/load-$n.txt" 2> >(while IFS= read -r l; do printf '%6.1f  %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$l"; done >"$RUN/progress-$n.txt") &
	LOAD=$!
	# The clock of the progress lines starts before cdtload's setup (enrolling the phones);
	# cdtload's own seconds start with the pushes.
	sleep "$STALE_AT"
	psql_on "$URL" -c "INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale') ON CONFLICT (key) DO UPDATE SET value = excluded.value"
	TS=$(date +%s.%N)
	printf 'aggregates marked stale at %.1f s\n' "$(echo "$TS - $T0" | bc)"
	( curl -s -o "$RUN/report-$n.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" \
		"$SERVER_URL/v1/reports/coverage?unit=$PROVINCE&from=2026-11-01&to=2026-11-30" >"$RUN/report-$n.status" ) &
	REPORT=$!
	while :; do
		state=$(psql_on "$URL" -At -c "SELECT coalesce((SELECT value FROM meta WHERE key = 'rpt_state'), 'ready')
			|| coalesce(' ' || (SELECT value FROM meta WHERE key = 'rpt_build_done') || '/' || (SELECT value FROM meta WHERE key = 'rpt_build_total'), '')")
		printf '%6.1f  %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$state" >>"$RUN/state-$n.txt"
		[ "$state" = ready ] && break
		kill -0 "$LOAD" 2>/dev/null || { echo "the load ended before the aggregates were ready"; break; }
		sleep 1
	done
	TE=$(date +%s.%N)
	printf 'aggregates ready at %.1f s: %.1f s after they were marked stale\n' "$(echo "$TE - $T0" | bc)" "$(echo "$TE - $TS" | bc)"
	wait "$REPORT" || true
	if [ "$state" = ready ]; then
		sleep "$AFTER_READY"
		kill -TERM "$LOAD" 2>/dev/null || true
	fi
	echo "the coverage report asked at the mark: HTTP $(cat "$RUN/report-$n.status") s; $(head -c 300 "$RUN/report-$n.json")"
	wait "$LOAD" || echo "cdtload reported a failure"
	echo "pushes, acknowledged ops every 5 s (seconds since the load started; its own clock after setup):"
	cat "$RUN/progress-$n.txt"
	grep -v '^$' "$RUN/load-$n.txt" | head -40
	grep -h 'report aggregates built\|building the report' "$RUN/serve-$n.log" || true
	kill "$SERVER" 2>/dev/null || true
	wait "$SERVER" 2>/dev/null || true
	psql_on "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" || true
done
echo
echo "kept in $RUN"
