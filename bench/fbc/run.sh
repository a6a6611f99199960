#!/usr/bin/env bash
# Times our `opm` against upstream opm v1.73.0 on the same generated catalog and prints a
# markdown table with ratios. Each command runs RUNS times under /usr/bin/time; the table shows
# the mean wall time, the mean CPU time (user + sys, steadier when other jobs share the machine)
# and the largest max RSS seen. Rendered outputs of both tools are compared byte for byte.
#
#   bench/fbc/gen.py                  # once: writes bench/out/fbc/large/{json,yaml}
#   bench/fbc/run.sh                  # RUNS=3 UPSTREAM_RUNS=2 by default
#
# Environment: DATA (catalog root with json/ and yaml/), RUNS, UPSTREAM_RUNS, OPM_UPSTREAM,
# NO_BUILD=1 (use the existing release binaries).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${DATA:-$root/bench/out/fbc/large}"
runs="${RUNS:-3}"
upstream_runs="${UPSTREAM_RUNS:-2}"
upstream="${OPM_UPSTREAM:-$HOME/.cache/olm-rs/opm/v1.73.0/bin/opm}"
ours="$root/target/release/opm"
bench="$root/target/release/examples/catalog_bench"

[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }
[ -x "$upstream" ] || { echo "upstream opm not found at $upstream (set OPM_UPSTREAM)" >&2; exit 1; }
if [ ! -d "$data/json" ] || [ ! -d "$data/yaml" ]; then
    echo "no catalog under $data: run bench/fbc/gen.py first" >&2
    exit 1
fi
if [ -z "${NO_BUILD:-}" ]; then
    (cd "$root" && cargo build --release -p opm && cargo build --release -p fbc --example catalog_bench) >&2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# measure LABEL RUNS OUTFILE CMD... : appends "label<TAB>wall<TAB>cpu<TAB>rss_kb" per run to
# $work/samples.
measure() {
    local label="$1" n="$2" out="$3"
    shift 3
    local i
    for ((i = 1; i <= n; i++)); do
        if ! /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$@" >"$out" 2>"$work/stderr"; then
            echo "FAILED: $*" >&2
            cat "$work/stderr" >&2
            exit 1
        fi
        awk -v l="$label" '{ printf "%s\t%s\t%.2f\t%s\n", l, $1, $2 + $3, $4 }' "$work/time" >>"$work/samples"
        echo "  $label run $i: $(cat "$work/time")" >&2
    done
}

# summary LABEL -> "wall_mean wall_sd cpu_mean rss_max_kb"
summary() {
    awk -F'\t' -v l="$1" '$1 == l { n++; w += $2; ww += $2 * $2; c += $3; if ($4 > r) r = $4 }
        END { m = w / n; v = ww / n - m * m; if (v < 0) v = 0;
              printf "%.2f %.2f %.2f %d\n", m, sqrt(v), c / n, r }' "$work/samples"
}

cases=(
    "validate (JSON input)|validate|$data/json"
    "validate (YAML input)|validate|$data/yaml"
    "render -o json (JSON input)|render|$data/json"
    "render -o json (YAML input)|render|$data/yaml"
)

for c in "${cases[@]}"; do
    IFS='|' read -r name kind dir <<<"$c"
    echo "$name" >&2
    if [ "$kind" = validate ]; then
        measure "ours:$name" "$runs" /dev/null "$ours" validate "$dir"
        measure "upstream:$name" "$upstream_runs" /dev/null "$upstream" validate "$dir"
    else
        measure "ours:$name" "$runs" "$work/ours.out" "$ours" render "$dir" -o json
        measure "upstream:$name" "$upstream_runs" "$work/upstream.out" "$upstream" render "$dir" -o json
        if ! cmp -s "$work/ours.out" "$work/upstream.out"; then
            echo "OUTPUT DIFFERS: $name" >&2
            exit 1
        fi
        echo "  outputs identical ($(stat -c %s "$work/ours.out") bytes)" >&2
    fi
done

extras=(
    "load only (JSON input)|load $data/json"
    "load only (YAML input)|load $data/yaml"
    "render, streamed output (JSON input)|render $data/json json"
    "validate, package by package (JSON input)|validate-stream $data/json"
)
for c in "${extras[@]}"; do
    IFS='|' read -r name args <<<"$c"
    echo "$name" >&2
    # shellcheck disable=SC2086
    measure "lib:$name" "$runs" /dev/null "$bench" $args
done

bundles=$(grep -rh '"schema": "olm.bundle"' "$data/json" | wc -l)
echo
echo "Catalog: $data ($bundles bundles; json $(du -sh "$data/json" | cut -f1), yaml $(du -sh "$data/yaml" | cut -f1)); ours $runs runs, upstream $upstream_runs runs."
echo
echo "| Command | upstream wall (s) | ours wall (s) | speed-up (wall) | upstream CPU (s) | ours CPU (s) | speed-up (CPU) | upstream max RSS (MB) | ours max RSS (MB) | RSS ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${cases[@]}"; do
    IFS='|' read -r name _ _ <<<"$c"
    read -r uw usd uc ur <<<"$(summary "upstream:$name")"
    read -r ow osd oc or <<<"$(summary "ours:$name")"
    awk -v n="$name" -v uw="$uw" -v usd="$usd" -v uc="$uc" -v ur="$ur" -v ow="$ow" -v osd="$osd" -v oc="$oc" -v or="$or" 'BEGIN {
        printf "| `opm %s` | %.2f ± %.2f | %.2f ± %.2f | %.1f× | %.2f | %.2f | %.1f× | %.0f | %.0f | %.2f |\n",
            n, uw, usd, ow, osd, uw / ow, uc, oc, uc / oc, ur / 1024, or / 1024, or / ur }'
done
echo
echo "| Library measurement (ours only) | wall (s) | CPU (s) | max RSS (MB) |"
echo "|---|---:|---:|---:|"
for c in "${extras[@]}"; do
    IFS='|' read -r name _ <<<"$c"
    read -r w sd cpu r <<<"$(summary "lib:$name")"
    awk -v n="$name" -v w="$w" -v sd="$sd" -v c="$cpu" -v r="$r" 'BEGIN {
        printf "| %s | %.2f ± %.2f | %.2f | %.0f |\n", n, w, sd, c, r / 1024 }'
done
