# shellcheck shell=bash disable=SC2034
# deploy/packages.sh: the Debian 12 packages nodetask needs, sourced by
# deploy/quickstart.sh and tests/run.sh. Add a package to the list it
# belongs to; nt_install_packages installs whatever is missing.

# Building the controller and the agent.
NT_PKGS_BUILD=(
	build-essential
	cmake
	pkg-config
	libnng-dev
	libprotobuf-c-dev
	protobuf-c-compiler
	libcivetweb-dev
	libcjson-dev
	libblkid-dev
	libmount-dev
	libssl-dev
	libpq-dev
)

# Running the controller (its PostgreSQL) and the quick start.
NT_PKGS_RUN=(
	postgresql-15
	curl
)

# Running the test suite: unit tests, integration tests (Python, standard
# library only), the agent's disk and network tests.
NT_PKGS_TEST=(
	libcriterion-dev
	python3
	e2fsprogs
	util-linux
	fdisk
	iproute2
	kmod
	udev
	# A real one-node Ceph for ceph.create-osd (docs/ceph-notes.md).
	ceph-mon
	ceph-osd
	ceph-mgr
	ceph-base
	ceph-common
	# Packaging and rollout tests (tests/integration/test_deploy_*.py).
	ansible
	ansible-lint
	lintian
	dpkg-dev
	systemd
	python3-psycopg2
	python3-apt
)

# Prints the packages of the given lists that are not installed.
nt_missing_packages()
{
	local p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$'; then
			printf '%s\n' "$p"
		fi
	done
}

# Installs the given packages unless they are all there already (then it
# needs no root and no network). Never leaves a system-wide PostgreSQL
# cluster behind: nodetask's tools start private clusters of their own.
nt_install_packages()
{
	local missing
	mapfile -t missing < <(nt_missing_packages "$@")
	if ((${#missing[@]} == 0)); then
		return 0
	fi
	if ((EUID != 0)); then
		echo "missing packages (run as root to install them): ${missing[*]}" >&2
		return 1
	fi
	echo "installing: ${missing[*]}" >&2
	# A fresh postgresql-common would create and start a "main" cluster;
	# nothing here uses it, so ask it not to.
	if [[ ! -e /etc/postgresql-common/createcluster.d/nodetask.conf ]] &&
		[[ -n "$(nt_missing_packages postgresql-common)" ]]; then
		mkdir -p /etc/postgresql-common/createcluster.d
		echo "create_main_cluster = false" \
			>/etc/postgresql-common/createcluster.d/nodetask.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	local log rc=0
	log=$(mktemp)
	{
		apt-get update -q &&
			apt-get install -y -q "${missing[@]}"
	} >"$log" 2>&1 || rc=$?
	if ((rc != 0)); then
		cat "$log" >&2
		echo "package installation failed" >&2
	fi
	rm -f "$log"
	return "$rc"
}
