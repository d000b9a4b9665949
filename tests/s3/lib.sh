# tests/s3/lib.sh: start and stop the S3 test peers (sourced by tests/cli/store_*.sh).
#
# s3rver (npm, installed into .deps/ by scripts/deps.sh) on 127.0.0.1, a strict SigV4 proxy in
# front of it, and fault proxies in front of that. Every server listens on a free port on
# 127.0.0.1 and is stopped by its PID when the script exits (s3_cleanup runs from the trap).

S3_PIDS=()
S3_ROOT=${TM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
S3_PY=/usr/bin/python3   # not PY: the scripts that source this use PY for their own

s3_free_port() {
  "$S3_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

s3_wait_port() {  # port [seconds]
  local port=$1 tries=$(( ${2:-20} * 10 ))
  while ! "$S3_PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || { echo "port $port did not open" >&2; return 1; }
    sleep 0.1
  done
}

s3_cleanup() {  # runs from an EXIT trap: must not fail under set -e, nor change the status
  local rc=$? pid
  for pid in "${S3_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${S3_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  S3_PIDS=()
  return $rc
}

# s3_start_s3rver DIR BUCKET [--key K --cert C] -> sets S3RVER_PORT
s3_start_s3rver() {
  local dir=$1 bucket=$2 js="$S3_ROOT/.deps/node_modules/s3rver/bin/s3rver.js"; shift 2
  [ -f "$js" ] || { echo "s3rver is not installed: run make deps" >&2; return 1; }
  mkdir -p "$dir"
  S3RVER_PORT=$(s3_free_port)
  # --openssl-legacy-provider: s3rver 3.7 needs OpenSSL APIs newer Node hides without it;
  # --configure-bucket creates the bucket (and without it paginated listings fail).
  node --openssl-legacy-provider "$js" -d "$dir" -a 127.0.0.1 -p "$S3RVER_PORT" \
    --configure-bucket "$bucket" --silent "$@" >>"$dir.log" 2>&1 &
  S3_PIDS+=($!)
  s3_wait_port "$S3RVER_PORT"
}

# s3_start_sigv4 UPSTREAM_PORT LOG [extra args] -> sets SIGV4_PORT
s3_start_sigv4() {
  local up=$1 log=$2; shift 2
  SIGV4_PORT=$(s3_free_port)
  "$S3_PY" "$S3_ROOT/tests/s3/sigv4_proxy.py" --listen "$SIGV4_PORT" --upstream "$up" --log "$log" "$@" &
  S3_PIDS+=($!)
  s3_wait_port "$SIGV4_PORT"
}

# s3_start_fault UPSTREAM_PORT LOG [extra args] -> sets FAULT_PORT
s3_start_fault() {
  local up=$1 log=$2; shift 2
  FAULT_PORT=$(s3_free_port)
  "$S3_PY" "$S3_ROOT/tests/s3/fault_proxy.py" --listen "$FAULT_PORT" --upstream "$up" --log "$log" "$@" &
  S3_PIDS+=($!)
  s3_wait_port "$FAULT_PORT"
}
