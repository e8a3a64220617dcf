#!/usr/bin/env bash
# The data path benchmark: uploads, an HTTP import with fill, gz/xz unpacking and the memory of
# the platform's programs, each next to a peer measured in the same run. Keeps the output, with
# a description of the machine, in bench/results/data-<date>.txt.
#
#   bash bench/data.sh
#
# Uses the local stack (bin/localstack up; started if it is not running, and then stopped at
# the end) and a DVCR of its own (bin/dvcr serve in a temp directory) for the importer runs
# outside the stack. Environment overrides (sizes as head -c takes them):
#   UPLOAD_SIZE  random raw file uploaded by the token URL, by tus and to the peer (2G)
#   IMPORT_SIZE  virtual size of the qcow2 imported over HTTP (1G; 3/4 of it data)
#   UNPACK_SIZE  file compressed with gzip -6 and xz -6 for the unpack figures (128M)
#   RSS_SIZE     file uploaded and imported while the memory is sampled (4G)
#   TUS_CHUNK    chunk of the tus upload through kubectl proxy (8Mi, as d8 v upload)
#   BENCH_TMP    where the files go (default $TMPDIR or /tmp); needs about
#                UPLOAD_SIZE*3 + IMPORT_SIZE*3 + RSS_SIZE*2 free; the stack's DVCR (.local/)
#                grows by about UPLOAD_SIZE*2 + IMPORT_SIZE*2 + RSS_SIZE*2
#   SKIP         space-separated parts to leave out: upload tus import unpack rss
#   PROFILE      1: CPU profiles of the importer runs outside the stack (go test -cpuprofile
#                of bench/data's BenchmarkImporter*), kept beside the results
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD

UPLOAD_SIZE=${UPLOAD_SIZE:-2G}
IMPORT_SIZE=${IMPORT_SIZE:-1G}
UNPACK_SIZE=${UNPACK_SIZE:-128M}
RSS_SIZE=${RSS_SIZE:-4G}
TUS_CHUNK=${TUS_CHUNK:-8Mi}
SKIP=" ${SKIP:-} "
ns=bench-data

mkdir -p bench/results
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=$repo/bench/results/data-$stamp.txt
sfx=$(date -u +%H%M%S)
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/data-bench.XXXXXX")
export KUBECONFIG=$repo/.local/kubeconfig

say() { echo "$*" | tee -a "$out"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
bytes() { numfmt --from=iec "$1"; }
mib() { calc '%.1f' "$1 / 1048576"; }
skip() { [[ $SKIP == *" $1 "* ]]; }
# run CMD... : prints the command into the results and runs it with its output there too.
run() {
	say "\$ $*"
	"$@" 2>&1 | tee -a "$out"
	return "${PIPESTATUS[0]}"
}
# timed VAR CMD...: runs the command (logged) and sets VAR to its wall time in seconds.
timed() {
	local var=$1 t0 t1
	shift
	local rc=0
	t0=$(now)
	run "$@" || rc=$?
	t1=$(now)
	printf -v "$var" '%s' "$(calc '%.3f' "$t1 - $t0")"
	say "  -> ${!var} s$([ "$rc" = 0 ] || echo ", exit status $rc")"
	return "$rc"
}

pids=()
started_stack=0
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if command -v kubectl >/dev/null && [ -f .local/kubeconfig ]; then
		kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
	fi
	if [ "$started_stack" = 1 ]; then bin/localstack down >/dev/null 2>&1 || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# ---- build --------------------------------------------------------------------------------
if [ ! -x bin/kube-apiserver ] || [ ! -x bin/etcd ]; then make build >&2; fi
go build -o bin/ ./cmd/... ./hack/localstack
go build -o "$tmp/datatool" ./bench/data/datatool
go test -c -o "$tmp/data.test" ./bench/data
dt=$tmp/datatool

# ---- machine ------------------------------------------------------------------------------
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
{
	echo "# data path benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "# machine: nproc=$(nproc), memory=$mem, cpu=${cpu:-unknown}, $(go version | cut -d' ' -f3-)"
	echo "# kernel: $(uname -sr); files in $tmp on $(df -PT "$tmp" | awk 'NR==2 {print $2 " (" $1 ")"}'); .local on $(df -PT .local 2>/dev/null | awk 'NR==2 {print $2 " (" $1 ")"}' || echo '?')"
	echo "# tools: $(curl --version | head -1 | cut -d' ' -f1-2), $(qemu-img --version | head -1), $(xz --version | head -1), $(gzip --version | head -1)"
	echo "# commit: $commit"
	echo "# sizes: UPLOAD_SIZE=$UPLOAD_SIZE IMPORT_SIZE=$IMPORT_SIZE UNPACK_SIZE=$UNPACK_SIZE RSS_SIZE=$RSS_SIZE TUS_CHUNK=$TUS_CHUNK"
	echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
t_start=$(date +%s)

# ---- stack --------------------------------------------------------------------------------
if [ -f .local/stack.pid ] && kill -0 "$(cat .local/stack.pid)" 2>/dev/null && [ -f .local/stack.ready ]; then
	say "# local stack: already running (pid $(cat .local/stack.pid)); left running"
else
	say "# local stack: starting (bin/localstack up); stopped at the end"
	bin/localstack up >/dev/null
	started_stack=1
fi
kubectl create ns "$ns" >/dev/null 2>&1 || true

# wait_pod KIND NAME: waits until the object's importer Pod runs and answers /progress.
wait_pod() {
	local prefix="$1-$2-" ip="" i
	for i in $(seq 1 600); do
		ip=$(kubectl get pods -n "$ns" -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.status.podIP}{"\n"}{end}' |
			awk -v p="$prefix" 'index($1, p) == 1 && $2 == "Running" { print $3; exit }')
		if [ -n "$ip" ] && curl -sf -o /dev/null "http://$ip:8080/progress"; then return 0; fi
		sleep 0.2
	done
	say "importer Pod of $1/$2 not running after 120 s"
	kubectl get pods -n "$ns" -o wide | tee -a "$out"
	return 1
}
# wait_phase RESOURCE NAME: waits until Ready (0) or Failed (1); prints the phase changes.
wait_phase() {
	local phase last="" i
	for i in $(seq 1 7200); do
		phase=$(kubectl get "$1" "$2" -n "$ns" -o jsonpath='{.status.phase}' 2>/dev/null || true)
		if [ "$phase" != "$last" ]; then say "  $1/$2: ${phase:-<none>} at $(date -u +%T.%N | cut -c1-12)"; last=$phase; fi
		case $phase in
		Ready) return 0 ;;
		Failed)
			kubectl get "$1" "$2" -n "$ns" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' | tee -a "$out"
			return 1
			;;
		esac
		sleep 0.25
	done
	return 1
}
upload_vi() { # NAME: an image waiting for an upload
	kubectl apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata: {name: $1}
spec:
  storage: ContainerRegistry
  dataSource: {type: Upload}
EOF
}
upload_url() { # NAME
	local u="" i
	for i in $(seq 1 300); do
		u=$(kubectl get vi "$1" -n "$ns" -o jsonpath='{.status.imageUploadURLs.external}')
		if [ -n "$u" ]; then echo "$u"; return 0; fi
		sleep 0.2
	done
	return 1
}
# watch_start FILE NAMES / watch_stop: the sampler of memory and disk writes of bin/ programs.
watch_start() {
	# Only the processes of this stack (others may run stacks from the same bin/), and only
	# the importers of this benchmark's namespace (others may use this stack).
	"$dt" watch -bin bin -names "$2" -out "$1" -interval 200ms -ancestor "$(cat .local/stack.pid)" -importer-env "/vi/$ns/" &
	watch_pid=$!
	pids+=("$watch_pid")
}
watch_stop() {
	kill "$watch_pid"
	wait "$watch_pid" 2>/dev/null || true
}
wb_of() { # FILE NAME: sum of write_bytes of the processes called NAME
	awk -v n="$2" '$1 == n { for (i = 2; i <= NF; i++) if ($i ~ /^write_bytes=/) { split($i, a, "="); s += a[2] } } END { printf "%d\n", s }' "$1"
}
dvcr_du() { du -sb .local/dvcr | cut -f1; }

# ---- peer server --------------------------------------------------------------------------
mkdir -p "$tmp/www" "$tmp/scratch"
"$dt" serve -listen 127.0.0.1:0 -dir "$tmp/www" -sink "$tmp/peer-sink.bin" >"$tmp/serve.addr" 2>"$tmp/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
for _ in $(seq 1 50); do [ -s "$tmp/serve.addr" ] && break; sleep 0.1; done
peer=http://$(cat "$tmp/serve.addr")
say "# peer server: datatool serve on $peer (pid $serve_pid)"

# ---- a DVCR of our own, for the importer runs outside the stack ---------------------------
"$dt" keys "$tmp"
dvcr_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 15123)
bin/dvcr serve --listen "127.0.0.1:$dvcr_port" --storage-dir "$tmp/dvcr" --token-cert "$tmp/token.crt" \
	--gc-schedule "" --log-level error >"$tmp/dvcr.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$dvcr_port/healthz" && break; sleep 0.1; done
dvcr_token=$("$dt" token -key "$tmp/token.key" -repo bench/disk)
say "# own DVCR: bin/dvcr serve on 127.0.0.1:$dvcr_port, storage in $tmp/dvcr"

# importer MODE NAME ENV...: runs bin/virtualization-importer as an importer Pod would.
importer() {
	local mode=$1 name=$2 rc=0
	shift 2
	env -i PATH="$PATH" IMPORTER_DVCR_INSECURE=true IMPORTER_DVCR_TOKEN="$dvcr_token" \
		IMPORTER_TERMINATION_MESSAGE_PATH="$tmp/$name.result" IMPORTER_SCRATCH_DIR="$tmp/scratch" "$@" \
		bin/virtualization-importer "$mode" >"$tmp/$name.log" 2>&1 || rc=$?
	echo "  result: $(cat "$tmp/$name.result" 2>/dev/null)"
	[ "$rc" = 0 ] || tail -5 "$tmp/$name.log"
	return "$rc"
}

declare -A fig

# ---- 1. upload ----------------------------------------------------------------------------
if ! skip upload || ! skip tus; then
	say ""
	say "## 1. upload of a $UPLOAD_SIZE random raw file"
	up=$tmp/upload.raw
	head -c "$UPLOAD_SIZE" /dev/urandom >"$up"
	upsize=$(stat -c %s "$up")
	cat "$up" >/dev/null
	timed t_sha sha256sum "$up"
	fig[sha]=$(calc '%.1f' "$upsize / 1048576 / $t_sha")
	timed t_dd dd if="$up" of="$tmp/dd.out" bs=1M conv=fsync status=none
	rm -f "$tmp/dd.out"
	fig[dd]=$(calc '%.1f' "$upsize / 1048576 / $t_dd")
	fig[limit]=$(calc '%.1f' "(${fig[sha]} < ${fig[dd]} ? ${fig[sha]} : ${fig[dd]})")
	say "  sha256sum ${fig[sha]} MiB/s, dd with fsync ${fig[dd]} MiB/s"

	wb0=$(awk '/^write_bytes/ {print $2}' "/proc/$serve_pid/io")
	timed t_peer curl -sS -o /dev/null -w '  http %{http_code}, %{size_upload} bytes\n' -T "$up" "$peer/upload"
	wb1=$(awk '/^write_bytes/ {print $2}' "/proc/$serve_pid/io")
	rm -f "$tmp/peer-sink.bin"
	fig[peer]=$(calc '%.1f' "$upsize / 1048576 / $t_peer")
	fig[peer_wb]=$(calc '%.3f' "($wb1 - $wb0) / $upsize")
	say "  peer: ${fig[peer]} MiB/s, wrote $(mib $((wb1 - wb0))) MiB (${fig[peer_wb]}x the file)"
fi

if ! skip upload; then
	say ""
	say "### 1a. token URL (curl -T status.imageUploadURLs.external: upload server -> importer Pod -> DVCR)"
	vi=up-$sfx
	upload_vi "$vi"
	url=$(upload_url "$vi")
	wait_pod vi "$vi"
	say "  upload URL: $url"
	du0=$(dvcr_du)
	watch_start "$tmp/watch-upload.txt" virtualization-apiserver,virtualization-controller,virtualization-importer,dvcr
	timed t_tok curl -sS -o "$tmp/tok.answer" -w '  http %{http_code}, %{size_upload} bytes\n' -T "$up" "$url"
	say "  answer: $(head -c 300 "$tmp/tok.answer")"
	t0=$(now)
	wait_phase vi "$vi" || true
	fig[tok_ready]=$(calc '%.3f' "$(now) - $t0")
	watch_stop
	du1=$(dvcr_du)
	cat "$tmp/watch-upload.txt" | tee -a "$out"
	fig[tok]=$(calc '%.1f' "$upsize / 1048576 / $t_tok")
	wb=$(($(wb_of "$tmp/watch-upload.txt" dvcr) + $(wb_of "$tmp/watch-upload.txt" virtualization-importer)))
	fig[tok_wb]=$(calc '%.3f' "$wb / $upsize")
	fig[tok_du]=$(calc '%.3f' "($du1 - $du0) / $upsize")
	say "  token URL: ${fig[tok]} MiB/s; Ready ${fig[tok_ready]} s after curl returned"
	say "  written to disk by dvcr + importer: $(mib "$wb") MiB = ${fig[tok_wb]}x the file; .local/dvcr grew $(mib $((du1 - du0))) MiB = ${fig[tok_du]}x"
fi

if ! skip tus; then
	say ""
	say "### 1b. tus chunks of $TUS_CHUNK through kubectl proxy (kube-apiserver -> virtualization-apiserver upload subresource -> importer Pod -> DVCR)"
	kubectl proxy --port=0 >"$tmp/proxy.out" 2>&1 &
	pids+=("$!")
	for _ in $(seq 1 50); do grep -q 'Starting to serve' "$tmp/proxy.out" && break; sleep 0.1; done
	proxy=http://$(sed -n 's/.*Starting to serve on //p' "$tmp/proxy.out")
	vi=tus-$sfx
	upload_vi "$vi"
	wait_pod vi "$vi"
	timed t_tus "$dt" tus -url "$proxy/apis/virtualization.deckhouse.io/v1alpha2/namespaces/$ns/virtualimages/$vi/upload" -file "$up" -chunk "$TUS_CHUNK"
	wait_phase vi "$vi" || true
	fig[tus]=$(calc '%.1f' "$upsize / 1048576 / $t_tus")
	say "  tus through kubectl proxy: ${fig[tus]} MiB/s"

	say ""
	say "### 1c. d8 v upload (tus through kube-apiserver with the kubeconfig): probe with a 16 MiB file"
	head -c 16M /dev/urandom >"$tmp/probe.raw"
	vi=d8-$sfx
	upload_vi "$vi"
	wait_pod vi "$vi"
	ok=0
	timed t_d8probe timeout 120 bin/d8 v upload -n "$ns" --retries 1 "$vi" "$tmp/probe.raw" && ok=1
	# Its importer would wait for an upload until it times out: do not let it into section 4.
	kubectl delete vi "$vi" -n "$ns" --wait=false >/dev/null 2>&1 || true
	if [ "$ok" = 1 ]; then
		vi=d8full-$sfx
		upload_vi "$vi"
		wait_pod vi "$vi"
		timed t_d8 bin/d8 v upload -n "$ns" "$vi" "$up" && fig[d8]=$(calc '%.1f' "$upsize / 1048576 / $t_d8")
	else
		say "  d8 v upload failed (see above); no figure"
	fi
fi

# ---- 2. HTTP import of a qcow2 ------------------------------------------------------------
if ! skip import; then
	say ""
	say "## 2. HTTP import of a qcow2 of virtual size $IMPORT_SIZE, written onto a raw volume"
	isz=$(bytes "$IMPORT_SIZE")
	raw=$tmp/import.raw
	truncate -s "$isz" "$raw"
	block=$((64 << 20))
	for ((off = 0; off < isz; off += block)); do
		n=$(((isz - off) < block ? (isz - off) : block))
		head -c $((n * 3 / 4)) /dev/urandom | dd of="$raw" bs=1M seek=$((off >> 20)) conv=notrunc status=none
	done
	qemu-img convert -f raw -O qcow2 "$raw" "$tmp/www/disk.qcow2"
	rm -f "$raw"
	qsize=$(stat -c %s "$tmp/www/disk.qcow2")
	say "  disk.qcow2: $(mib "$qsize") MiB of qcow2, 3/4 of each 64 MiB random, the rest unallocated"
	cat "$tmp/www/disk.qcow2" >/dev/null

	say ""
	say "### peer: curl -o scratch URL && qemu-img convert -O raw scratch out && sync out"
	timed t_ipeer1 curl -sS -o "$tmp/scratch/peer.qcow2" "$peer/disk.qcow2"
	timed t_ipeer2 bash -c "qemu-img convert -f qcow2 -O raw '$tmp/scratch/peer.qcow2' '$tmp/peer-out.raw' && sync '$tmp/peer-out.raw'"
	t_ipeer=$(calc '%.3f' "$t_ipeer1 + $t_ipeer2")
	say "  peer total: $t_ipeer s"
	rm -f "$tmp/scratch/peer.qcow2" "$tmp/peer-out.raw"

	say ""
	say "### ours, outside the stack: virtualization-importer import (HTTP -> own DVCR), then fill (DVCR -> raw file)"
	img=127.0.0.1:$dvcr_port/bench/disk:import
	timed t_iimp importer import imp IMPORTER_SOURCE_TYPE=http IMPORTER_SOURCE_URL="$peer/disk.qcow2" IMPORTER_DEST_IMAGE="$img"
	truncate -s "$isz" "$tmp/fill.raw"
	timed t_ifill importer fill fill IMPORTER_SOURCE_TYPE=dvcr IMPORTER_SOURCE_URL="$img" IMPORTER_DEST_PATH="$tmp/fill.raw"
	rm -f "$tmp/fill.raw"
	fig[i_direct]=$(calc '%.3f' "$t_iimp + $t_ifill")

	say ""
	say "### ours, outside the stack, one step: virtualization-importer fill (HTTP -> raw file), as for a disk with a size"
	truncate -s "$isz" "$tmp/fill.raw"
	timed t_ione importer fill fill1 IMPORTER_SOURCE_TYPE=http IMPORTER_SOURCE_URL="$peer/disk.qcow2" IMPORTER_DEST_PATH="$tmp/fill.raw"
	rm -f "$tmp/fill.raw"
	fig[i_one]=$t_ione

	say ""
	say "### ours, through the stack: VirtualDisk with an HTTP source and a size (one fill Pod), create -> Ready"
	vd=imp-$sfx
	t0=$(now)
	kubectl apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata: {name: $vd}
spec:
  persistentVolumeClaim: {size: "$isz"}
  dataSource:
    type: HTTP
    http: {url: "$peer/disk.qcow2"}
EOF
	if wait_phase vd "$vd"; then fig[i_stack]=$(calc '%.3f' "$(now) - $t0"); else fig[i_stack]=failed; fi
	say "  -> ${fig[i_stack]} s"
	kubectl get vd "$vd" -n "$ns" -o wide 2>&1 | tee -a "$out"
	kubectl delete vd "$vd" -n "$ns" --wait=false >/dev/null 2>&1 || true
	fig[i_peer]=$t_ipeer
	fig[i_peer1]=$t_ipeer1
	fig[i_peer2]=$t_ipeer2
	fig[i_imp]=$t_iimp
	fig[i_fill]=$t_ifill
fi

# ---- 3. gz and xz -------------------------------------------------------------------------
if ! skip unpack; then
	say ""
	say "## 3. gz and xz: $UNPACK_SIZE of files from /usr (tar), compressed with gzip -6 and xz -6"
	tar -cf - /usr/lib /usr/share /usr/bin 2>/dev/null | head -c "$UNPACK_SIZE" >"$tmp/www/corpus.raw" || true
	gzip -6 -c "$tmp/www/corpus.raw" >"$tmp/www/corpus.gz"
	xz -6 -T0 -c "$tmp/www/corpus.raw" >"$tmp/www/corpus.xz"
	say "  corpus $(mib "$(stat -c %s "$tmp/www/corpus.raw")") MiB, .gz $(mib "$(stat -c %s "$tmp/www/corpus.gz")") MiB, .xz $(mib "$(stat -c %s "$tmp/www/corpus.xz")") MiB"
	(cd bench/data && run env DATA_GZ="$tmp/www/corpus.gz" DATA_XZ="$tmp/www/corpus.xz" \
		"$tmp/data.test" -test.run '^$' -test.bench 'Gunzip|Unxz' -test.benchtime 3x -test.count 3) |
		tee "$tmp/unpack.txt"
	med() { grep -E "^Benchmark$1-" "$tmp/unpack.txt" | awk '{print $(NF-1)}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
	fig[gz_k]=$(med 'Gunzip/klauspost')
	fig[gz_s]=$(med 'Gunzip/stdlib')
	fig[xz_i]=$(med 'Unxz/importer-external')
	fig[xz_g]=$(med 'Unxz/go-ulikunitz')
	fig[xz_p]=$(med 'Unxz/peer-xz-d')
	timed t_xzd bash -c "xz -dc '$tmp/www/corpus.xz' >/dev/null"
	timed t_gzd bash -c "gzip -dc '$tmp/www/corpus.gz' >/dev/null"
	csize=$(stat -c %s "$tmp/www/corpus.raw")
	fig[xz_cli]=$(calc '%.1f' "$csize / 1e6 / $t_xzd")
	fig[gz_cli]=$(calc '%.1f' "$csize / 1e6 / $t_gzd")

	say ""
	say "### the whole importer on them: HTTP -> own DVCR, raw vs .gz vs .xz (the file is raw inside)"
	for f in raw gz xz; do
		timed "t_u$f" importer import "corpus-$f" IMPORTER_SOURCE_TYPE=http IMPORTER_SOURCE_URL="$peer/corpus.$f" IMPORTER_DEST_IMAGE="127.0.0.1:$dvcr_port/bench/disk:corpus-$f"
	done
	fig[u_raw]=$(calc '%.1f' "$csize / 1e6 / $t_uraw")
	fig[u_gz]=$(calc '%.1f' "$csize / 1e6 / $t_ugz")
	fig[u_xz]=$(calc '%.1f' "$csize / 1e6 / $t_uxz")
fi

# ---- optional profiles --------------------------------------------------------------------
if [ "${PROFILE:-}" = 1 ] && ! skip import; then
	say ""
	say "## profiles of the importer (go test -cpuprofile, importer.Run in process)"
	pdir=$repo/bench/results/data-$stamp-profiles
	mkdir -p "$pdir"
	for b in Import Fill; do
		(cd bench/data && run env DATA_SOURCE_URL="$peer/disk.qcow2" DATA_DVCR="127.0.0.1:$dvcr_port" DATA_DVCR_TOKEN="$dvcr_token" \
			DATA_IMAGE="127.0.0.1:$dvcr_port/bench/disk:import" DATA_SCRATCH="$tmp/scratch" DATA_VOLUME_SIZE="$(bytes "$IMPORT_SIZE")" \
			"$tmp/data.test" -test.run '^$' -test.bench "Importer$b\$" -test.benchtime 1x -test.cpuprofile "$pdir/importer-$b.pprof")
		go tool pprof -top -nodecount=25 "$tmp/data.test" "$pdir/importer-$b.pprof" 2>/dev/null | tee -a "$out" | head -40 >/dev/null || true
	done
fi

# ---- 4. memory during a big upload and import ---------------------------------------------
if ! skip rss; then
	say ""
	say "## 4. memory: a $RSS_SIZE upload by the token URL, then a $RSS_SIZE HTTP import into an image, sampled every 200 ms"
	big=$tmp/www/big.raw
	head -c "$RSS_SIZE" /dev/urandom >"$big"
	bigsize=$(stat -c %s "$big")
	hwm_before=$(for n in virtualization-apiserver virtualization-controller dvcr; do
		for p in $(pgrep -P "$(cat .local/stack.pid)"); do
			[ "$(readlink "/proc/$p/exe" | sed 's/ (deleted)$//')" = "$repo/bin/$n" ] &&
				echo "$n pid=$p VmHWM_before_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status")" || true
		done
	done)
	say "$hwm_before"
	watch_start "$tmp/watch-rss.txt" virtualization-apiserver,virtualization-controller,virtualization-importer,dvcr
	vi=rssup-$sfx
	upload_vi "$vi"
	url=$(upload_url "$vi")
	wait_pod vi "$vi"
	timed t_bigup curl -sS -o /dev/null -w '  http %{http_code}, %{size_upload} bytes\n' -T "$big" "$url"
	wait_phase vi "$vi" || true
	vi=rssimp-$sfx
	t0=$(now)
	kubectl apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata: {name: $vi}
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http: {url: "$peer/big.raw"}
EOF
	wait_phase vi "$vi" || true
	t_bigimp=$(calc '%.3f' "$(now) - $t0")
	say "  import create -> Ready: $t_bigimp s"
	sleep 1
	watch_stop
	say "  sampled (max_rss_kib is the highest VmRSS seen, hwm_kib the process's VmHWM at its last sample):"
	cat "$tmp/watch-rss.txt" | tee -a "$out"
	fig[big_up]=$(calc '%.1f' "$bigsize / 1048576 / $t_bigup")
	fig[big_imp]=$(calc '%.1f' "$bigsize / 1048576 / $t_bigimp")
	for n in virtualization-apiserver virtualization-controller virtualization-importer dvcr; do
		fig[rss_$n]=$(awk -v n="$n" '$1 == n { for (i = 2; i <= NF; i++) if ($i ~ /^max_rss_kib=/) { split($i, a, "="); if (a[2] > m) m = a[2] } } END { printf "%.1f", m / 1024 }' "$tmp/watch-rss.txt")
		fig[hwm_$n]=$(awk -v n="$n" '$1 == n { for (i = 2; i <= NF; i++) if ($i ~ /^hwm_kib=/) { split($i, a, "="); if (a[2] > m) m = a[2] } } END { printf "%.1f", m / 1024 }' "$tmp/watch-rss.txt")
	done
	rm -f "$big"
fi

# ---- summary ------------------------------------------------------------------------------
ratio() { calc '%.2f' "$1 / $2"; }
yes_no() { awk "BEGIN { print ($1) ? \"yes\" : \"no\" }"; }
say ""
say "## summary (MiB/s = 2^20 bytes per second; MB/s = 10^6)"
if ! skip upload; then
	say "upload token URL:            ${fig[tok]} MiB/s; peer curl -T to a loopback server + fsync ${fig[peer]} MiB/s (ours/peer $(ratio "${fig[tok]}" "${fig[peer]}"))"
	say "  vs min(sha256sum ${fig[sha]}, dd fsync ${fig[dd]}) = ${fig[limit]} MiB/s: $(ratio "${fig[tok]}" "${fig[limit]}")x, goal >= 0.7: $(yes_no "${fig[tok]} >= 0.7 * ${fig[limit]}")"
	say "  bytes written to disk (dvcr + importer write_bytes) / file: ${fig[tok_wb]}x (du of .local/dvcr ${fig[tok_du]}x; peer ${fig[peer_wb]}x), goal <= 1.05: $(yes_no "${fig[tok_wb]} <= 1.05")"
fi
if ! skip tus; then
	say "upload tus via kubectl proxy: ${fig[tus]} MiB/s ($(ratio "${fig[tus]}" "${fig[limit]:-${fig[tus]}}")x of min(sha256, dd); ours/peer $(ratio "${fig[tus]}" "${fig[peer]:-${fig[tus]}}"))"
	say "upload d8 v upload:           ${fig[d8]:-failed (see 1c)}"
fi
if ! skip import; then
	say "HTTP import qcow2 $IMPORT_SIZE: peer ${fig[i_peer]} s (curl ${fig[i_peer1]} + qemu-img convert and sync ${fig[i_peer2]}); ours direct ${fig[i_direct]} s (import ${fig[i_imp]} + fill ${fig[i_fill]}): peer/ours $(ratio "${fig[i_peer]}" "${fig[i_direct]}"), goal >= 1.0: $(yes_no "${fig[i_peer]} >= ${fig[i_direct]}")"
	say "  one step (fill from HTTP, a disk with a size) ${fig[i_one]} s: peer/ours $(ratio "${fig[i_peer]}" "${fig[i_one]}"), goal >= 1.0: $(yes_no "${fig[i_peer]} >= ${fig[i_one]}")"
	if [ "${fig[i_stack]}" != failed ]; then
		say "  through the stack (VirtualDisk create -> Ready) ${fig[i_stack]} s: peer/ours $(ratio "${fig[i_peer]}" "${fig[i_stack]}")"
	else
		say "  through the stack: failed"
	fi
fi
if ! skip unpack; then
	say "gunzip: klauspost ${fig[gz_k]} MB/s, stdlib ${fig[gz_s]} MB/s: $(ratio "${fig[gz_k]}" "${fig[gz_s]}")x, goal >= 1.4: $(yes_no "${fig[gz_k]} >= 1.4 * ${fig[gz_s]}") (gzip -dc ${fig[gz_cli]} MB/s)"
	say "unxz: importer path (xz -dc through pipes) ${fig[xz_i]} MB/s, xz -d alone ${fig[xz_p]} MB/s: $(ratio "${fig[xz_i]}" "${fig[xz_p]}")x, goal >= 1.0: $(yes_no "${fig[xz_i]} >= ${fig[xz_p]}") (Go decoder ${fig[xz_g]} MB/s; xz -dc from the shell ${fig[xz_cli]} MB/s)"
	say "whole importer HTTP -> DVCR, unpacked MB/s: raw ${fig[u_raw]}, gz ${fig[u_gz]}, xz ${fig[u_xz]}"
fi
if ! skip rss; then
	say "peak RSS (MiB; goal < 256 each) during a $RSS_SIZE upload (${fig[big_up]} MiB/s) and import (${fig[big_imp]} MiB/s): max VmRSS sampled during the run / VmHWM over the process's life (the stack's programs may have peaked before the run)"
	for n in virtualization-apiserver virtualization-controller virtualization-importer dvcr; do
		say "  $n: ${fig[rss_$n]} / ${fig[hwm_$n]} MiB, goal met: $(yes_no "${fig[rss_$n]} < 256 && ${fig[hwm_$n]} < 256")"
	done
fi
{
	echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# wall time: $(($(date +%s) - t_start))s"
} | tee -a "$out"
echo "results in $out" >&2
