#!/bin/sh
# run_all.sh: runs the six benchmarks one after another (see README.md).
#   bench/run_all.sh [BUILD_DIR]
set -e
here=$(dirname "$0")
build=${1:-${NODETASK_BUILD_DIR:-build}}
for b in api_reads dispatch_latency log_ingest scale agent_footprint \
	wipe_bandwidth; do
	echo "== $b"
	python3 "$here/$b.py" --build "$build"
	echo
done
