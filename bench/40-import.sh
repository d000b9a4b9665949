#!/usr/bin/env bash
# bench/40-import.sh: tidemark-import of the BENCH_ITEMS-item (default 1,000,000) export, gzip,
# against the decompression floor (`gzip -dc` of the same data files, to /dev/null) and against
# the bulk-load rate of `tidemark batch-write` (10-bulkload's result from this run when present,
# else measured here).
#   1. ORDERED: the export written by tidemark-export (files already in key order: parse in
#      parallel and build while parsing).
#   2. SORTED: the same items as 4 gzip files in generation order (as an AWS export or a dump
#      would be: keys in no useful order), with --key: external sort, then the build.
#   Peak memory (max RSS) of both; BENCH_BIG=1 repeats them at 4x the items (memory must not grow).
# Goal: import <= 2x the gzip floor, and faster than the bulk load.
# Knobs: BENCH_BUILD (default build), BENCH_KEEP=1 keeps the data.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup import
for p in tidemark tidemark-import tidemark-export; do
  command -v $p >/dev/null || { log "$p is not built ($B/bin)"; exit 1; }
done

# run N: prepares the inputs for N items and measures; sets R_* variables
run() {
  local n=$1 tag=$2 items=$BENCH_OUT/items-$1.jsonl h=$D/home-$2
  gen_items "$n" "$items"
  # The export: a table made from the items (by the importer itself: the quickest way to a
  # table), exported by tidemark-export as a user would.
  tidemark-import --data "$h" --from "$items" --table Src --key user_id:S --sort-key sk:S 2>/dev/null
  tidemark-export --data "$h" --table Src --to "$D/exp-$tag" >/dev/null 2>&1
  local exp; exp=$(ls -d "$D/exp-$tag"/AWSDynamoDB/*/ | head -n 1)
  rm -rf "$h/tables/Src"
  # The unsorted files: 4 gzip parts in generation order.
  mkdir -p "$D/raw-$tag"
  split -n l/4 -d "$items" "$D/raw-$tag/part-"
  for f in "$D/raw-$tag"/part-*; do gzip -6 "$f"; done
  sync
  timed R_floor sh -c "cat '$exp'/data/*.json.gz | gzip -dc > /dev/null"
  timed R_floor_raw sh -c "cat '$D/raw-$tag'/*.gz | gzip -dc > /dev/null"
  log "$tag: importing the export ($(du -sh "$exp/data" | cut -f1) of gzip)"
  peaks R_ord tidemark-import --data "$h" --from "$exp" --table Ordered
  peaks R_srt tidemark-import --data "$h" --from "$D/raw-$tag" --table Sorted --key user_id:S --sort-key sk:S
  for t in Ordered Sorted; do
    c=$(tidemark --data "$h" describe-table --table $t | python3 -c 'import sys,json; print(json.load(sys.stdin)["Table"]["ItemCount"])')
    [ "$c" = "$n" ] || { log "$t holds $c items, not $n"; exit 1; }
  done
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$h" "$D/raw-$tag" "$D/exp-$tag"
}

run "$N" base
floor=$R_floor; ord=$R_ord; srt=$R_srt; ord_rss=$R_ord_rss; srt_rss=$R_srt_rss
ord_mem="max RSS $R_ord_rss KiB (private $R_ord_anon + LMDB mapped $R_ord_file)"
srt_mem="max RSS $R_srt_rss KiB (private $R_srt_anon + LMDB mapped $R_srt_file)"
ord_rate=$(echo "scale=0; $N / $ord" | bc)
srt_rate=$(echo "scale=0; $N / $srt" | bc)
floor_rate=$(echo "scale=0; $N / $floor" | bc)

# The bulk-load rate: 10-bulkload's row of this run, else measured now.
bl_s=$(result_get "bulk load $N items, sync" tidemark_s)
bl_src="10-bulkload in this run"
if [ -z "$bl_s" ]; then
  bl_src="measured here"
  tidemark --data "$D/bl" create-table --table Chat --key user_id:S --sort-key sk:S >/dev/null
  timed bl_s tidemark --data "$D/bl" batch-write --table Chat --file "$BENCH_OUT/items-$N.jsonl"
  rm -rf "$D/bl"
fi
bl_rate=$(echo "scale=0; $N / $bl_s" | bc)

row "import $N-item export (gzip, ordered) vs gzip -dc" "$ord" "$floor" \
  "tidemark-import $ord_rate items/s vs gzip -dc floor $floor_rate items/s; goal <= 2x; vs bulk load (batch-write, $bl_src) $bl_rate items/s: $(echo "scale=1; $ord_rate / $bl_rate" | bc)x faster" \
  "op=import $N-item export (ordered)" "ref=gzip -dc" goal=2 "rss=$ord_rss" "anon=$R_ord_anon"
row "import $N items, 4 unsorted gzip files (sorted path) vs gzip -dc" "$srt" "$R_floor_raw" \
  "tidemark-import $srt_rate items/s (external sort, then build); vs bulk load: $(echo "scale=1; $srt_rate / $bl_rate" | bc)x faster" \
  "op=import $N items, unsorted (sort path)" "ref=gzip -dc" goal=2 "rss=$srt_rss" "anon=$R_srt_anon"
if [ "${BENCH_BIG:-0}" = 1 ]; then
  run $((4 * N)) big
  note "import peak memory, ordered, ${N} vs $((4 * N)) items" "$ord_mem" \
    "vs max RSS $R_ord_rss KiB (private $R_ord_anon + LMDB mapped $R_ord_file); 4x: $R_ord s vs floor $R_floor s"
  note "import peak memory, sorted, ${N} vs $((4 * N)) items" "$srt_mem" \
    "vs max RSS $R_srt_rss KiB (private $R_srt_anon + LMDB mapped $R_srt_file); 4x: $R_srt s"
else
  note "import peak memory, $N items" "ordered: $ord_mem" "sorted: $srt_mem (BENCH_BIG=1 adds 4x the items)"
fi
