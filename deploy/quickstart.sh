#!/usr/bin/env bash
# deploy/quickstart.sh: nodetask on this machine, doing its main job, in
# one step.
#
#   deploy/quickstart.sh [start] [--with-ceph] [--disk /dev/X]...
#       install packages, build, start a private PostgreSQL, the
#       controller (127.0.0.1:8080) and one local agent, make two 6 GiB
#       sparse loop devices (one blank, one with ext4), then wipe the one
#       with ext4 through the REST API, printing every curl command and
#       its answer. --with-ceph also starts a throw-away one-node Ceph
#       and makes an OSD of the blank device. --disk uses the named spare
#       disks instead of loop devices (the first is wiped, the second, or
#       the first after its wipe, becomes the OSD); it asks before it
#       writes to them.
#   deploy/quickstart.sh status    say what runs
#   deploy/quickstart.sh stop      stop and remove everything it created
#
# Run as root on Debian 12. Everything lives in one state directory
# (NODETASK_QUICKSTART_DIR, default /var/tmp/nodetask-quickstart). Running
# start again while the same quick start is up only prints its details;
# otherwise what is left of an earlier one is removed first.
#
# Environment (optional): NODETASK_QUICKSTART_HTTP (REST address, default
# 127.0.0.1:8080), NODETASK_QUICKSTART_AGENT_PORT (agent port on
# 127.0.0.1, default 7400), NODETASK_BUILD (build directory, default
# build/), NODETASK_QUICKSTART_BUILD (use this already built directory;
# build nothing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${NODETASK_QUICKSTART_DIR:-/var/tmp/nodetask-quickstart}
HTTP_ADDR=${NODETASK_QUICKSTART_HTTP:-127.0.0.1:8080}
AGENT_PORT=${NODETASK_QUICKSTART_AGENT_PORT:-7400}
if [[ -n ${NODETASK_QUICKSTART_BUILD:-} ]]; then
	BUILD=$NODETASK_QUICKSTART_BUILD
	DO_BUILD=false
else
	BUILD=${NODETASK_BUILD:-build}
	DO_BUILD=true
fi
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
[[ $STATE == /* ]] || STATE=$PWD/$STATE
STATE=${STATE%/}
CTL=$BUILD/controller/nodetask-controller
AGENT=$BUILD/agent/nodetask-agent
PGSH=$ROOT/tests/fixtures/pg.sh
CEPHSH=$ROOT/tests/fixtures/ceph.sh
KEY_NAME=quickstart-admin
LOOP_SIZE=6G

MARK=$STATE/.nodetask-quickstart
PGDIR=$STATE/pg
CEPHDIR=$STATE/ceph
AGENTDIR=$STATE/agent
DISKDIR=$STATE/disks
CTL_PID=$STATE/controller.pid
CTL_LOG=$STATE/controller.log
AGENT_PID=$STATE/agent.pid
AGENT_LOG=$STATE/agent.log
KEYFILE=$STATE/admin.key
OPTIONS=$STATE/options
DEVICES=$STATE/devices
DONE=$STATE/complete
RUNS=$STATE/runs

API=http://$HTTP_ADDR
# The controller and the agent get a service's environment, not the
# caller's (as under systemd).
DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	LANG=C.UTF-8)
WITH_CEPH=false
DISKS=()

say()
{
	printf 'quickstart: %s\n' "$*" >&2
}

die()
{
	say "error: $*"
	exit 1
}

# set -e ends the script at a failing command; say which one.
on_err()
{
	((BASH_SUBSHELL == 0)) || return 0
	say "error: '$2' failed (line $1)"
}
set -E
trap 'on_err $LINENO "$BASH_COMMAND"' ERR

usage()
{
	echo "usage: $0 [start] [--with-ceph] [--disk /dev/X]... | status | stop" >&2
	exit 2
}

# ---- processes ------------------------------------------------------------

# The pid in pid file $1 when that process runs, its command line names
# program $2 and the state directory (so a stale pid file naming another
# process is not believed).
pid_of()
{
	local pid cmd
	[[ -f $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
	[[ $cmd == *"$2"* && $cmd == *"$STATE/"* ]] || return 1
	echo "$pid"
}

# True while process $1 exists and has not exited (a zombie has).
alive()
{
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != [ZX] ]]
}

# Stops process $1 (SIGTERM, SIGKILL after $2 seconds).
stop_pid()
{
	local pid=$1 limit=$2
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq $((limit * 10))); do
		alive "$pid" || return 0
		sleep 0.1
	done
	say "pid $pid did not stop in $limit s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		alive "$pid" || return 0
		sleep 0.1
	done
}

pg_running()
{
	[[ -f $PGDIR/conninfo ]] &&
		/usr/lib/postgresql/15/bin/pg_isready -q \
			-d "$(<"$PGDIR/conninfo")" 2>/dev/null
}

ceph_running()
{
	local pid
	[[ -f $CEPHDIR/mon.pid ]] || return 1
	pid=$(<"$CEPHDIR/mon.pid")
	[[ $pid =~ ^[0-9]+$ ]] && alive "$pid"
}

healthy()
{
	curl -fsS -o /dev/null --max-time 2 "$API/healthz" 2>/dev/null
}

# True when something accepts connections on address $1 (HOST:PORT).
port_busy()
{
	(exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null
}

# ---- the REST API ---------------------------------------------------------

# api PATH: the body of GET PATH on stdout.
api()
{
	curl -sS --max-time 10 -H "Authorization: Bearer $(<"$KEYFILE")" \
		"$API$1"
}

# jpy EXPR [ARG...] <JSON: evaluates the Python expression EXPR on the
# parsed JSON d (A holds the ARGs); prints it ('' for None or bad JSON).
jpy()
{
	python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
A = sys.argv[2:]
try:
    v = eval(sys.argv[1])
except (KeyError, IndexError, TypeError, StopIteration):
    v = None
if v is not None:
    print(v if isinstance(v, str) else json.dumps(v))
' "$@"
}

# JSON on stdin as the API sent it, but an array one element a line.
show_json()
{
	python3 -c '
import json, sys
text = sys.stdin.read().strip()
try:
    d = json.loads(text)
except ValueError:
    print(text)
    sys.exit(0)
if isinstance(d, list) and d:
    print("[" + ",\n ".join(json.dumps(x) for x in d) + "]")
else:
    print(json.dumps(d))
' | sed 's/^/    /'
}

# show CMD: prints "$ CMD", runs it with $API and $AUTH set as the
# walkthrough told the reader, prints its output; the output stays in OUT.
OUT=
show()
{
	local API=$API AUTH
	# shellcheck disable=SC2034 # used by the command eval runs
	AUTH="Authorization: Bearer $(<"$KEYFILE")"
	printf '  $ %s\n' "$1"
	OUT=$(eval "$1") || die "the command failed"
	printf '%s\n' "$OUT" | show_json
	echo
}

step()
{
	printf '%s\n\n' "$*"
}

# wait_for SECONDS WHAT CMD...: runs CMD until it succeeds.
wait_for()
{
	local limit=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + limit))
	until "$@"; do
		((SECONDS < deadline)) || die "timed out after $limit s waiting for $what"
		sleep 0.3
	done
}

node_online()
{
	[[ $(api "/node/$NODE" | jpy 'd["state"]') == online ]]
}

# The id GET /disks gives device $1 of this node ('' if not reported).
disk_id()
{
	api "/disks?nodeId=$NODE" |
		jpy 'next(x["id"] for x in d if x["devicePath"] == A[0])' "$1"
}

run_state()
{
	api "/task/run/$1" | jpy 'd["state"]'
}

run_ended()
{
	[[ $(run_state "$1") =~ ^(completed|failed|canceled)$ ]]
}

# The id of the open question of run $1 (status 1 when it has none).
question_of()
{
	local q
	q=$(api /task/questions/pending |
		jpy 'next(x["id"] for x in d if x["runId"] == A[0])' "$1")
	[[ -n $q ]] && echo "$q"
}

# ---- asking the person at the keyboard ------------------------------------

# ask PROMPT: the reply read from standard input ('' at its end).
ask()
{
	local reply=
	printf '%s ' "$1" >&2
	IFS= read -r reply || true
	# Not a terminal: show what was read, as a terminal would have.
	[[ -t 0 ]] || printf '%s\n' "$reply" >&2
	printf '%s' "$reply"
}

# ---- disks ------------------------------------------------------------------

# The disks named with --disk, checked: whole disks, nothing of them
# mounted or used as swap. Canonical paths (the agent reports those).
check_disks()
{
	local i d type mnt seen=" "
	for i in "${!DISKS[@]}"; do
		d=$(readlink -f -- "${DISKS[i]}") ||
			die "${DISKS[i]}: no such device"
		[[ -b $d ]] || die "${DISKS[i]} is not a block device"
		type=$(lsblk -dno TYPE "$d" 2>/dev/null) || type=
		[[ $type == disk || $type == loop ]] ||
			die "$d is a $type, not a whole disk"
		mnt=$(lsblk -no MOUNTPOINT "$d" | grep -v '^$' || true)
		[[ -z $mnt ]] ||
			die "$d (or a partition of it) is in use: $(tr '\n' ' ' <<<"$mnt")"
		[[ $seen != *" $d "* ]] || die "$d is named twice"
		seen+="$d "
		DISKS[i]=$d
	done
}

# Shows the disks named with --disk and asks whether they may be written.
confirm_disks()
{
	local reply
	{
		echo
		echo "The quick start will write to these disks; what they hold is lost:"
		echo
		lsblk -o NAME,SIZE,TYPE,FSTYPE,MODEL,SERIAL "${DISKS[@]}" | sed 's/^/  /'
		echo
		echo "  ${DISKS[0]}: wiped (disk.wipe, quick: signatures and the first and last 10 MiB)"
		if $WITH_CEPH; then
			echo "  ${DISKS[${#DISKS[@]} > 1 ? 1 : 0]}: becomes a Ceph OSD of a throw-away cluster"
		fi
		echo
	} >&2
	reply=$(ask "Type yes to go on:")
	[[ $reply == yes ]] || die "not confirmed; nothing was changed"
	MKFS_REAL=false
	if ! blkid -p "${DISKS[0]}" >/dev/null 2>&1; then
		reply=$(ask "${DISKS[0]} holds nothing the agent recognises, so its wipe would ask nothing. Put an ext4 file system on it first, to see the question? (yes/no)")
		[[ $reply != yes ]] || MKFS_REAL=true
	fi
}

# Makes a sparse file $DISKDIR/$1.img of $LOOP_SIZE and a loop device on
# it; prints the device.
make_loop()
{
	local img=$DISKDIR/$1.img dev
	truncate -s "$LOOP_SIZE" "$img"
	dev=$(losetup -f --show "$img") || die "losetup failed"
	# A loop device can come back with the kernel partitions of its
	# last user (docs/ceph-notes.md).
	partx -d "$dev" 2>/dev/null || true
	echo "$dev"
}

# Loop devices backed by the quick start's files.
our_loops()
{
	local img
	for img in "$DISKDIR"/*.img; do
		[[ -f $img ]] || continue
		losetup -n -O NAME -j "$img" 2>/dev/null || true
	done
}

# Detaches the quick start's loop devices (unmounting anything of them).
remove_loops()
{
	local dev mnt
	while read -r dev; do
		[[ -n $dev ]] || continue
		while read -r mnt; do
			[[ -n $mnt ]] || continue
			umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
		done < <(findmnt -rno TARGET -S "$dev" 2>/dev/null || true)
		partx -d "$dev" 2>/dev/null || true
		losetup -d "$dev" 2>/dev/null || true
		say "detached $dev"
	done < <(our_loops)
}

# ---- stop and status ------------------------------------------------------

ours()
{
	[[ -f $MARK ]]
}

do_stop()
{
	local pid d
	if [[ ! -e $STATE ]]; then
		say "nothing to stop ($STATE does not exist)"
		return 0
	fi
	ours || die "$STATE was not made by the quick start; refusing to touch it"
	if pid=$(pid_of "$AGENT_PID" nodetask-agent); then
		say "stopping the agent (pid $pid)"
		stop_pid "$pid" 30
	fi
	if [[ -e $CEPHDIR ]]; then
		say "stopping Ceph (monitor, manager, OSDs; their mounts and keyring)"
		"$CEPHSH" stop "$CEPHDIR"
	fi
	if pid=$(pid_of "$CTL_PID" nodetask-controller); then
		say "stopping the controller (pid $pid)"
		stop_pid "$pid" 15
	fi
	if [[ -e $PGDIR ]]; then
		say "stopping PostgreSQL"
		"$PGSH" stop "$PGDIR"
	fi
	remove_loops
	if [[ -f $DEVICES ]] && grep -q '^real=1$' "$DEVICES" &&
		grep -q '^osd=' "$DEVICES"; then
		d=$(sed -n 's/^osd=//p' "$DEVICES")
		say "$d keeps the label of the removed OSD; 'wipefs -a $d' clears it"
	fi
	rm -rf -- "$STATE"
	say "removed $STATE; stopped"
}

do_status()
{
	local pid
	if ! ours; then
		say "not running ($STATE does not exist)"
		return 0
	fi
	if pid=$(pid_of "$CTL_PID" nodetask-controller); then
		say "controller running (pid $pid) on $API"
	else
		say "controller not running"
	fi
	if pid=$(pid_of "$AGENT_PID" nodetask-agent); then
		say "agent running (pid $pid), state in $AGENTDIR"
	else
		say "agent not running"
	fi
	if pg_running; then
		say "PostgreSQL running: $(<"$PGDIR/conninfo")"
	else
		say "PostgreSQL not running"
	fi
	if [[ -e $CEPHDIR ]]; then
		if ceph_running; then
			say "Ceph running: ceph -c $CEPHDIR/ceph.conf -s"
		else
			say "Ceph monitor not running"
		fi
	fi
	if [[ -f $DEVICES ]]; then
		say "devices: $(devices_line)"
	fi
}

# ---- start ------------------------------------------------------------------

options_line()
{
	echo "with_ceph=$WITH_CEPH disks=${DISKS[*]} http=$HTTP_ADDR agents=$AGENT_PORT"
}

# True when a quick start with the same options is completely up.
already_up()
{
	ours && [[ -f $DONE && -s $KEYFILE && -f $OPTIONS ]] &&
		[[ $(<"$OPTIONS") == "$(options_line)" ]] &&
		pid_of "$CTL_PID" nodetask-controller >/dev/null &&
		pid_of "$AGENT_PID" nodetask-agent >/dev/null &&
		pg_running && healthy &&
		{ ! $WITH_CEPH || ceph_running; }
}

# This script as the reader would call it again: with the settings that
# are not the defaults.
self_cmd()
{
	local v out=
	for v in NODETASK_QUICKSTART_DIR NODETASK_QUICKSTART_HTTP \
		NODETASK_QUICKSTART_AGENT_PORT; do
		[[ -z ${!v:-} ]] || out+="$v=${!v} "
	done
	echo "$out$0"
}

# What the quick start's devices are, in words.
devices_line()
{
	sed -n 's/^show=//p' "$DEVICES"
}

print_info()
{
	local key
	key=$(<"$KEYFILE")
	cat <<-EOF

		nodetask runs on this machine:

		  REST API        $API   (log: $CTL_LOG)
		  agent           node $(<"$AGENTDIR/node_id") (log: $AGENT_LOG)
		  devices         $(devices_line)
	EOF
	if [[ -e $CEPHDIR ]]; then
		echo "  Ceph            ceph -c $CEPHDIR/ceph.conf -s"
	fi
	if [[ -f $RUNS ]]; then
		while read -r what id; do
			printf '  %-15s %s\n' "$what run" "$id"
		done <"$RUNS"
	fi
	cat <<-EOF

		Admin API key (kept in $KEYFILE):

		  $key

		Try it:

		  API=$API
		  AUTH="Authorization: Bearer $key"
		  curl -s -H "\$AUTH" "\$API/task/runs/recent"

		Status: $(self_cmd) status
		Stop and remove everything: $(self_cmd) stop
	EOF
}

# Extra options for the agent when Ceph runs here.
AGENT_CEPH_ARGS=()

# Starts the agent (enrolled with a new token) in its own session.
start_agent()
{
	local token allow cmd
	token=$("$CTL" --db "$(<"$PGDIR/conninfo")" node token create \
		--ttl 10m 2>>"$CTL_LOG") || die "node token create failed; see $CTL_LOG"
	allow=$(sed -n 's/^allow=//p' "$DEVICES")
	cmd=("$AGENT" --controller "tcp://127.0.0.1:$AGENT_PORT"
		--state-dir "$AGENTDIR" --enroll-token "$token"
		--allow-devices "$allow" "${AGENT_CEPH_ARGS[@]}")
	if $WITH_CEPH && [[ -d /run/systemd/system ]]; then
		# Where systemd is PID 1 the agent starts an OSD with systemctl,
		# whose unit reads /etc/ceph/ceph.conf, not the throw-away
		# cluster's. In a mount namespace of its own that hides
		# /run/systemd it starts the OSD itself with CEPH_CONF set, as
		# on a host without systemd; its OSD mounts stay there too.
		cmd=(unshare --mount --propagation slave -- sh -c \
			'mount -t tmpfs -o size=64k nodetask-quickstart /run/systemd && exec "$@"' \
			sh "${cmd[@]}")
	fi
	say "starting the agent (devices it may write: $allow)"
	# setsid: its own session, so it outlives this shell and its terminal.
	setsid "${DAEMON_ENV[@]}" "${cmd[@]}" </dev/null >>"$AGENT_LOG" 2>&1 &
	echo $! >"$AGENT_PID"
	wait_for 20 "the agent's node id" agent_has_id
	NODE=$(<"$AGENTDIR/node_id")
	wait_for 30 "node $NODE to be online" node_online
}

# True once the agent wrote its node id; ends the script if it exited.
agent_has_id()
{
	[[ -s $AGENTDIR/node_id ]] && return 0
	# Not pid_of: until setsid runs, the child is a copy of this shell.
	if ! alive "$(<"$AGENT_PID")"; then
		tail -n 20 "$AGENT_LOG" >&2 || true
		die "the agent exited; see $AGENT_LOG"
	fi
	return 1
}

# Answers the open question of run $1: "yes" for the quick start's own
# loop devices, what the person types for real disks.
answer_question()
{
	local run=$1 q answer
	q=$(question_of "$run") || die "run $run has no question"
	if $REAL; then
		answer=$(ask "The agent asks the question above. Your answer (yes/no):")
		[[ $answer == yes ]] || answer=no
	else
		answer=yes
		step "   (The quick start answers yes: the device is its own scratch file.)"
	fi
	show "curl -s -H \"\$AUTH\" -X POST \"\$API/task/question/$q/answer\" -d '{\"answer\": \"$answer\"}'"
}

walkthrough_wipe()
{
	local run n=1
	cat <<-EOF

		==== Wiping $DATA_DEV through the REST API ====

		Set these in a shell to type the same commands yourself:

		  API=$API
		  AUTH="Authorization: Bearer $(<"$KEYFILE")"

		(JSON arrays are shown one element a line.)

	EOF
	step "$((n++)). The agent of this machine is connected: GET /nodes"
	# shellcheck disable=SC2016 # expanded by show
	show 'curl -s -H "$AUTH" "$API/nodes"'

	wait_for 30 "$DATA_DEV in GET /disks" test -n "$(disk_id "$DATA_DEV")"
	step "$((n++)). The disks it reported: GET /disks"
	show "curl -s -H \"\$AUTH\" \"\$API/disks?nodeId=$NODE\""

	step "$((n++)). Start a quick wipe of $DATA_DEV: POST /task/runs"
	show "curl -s -H \"\$AUTH\" -X POST \"\$API/task/runs\" -d '{\"taskName\": \"disk.wipe\", \"nodeId\": \"$NODE\", \"params\": {\"devicePath\": \"$DATA_DEV\", \"mode\": \"quick\"}}'"
	run=$(jpy 'd["id"]' <<<"$OUT")
	[[ -n $run ]] || die "POST /task/runs created no run"
	echo "wipe $run" >>"$RUNS"

	wait_for 30 "run $run to ask or end" \
		eval "question_of $run >/dev/null || run_ended $run"
	if question_of "$run" >/dev/null; then
		step "$((n++)). The disk holds data, so the run asks first: GET /task/questions/pending"
		# shellcheck disable=SC2016 # expanded by show
		show 'curl -s -H "$AUTH" "$API/task/questions/pending"'
		step "$((n++)). Answer it: POST /task/question/{id}/answer"
		answer_question "$run"
	else
		step "   ($DATA_DEV holds nothing the agent recognises, so the run asks nothing.)"
	fi

	wait_for 120 "run $run to end" run_ended "$run"
	step "$((n++)). What the run did: GET /task/run/{id}/logs"
	show "curl -s -H \"\$AUTH\" \"\$API/task/run/$run/logs\""
	step "$((n++)). How it ended: GET /task/run/{id}"
	show "curl -s -H \"\$AUTH\" \"\$API/task/run/$run\""
	WIPE_STATE=$(jpy 'd["state"]' <<<"$OUT")

	step "$((n++)). Signatures left on $DATA_DEV:"
	printf '  $ blkid -p %s\n' "$DATA_DEV"
	blkid -p "$DATA_DEV" | sed 's/^/    /' || echo "    (nothing found; blkid exit $?)"
	echo
	if [[ $WIPE_STATE != completed ]]; then
		say "the wipe run ended $WIPE_STATE"
		$REAL || die "the wipe run did not complete; see $AGENT_LOG"
	fi
}

walkthrough_osd()
{
	local run disk n=1
	cat <<-EOF
		==== Making $OSD_DEV an OSD of the throw-away Ceph cluster ====

	EOF
	wait_for 60 "$OSD_DEV in GET /disks" test -n "$(disk_id "$OSD_DEV")"
	disk=$(disk_id "$OSD_DEV")
	step "$((n++)). Create the OSD from the disk's id in GET /disks: POST /ceph/osd"
	show "curl -s -H \"\$AUTH\" -X POST \"\$API/ceph/osd\" -d '{\"nodeId\": \"$NODE\", \"diskId\": \"$disk\"}'"
	run=$(jpy 'd["runId"]' <<<"$OUT")
	[[ -n $run ]] || die "POST /ceph/osd started no run"
	echo "osd $run" >>"$RUNS"

	say "waiting for run $run (ceph-volume prepare, activate, the OSD coming up; usually under a minute)"
	wait_for 300 "run $run to ask or end" \
		eval "question_of $run >/dev/null || run_ended $run"
	if question_of "$run" >/dev/null; then
		step "$((n++)). $OSD_DEV holds data, so the run asks first: GET /task/questions/pending"
		# shellcheck disable=SC2016 # expanded by show
		show 'curl -s -H "$AUTH" "$API/task/questions/pending"'
		step "$((n++)). Answer it: POST /task/question/{id}/answer"
		answer_question "$run"
		wait_for 300 "run $run to end" run_ended "$run"
	fi
	step "$((n++)). What the run did (ceph-volume's own lines among them): GET /task/run/{id}/logs"
	show "curl -s -H \"\$AUTH\" \"\$API/task/run/$run/logs\""
	step "$((n++)). How it ended: GET /task/run/{id}"
	show "curl -s -H \"\$AUTH\" \"\$API/task/run/$run\""
	[[ $(jpy 'd["state"]' <<<"$OUT") == completed ]] || {
		$REAL || die "the OSD run did not complete; see $AGENT_LOG"
		say "the OSD run did not complete"
		return 0
	}
	echo "osd=$OSD_DEV" >>"$DEVICES"

	step "$((n++)). The cluster's view:"
	printf '  $ ceph -c %s osd tree\n' "$CEPHDIR/ceph.conf"
	timeout 30 ceph -c "$CEPHDIR/ceph.conf" osd tree | sed 's/^/    /'
	echo
}

# Refuses --with-ceph where Ceph already lives: the throw-away cluster
# borrows the bootstrap-osd keyring path and /var/lib/ceph/osd.
check_no_ceph()
{
	local p
	# Zombies are not running; their parents just have not reaped them.
	p=$({ ps -C ceph-mon,ceph-mgr,ceph-osd -o pid=,stat= || true; } |
		awk '$2 !~ /^Z/ { printf "%s ", $1 }')
	[[ -z $p ]] || die "--with-ceph needs a machine without Ceph daemons, but these run: $p"
	for p in /var/lib/ceph/osd/ceph-*; do
		[[ ! -e $p ]] || die "--with-ceph needs a machine without OSDs, but $p exists"
	done
}

on_start_exit()
{
	local rc=$1
	((rc == 0)) && return 0
	say "the quick start did not finish (logs in $STATE);"
	say "'$(self_cmd) stop' removes everything it started"
}

do_start()
{
	local pid conn reply allow
	((EUID == 0)) || die "run as root (it installs packages, makes loop devices and runs PostgreSQL as the postgres user)"

	if already_up; then
		say "the quick start already runs; '$(self_cmd) stop' first to see the walkthrough again"
		NODE=$(<"$AGENTDIR/node_id")
		print_info
		return 0
	fi

	REAL=false
	if ((${#DISKS[@]} > 0)); then
		REAL=true
		check_disks
		confirm_disks
	fi

	if [[ -e $STATE ]]; then
		if ours; then
			say "removing what is left of an earlier quick start"
			do_stop
		elif ! rmdir -- "$STATE" 2>/dev/null; then
			die "$STATE exists and was not made by the quick start"
		fi
	fi
	! $WITH_CEPH || check_no_ceph

	# shellcheck source=deploy/packages.sh disable=SC1091
	source "$ROOT/deploy/packages.sh"
	# The test packages too (Ceph among them), so build/ is configured
	# exactly as tests/run.sh configures it.
	nt_install_packages "${NT_PKGS_BUILD[@]}" "${NT_PKGS_RUN[@]}" \
		"${NT_PKGS_TEST[@]}"

	if $DO_BUILD; then
		say "building into $BUILD"
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DNODETASK_TESTS=ON >/dev/null
		cmake --build "$BUILD" --target nodetask-controller \
			--target nodetask-agent --parallel "$(nproc)" >/dev/null
	fi
	[[ -x $CTL && -x $AGENT ]] || die "no programs in $BUILD"
	! port_busy "$HTTP_ADDR" || die "something else listens on $HTTP_ADDR"
	! port_busy "127.0.0.1:$AGENT_PORT" ||
		die "something else listens on 127.0.0.1:$AGENT_PORT"

	trap 'on_start_exit $?' EXIT
	mkdir -p "$STATE"
	touch "$MARK"
	# PostgreSQL and Ceph run as their own users; they must reach in.
	chmod 755 "$STATE"
	options_line >"$OPTIONS"

	say "starting a private PostgreSQL in $PGDIR"
	"$PGSH" start "$PGDIR" >/dev/null
	conn=$(<"$PGDIR/conninfo")
	say "applying migrations"
	"$CTL" --db "$conn" migrate 2>>"$CTL_LOG" ||
		die "migrate failed; see $CTL_LOG"
	(
		umask 077
		"$CTL" --db "$conn" key create --name "$KEY_NAME" \
			--scope admin >"$KEYFILE" 2>>"$CTL_LOG"
	) || die "key create failed; see $CTL_LOG"

	say "starting the controller on $HTTP_ADDR (agents: 127.0.0.1:$AGENT_PORT)"
	setsid "${DAEMON_ENV[@]}" "$CTL" --db "$conn" --http "$HTTP_ADDR" \
		--agents "tcp://127.0.0.1:$AGENT_PORT" \
		</dev/null >>"$CTL_LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$CTL_PID"
	for _ in $(seq 300); do
		healthy && break
		if ! alive "$pid"; then
			tail -n 20 "$CTL_LOG" >&2 || true
			die "the controller exited; see $CTL_LOG"
		fi
		sleep 0.1
	done
	healthy || die "the controller does not answer on $HTTP_ADDR; see $CTL_LOG"

	mkdir -p "$DISKDIR"
	if $REAL; then
		DATA_DEV=${DISKS[0]}
		OSD_DEV=${DISKS[${#DISKS[@]} > 1 ? 1 : 0]}
		if $MKFS_REAL; then
			say "putting an ext4 file system on $DATA_DEV"
			mkfs.ext4 -q -F "$DATA_DEV"
		fi
		allow=$(
			IFS=,
			echo "${DISKS[*]}"
		)
		printf 'real=1\ndata=%s\nallow=%s\nshow=%s\n' "$DATA_DEV" \
			"$allow" "${DISKS[*]} (named with --disk)" >"$DEVICES"
	else
		modprobe loop 2>/dev/null || true
		say "making two $LOOP_SIZE sparse loop devices in $DISKDIR"
		DATA_DEV=$(make_loop data)
		OSD_DEV=$(make_loop blank)
		mkfs.ext4 -q -F "$DATA_DEV"
		printf 'real=0\ndata=%s\nallow=%s,%s\nshow=%s\n' "$DATA_DEV" \
			"$DATA_DEV" "$OSD_DEV" "$DATA_DEV (had ext4) and $OSD_DEV (blank), loop devices on $DISKDIR" \
			>"$DEVICES"
	fi

	if $WITH_CEPH; then
		say "bootstrapping a throw-away one-node Ceph in $CEPHDIR"
		# setsid: the daemons get a session of their own.
		setsid -w "$CEPHSH" start "$CEPHDIR" >/dev/null
		AGENT_CEPH_ARGS=(--ceph-conf "$CEPHDIR/ceph.conf"
			--ceph-command-timeout 3m --osd-up-timeout 3m)
	fi

	start_agent
	walkthrough_wipe
	if $WITH_CEPH; then
		if $REAL && [[ $OSD_DEV == "$DATA_DEV" && $WIPE_STATE != completed ]]; then
			say "$OSD_DEV was not wiped; no OSD made"
		else
			walkthrough_osd
		fi
	fi
	touch "$DONE"
	trap - EXIT
	print_info
}

CMD=start
case ${1:-} in
start | stop | status)
	CMD=$1
	shift
	;;
-h | --help)
	sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac
while (($# > 0)); do
	case $1 in
	--with-ceph) WITH_CEPH=true ;;
	--disk)
		(($# > 1)) || usage
		DISKS+=("$2")
		shift
		;;
	--disk=*) DISKS+=("${1#--disk=}") ;;
	*) usage ;;
	esac
	shift
done
if [[ $CMD != start ]] && { $WITH_CEPH || ((${#DISKS[@]} > 0)); }; then
	usage
fi
[[ -n $STATE && $STATE != /*/ && $STATE =~ ^/[^/]+/ ]] ||
	die "NODETASK_QUICKSTART_DIR must be an absolute path below a directory: '$STATE'"

case $CMD in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
esac
