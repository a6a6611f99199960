#!/usr/bin/env bash
# Resolver benchmark: generates the problems, solves each with our resolver (release build) and
# with deppy v0.1.0 driven like operator-controller v0.8.0, and prints a side-by-side table.
# Ours runs twice: the way a controller resolves (`Options::not_chosen` off: selection and why)
# and with the default options (every other bundle of each selected package explained).
#
#   bench/resolver/run.sh            # default: 200 runs per small problem, 20 per large one
#   REPEAT_SCALE=0.1 bench/resolver/run.sh   # quicker, noisier
#   OUT=/tmp/resolver-bench bench/resolver/run.sh
#   SKIP_BUILD=1 bench/resolver/run.sh       # reuse target/release/examples/resolver_bench
#
# Needs cargo, go (the deppy modules come from the Go module proxy, pinned in go.mod/go.sum)
# and python3. Generated data goes to $OUT (default bench/out/resolver, gitignored).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${OUT:-$root/bench/out/resolver}"
corpus="${OLMRS_CORPUS:-$root/../shared/corpus}"
scale="${REPEAT_SCALE:-1}"

if [[ -z "${SKIP_BUILD:-}" ]]; then
  echo "== building (release)" >&2
  (cd "$root" && cargo build --release -q -p resolver --example resolver_bench)
fi
ours="$root/target/release/examples/resolver_bench"
mkdir -p "$out"
(cd "$here/deppy-harness" && GOFLAGS=-mod=readonly go build -o "$out/deppy-harness" .)
deppy="$out/deppy-harness"

echo "== generating problems into $out" >&2
rm -rf "$out/problems"
"$ours" generate --corpus "$corpus" --out "$out/problems" >&2

# name  problem  mode  runs
cases=(
  "single package (community)|community-single|isolated|200"
  "single package with deps (community)|community-single-deps|isolated|200"
  "50 requests, joint (community)|community-fifty|joint|50"
  "50 requests, isolated (community)|community-fifty|isolated|20"
  "deep chain, 200 levels|chain-deep|joint|20"
  "chain with forced back-off, 30 levels|chain-pinned|joint|20"
  "200 GVK providers, 50 consumers|gvk-providers|joint|20"
  "dense §1.5: 333x21, 50% deps, 50 requests|dense|joint|10"
)

results="$out/results.jsonl"
: >"$results"
for c in "${cases[@]}"; do
  IFS='|' read -r title problem mode runs <<<"$c"
  runs="$(python3 -c "print(max(3, int($runs * $scale)))")"
  dir="$out/problems/$problem"
  flags=()
  [[ "$mode" == joint ]] && flags=(--joint)
  echo "== $title ($runs runs)" >&2
  "$ours" solve --catalog "$dir/catalog" --requests "$dir/requests.json" "${flags[@]}" \
    --repeat "$runs" >"$out/$problem-$mode.ours.json"
  "$ours" solve --catalog "$dir/catalog" --requests "$dir/requests.json" "${flags[@]}" \
    --explain --repeat "$runs" >"$out/$problem-$mode.ours-explain.json"
  dflags=()
  [[ "$mode" == joint ]] && dflags=(-joint)
  "$deppy" -catalog "$dir/catalog" -requests "$dir/requests.json" "${dflags[@]}" \
    -repeat "$runs" >"$out/$problem-$mode.deppy.json"
  python3 - "$title" "$out/$problem-$mode.ours.json" "$out/$problem-$mode.deppy.json" \
    "$out/$problem-$mode.ours-explain.json" >>"$results" <<'EOF'
import json, sys
title = sys.argv[1]
ours, deppy, explain = (json.load(open(f)) for f in sys.argv[2:5])
norm = lambda sel: [sorted(s) if isinstance(s, list) else s for s in sel]
print(json.dumps({
    "title": title, "bundles": ours["bundles"], "requests": ours["requests"],
    "ours": ours["medianUs"], "oursP95": ours["p95Us"], "oursCpu": ours["cpuMeanUs"],
    "explainCpu": explain["cpuMeanUs"],
    "deppy": deppy["medianUs"], "deppyP95": deppy["p95Us"], "deppyCpu": deppy["cpuMeanUs"],
    "same": norm(ours["selections"]) == norm(deppy["selections"])
        == norm(explain["selections"]),
}))
EOF
done

python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def fmt(us):
    return f"{us/1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"
print()
print("| problem | bundles | requests | ours: CPU mean / wall median (p95) | deppy: CPU mean / wall median (p95) | deppy / ours (CPU) | ours with `not_chosen`: CPU mean (deppy / ours) | same selection |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
ratio = lambda a, b: a / b if b else float("inf")
for r in rows:
    print(f"| {r['title']} | {r['bundles']} | {r['requests']} "
          f"| {fmt(r['oursCpu'])} / {fmt(r['ours'])} ({fmt(r['oursP95'])}) "
          f"| {fmt(r['deppyCpu'])} / {fmt(r['deppy'])} ({fmt(r['deppyP95'])}) "
          f"| {ratio(r['deppyCpu'], r['oursCpu']):.1f}× "
          f"| {fmt(r['explainCpu'])} ({ratio(r['deppyCpu'], r['explainCpu']):.1f}×) "
          f"| {'yes' if r['same'] else 'NO'} |")
EOF
