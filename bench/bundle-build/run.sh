#!/usr/bin/env bash
# opm alpha bundle build benchmark: every corpus bundle built and pushed, one `opm` process per
# bundle in a shell loop (as a user would), to a loopback docker-registry.
#
#   bench/bundle-build/run.sh [corpus-dir]
#
# Default corpus: ../shared/corpus beside the checkout (its bundles/*/*/, without
# catalog-templates). Prints the bundle count, failures (with their errors), wall seconds and
# CPU seconds (user + sys, of the whole loop and its children) for a cold and a warm blob cache.
# Needs docker-registry, curl and /usr/bin/time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS=${1:-$ROOT/../shared/corpus}
WORK=$(mktemp -d /tmp/bench-bundle-build.XXXXXX)
REG_PID=""
cleanup() {
    if [[ -n "$REG_PID" ]]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

for bin in docker-registry curl /usr/bin/time; do
    command -v "$bin" >/dev/null || { echo "SKIP: $bin not found (apt-get install docker-registry curl time)"; exit 0; }
done

echo "# building (release)" >&2
(cd "$ROOT" && cargo build --release -q -p opm)
OPM="$ROOT/target/release/opm"

source "$ROOT/bench/registry.sh"
start_registry "$WORK" error

ls -d "$CORPUS"/bundles/*/*/ | grep -v '/catalog-templates/' > "$WORK/bundles.txt"
echo "# $(wc -l < "$WORK/bundles.txt") bundles from $CORPUS/bundles" >&2

export HOME="$WORK/home" DOCKER_CONFIG="$WORK/home/docker" OPM_CACHE_DIR="$WORK/cache"
mkdir -p "$HOME"

# The loop users would write: one build-and-push per bundle directory, to <pkg>-bundle:<version>.
cat > "$WORK/loop.sh" <<'LOOP'
#!/usr/bin/env bash
ok=0 failed=0
while read -r dir; do
    version=$(basename "$dir"); package=$(basename "$(dirname "$dir")")
    if "$OPM" --use-http alpha bundle build -d "$dir" -t "$HOST/bench/$package-bundle:$version" \
        >> "$WORK/pushed.txt" 2> "$WORK/last-err.txt"; then
        ok=$((ok + 1))
    else
        failed=$((failed + 1))
        { echo "FAILED: $dir"; cat "$WORK/last-err.txt"; } >> "$WORK/failures.txt"
    fi
done < "$WORK/bundles.txt"
echo "$ok pushed, $failed failed"
LOOP
chmod +x "$WORK/loop.sh"
export OPM HOST WORK

for run in cold warm; do
    [[ $run == cold ]] && rm -rf "$OPM_CACHE_DIR"
    : > "$WORK/pushed.txt"; : > "$WORK/failures.txt"
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$WORK/time.txt" "$WORK/loop.sh" > "$WORK/summary.txt"
    t1=$(date +%s.%N)
    cpu=$(awk -F: '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$WORK/time.txt")
    printf '%-10s %s; %8.2f s wall %8s s CPU\n' "$run" "$(cat "$WORK/summary.txt")" "$(echo "$t1 - $t0" | bc)" "$cpu"
    cat "$WORK/failures.txt"
done
