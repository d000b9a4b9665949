# bench/lib.sh: helpers sourced by the bench scripts.
# Results: every measurement is one JSON line appended to $BENCH_OUT/results.jsonl (row, note);
# bench/summary.py renders them at the end of the run (results.md, summary.md/json/svg).

# bench_setup NAME: the settings every script shares: N (BENCH_ITEMS), B (BENCH_BUILD), BENCH_OUT,
# PATH with $B/bin first, a fresh work directory D=$BENCH_OUT/NAME, and log() prefixed with the
# script's name. GNU time (peak memory) is installed when missing, as scripts/deps.sh would.
bench_setup() {
  N=${BENCH_ITEMS:-1000000}
  B=${BENCH_BUILD:-build}
  BENCH_OUT=${BENCH_OUT:-$PWD/bench/out}
  export PATH="$PWD/$B/bin:$PATH"
  D=$BENCH_OUT/$1
  BENCH_SCRIPT=$(basename "$0" .sh)
  rm -rf "$D"; mkdir -p "$D"
  if [ ! -x /usr/bin/time ]; then
    log "installing GNU time (peak memory)"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
  fi
}
log() { echo "$BENCH_SCRIPT: $*" >&2; }
# gen_items N FILE: the chat-history data set (user id, thread#timestamp sort key, text, map),
# deterministic, made once per run and cached in $BENCH_OUT.
gen_items() {
  local n=$1 out=$2
  [ -s "$out" ] && return 0
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/gen_items.py" "$n" > "$out.tmp" && mv "$out.tmp" "$out"
}
# timed VAR cmd...: runs cmd, puts wall seconds in VAR and peak RSS (KiB, GNU time's "Maximum
# resident set size") in VAR_rss.
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
# peaks VAR cmd...: like timed, and also the peaks of private (RssAnon: the heap, which must not
# grow with the table) and file-backed (RssFile: LMDB's mapped pages, clean and reclaimable)
# memory of the process running exactly cmd (not another one on the machine), sampled every
# 0.1 s, in VAR_anon and VAR_file (KiB; 0 when it ended before it was seen).
peaks() {
  local var=$1; shift
  local f pat; f=$(mktemp)
  pat=$(printf '%s ' "$@"); pat=$(printf '%s' "${pat% }" | sed 's/[][\\.*^$+?(){}|]/\\&/g')
  ( pa=0; pf=0
    while :; do
      pid=$(pgrep -n -f "^$pat\$" || true)
      [ -n "$pid" ] && break
      [ -e "$f.done" ] && break   # finished before it was seen (small inputs)
      sleep 0.02
    done
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do
      a=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      m=$(awk '/RssFile/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$a" ] && [ "$a" -gt "$pa" ] && pa=$a
      [ -n "$m" ] && [ "$m" -gt "$pf" ] && pf=$m
      sleep 0.1
    done
    echo "$pa $pf" > "$f" ) &
  local sampler=$!
  timed "$var" "$@"
  touch "$f.done"
  wait "$sampler" || true
  read -r a m < "$f" || true
  rm -f "$f" "$f.done"
  printf -v "${var}_anon" '%s' "${a:-0}"
  printf -v "${var}_file" '%s' "${m:-0}"
}

# median X...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
# row WHAT TIDEMARK_S REFERENCE_S NOTE [key=value...]: appends a comparison with its ratio.
# Keys the summary uses: op= (the operation; one summary line per op, against its fastest
# reference that has a goal), ref= (the reference's name), goal= (the largest ratio that meets
# it), rss= (tidemark's peak RSS, KiB), anon= (its peak heap, KiB), ref_rss= (the reference's).
row() {
  local ratio; ratio=$(echo "scale=2; $2 / $3" | bc)
  python3 "$(dirname "${BASH_SOURCE[0]}")/summary.py" add "$BENCH_OUT/results.jsonl" row \
    "script=$BENCH_SCRIPT" "what=$1" "tidemark_s=$2" "ref_s=$3" "note=$4" "${@:5}"
  echo "$1: tidemark $2 s, reference $3 s, ratio ${ratio}x ($4)" >&2
}
# note WHAT VALUE NOTE: a measurement without a reference (memory, sizes, set-up times).
note() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/summary.py" add "$BENCH_OUT/results.jsonl" note \
    "script=$BENCH_SCRIPT" "what=$1" "value=$2" "note=$3"
  echo "$1: $2 ($3)" >&2
}
# result_get OP FIELD: FIELD of this run's first row for OP (empty when none).
result_get() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/summary.py" get "$BENCH_OUT/results.jsonl" "$1" "$2"
}

# ---- PostgreSQL 15, for the references that need a server (bulk load COPY, restore PITR)
PGBIN=/usr/lib/postgresql/15/bin
pgu() { runuser -u postgres -- "$@"; }
psqlp() { pgu "$PGBIN/psql" -h 127.0.0.1 -p "$1" -U postgres -X -qAt -v ON_ERROR_STOP=1 "${@:2}"; }
# pg_start DIR PORT [conf line...]: initdb DIR/primary as user postgres and start it on
# 127.0.0.1:PORT (socket and logs under DIR), with the settings every reference shares (the
# measured set-up of /work/shared/references/postgres-pitr.md: fsync and synchronous_commit on,
# shared_buffers 2GB, max_wal_size 16GB) plus the given lines. pg_stop_all DIR stops them all.
pg_start() {
  local p=$1 port=$2; shift 2
  [ -x "$PGBIN/initdb" ] || { log "PostgreSQL 15 is missing ($PGBIN; apt-get install postgresql-15, or BENCH_NO_PG=1)"; exit 1; }
  mkdir -p "$p"/{logs,sock}
  chown -R postgres: "$p"
  pgu "$PGBIN/initdb" -D "$p/primary" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$p/logs/initdb.log"
  cat >> "$p/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$p/sock'
max_wal_size = 16GB
min_wal_size = 1GB
shared_buffers = 2GB
fsync = on
synchronous_commit = on
log_line_prefix = '%m [%p] '
log_checkpoints = on
EOF
  printf '%s\n' "$@" >> "$p/primary/postgresql.conf"
  pgu "$PGBIN/pg_ctl" -D "$p/primary" -l "$p/logs/primary.log" -w start >/dev/null
}
pg_stop_all() {
  local dir
  for dir in "$1"/*/; do
    [ -f "$dir/postmaster.pid" ] && pgu "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
  done
}
