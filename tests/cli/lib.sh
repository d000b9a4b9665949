# tests/cli/lib.sh: shell helpers shared by the CLI scenario tests (source it; keep it small).
#   make_home             new empty data directory in $TM_HOME (also exported as TIDEMARK_HOME),
#                         removed when the script exits
#   assert_eq WANT GOT [what]
#   assert_contains TEXT NEEDLE [what]
#   expect_exit CODE cmd...   runs cmd; stdout in $OUT, stderr in $ERR; fails unless it exits CODE
#   fail MESSAGE
#   batch TABLE FROM TO   one batch-write of items {k: N from..to, pad: 40 x}
#   count TABLE           items a scan returns
#   aws_env KEY SECRET    unsets the caller's AWS_* (nothing of it may leak in) and sets this key
#                         pair, us-east-1, no config or credentials file, no pager
#   free_port, wait_port PORT   a free port on 127.0.0.1; waits until something listens on it
#   kill_at_exit PID      the process is killed (and waited for) when the script exits
#   has_dynalite          dynalite is installed (.deps/, make deps)
#   start_dynalite LOG [args]   dynalite on a free port: DYN_URL, DYN_PID
#   start_serve LOG [args]      tidemark serve on a free port (--listen 127.0.0.1:0, the port
#                         read from its log): SRV_URL, SRV_PORT, SRV_PID; stop_serve stops it
#   start_s3 DIR BUCKET   s3rver behind the strict SigV4 proxy (tests/s3/lib.sh): S3_EP
# TM_BIN (programs) and TM_ROOT (repository) are set by `make test`; defaults suit a manual run.
TM_ROOT=${TM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TM_BIN=${TM_BIN:-$TM_ROOT/build/bin}
export PATH="$TM_BIN:$PATH"
unset TIDEMARK_CLOCK TIDEMARK_SEGMENT_BYTES
. "$TM_ROOT/tests/s3/lib.sh"
_tm_homes=()
_tm_pids=()
_tm_cleanup() {  # the EXIT trap: must not fail under set -e, nor change the status
  local rc=$? d pid
  for pid in "${_tm_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${_tm_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  _tm_pids=()
  s3_cleanup
  for d in "${_tm_homes[@]}"; do rm -rf "$d"; done
  return $rc
}
trap _tm_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [ -n "${OUT:-}" ] && printf 'last stdout: %s\n' "$(printf '%s' "$OUT" | head -c 2000)" >&2
  [ -n "${ERR:-}" ] && printf 'last stderr: %s\n' "$(printf '%s' "$ERR" | head -c 2000)" >&2
  exit 1
}

make_home() {
  TM_HOME=$(mktemp -d "${TMPDIR:-/tmp}/tidemark-test.XXXXXX")
  _tm_homes+=("$TM_HOME")
  export TIDEMARK_HOME="$TM_HOME"
}

assert_eq() {
  [ "$1" == "$2" ] || fail "${3:-value}: expected [$1], got [$2]"
}

assert_contains() {
  case "$1" in
    *"$2"*) ;;
    *) fail "${3:-output} does not contain [$2]: [$(printf '%s' "$1" | head -c 1000)]" ;;
  esac
}

expect_exit() {
  local want=$1 rc=0 f
  shift
  f=$(mktemp)
  OUT=$("$@" 2>"$f") || rc=$?
  ERR=$(cat "$f")
  rm -f "$f"
  [ "$rc" -eq "$want" ] || fail "exit $rc (wanted $want): $*"
}

batch() {
  local i
  for ((i = $2; i <= $3; i++)); do echo "{\"k\":{\"N\":\"$i\"},\"pad\":{\"S\":\"$(printf 'x%.0s' {1..40})\"}}"; done |
    tidemark batch-write --table "$1" --file - 2>/dev/null
}

count() { tidemark scan --table "$1" | wc -l; }

aws_env() {
  local v
  for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
  export AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_DEFAULT_REGION=us-east-1
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""
}

free_port() { s3_free_port; }
wait_port() { s3_wait_port "$1" 10 || fail "nothing listens on $1"; }
kill_at_exit() { _tm_pids+=("$1"); }

DYNALITE_JS="$TM_ROOT/.deps/node_modules/dynalite/cli.js"
has_dynalite() { [ -f "$DYNALITE_JS" ]; }

start_dynalite() {  # LOG [dynalite args, e.g. --createTableMs 10]
  local log=$1 port
  shift
  port=$(free_port)
  node "$DYNALITE_JS" --host 127.0.0.1 --port "$port" "$@" >"$log" 2>&1 &
  DYN_PID=$!
  kill_at_exit "$DYN_PID"
  wait_port "$port"
  DYN_URL=http://127.0.0.1:$port
}

start_serve() {  # LOG [serve args, e.g. --no-auth]
  local log=$1
  shift
  tidemark serve --listen 127.0.0.1:0 "$@" 2>"$log" &
  SRV_PID=$!
  kill_at_exit "$SRV_PID"
  for _ in $(seq 200); do grep -q "listening on" "$log" && break; sleep 0.05; done
  SRV_PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
  [ -n "$SRV_PORT" ] || fail "serve did not start: $(cat "$log")"
  SRV_URL=http://127.0.0.1:$SRV_PORT
}

stop_serve() { [ -n "${SRV_PID:-}" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null; SRV_PID=; true; }

start_s3() {  # DIR BUCKET
  s3_start_s3rver "$1/s3rver" "$2"
  s3_start_sigv4 "$S3RVER_PORT" "$1/sigv4.log"
  S3_EP=http://127.0.0.1:$SIGV4_PORT
}
