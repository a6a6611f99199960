#!/usr/bin/env bash
# RukPak benchmarks (results go in BENCHMARKS.md, section "RukPak Bundles"): Bundle created
# -> Unpacked, against one real kube-apiserver, for
#  (a) git Bundles (the corpus's plain combo bundle, served by `git daemon`) and
#  (b) configMaps Bundles (the same files in one immutable ConfigMap),
# with ours and with upstream rukpak v0.16.0's `core` built from its Go module (no unpack
# pods are involved for these two sources upstream either), one after the other; then
#  (c) image Bundles (a corpus registry+v1 bundle in Debian's docker-registry), ours only:
#      upstream needs an unpack Pod, which this control plane cannot run;
#  (d) ours' peak RSS (VmHWM) after MANY configMaps Bundles are Unpacked.
# N Bundles are created at once; the figure is the time from the first create to the last
# Unpacked, and each Bundle's own p50. Processes are stopped by PID on exit. Output and
# logs: bench/out/rukpak/ (gitignored).
#
#   bench/rukpak/run.sh                  # N=50 MANY=1000
#   N=20 MANY=200 bench/rukpak/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=bench/out/rukpak
N="${N:-50}"
MANY="${MANY:-1000}"
UPSTREAM="${UPSTREAM:-$HOME/.cache/olm-rs/rukpak/v0.16.0/bin/core}"
die() { echo "bench/rukpak/run.sh: $*" >&2; exit 1; }

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

echo "=== build"
cargo build --release --quiet -p rukpak --bin rukpak -p testenv --bin testenv-controlplane
scripts/build-go-tools.sh rukpak
[[ -x "$UPSTREAM" ]] || die "no upstream core at $UPSTREAM"
KUBEBUILDER_ASSETS="$(scripts/build-go-tools.sh)"
export KUBEBUILDER_ASSETS
rm -rf "$OUT" && mkdir -p "$OUT"

echo "=== control plane"
target/release/testenv-controlplane "$OUT/cp" >"$OUT/controlplane.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do [[ -f "$OUT/cp/ready" ]] && break; sleep 0.1; done
[[ -f "$OUT/cp/ready" ]] || die "control plane did not start: $(tail -5 "$OUT/controlplane.log")"
export KUBECONFIG="$PWD/$OUT/cp/kubeconfig"
K="$(command -v kubectl || echo "$KUBEBUILDER_ASSETS/kubectl")"
"$K" apply --server-side -f config/crd/core.rukpak.io_bundles.yaml -f config/crd/core.rukpak.io_bundledeployments.yaml >/dev/null
"$K" create namespace rukpak-system >/dev/null
"$K" create configmap combo -n rukpak-system --from-file=../shared/corpus/plain/combo-v0.0.2/manifests >/dev/null
"$K" patch configmap combo -n rukpak-system --type=merge -p '{"immutable":true}' >/dev/null

echo "=== git repository"
repo="$OUT/git/combo"
mkdir -p "$repo" && cp -r ../shared/corpus/plain/combo-v0.0.2/manifests "$repo/"
git -C "$repo" init -q && git -C "$repo" add -A
git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid commit -qm combo
git -C "$repo" tag v0.0.2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --export-all --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$OUT/git" "$OUT/git" 2>"$OUT/git-daemon.log" &
PIDS+=($!)
sleep 1
GIT_SOURCE="{\"type\":\"git\",\"git\":{\"repository\":\"git://127.0.0.1:$port/combo\",\"ref\":{\"tag\":\"v0.0.2\"}}}"
CM_SOURCE='{"type":"configMaps","configMaps":[{"configMap":{"name":"combo"},"path":"manifests"}]}'

# start_ours / start_upstream: run one implementation in the background, log to $OUT.
start_ours() {
  target/release/rukpak --namespace rukpak-system --storage-dir "$OUT/store-ours" \
    --insecure-content-access --cert-ip-address 127.0.0.1 --registry-use-http \
    --http-bind-address 127.0.0.1:18443 --http-external-address https://127.0.0.1:18443 \
    --webhook-bind-address 127.0.0.1:19443 \
    --metrics-bind-address 127.0.0.1:18090 --health-probe-bind-address 127.0.0.1:18091 \
    >"$OUT/ours.log" 2>&1 &
  IMPL_PID=$!; PIDS+=("$IMPL_PID")
}
start_upstream() {
  mkdir -p "$OUT/uploads-upstream" "$OUT/store-upstream"
  "$UPSTREAM" --system-namespace rukpak-system --provisioner-storage-dir "$OUT/store-upstream" \
    --upload-storage-dir "$OUT/uploads-upstream" \
    --http-bind-address 127.0.0.1:18080 --http-external-address http://127.0.0.1:18080 \
    --health-probe-bind-address 127.0.0.1:18081 >"$OUT/upstream.log" 2>&1 &
  IMPL_PID=$!; PIDS+=("$IMPL_PID")
}
stop_impl() {
  "$K" delete bundles -l bench --wait=true --timeout=5m >/dev/null
  kill -TERM "$IMPL_PID"; wait "$IMPL_PID" 2>/dev/null || true
}
drive() { python3 bench/rukpak/drive.py "$K" "$@"; }

for impl in upstream ours; do
  echo "=== $impl: git, configMaps"
  "start_$impl"; sleep 2
  drive "$impl-git1" 1 "$GIT_SOURCE" "$impl-warm" >/dev/null   # warm-up: caches, watches
  echo "$impl git $(drive "$impl-git" "$N" "$GIT_SOURCE" "$impl-git")" | tee -a "$OUT/results.txt"
  echo "$impl configMaps $(drive "$impl-cm" "$N" "$CM_SOURCE" "$impl-cm")" | tee -a "$OUT/results.txt"
  stop_impl
done

echo "=== ours: image"
mkdir -p "$OUT/registry"
printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:15000}\n' \
  "$PWD/$OUT/registry" >"$OUT/registry.yml"
docker-registry serve "$OUT/registry.yml" >"$OUT/registry.log" 2>&1 &
PIDS+=($!)
sleep 1
cargo build --release --quiet -p opm
IMG_REF="$(target/release/opm --use-http alpha bundle build -d ../shared/corpus/bundles/kube-green/0.7.0 -t 127.0.0.1:15000/bench/kube-green:0.7.0)"
start_ours; sleep 2
echo "ours image $(drive ours-img "$N" "{\"_class\":\"core-rukpak-io-registry\",\"type\":\"image\",\"image\":{\"ref\":\"$IMG_REF\"}}" ours-img)" | tee -a "$OUT/results.txt"

echo "=== ours: peak RSS with $MANY Bundles"
echo "ours many $(drive ours-many "$MANY" "$CM_SOURCE" ours-many)" | tee -a "$OUT/results.txt"
echo "ours VmHWM_kB $(awk '/VmHWM/ {print $2}' "/proc/$IMPL_PID/status")" | tee -a "$OUT/results.txt"
stop_impl
echo "=== done: $OUT/results.txt"
