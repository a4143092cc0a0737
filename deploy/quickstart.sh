#!/usr/bin/env bash
# deploy/quickstart.sh: nodetask's controller on this machine, in one step.
#
#   deploy/quickstart.sh [start]   install packages, build, start a private
#                                  PostgreSQL and the controller on
#                                  127.0.0.1:8080, print an admin key
#   deploy/quickstart.sh status    say what runs
#   deploy/quickstart.sh stop      stop both and remove everything created
#
# Run as root on Debian 12. Everything lives in one state directory
# (NODETASK_QUICKSTART_DIR, default /var/tmp/nodetask-quickstart): the
# PostgreSQL cluster, the controller's pid and log files, the admin key.
# Running start again reuses what already runs. NODETASK_BUILD names the
# build directory (default build/, as tests/run.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${NODETASK_QUICKSTART_DIR:-/var/tmp/nodetask-quickstart}
BUILD=${NODETASK_BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
BIN=$BUILD/controller/nodetask-controller
PGSH=$ROOT/tests/fixtures/pg.sh
HTTP_ADDR=127.0.0.1:8080
KEY_NAME=quickstart-admin

PGDIR=$STATE/pg
PIDFILE=$STATE/controller.pid
LOGFILE=$STATE/controller.log
KEYFILE=$STATE/admin.key

say()
{
	printf 'quickstart: %s\n' "$*" >&2
}

die()
{
	say "error: $*"
	exit 1
}

# The controller's pid when it runs (checked against /proc, so a stale
# pid file naming another process is not believed).
controller_pid()
{
	local pid
	[[ -f $PIDFILE ]] || return 1
	pid=$(<"$PIDFILE")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'nodetask-controller' ||
		return 1
	echo "$pid"
}

pg_running()
{
	[[ -f $PGDIR/conninfo ]] &&
		/usr/lib/postgresql/15/bin/pg_isready -q \
			-d "$(<"$PGDIR/conninfo")" 2>/dev/null
}

healthy()
{
	curl -fsS -o /dev/null --max-time 2 "http://$HTTP_ADDR/healthz" \
		2>/dev/null
}

port_busy()
{
	(exec 3<>"/dev/tcp/${HTTP_ADDR%:*}/${HTTP_ADDR##*:}") 2>/dev/null
}

do_stop()
{
	local pid
	if pid=$(controller_pid); then
		say "stopping the controller (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "controller did not stop in 15 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	if [[ -d $PGDIR ]]; then
		say "stopping PostgreSQL"
		"$PGSH" stop "$PGDIR"
	fi
	if [[ -d $STATE ]]; then
		rm -rf -- "$STATE"
		say "removed $STATE"
	fi
	say "stopped"
}

do_status()
{
	local pid
	if pid=$(controller_pid); then
		say "controller running (pid $pid) on http://$HTTP_ADDR"
	else
		say "controller not running"
	fi
	if pg_running; then
		say "PostgreSQL running: $(<"$PGDIR/conninfo")"
	else
		say "PostgreSQL not running"
	fi
}

print_usage_hint()
{
	local key
	key=$(<"$KEYFILE")
	cat <<-EOF

		nodetask controller: http://$HTTP_ADDR   (log: $LOGFILE)
		Admin API key (kept in $KEYFILE):

		  $key

		Try it:

		  KEY=$key
		  curl -H "Authorization: Bearer \$KEY" http://$HTTP_ADDR/task/runs/recent

		Stop and remove everything: $0 stop
	EOF
}

do_start()
{
	local pid conn fresh_db=false
	((EUID == 0)) || die "run as root (it installs packages and runs PostgreSQL as the postgres user)"

	# shellcheck source=deploy/packages.sh disable=SC1091
	source "$ROOT/deploy/packages.sh"
	# The test packages too, so build/ is configured exactly as
	# tests/run.sh configures it.
	nt_install_packages "${NT_PKGS_BUILD[@]}" "${NT_PKGS_RUN[@]}" \
		"${NT_PKGS_TEST[@]}"

	say "building into $BUILD"
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DNODETASK_TESTS=ON >/dev/null
	cmake --build "$BUILD" --target nodetask-controller \
		--parallel "$(nproc)" >/dev/null

	mkdir -p "$STATE"
	chmod 755 "$STATE"

	if pg_running; then
		say "PostgreSQL already running"
	else
		say "starting a private PostgreSQL in $PGDIR"
		"$PGSH" stop "$PGDIR"
		"$PGSH" start "$PGDIR" >/dev/null
		fresh_db=true
	fi
	conn=$(<"$PGDIR/conninfo")

	if pid=$(controller_pid); then
		if $fresh_db; then
			# Its database is gone: start over with the new one.
			say "controller (pid $pid) lost its database; restarting it"
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 150); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		else
			say "controller already running (pid $pid)"
			[[ -f $KEYFILE ]] || die "no key in $KEYFILE; run '$0 stop' and start again"
			print_usage_hint
			return 0
		fi
	fi
	rm -f "$PIDFILE"

	say "applying migrations"
	"$BIN" --db "$conn" migrate 2>>"$LOGFILE" ||
		die "migrate failed; see $LOGFILE"

	if $fresh_db || [[ ! -s $KEYFILE ]]; then
		"$BIN" --db "$conn" key revoke "$KEY_NAME" 2>/dev/null || true
		(
			umask 077
			"$BIN" --db "$conn" key create --name "$KEY_NAME" \
				--scope admin >"$KEYFILE" 2>>"$LOGFILE"
		) || die "key create failed; see $LOGFILE"
	fi

	if port_busy; then
		die "something else listens on $HTTP_ADDR; stop it first"
	fi
	say "starting the controller on $HTTP_ADDR"
	# setsid: its own session, so it outlives this shell and its terminal.
	setsid "$BIN" --db "$conn" --http "$HTTP_ADDR" \
		</dev/null >>"$LOGFILE" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 300); do
		healthy && break
		if ! controller_pid >/dev/null; then
			tail -n 20 "$LOGFILE" >&2 || true
			die "the controller exited; see $LOGFILE"
		fi
		sleep 0.1
	done
	healthy || die "the controller does not answer on $HTTP_ADDR; see $LOGFILE"
	print_usage_hint
}

case ${1:-start} in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
-h | --help)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	;;
*)
	echo "usage: $0 [start|status|stop]" >&2
	exit 2
	;;
esac
