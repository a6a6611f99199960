#!/usr/bin/env bash
# opm index add benchmark: ours (in-process pull/build/push) vs upstream opm v1.73.0
# (`index add --pull-tool none --generate`, which builds the database locally and stops
# before any container build), against a loopback docker-registry.
#
#   bench/index-add/run.sh [packages] [versions] [extra-packages]
#
# Defaults: 100 packages x 10 versions = a 1,000-bundle index; adding 1 bundle (the next
# version of one package) and 200 bundles (20 new packages x 10 versions). Prints one line
# per run: scenario, tool, wall seconds, CPU seconds (user + sys), peak RSS KiB, bytes pulled and pushed, blob uploads
# and HEAD requests (from the registry's log and storage). Needs docker-registry and /usr/bin/time; upstream opm at
# ~/.cache/olm-rs/opm/v1.73.0/bin/opm (skipped when missing).
set -euo pipefail

PACKAGES=${1:-100}
VERSIONS=${2:-10}
EXTRA=${3:-20}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UPSTREAM=${UPSTREAM_OPM:-$HOME/.cache/olm-rs/opm/v1.73.0/bin/opm}
WORK=$(mktemp -d /tmp/bench-index-add.XXXXXX)
REG_PID=""
cleanup() {
    if [[ -n "$REG_PID" ]]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

for bin in docker-registry /usr/bin/time; do
    command -v "$bin" >/dev/null || { echo "SKIP: $bin not found (apt-get install docker-registry time)"; exit 0; }
done

echo "# building (release)" >&2
(cd "$ROOT" && cargo build --release -q -p opm -p index-image --example bench_fixtures)
OPM="$ROOT/target/release/opm"
FIXTURES="$ROOT/target/release/examples/bench_fixtures"

source "$ROOT/bench/registry.sh"
start_registry "$WORK"

echo "# pushing fixtures ($PACKAGES x $VERSIONS base, 1 single, $EXTRA x $VERSIONS extra)" >&2
"$FIXTURES" "$HOST" "$WORK/fixtures" "$PACKAGES" "$VERSIONS" "$EXTRA"
BASE=$(cat "$WORK/fixtures/base.txt")
ONE=$(cat "$WORK/fixtures/one.txt")
MANY=$(cat "$WORK/fixtures/many.txt")

export HOME="$WORK/home" DOCKER_CONFIG="$WORK/home/docker"
mkdir -p "$HOME"
echo "# building the ${PACKAGES}x${VERSIONS} sqlite and FBC base indexes (ours)" >&2
OPM_CACHE_DIR="$WORK/setup-cache" "$OPM" --use-http index add --bundles "$BASE" \
    --tag "$HOST/bench/index:sqlite" --binary-image scratch 2>/dev/null
OPM_CACHE_DIR="$WORK/setup-cache" "$OPM" --use-http index add --bundles "$BASE" \
    --tag "$HOST/bench/index:fbc" --binary-image scratch --index-format fbc 2>/dev/null

# Traffic since line $1 of the registry log: bytes sent (GET responses), bytes received
# (blobs uploaded, sized from the registry storage; the log has no request sizes), the number
# of blob uploads and of HEAD requests.
traffic() {
    tail -n +"$1" "$WORK/registry.log" | STORAGE="$WORK/storage" python3 -c '
import os, re, sys
pulled = pushed = uploads = heads = 0
for line in sys.stdin:
    if "response completed" not in line:
        continue
    m = re.search(r"http\.request\.method=(\w+)", line)
    w = re.search(r"http\.response\.written=(\d+)", line)
    u = re.search(r"http\.request\.uri=\"?([^ \"]+)", line)
    st = re.search(r"http\.response\.status=(\d+)", line)
    if not m:
        continue
    if m.group(1) == "GET" and w:
        pulled += int(w.group(1))
    if m.group(1) == "HEAD":
        heads += 1
    if m.group(1) == "PUT" and u and "/blobs/uploads/" in u.group(1) and st and st.group(1) == "201":
        d = re.search(r"digest=sha256(?::|%3A)([0-9a-f]{64})", u.group(1))
        if d:
            h = d.group(1)
            path = os.path.join(os.environ["STORAGE"], "docker/registry/v2/blobs/sha256", h[:2], h, "data")
            pushed += os.path.getsize(path)
            uploads += 1
print(pulled, pushed, uploads, heads)'
}

# run <scenario> <tool> <cmd...>: one timed run in a fresh directory.
run() {
    local scenario=$1 tool=$2; shift 2
    local dir; dir=$(mktemp -d "$WORK/run.XXXXXX")
    local start; start=$(($(wc -l < "$WORK/registry.log") + 1))
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$dir" && /usr/bin/time -v -o "$dir/time.txt" "$@" > "$dir/out.txt" 2> "$dir/err.txt") \
        || { echo "FAILED: $scenario $tool"; cat "$dir/err.txt"; exit 1; }
    t1=$(date +%s.%N)
    local rss; rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$dir/time.txt")
    # CPU (user + sys) is the figure other processes on a shared machine do not inflate.
    local cpu; cpu=$(awk -F: '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$dir/time.txt")
    read -r pulled pushed uploads heads < <(traffic "$start")
    printf '%-22s %-20s %8.2f s %6s s CPU %9s KiB %11s B pulled %11s B pushed %4s uploads %5s HEADs\n' \
        "$scenario" "$tool" "$(echo "$t1 - $t0" | bc)" "$cpu" "$rss" "$pulled" "$pushed" "$uploads" "$heads"
}

for kind in sqlite fbc; do
    for scenario in one many; do
        bundles=$ONE; [[ $scenario == many ]] && bundles=$MANY
        name="add-$scenario-to-$kind"
        rm -rf "$WORK/cold-cache"
        run "$name" "ours(cold cache)" env OPM_CACHE_DIR="$WORK/cold-cache" "$OPM" --use-http \
            index add --bundles "$bundles" --from-index "$HOST/bench/index:$kind" \
            --tag "$HOST/bench/out:$kind-$scenario"
        run "$name" "ours(warm cache)" env OPM_CACHE_DIR="$WORK/cold-cache" "$OPM" --use-http \
            index add --bundles "$bundles" --from-index "$HOST/bench/index:$kind" \
            --tag "$HOST/bench/out:$kind-$scenario"
        if [[ $kind == sqlite && -x "$UPSTREAM" ]]; then
            run "$name" "upstream --generate" "$UPSTREAM" index add --bundles "$bundles" \
                --from-index "$HOST/bench/index:$kind" --pull-tool none --generate --use-http
        fi
    done
done
