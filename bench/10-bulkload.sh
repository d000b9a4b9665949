#!/usr/bin/env bash
# bench/10-bulkload.sh: bulk load of BENCH_ITEMS (default 1,000,000) chat items of about 250
# bytes with `tidemark batch-write` in sync mode (one fsync per batch of 1000, both images
# logged, PITR on so that the log is kept and its size can be measured), against the ways a
# user would load the same rows into sqlite3 and PostgreSQL, in the same run:
#   1. sqlite3 fed SQL text: (pk TEXT, sk TEXT, item TEXT, PRIMARY KEY(pk, sk)) WITHOUT ROWID,
#      journal_mode=WAL, synchronous=NORMAL, BEGIN/COMMIT every 1000 rows, by the sqlite3 CLI from
#      a .sql file; then the same with a 256 MiB page cache (PRAGMA cache_size=-262144).
#   2. sqlite3 `.import` of a TSV (pk, sk, item JSON) into the same table in one transaction
#      (the shell's .import wraps the file in BEGIN/COMMIT), WAL, synchronous=NORMAL, 256 MiB cache.
#   3. PostgreSQL 15 server-side `COPY` of the same TSV into (pk text, sk text, item jsonb,
#      primary key (pk, sk)), in its own transaction; durable the fair way: fsync and
#      synchronous_commit on, wal_level replica (the default: the WAL could feed PITR like
#      tidemark's log), shared_buffers 2GB, max_wal_size 16GB (bench/lib.sh pg_start).
# tidemark, .import and COPY run in BENCH_LOAD_RUNS (default 3) interleaved rounds, so that the
# machine's slow spells fall on all three alike; medians are reported. The SQL-text loads (the
# slow references) run once. The inputs (.sql, .tsv) are made before any clock starts; each load
# starts after a sync, into a fresh database or table.
# Every load is checked: tidemark's ItemCount, and each reference's row count and sum of the
# items' tokens (and for sqlite the items' total JSON length) against the input's.
# Goal: tidemark's time <= the fastest reference's (PostgreSQL COPY is expected to be it).
# Also: the log's bytes per write, and peak memory (tidemark RSS and heap, sqlite3 RSS,
# PostgreSQL's backend peak RSS, which includes the shared buffers it touched).
# Knobs: BENCH_BUILD (default build), BENCH_KEEP=1 keeps the data, BENCH_NO_PG=1 skips
# PostgreSQL, BENCH_PG_PORT_BULK (default 55642).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup bulkload
PGPORT=${BENCH_PG_PORT_BULK:-55642}
ITEMS=$BENCH_OUT/items-$N.jsonl
gen_items "$N" "$ITEMS"
OP="bulk load $N items, sync"
RUNS=${BENCH_LOAD_RUNS:-3}

# ---- reference inputs, made before timing: the same rows. load.sql in transactions of 1000;
# items.tsv for .import and COPY (asserted free of tabs, newlines, backslashes and leading
# quotes, so that sqlite's reader and COPY's text format both take it verbatim).
read -r want_tokens want_len < <(python3 - "$ITEMS" "$D/load.sql" "$D/items.tsv" <<'PY'
import json, sys
src, dst, tsv = sys.argv[1:4]
q = lambda s: "'" + s.replace("'", "''") + "'"
tokens = length = 0
with open(src) as f, open(dst, "w") as o, open(tsv, "w") as t:
    o.write("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
            "CREATE TABLE chat (pk TEXT, sk TEXT, item TEXT, PRIMARY KEY(pk, sk)) WITHOUT ROWID;\n")
    n = 0
    for line in f:
        if n % 1000 == 0:
            o.write("BEGIN;\n")
        item = json.loads(line)["Item"]
        pk, sk, js = item["user_id"]["S"], item["sk"]["S"], json.dumps(item, separators=(",", ":"))
        o.write("INSERT INTO chat VALUES(%s,%s,%s);\n" % (q(pk), q(sk), q(js)))
        for v in (pk, sk, js):
            if any(c in v for c in "\t\n\r\\") or v.startswith('"'):
                sys.exit("items line %d: a field TSV cannot carry verbatim: %r" % (n + 1, v[:60]))
        t.write("%s\t%s\t%s\n" % (pk, sk, js))
        tokens += int(item["tokens"]["N"])
        length += len(js)
        n += 1
        if n % 1000 == 0:
            o.write("COMMIT;\n")
    if n % 1000:
        o.write("COMMIT;\n")
print(tokens, length)
PY
)
sync
rate() { echo "$(echo "scale=0; $N / $1" | bc) rows/s"; }
# sqlite_check DB WHAT: the row count, token sum and JSON length must be the input's.
sqlite_check() {
  local got; got=$(sqlite3 "$1" "SELECT count(*), sum(CAST(json_extract(item, '\$.tokens.N') AS INTEGER)), sum(length(item)) FROM chat")
  [ "$got" = "$N|$want_tokens|$want_len" ] || { log "$2 holds (count|tokens|length) $got, not $N|$want_tokens|$want_len"; exit 1; }
}
SCHEMA="CREATE TABLE chat (pk TEXT, sk TEXT, item TEXT, PRIMARY KEY(pk, sk)) WITHOUT ROWID;"

# tidemark_load: one load into a fresh home; appends to tm_runs, keeps the peaks.
H=$D/home
tm_runs=(); tm_rss=0; anon_peak=0
tidemark_load() {
  rm -rf "$H"
  tidemark --data "$H" create-table --table Chat --key user_id:S --sort-key sk:S --durability sync >/dev/null
  tidemark --data "$H" pitr enable --table Chat >/dev/null
  # Peak RSS counts the LMDB map's file pages (page cache); peaks also records the heap's peak
  # (RssAnon), which is what must not grow with the table.
  local s c
  sync
  peaks s tidemark --data "$H" batch-write --table Chat --file "$ITEMS" --batch-size 1000
  c=$(tidemark --data "$H" describe-table --table Chat | python3 -c 'import sys,json; print(json.load(sys.stdin)["Table"]["ItemCount"])')
  [ "$c" = "$N" ] || { log "tidemark holds $c items, not $N"; exit 1; }
  tm_runs+=("$s"); [ "$s_rss" -gt "$tm_rss" ] && tm_rss=$s_rss; [ "$s_anon" -gt "$anon_peak" ] && anon_peak=$s_anon
  log_bytes=$(du -sb "$H/tables/Chat/log" | cut -f1)
  items_bytes=$(du -s -B1 "$H/tables/Chat/items" | cut -f1)   # on disk (data.mdb is sparse)
  rm -rf "$H"
}

# sqlite_import: .import of the TSV into a fresh database; appends to sqi_runs.
sqi_runs=(); sqi_rss=0
sqlite_import() {
  local s
  rm -f "$D"/chat.db*
  sqlite3 "$D/chat.db" "PRAGMA journal_mode=WAL; $SCHEMA" >/dev/null
  sync
  timed s sqlite3 -bail "$D/chat.db" 'PRAGMA synchronous=NORMAL;' 'PRAGMA cache_size=-262144;' \
    '.mode tabs' ".import '$D/items.tsv' chat"
  sqlite_check "$D/chat.db" "sqlite3 (.import)"
  [ "$(sqlite3 "$D/chat.db" 'PRAGMA journal_mode')" = wal ] || { log "sqlite3 (.import) did not run in WAL mode"; exit 1; }
  sqi_runs+=("$s"); [ "$s_rss" -gt "$sqi_rss" ] && sqi_rss=$s_rss
  rm -f "$D"/chat.db*
}

# pg_copy: COPY into a freshly created table (after a checkpoint); appends to pg_runs.
P=$D/pg
pg_runs=(); pg_rss=0
pg_copy() {
  local s got r
  psqlp "$PGPORT" -c "create table items(pk text, sk text, item jsonb, primary key(pk, sk))" -c "checkpoint"
  # The backend's peak RSS (VmHWM, which counts the shared buffers it touched), read while it
  # runs the COPY.
  rm -f "$D/pg_done" "$D/pg_hwm"
  ( while [ ! -e "$D/pg_done" ]; do
      for pid in $(pgrep -u postgres -f 'postgres: .* COPY' || true); do
        awk '/^VmHWM/ {print $2}' "/proc/$pid/status" > "$D/pg_hwm.tmp" 2>/dev/null && mv "$D/pg_hwm.tmp" "$D/pg_hwm"
      done
      sleep 0.2
    done ) &
  local poller=$!
  sync
  timed s runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -X -qAt \
    -v ON_ERROR_STOP=1 -c "copy items(pk, sk, item) from '$D/items.tsv'"
  touch "$D/pg_done"; wait "$poller" || true
  got=$(psqlp "$PGPORT" -F '|' -c "select count(*), sum((item->'tokens'->>'N')::bigint) from items")
  [ "$got" = "$N|$want_tokens" ] || { log "PostgreSQL holds (count|tokens) $got, not $N|$want_tokens"; exit 1; }
  pg_runs+=("$s"); r=$(cat "$D/pg_hwm" 2>/dev/null || echo 0); [ "$r" -gt "$pg_rss" ] && pg_rss=$r
  pg_bytes=$(psqlp "$PGPORT" -c "select pg_total_relation_size('items')")
  # COPY leaves work for later: a checkpoint writes its table pages (its durability is the WAL)
  # and autovacuum then rewrites them (1M fresh rows). Uncounted here, it must not land on the
  # next round's loads either (it made tidemark's 3x slower): drop the table, then checkpoint.
  psqlp "$PGPORT" -c "drop table items" -c "checkpoint"
  sync
}

if [ "${BENCH_NO_PG:-0}" != 1 ]; then
  trap 'pg_stop_all "$P"' EXIT
  pg_start "$P" "$PGPORT"
  chown postgres: "$D/items.tsv"
fi
for ((r = 1; r <= RUNS; r++)); do
  log "round $r of $RUNS: tidemark, sqlite3 .import, PostgreSQL COPY, $N rows each"
  tidemark_load
  sqlite_import
  [ "${BENCH_NO_PG:-0}" = 1 ] || pg_copy
done
tm_s=$(median "${tm_runs[@]}")
tm_rate=$(echo "scale=0; $N / $tm_s" | bc)
[ "$anon_peak" -gt 0 ] || anon_peak="?"   # load ended before the poller saw it
common=("op=$OP" goal=1 "rss=$tm_rss" "anon=$anon_peak")
tm_note="tidemark $tm_rate items/s (sync: fsync per batch, both images logged; runs ${tm_runs[*]})"
# per_round REF_RUNS...: tidemark / reference in each round (pairs that shared the machine's mood)
per_round() {
  local i out="" ref=("$@")
  for ((i = 0; i < ${#ref[@]}; i++)); do out+=" $(echo "scale=2; ${tm_runs[$i]} / ${ref[$i]}" | bc)x"; done
  echo "ratio per round:$out"
}
sqi_s=$(median "${sqi_runs[@]}")
row "bulk load $N items vs sqlite3 .import, one transaction (time)" "$tm_s" "$sqi_s" \
  "$tm_note vs sqlite3 $(rate "$sqi_s") (.import of a TSV, WAL, synchronous=NORMAL, 256 MiB cache; runs ${sqi_runs[*]}); $(per_round "${sqi_runs[@]}")" \
  "${common[@]}" "ref=sqlite3 .import" "ref_rss=$sqi_rss"
if [ "${BENCH_NO_PG:-0}" != 1 ]; then
  pg_s=$(median "${pg_runs[@]}")
  row "bulk load $N items vs PostgreSQL 15 COPY (time)" "$tm_s" "$pg_s" \
    "$tm_note vs PostgreSQL $(rate "$pg_s") (server-side COPY of the TSV, PK maintained, fsync and synchronous_commit on; table + index $((pg_bytes / 1048576)) MiB; runs ${pg_runs[*]}); $(per_round "${pg_runs[@]}")" \
    "${common[@]}" "ref=PostgreSQL COPY" "ref_rss=$pg_rss"
  pg_stop_all "$P"
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$P"
fi

# ---- sqlite3 fed SQL text (once each: the slow references), default cache, then 256 MiB
log "sqlite3 (SQL text, transactions of 1000): loading $N rows"
sync
timed sq_s sh -c "sqlite3 '$D/chat.db' < '$D/load.sql' > /dev/null"
sqlite_check "$D/chat.db" "sqlite3 (SQL text)"
sq_bytes=$(du -cb "$D"/chat.db* | tail -n 1 | cut -f1)
row "bulk load $N items vs sqlite3 SQL text, batches of 1000 (time)" "$tm_s" "$sq_s" \
  "vs sqlite3 $(rate "$sq_s") (WAL, synchronous=NORMAL, default 2 MiB cache)" \
  "${common[@]}" "ref=sqlite3 SQL text" "ref_rss=$sq_s_rss"
rm -f "$D"/chat.db*
log "sqlite3 (SQL text, cache_size 256 MiB): loading $N rows"
sync
timed sq2_s sh -c "{ echo 'PRAGMA cache_size=-262144;'; cat '$D/load.sql'; } | sqlite3 '$D/chat.db' > /dev/null"
sqlite_check "$D/chat.db" "sqlite3 (SQL text, big cache)"
row "bulk load $N items vs sqlite3 SQL text with a 256 MiB cache (time)" "$tm_s" "$sq2_s" \
  "vs sqlite3 $(rate "$sq2_s") with PRAGMA cache_size=-262144" \
  "${common[@]}" "ref=sqlite3 SQL text, 256 MiB cache" "ref_rss=$sq2_s_rss"
rm -f "$D"/chat.db* "$D/load.sql"

in_bytes=$(stat -c %s "$ITEMS")
note "bulk load: log bytes per write" "$(echo "scale=1; $log_bytes / $N" | bc) B" \
  "log $log_bytes B for $N writes (input $((in_bytes / N)) B/item as JSON; items LMDB $items_bytes B; sqlite db+wal $sq_bytes B)"
note "bulk load: peak memory" "tidemark ${tm_rss} KiB RSS, ${anon_peak} KiB heap" \
  "sqlite3 ${sq_s_rss} KiB RSS (${sqi_rss} KiB .import), PostgreSQL backend ${pg_rss} KiB (with the shared buffers it touched); tidemark's RSS is mostly the LMDB map (file pages), its heap stays flat"
[ "${BENCH_KEEP:-0}" = 1 ] || rm -f "$D/items.tsv"
