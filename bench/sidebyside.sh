#!/usr/bin/env bash
# The side-by-side benchmark (bench/sidebyside): virtualization-apiserver behind its APIService
# against the upstream VirtualMachine CRD, both through kube-apiserver, one after the other in
# one run. Keeps the output, with a description of the machine, in
# bench/results/sidebyside-<date>.txt and the servers' profiles in
# bench/results/sidebyside-<date>-profiles/.
#
#   bash bench/sidebyside.sh [flags of bench/sidebyside, e.g. -rounds 3 -n 10000]
#
# About 5 minutes on 2 cores with the defaults (2 rounds: A B B A), plus the build.
# Needs kubectl on PATH and ../shared/peer-crds/virtualmachines.yaml beside the repository.
set -euo pipefail

cd "$(dirname "$0")/.."

# etcd, kube-apiserver and kube-controller-manager from source (once), and our programs.
make build >&2

mkdir -p bench/results
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=bench/results/sidebyside-$stamp.txt
profiles=bench/results/sidebyside-$stamp-profiles
prog=$(mktemp -d)/sidebyside
trap 'rm -rf "$(dirname "$prog")"' EXIT
go build -o "$prog" ./bench/sidebyside

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
	commit="$commit (with uncommitted changes)"
fi
args=(-repo . -profile-dir "$profiles" -cpuprofile-server "$@")

{
	echo "# side-by-side benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "# machine: nproc=$(nproc), memory=$mem, cpu=${cpu:-unknown}, $(go version | cut -d' ' -f3-)"
	echo "# kernel: $(uname -sr), data in ${TMPDIR:-/tmp} on $(df -PT "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}')"
	echo "# kube-apiserver: $(bin/kube-apiserver --version 2>/dev/null || echo unknown), etcd: $(bin/etcd --version 2>/dev/null | head -1 || echo unknown)"
	echo "# commit: $commit"
	echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# command: bench/sidebyside ${args[*]}"
} | tee "$out"

start=$(date +%s)
status=0
"$prog" "${args[@]}" 2>&1 | tee -a "$out" || status=$?

{
	echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# wall time: $(($(date +%s) - start))s, exit status $status"
} | tee -a "$out"
echo "results in $out, profiles in $profiles" >&2
exit "$status"
