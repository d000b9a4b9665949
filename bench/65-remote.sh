#!/usr/bin/env bash
# bench/65-remote.sh: tidemark-export --endpoint-url (issue 14), a full export of a table behind
# `tidemark serve --no-auth` by parallel Scan (4 segments), against the local export of the same
# table (tidemark-export --table, the same writer without the protocol). The table is seeded by
# `tidemark batch-write` into the served data directory. Measured at BENCH_ITEMS (default
# 1,000,000; make bench-quick: 100,000) and at 4x that, to show that the exporter's peak memory
# stays flat (bounded by the segments in flight, not the table). Items/s and peak RSS of each;
# the export's item count is checked. At BENCH_ITEMS the export is also imported back into a new
# table of the same server (tidemark-import --endpoint-url, BatchWriteItem) and, as the
# reference, into a local table (tidemark-import --table).
# Knobs: BENCH_BUILD (default build), BENCH_REMOTE_SEGMENTS (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup remote
for p in tidemark tidemark-export; do
  command -v $p >/dev/null || { log "$p is not built ($B/bin)"; exit 1; }
done
SEG=${BENCH_REMOTE_SEGMENTS:-4}
for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=secret AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null || true' EXIT

# run N TAG: seeds, serves, exports remotely and locally; sets R_* variables.
run() {
  local n=$1 tag=$2 h=$D/home-$2 items=$BENCH_OUT/items-$1.jsonl port
  gen_items "$n" "$items"
  tidemark --data "$h" create-table --table Chat --key user_id:S --sort-key sk:S >/dev/null
  log "$tag: seeding $n items by batch-write"
  tidemark --data "$h" batch-write --table Chat --file "$items" >/dev/null 2>&1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  tidemark serve --data "$h" --no-auth --listen "127.0.0.1:$port" 2>"$D/serve-$tag.log" &
  SRV=$!
  for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
  log "$tag: remote export of $n items, $SEG segments"
  timed R_remote tidemark-export --endpoint-url "http://127.0.0.1:$port" --table-name Chat \
    --to "$D/exp-remote-$tag" --segments "$SEG" -q >/dev/null
  local sum; sum=$(ls "$D/exp-remote-$tag"/AWSDynamoDB/*/manifest-summary.json)
  grep -q "\"itemCount\":$n," "$sum" || { log "$tag: the remote export does not hold $n items"; exit 1; }
  if [ "$tag" = one ]; then   # the export back into a new table of the same server, and locally
    log "$tag: remote import of $n items, 8 connections"
    timed R_rimport tidemark-import --endpoint-url "http://127.0.0.1:$port" --table-name Back \
      --from "$(dirname "$sum")" --threads 8 -q >/dev/null
    [ "$(tidemark --data "$h" describe-table --table Back --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["Table"]["ItemCount"])')" = "$n" ] ||
      { log "$tag: the remote import does not hold $n items"; exit 1; }
    timed R_limport tidemark-import --data "$D/home-li" --table Back --from "$(dirname "$sum")" -q >/dev/null
    rm -rf "$D/home-li"
  fi
  kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=
  timed R_local tidemark-export --data "$h" --table Chat --to "$D/exp-local-$tag" --jobs 2 -q >/dev/null
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$h" "$D/exp-remote-$tag" "$D/exp-local-$tag"
}

run "$N" one
r1=$R_remote r1_rss=$R_remote_rss l1=$R_local
rate1=$(echo "scale=0; $N / $r1" | bc)
row "remote export of $N items from tidemark serve ($SEG segments) vs local export" "$r1" "$l1" \
  "tidemark-export --endpoint-url $rate1 items/s (Scan over HTTP, JSON parse, re-encode) vs tidemark-export --table $(echo "scale=0; $N / $l1" | bc) items/s; peak RSS $r1_rss KiB" \
  "op=remote export $N items" "ref=local export" "rss=$r1_rss"
row "remote import of $N items into tidemark serve (BatchWriteItem, 8 connections) vs local import" \
  "$R_rimport" "$R_limport" \
  "tidemark-import --endpoint-url $(echo "scale=0; $N / $R_rimport" | bc) items/s (each batch of 25 joins the table's writer thread: one group, one fdatasync) vs tidemark-import --table $(echo "scale=0; $N / $R_limport" | bc) items/s" \
  "op=remote import $N items" "ref=local import" "rss=$R_rimport_rss"
run $((4 * N)) four
r4=$R_remote r4_rss=$R_remote_rss
note "remote export peak memory, $N vs $((4 * N)) items" "$r1_rss KiB vs $r4_rss KiB" \
  "flat: bounded by $SEG segments (a Scan page and a pipeline each); 4x: $r4 s, $(echo "scale=0; 4 * $N / $r4" | bc) items/s"
