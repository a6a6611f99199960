#!/usr/bin/env bash
# catalogd benchmarks (results go in BENCHMARKS.md, section "catalogd"):
#  (a) Catalog creation -> content served, for a >= MIN_MIB MiB catalog generated from the
#      corpus, against a real kube-apiserver + docker-registry with the release binary;
#  (b) all.json throughput, plain and gzip, catalogd vs Debian's nginx on the same bytes;
#  (c) /api/v1/metas?package= latency (p50/p99) at CONNS concurrent connections, with
#      nginx serving the same response bytes as a static file for reference.
# MODE=wrk (default) runs (b) and (c) with wrk, a closed loop: every connection sends its
# next request as soon as the previous answer arrives, so (c) measures saturation
# (latency ~ CONNS / throughput). MODE=oha replaces (b) and (c) with (d): open-loop
# latency of the same metas queries at fixed total request rates (RATES, req/s) over CONNS
# connections, with `oha -q RATE --latency-correction` (latency counted from when each
# request was due, so a stalled server cannot hide its queueing delay); install oha with
# `cargo install --locked oha`. ENCODINGS (default "identity gzip") sets the
# Accept-Encoding of each (d) run; nginx answers gzip from a precompressed .gz copy.
# Everything listens on loopback; every wrk/oha run is bounded by DURATION seconds.
# Processes started here are stopped by PID on exit. Output: bench/out/catalogd/
# (gitignored).
#
#   bench/catalogd/run.sh                 # defaults below
#   DURATION=30 CONNS=500 bench/catalogd/run.sh
#   MODE=oha DURATION=12 RATES="500 1000 2000 4000" bench/catalogd/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=bench/out/catalogd
MIN_MIB="${MIN_MIB:-110}"
DURATION="${DURATION:-15}"
CONNS="${CONNS:-500}"
ALL_CONNS="${ALL_CONNS:-4}"
THREADS="${THREADS:-2}"
MODE="${MODE:-wrk}"
RATES="${RATES:-500 1000 2000 4000}"
ENCODINGS="${ENCODINGS:-identity gzip}"
# Packages for the metas queries: a small (v4.22-style) and a large (v4.15, with
# olm.bundle.object properties) one.
PKGS="${PKGS:-c0v422-cat-facts-operator c0v415-kube-green}"
CATALOGD_PORT="${CATALOGD_PORT:-18083}"
NGINX_PORT="${NGINX_PORT:-18084}"

die() { echo "bench/catalogd/run.sh: $*" >&2; exit 1; }
case "$MODE" in
  wrk) ;;
  oha) command -v oha >/dev/null || die "MODE=oha needs oha: cargo install --locked oha" ;;
  *) die "MODE must be wrk or oha, not '$MODE'" ;;
esac

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v jq >/dev/null || need+=(jq)
if ((${#need[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing ${need[*]}; install them with apt-get"
  apt-get install -y -qq "${need[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
fi

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

echo "=== build (release)"
cargo build --release --quiet -p catalogd --bin catalogd --example bench
BENCH=target/release/examples/bench
mkdir -p "$OUT"

echo "=== generate >= ${MIN_MIB} MiB of FBC"
if [[ ! -f "$OUT/fbc/.complete-$MIN_MIB" ]]; then
  "$BENCH" generate --out "$OUT/fbc" --min-mib "$MIN_MIB"
  touch "$OUT/fbc/.complete-$MIN_MIB"
fi
echo "$(du -sh --apparent-size "$OUT/fbc" | cut -f1) in $(find "$OUT/fbc" -name catalog.json | wc -l) packages"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "=== (a) Catalog creation -> content served"
rm -f "$OUT/e2e/ready.json" "$OUT/e2e/after.json"
"$BENCH" e2e --catalogd target/release/catalogd --fbc "$OUT/fbc" --out "$OUT/e2e" --port "$CATALOGD_PORT" &
E2E_PID=$!
PIDS+=("$E2E_PID")
for _ in $(seq 1 1800); do
  [[ -f "$OUT/e2e/ready.json" ]] && break
  kill -0 "$E2E_PID" 2>/dev/null || die "the e2e harness exited; see $OUT/e2e/catalogd.log"
  sleep 0.5
done
[[ -f "$OUT/e2e/ready.json" ]] || die "timed out waiting for the catalog to be served"
NAME=$(jq -r .name "$OUT/e2e/ready.json")
CURRENT=$(jq -r .current_dir "$OUT/e2e/ready.json")
CATALOGD="http://127.0.0.1:$CATALOGD_PORT/catalogs/$NAME"
NGINX="http://127.0.0.1:$NGINX_PORT/catalogs/$NAME"

echo "=== nginx on the same bytes"
ROOT="$OUT/nginx/root/catalogs/$NAME"
rm -rf "$OUT/nginx"
mkdir -p "$ROOT" "$OUT/nginx/tmp"
ln "$CURRENT/all.json" "$ROOT/all.json"
ln "$CURRENT/all.json.gz" "$ROOT/all.json.gz"
for pkg in $PKGS; do
  curl -sf "$CATALOGD/api/v1/metas?package=$pkg" -o "$ROOT/metas-$pkg.jsonl"
  [[ -s "$ROOT/metas-$pkg.jsonl" ]] || die "metas?package=$pkg is empty; set PKGS to generated packages"
  # nginx's gzip_static answers gzip clients from this copy, as catalogd answers from its cache.
  gzip -6 -n -k -f "$ROOT/metas-$pkg.jsonl"
done
NGINX_DIR=$(cd "$OUT/nginx" && pwd)
cat > "$OUT/nginx/nginx.conf" <<CONF
user $(id -un);
worker_processes auto;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $NGINX_DIR/tmp/body;
  proxy_temp_path $NGINX_DIR/tmp/proxy;
  fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
  uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
  scgi_temp_path $NGINX_DIR/tmp/scgi;
  types { application/json json; application/jsonl jsonl; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $NGINX_DIR/root;
    gzip_static on;
  }
}
CONF
nginx -c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf -o /dev/null "$NGINX/all.json" -r 0-0 && break; sleep 0.1; done
cmp <(curl -sf "$CATALOGD/all.json") <(curl -sf "$NGINX/all.json") || die "nginx and catalogd serve different all.json"
cmp <(curl -sf -H 'Accept-Encoding: gzip' "$CATALOGD/all.json") <(curl -sf -H 'Accept-Encoding: gzip' "$NGINX/all.json") \
  || die "nginx and catalogd serve different all.json.gz"

# wrk_run <label> <wrk args...>: saves the report, prints the interesting lines.
wrk_run() {
  local label=$1; shift
  wrk --timeout 30s -d "${DURATION}s" "$@" > "$OUT/wrk-$label.txt"
  printf '%-28s %s\n' "$label" "$(grep -E 'Requests/sec|Transfer/sec' "$OUT/wrk-$label.txt" | tr -s ' ' | tr '\n' ' ')"
}

if [[ "$MODE" == oha ]]; then
  # oha_run <label> <encoding> <url>: one fixed-rate run per rate; JSON in $OUT/oha-*.json.
  oha_run() {
    local label=$1 enc=$2 url=$3 rate f
    for rate in $RATES; do
      f="$OUT/oha-$label-$enc-$rate.json"
      echo "$(cut -d' ' -f1-3 /proc/loadavg)" > "$OUT/oha-$label-$enc-$rate.load"
      oha --no-tui --output-format json -z "${DURATION}s" -c "$CONNS" -q "$rate" \
        --latency-correction -t 30s -H "Accept-Encoding: $enc" "$url" > "$f"
      cut -d' ' -f1-3 /proc/loadavg >> "$OUT/oha-$label-$enc-$rate.load"
      jq -r --arg l "$label $enc" --arg r "$rate" '"\($l) @\($r)/s: \(.summary.requestsPerSec|round) req/s, success \(.summary.successRate), p50 \(.latencyPercentiles.p50*1000*100|round/100) ms, p99 \(.latencyPercentiles.p99*1000*100|round/100) ms, p99.9 \(.latencyPercentiles["p99.9"]*1000*100|round/100) ms"' "$f"
    done
  }
  for pkg in $PKGS; do
    for enc in $ENCODINGS; do
      # Both servers must send the same bytes for this encoding, or the comparison is void.
      cmp <(curl -sf -H "Accept-Encoding: $enc" "$CATALOGD/api/v1/metas?package=$pkg" | { [[ $enc == gzip ]] && gzip -dc || cat; }) \
        <(curl -sf -H "Accept-Encoding: $enc" "$NGINX/metas-$pkg.jsonl" | { [[ $enc == gzip ]] && gzip -dc || cat; }) \
        || die "catalogd and nginx differ for metas?package=$pkg ($enc)"
    done
  done
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  for pkg in $PKGS; do
    for enc in $ENCODINGS; do
      echo "=== (d) metas?package=$pkg open-loop latency, $enc (${CONNS} connections, rates ${RATES} req/s, ${DURATION}s each)"
      oha_run "metas-$pkg-catalogd" "$enc" "$CATALOGD/api/v1/metas?package=$pkg"
      oha_run "metas-$pkg-nginx-static" "$enc" "$NGINX/metas-$pkg.jsonl"
    done
  done
  {
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -h | awk '/^Mem:/ {print $2}') RAM; load average before oha: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg); $(oha --version)"
    for pkg in $PKGS; do
      for enc in $ENCODINGS; do
        for server in catalogd nginx-static; do
          for rate in $RATES; do
            f="$OUT/oha-metas-$pkg-$server-$enc-$rate.json"
            jq -r --arg p "$pkg" --arg s "$server" --arg e "$enc" --arg r "$rate" --arg b "$(stat -c %s "$ROOT/metas-$pkg.jsonl")" --arg z "$(stat -c %s "$ROOT/metas-$pkg.jsonl.gz")" \
              '"(d) \($p) (\($b) bytes, \($z) gzip) \($e) \($s) @\($r)/s: achieved \(.summary.requestsPerSec|round) req/s, success \(.summary.successRate), status \(.statusCodeDistribution|tostring), p50 \(.latencyPercentiles.p50*1000*100|round/100) ms, p99 \(.latencyPercentiles.p99*1000*100|round/100) ms, p99.9 \(.latencyPercentiles["p99.9"]*1000*100|round/100) ms"' "$f"
            echo "    load average before/after: $(tr '\n' ' ' < "$OUT/oha-metas-$pkg-$server-$enc-$rate.load")"
          done
        done
      done
    done
  } | tee "$OUT/results-oha.txt"
  exit 0
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "=== (b) all.json throughput (${ALL_CONNS} connections, ${DURATION}s each)"
wrk_run all-catalogd -t "$THREADS" -c "$ALL_CONNS" "$CATALOGD/all.json"
wrk_run all-nginx -t "$THREADS" -c "$ALL_CONNS" "$NGINX/all.json"
wrk_run all-gzip-catalogd -t "$THREADS" -c "$ALL_CONNS" -H 'Accept-Encoding: gzip' "$CATALOGD/all.json"
wrk_run all-gzip-nginx -t "$THREADS" -c "$ALL_CONNS" -H 'Accept-Encoding: gzip' "$NGINX/all.json"

for pkg in $PKGS; do
  echo "=== (c) metas?package=$pkg latency (${CONNS} connections, ${DURATION}s each)"
  wrk_run "metas-$pkg-catalogd" -t "$THREADS" -c "$CONNS" --latency "$CATALOGD/api/v1/metas?package=$pkg"
  wrk_run "metas-$pkg-nginx-static" -t "$THREADS" -c "$CONNS" --latency "$NGINX/metas-$pkg.jsonl"
done

kill -TERM "$E2E_PID"
for _ in $(seq 1 100); do [[ -f "$OUT/e2e/after.json" ]] && break; sleep 0.1; done

# Summary ------------------------------------------------------------------------------
to_bytes() { # wrk's "123.45MB" -> bytes
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    m = (u == "GB") ? 1073741824 : (u == "MB") ? 1048576 : (u == "KB") ? 1024 : 1; printf "%.0f", n * m }'
}
field() { grep -E "$2" "$OUT/wrk-$1.txt" | awk '{print $2}'; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$OUT/wrk-$1.txt"; }
mibs() { awk -v b="$(to_bytes "$(field "$1" 'Transfer/sec')")" 'BEGIN { printf "%.0f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -h | awk '/^Mem:/ {print $2}') RAM; load average before wrk: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "catalog: $(jq .all_json_bytes "$OUT/e2e/ready.json") bytes all.json, $(jq .all_json_gz_bytes "$OUT/e2e/ready.json") bytes gzip"
  echo "(a) image build $(jq '.image_build_s*10|round/10' "$OUT/e2e/ready.json") s, push $(jq '.image_push_s*10|round/10' "$OUT/e2e/ready.json") s; create -> served $(jq '.create_to_served_s*100|round/100' "$OUT/e2e/ready.json") s, -> status Unpacked $(jq '.create_to_unpacked_status_s*100|round/100' "$OUT/e2e/ready.json") s; catalogd peak RSS $(jq '.catalogd_peak_rss_kib_after_unpack/1024|round' "$OUT/e2e/ready.json") MiB after unpack, $(jq '.catalogd_peak_rss_kib_total/1024|round' "$OUT/e2e/after.json" 2>/dev/null || echo '?') MiB overall"
  for kind in all all-gzip; do
    c=$(mibs "$kind-catalogd"); n=$(mibs "$kind-nginx")
    echo "(b) $kind: catalogd $c MiB/s ($(field "$kind-catalogd" 'Requests/sec') req/s), nginx $n MiB/s ($(field "$kind-nginx" 'Requests/sec') req/s), nginx/catalogd $(ratio "$n" "$c")"
  done
  for pkg in $PKGS; do
    c="metas-$pkg-catalogd"; n="metas-$pkg-nginx-static"
    echo "(c) metas?package=$pkg ($(stat -c %s "$ROOT/metas-$pkg.jsonl") bytes): catalogd p50 $(pct "$c" 50%) p99 $(pct "$c" 99%) $(field "$c" 'Requests/sec') req/s; nginx static p50 $(pct "$n" 50%) p99 $(pct "$n" 99%) $(field "$n" 'Requests/sec') req/s"
  done
  grep -h 'Socket errors' "$OUT"/wrk-*.txt | sed 's/^/warning: /' || true
} | tee "$OUT/results.txt"
