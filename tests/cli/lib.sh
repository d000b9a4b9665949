# tests/cli/lib.sh: shell helpers shared by the CLI scenario tests (source it; keep it small).
#   make_home             new empty data directory in $TM_HOME (also exported as TIDEMARK_HOME),
#                         removed when the script exits
#   assert_eq WANT GOT [what]
#   assert_contains TEXT NEEDLE [what]
#   expect_exit CODE cmd...   runs cmd; stdout in $OUT, stderr in $ERR; fails unless it exits CODE
#   fail MESSAGE
#   batch TABLE FROM TO   one batch-write of items {k: N from..to, pad: 40 x}
#   count TABLE           items a scan returns
# TM_BIN (programs) and TM_ROOT (repository) are set by `make test`; defaults suit a manual run.
TM_ROOT=${TM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TM_BIN=${TM_BIN:-$TM_ROOT/build/bin}
export PATH="$TM_BIN:$PATH"
unset TIDEMARK_CLOCK TIDEMARK_SEGMENT_BYTES
_tm_homes=()
_tm_cleanup() { local d; for d in "${_tm_homes[@]}"; do rm -rf "$d"; done; }
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
