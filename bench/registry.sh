# Sourced by the benchmarks. start_registry WORK [LOG_LEVEL]: a loopback docker-registry
# storing under WORK/storage and logging to WORK/registry.log; sets HOST (127.0.0.1:PORT) and
# REG_PID (for the caller's cleanup).
start_registry() {
    local work=$1 level=${2:-info} port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    HOST="127.0.0.1:$port"
    cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: $level, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/storage}, delete: {enabled: true}}
http: {addr: $HOST, secret: bench}
YAML
    env -u REGISTRY_HTTP_ADDR docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 50); do curl -fs "http://$HOST/v2/" >/dev/null && break; sleep 0.1; done
}
