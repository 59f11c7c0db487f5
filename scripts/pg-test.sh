#!/usr/bin/env bash
# pg-test.sh CMD [ARGS…] — run CMD with CDTSYNC_TEST_DATABASE_URL pointing at a PostgreSQL
# the tests may fill with throwaway databases.
#
# If CDTSYNC_TEST_DATABASE_URL is already set, CMD runs against that server. If no
# PostgreSQL is installed, CMD runs without one and the PostgreSQL tests skip — except with
# CI=true, where that is an error (.ci/run installs PostgreSQL). Otherwise a
# throwaway cluster is made with PostgreSQL's own initdb in a temporary directory, started
# on 127.0.0.1 and a free port (fsync on: the durability tests mean it), given a role and a
# database, and stopped and removed when CMD ends, however it ends. PostgreSQL refuses to
# run as root: as root, initdb and postgres run as the `postgres` OS user (Debian's
# postgresql package creates it).
#
#   scripts/pg-test.sh go test ./store/postgres/...
#   PG_BIN=/usr/lib/postgresql/16/bin scripts/pg-test.sh make test-postgres
#   PG_KEEP=1 …   keeps the cluster's directory for a look afterwards (printed at the end)
#   PG_STANDBY=0 … no hot standby (CDTSYNC_TEST_REPLICA_PORT unset: the replica tests skip,
#                  or fail with CI=true)
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 CMD [ARGS…]" >&2
	exit 2
fi

if [ -n "${CDTSYNC_TEST_DATABASE_URL:-}" ]; then
	exec "$@"
fi

# The newest installed PostgreSQL, unless PG_BIN says which.
if [ -z "${PG_BIN:-}" ]; then
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "${PG_BIN:-}" ] || [ ! -x "$PG_BIN/postgres" ]; then
	msg="no PostgreSQL server found (/usr/lib/postgresql/*/bin/postgres); install it (sudo apt-get install -y postgresql) or set CDTSYNC_TEST_DATABASE_URL"
	if [ "${CI:-}" = true ]; then
		echo "pg-test.sh: $msg" >&2
		exit 1
	fi
	# A newcomer's machine: everything else runs; the PostgreSQL tests skip (in CI they fail).
	echo "pg-test.sh: WARNING: $msg — the PostgreSQL tests are SKIPPED" >&2
	exec "$@"
fi

as_pg=()
owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	if ! id postgres >/dev/null 2>&1; then
		echo "pg-test.sh: running as root and there is no 'postgres' user to run PostgreSQL as" >&2
		exit 1
	fi
	owner=postgres
	if command -v runuser >/dev/null; then
		as_pg=(runuser -u postgres --)
	else
		as_pg=(su postgres -s /bin/sh -c '"$0" "$@"')
	fi
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/cdtsync-pg.XXXXXX")
chmod 0755 "$dir"
mkdir "$dir/data" "$dir/sock" "$dir/log"
chown "$owner" "$dir/data" "$dir/sock" "$dir/log"
chmod 0700 "$dir/data"

# A free port: the kernel picks one for a socket we close at once.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
		echo $((20000 + RANDOM % 40000))
}
port=$(free_port)

cleanup() {
	status=$?
	if [ -f "$dir/standby/postmaster.pid" ]; then
		"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/standby" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	if [ -n "${PG_KEEP:-}" ]; then
		echo "pg-test.sh: cluster kept in $dir" >&2
	else
		rm -rf "$dir"
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/data" -U cdtsync --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
	"${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/data" -U cdtsync --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	exit 1
}

# start_pg DATADIR PORT LOGNAME OPTIONS… starts a server of the cluster in DATADIR on
# 127.0.0.1:PORT, its log in $dir/log/LOGNAME.log. Every server gets fsync on (the
# default, said here so nobody "speeds up" the tests by turning it off: the tests that kill
# servers with -9 check what was acknowledged is still there), max_connections=300
# (several test packages and three server processes run at once) and
# max_locks_per_transaction: PostgreSQL's default unless PG_MAX_LOCKS says (the benchmarks
# use the size docs/SCALING.md recommends; TestLockTableFull fills the table, faster when
# it is small). A standby's settings must be at least its primary's.
start_pg() {
	local data=$1 p=$2 log="$dir/log/$3.log"
	shift 3
	"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$data" -w -t 60 -l "$log" \
		-o "-c listen_addresses=127.0.0.1 -c port=$p -c unix_socket_directories=$dir/sock -c fsync=on -c max_connections=300 -c max_locks_per_transaction=${PG_MAX_LOCKS:-64} $*" \
		start >/dev/null || {
		cat "$log" >&2
		exit 1
	}
}

# PG_OPTS adds options (bench.sh's PG_STATEMENTS=1 loads pg_stat_statements).
start_pg "$dir/data" "$port" postgres -c synchronous_commit=on -c shared_buffers=256MB ${PG_OPTS:-}

"${as_pg[@]}" "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U cdtsync -d postgres -v ON_ERROR_STOP=1 -q \
	-c "CREATE DATABASE cdtsync_test" >/dev/null

export CDTSYNC_TEST_DATABASE_URL="postgres://cdtsync@127.0.0.1:$port/cdtsync_test?sslmode=disable"

# A hot standby of it, streaming on 127.0.0.1 and another free port, for the tests of
# reports on a read replica (CDTSYNC_TEST_REPLICA_PORT; pgtest.ReplicaURL). PG_STANDBY=0
# leaves it out (the benchmarks do: it replays every write the benchmark makes).
if [ "${PG_STANDBY:-1}" = 1 ]; then
	port2=$(free_port)
	mkdir "$dir/standby"
	chown "$owner" "$dir/standby"
	chmod 0700 "$dir/standby"
	"${as_pg[@]}" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$port" -U cdtsync -D "$dir/standby" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 || {
		cat "$dir/basebackup.log" >&2
		exit 1
	}
	start_pg "$dir/standby" "$port2" standby -c hot_standby=on -c shared_buffers=64MB
	export CDTSYNC_TEST_REPLICA_PORT=$port2
fi
echo "pg-test.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)${port2:+, a hot standby on 127.0.0.1:$port2}" >&2
"$@"
