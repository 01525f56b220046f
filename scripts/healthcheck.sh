#!/bin/bash
# Container healthcheck, from the service's own health signal, in bash builtins only: Docker runs it in every
# container every 10–15 s, and the node process it replaces cost ~80 ms of CPU and 40 MB each time — most of the
# compose stack's CPU (npm run bench -- compose).
#   healthcheck.sh file <path> [maxAgeMs]  — the health file the service keeps fresh (HOMELAB_HEALTH_FILE)
#   healthcheck.sh tcp <port>              — the port accepts connections on 127.0.0.1 (the broker, the proxy)
#   healthcheck.sh http <port> <path>      — GET http://127.0.0.1:<port><path> answers 200 (the gateway's /healthz)
# Exits 0 when healthy, 1 with one line saying why not.
set -u
fail() {
  echo "unhealthy: $*"
  exit 1
}
case "${1:-}" in
  file)
    f=${2:?path}
    max=${3:-30000}
    body=''
    { IFS= read -r -d '' body <"$f"; } 2>/dev/null || [ -n "$body" ] || fail "cannot read $f"
    [[ $body =~ \"ts\":([0-9]+) ]] || fail "$f has no ts"
    now=${EPOCHREALTIME/[.,]/}
    age=$((now / 1000 - BASH_REMATCH[1]))
    ((age <= max)) || fail "$f is $((age / 1000)) s old"
    if [[ ! $body =~ \"ok\":true ]]; then
      [[ $body =~ \"detail\":\"([^\"]*)\" ]] && fail "${BASH_REMATCH[1]}"
      fail 'not ok'
    fi
    echo 'healthy'
    ;;
  tcp)
    port=${2:?port}
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "port $port does not accept connections"
    echo "healthy: port $port accepts connections"
    ;;
  http)
    port=${2:?port}
    path=${3:-/}
    exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || fail "port $port does not accept connections"
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
    IFS= read -r -t 4 status <&3 || fail "no answer to GET $path within 4 s"
    [[ $status =~ ^HTTP/1\.[01]\ 200 ]] || fail "GET $path answered ${status%$'\r'}"
    echo "healthy: GET $path answered 200"
    ;;
  *) fail 'usage: healthcheck.sh file <path> [maxAgeMs] | tcp <port> | http <port> <path>' ;;
esac
