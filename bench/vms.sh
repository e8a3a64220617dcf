#!/usr/bin/env bash
# The control-plane scale benchmark: BENCH_VMS_COUNT (default 1000) VirtualMachines applied at
# once against two hollow local nodes (no guests), timed until every VMI exists and every VM
# is Running, with API writes per VM and the controller's CPU and peak RSS. Keeps the output,
# with a description of the machine, in bench/results/vms-<date>.txt.
#
#   bash bench/vms.sh
#
# Then one real boot of the test guest (create -> Running -> AgentReady), as information.
# Needs bin/ built (make build) and bin/guest (make guest). About 4-6 minutes on 2 cores.
# BENCH_CONTROLLER_ARGS adds controller flags (e.g. "--kube-api-qps=1000 --kube-api-burst=2000").
set -euo pipefail

cd "$(dirname "$0")/.."
mkdir -p bench/results
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=bench/results/vms-$stamp.txt
{
	echo "# bash bench/vms.sh ($(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD))"
	echo "# BENCH_VMS_COUNT=${BENCH_VMS_COUNT:-1000} BENCH_CONTROLLER_ARGS=${BENCH_CONTROLLER_ARGS:-}"
	echo "# machine: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	BENCH_VMS=1 go test -count=1 ./bench/vms -run 'TestScale|TestRealBoot' -v -timeout 30m 2>&1 | grep -v '^=== RUN\|^--- PASS\|^PASS$\|^ok '
} | tee "$out"
echo "kept in $out"
