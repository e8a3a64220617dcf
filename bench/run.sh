#!/usr/bin/env bash
# Runs the virtualization-apiserver benchmarks (bench/apiserver_test.go) and keeps the output,
# with a description of the machine, in bench/results/<date>.txt.
#
#   bash bench/run.sh
#
# About 5 minutes on 2 cores with the defaults. Environment overrides:
#   BENCHTIME         -benchtime per benchmark run (default 4s)
#   COUNT             -count, runs of each benchmark; benchstat wants 6 for a confidence interval (default 6)
#   BENCH             -bench pattern (default .)
#   BENCH_SERVER_LOG  file for the in-process server's and etcd's logs (default: dropped)
# The result files are benchstat input: machine lines are comments, which benchstat skips.
set -euo pipefail

cd "$(dirname "$0")/.."

benchtime=${BENCHTIME:-4s}
count=${COUNT:-6}
pattern=${BENCH:-.}

mkdir -p bench/results
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=bench/results/$stamp.txt

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
	commit="$commit (with uncommitted changes)"
fi
cmd=(go test ./bench/ -run '^$' -bench "$pattern" -benchtime "$benchtime" -count "$count" -timeout 30m)

{
	echo "# virtualization-apiserver benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "# machine: nproc=$(nproc), memory=$mem, cpu=${cpu:-unknown}, $(go version | cut -d' ' -f3-)"
	echo "# kernel: $(uname -sr), etcd data in ${TMPDIR:-/tmp} on $(df -PT "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}')"
	echo "# commit: $commit"
	echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# command: go test ./bench/ -run '^\$' -bench '$pattern' -benchtime $benchtime -count $count -timeout 30m"
} | tee "$out"

start=$(date +%s)
status=0
"${cmd[@]}" 2>&1 | tee -a "$out" || status=$?

{
	echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# wall time: $(($(date +%s) - start))s, exit status $status"
} | tee -a "$out"
echo "results in $out" >&2
exit "$status"
