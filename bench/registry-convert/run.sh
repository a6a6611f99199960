#!/usr/bin/env bash
# registry+v1 → plain conversion of every corpus bundle (results go in BENCHMARKS.md, section
# "registry+v1 conversion"): ours (`rukpakctl convert`, release build) against upstream
# rukpak v0.16.0's `internal/convert.RegistryV1ToPlain` behind the differential test's harness
# (`scripts/build-go-tools.sh rukpak-convert`), one process per bundle for both, output to
# /dev/null. Upstream refuses 144 of the 313 bundles (webhooks, API services, no
# AllNamespaces), so the like-for-like figure is over the bundles upstream converts; ours is
# also given over all 313. Each loop runs RUNS times (default 3); the best is kept.
#
#   bench/registry-convert/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-3}"
OUT=bench/out/registry-convert
rm -rf "$OUT" && mkdir -p "$OUT"

echo "=== build"
cargo build --release --quiet -p rukpak --bin rukpakctl
HARNESS="$(scripts/build-go-tools.sh rukpak-convert)"
OURS="$PWD/target/release/rukpakctl"

# Bundle directories only (packages also hold ci.yaml and catalog templates).
for dir in ../shared/corpus/bundles/*/*/; do
  [[ -d "$dir/manifests" ]] && echo "${dir%/}"
done >"$OUT/all.txt"
: >"$OUT/accepted.txt"
while read -r dir; do
  if "$HARNESS" "$dir" >/dev/null 2>&1; then echo "$dir" >>"$OUT/accepted.txt"; fi
done <"$OUT/all.txt"
echo "bundles: $(wc -l <"$OUT/all.txt") in the corpus, $(wc -l <"$OUT/accepted.txt") accepted by upstream"

# loop LIST CMD...: runs CMD DIR for every DIR of LIST, RUNS times; prints the best
# "wall_s cpu_s" (CPU = user + sys of the children).
loop() {
  local list="$1"; shift
  local best=""
  for _ in $(seq 1 "$RUNS"); do
    local t
    t=$( { /usr/bin/time -f "%e %U %S" bash -c '
      list="$1"; shift
      while read -r dir; do "$@" "$dir" >/dev/null 2>&1 || true; done <"$list"
    ' _ "$list" "$@"; } 2>&1 | tail -1 | awk '{printf "%.2f %.2f", $1, $2 + $3}')
    if [[ -z "$best" ]] || awk -v a="${t%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
      best="$t"
    fi
  done
  echo "$best"
}

echo "=== upstream-accepted bundles"
# The loop's own cost (a fork and exec per bundle), subtracted from both below.
echo "loop $(loop "$OUT/accepted.txt" /bin/true)" | tee -a "$OUT/results.txt"
up=$(loop "$OUT/accepted.txt" "$HARNESS")
ours=$(loop "$OUT/accepted.txt" "$OURS" convert)
echo "upstream $up" | tee -a "$OUT/results.txt"
echo "ours $ours" | tee -a "$OUT/results.txt"
echo "=== all bundles, ours"
echo "ours-all $(loop "$OUT/all.txt" "$OURS" convert)" | tee -a "$OUT/results.txt"
awk '/^loop /{lw=$2; lc=$3} /^upstream /{uw=$2; uc=$3} /^ours /{ow=$2; oc=$3}
  END {printf "upstream/ours: wall %.1fx, CPU %.1fx; without the loop: wall %.1fx, CPU %.1fx\n",
       uw/ow, uc/oc, (uw-lw)/(ow-lw), (uc-lc)/(oc-lc)}' "$OUT/results.txt" | tee -a "$OUT/results.txt"
