#!/usr/bin/env bash
# bench/10-bulkload.sh: bulk load of BENCH_ITEMS (default 1,000,000) chat items of about 250
# bytes with `tidemark batch-write` in sync mode (one fsync per batch of 1000, both images
# logged, PITR on so that the log is kept and its size can be measured), against sqlite3
# loading the same rows in the same run: (pk TEXT, sk TEXT, item TEXT, PRIMARY KEY(pk, sk))
# WITHOUT ROWID, journal_mode=WAL, synchronous=NORMAL, BEGIN/COMMIT every 1000 rows, fed by the
# sqlite3 CLI from a generated .sql file (generated before the clock starts).
# Reports: both rates and their ratio (goal: tidemark >= sqlite), the log's bytes per write, and
# each loader's peak memory. Knobs: BENCH_BUILD (default build), BENCH_KEEP=1 keeps the data.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup bulkload
ITEMS=$BENCH_OUT/items-$N.jsonl
gen_items "$N" "$ITEMS"

# ---- sqlite input, made before timing: the same rows, transactions of 1000
python3 - "$ITEMS" "$D/load.sql" <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
q = lambda s: "'" + s.replace("'", "''") + "'"
with open(src) as f, open(dst, "w") as o:
    o.write("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
            "CREATE TABLE chat (pk TEXT, sk TEXT, item TEXT, PRIMARY KEY(pk, sk)) WITHOUT ROWID;\n")
    n = 0
    for line in f:
        if n % 1000 == 0:
            o.write("BEGIN;\n")
        item = json.loads(line)["Item"]
        o.write("INSERT INTO chat VALUES(%s,%s,%s);\n" % (q(item["user_id"]["S"]), q(item["sk"]["S"]),
                q(json.dumps(item, separators=(",", ":")))))
        n += 1
        if n % 1000 == 0:
            o.write("COMMIT;\n")
    if n % 1000:
        o.write("COMMIT;\n")
PY
sync

# ---- tidemark
H=$D/home
tidemark --data "$H" create-table --table Chat --key user_id:S --sort-key sk:S --durability sync >/dev/null
tidemark --data "$H" pitr enable --table Chat >/dev/null
log "tidemark: loading $N items"
# Peak RSS counts the LMDB map's file pages (page cache); a poller also records the peak of
# anonymous memory (heap), which is what must not grow with the table.
( peak=0
  while :; do
    pid=$(pgrep -f "^tidemark --data $H batch-write" | head -n 1) || true
    if [ -n "$pid" ]; then
      a=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [ "${a:-0}" -gt "$peak" ] && peak=$a && echo "$peak" > "$D/anon_peak"
    fi
    [ -e "$D/done" ] && break
    sleep 0.2
  done ) &
poller=$!
timed tm_s tidemark --data "$H" batch-write --table Chat --file "$ITEMS" --batch-size 1000
touch "$D/done"; wait "$poller" || true
anon_peak=$(cat "$D/anon_peak" 2>/dev/null || echo "?")
tm_count=$(tidemark --data "$H" describe-table --table Chat | python3 -c 'import sys,json; print(json.load(sys.stdin)["Table"]["ItemCount"])')
[ "$tm_count" = "$N" ] || { log "tidemark holds $tm_count items, not $N"; exit 1; }
log_bytes=$(du -sb "$H/tables/Chat/log" | cut -f1)
items_bytes=$(du -s -B1 "$H/tables/Chat/items" | cut -f1)   # on disk (data.mdb is sparse)
in_bytes=$(stat -c %s "$ITEMS")

# ---- sqlite3
log "sqlite3: loading $N rows"
timed sq_s sh -c "sqlite3 '$D/chat.db' < '$D/load.sql' > /dev/null"
sq_count=$(sqlite3 "$D/chat.db" 'SELECT count(*) FROM chat')
[ "$sq_count" = "$N" ] || { log "sqlite holds $sq_count rows, not $N"; exit 1; }
sq_bytes=$(du -cb "$D"/chat.db* | tail -n 1 | cut -f1)
# The same load with a 256 MiB page cache, so that the comparison does not rest on sqlite's
# small default cache (2 MiB) alone.
rm -f "$D"/chat.db*
log "sqlite3 (cache_size 256 MiB): loading $N rows"
timed sq2_s sh -c "{ echo 'PRAGMA cache_size=-262144;'; cat '$D/load.sql'; } | sqlite3 '$D/chat.db' > /dev/null"
sq2_count=$(sqlite3 "$D/chat.db" 'SELECT count(*) FROM chat')
[ "$sq2_count" = "$N" ] || { log "sqlite (big cache) holds $sq2_count rows, not $N"; exit 1; }

tm_rate=$(echo "scale=0; $N / $tm_s" | bc)
sq_rate=$(echo "scale=0; $N / $sq_s" | bc)
speed=$(echo "scale=2; $tm_rate / $sq_rate" | bc)
row "bulk load $N items, batches of 1000 (time)" "$tm_s" "$sq_s" \
  "tidemark $tm_rate items/s (sync: fsync per batch, both images logged) vs sqlite3 $sq_rate rows/s (WAL, synchronous=NORMAL): tidemark ${speed}x sqlite's rate; goal >= 1"
sq2_rate=$(echo "scale=0; $N / $sq2_s" | bc)
row "bulk load $N items vs sqlite3 with a 256 MiB cache (time)" "$tm_s" "$sq2_s" \
  "sqlite3 $sq2_rate rows/s with PRAGMA cache_size=-262144: tidemark $(echo "scale=2; $tm_rate / $sq2_rate" | bc)x its rate"
note "bulk load: log bytes per write" "$(echo "scale=1; $log_bytes / $N" | bc) B" \
  "log $log_bytes B for $N writes (input $((in_bytes / N)) B/item as JSON; items LMDB $items_bytes B; sqlite db+wal $sq_bytes B)"
note "bulk load: peak memory" "tidemark ${tm_s_rss} KiB RSS, ${anon_peak} KiB heap" \
  "sqlite3 ${sq_s_rss} KiB RSS; tidemark's RSS is mostly the LMDB map (file pages), its heap stays flat"
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$H" "$D/chat.db"* "$D/load.sql"
