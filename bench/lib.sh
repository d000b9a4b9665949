# bench/lib.sh: helpers sourced by the bench scripts.
# bench_setup NAME: the settings every script shares: N (BENCH_ITEMS), B (BENCH_BUILD), BENCH_OUT,
# PATH with $B/bin first, a fresh work directory D=$BENCH_OUT/NAME, and log() prefixed with the
# script's name.
bench_setup() {
  N=${BENCH_ITEMS:-1000000}
  B=${BENCH_BUILD:-build}
  BENCH_OUT=${BENCH_OUT:-$PWD/bench/out}
  export PATH="$PWD/$B/bin:$PATH"
  D=$BENCH_OUT/$1
  BENCH_SCRIPT=$(basename "$0" .sh)
  rm -rf "$D"; mkdir -p "$D"
}
log() { echo "$BENCH_SCRIPT: $*" >&2; }
# gen_items N FILE: the chat-history data set (user id, thread#timestamp sort key, text, map),
# deterministic, made once per run and cached in $BENCH_OUT.
gen_items() {
  local n=$1 out=$2
  [ -s "$out" ] && return 0
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/gen_items.py" "$n" > "$out.tmp" && mv "$out.tmp" "$out"
}
# timed VAR cmd...: runs cmd, puts wall seconds in VAR and peak RSS (KiB) in VAR_rss.
timed() {
  local var=$1; shift
  local t0 t1 tf; tf=$(mktemp)
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$tf" "$@"
  t1=$(date +%s.%N)
  printf -v "$var" '%.3f' "$(echo "$t1 - $t0" | bc)"
  printf -v "${var}_rss" '%s' "$(tail -n1 "$tf")"
  rm -f "$tf"
}
# row what tidemark_s reference_s note: appends a results row with the ratio.
row() {
  local ratio; ratio=$(echo "scale=2; $2 / $3" | bc)
  echo "| $1 | $2 s | $3 s | ${ratio}x | $4 |" >> "$BENCH_OUT/results.md"
  echo "$1: tidemark $2 s, reference $3 s, ratio ${ratio}x ($4)" >&2
}
note() { echo "| $1 | $2 | | | $3 |" >> "$BENCH_OUT/results.md"; echo "$1: $2 ($3)" >&2; }
