#!/usr/bin/env bash
# bench/20-export.sh: tidemark-export against the compressors alone, and incremental exports
# whose cost must follow the window, not the history.
#   1. FULL export of a BENCH_ITEMS-item (default 1,000,000) table, gzip, --jobs 2, against
#      `pigz -p 2 -6` compressing the same JSON lines (the export's own lines, produced once in
#      the run by a warm-up export); and --compression zstd against `zstd -T2 -3`.
#      Goals: gzip, with ONE gzip member per data file (as AWS; checked), at or under pigz
#      (<= 1x, issue 13); zstd <= 1.25x the compressor alone. Each side: the best of 2 runs
#      (other work on the machine adds noise to both).
#   2. INCREMENTAL export of the last BENCH_WINDOW (10,000) changes of a log holding
#      BENCH_LOG_CHANGES (5,000,000) changes, against the same window on a log holding only
#      those changes. Goal: <= 2x. The changes: puts over 100,000 chat items (new versions),
#      loaded by `tidemark batch-write` into a table with durability none and PITR on, at
#      simulated times (TIDEMARK_CLOCK) one hour apart per million changes.
#   3. Peak memory (max RSS, which includes the LMDB file pages a process has mapped) of the full
#      export at 1M and 4M items and of incremental exports of windows of 10k, 1M and 4M changes.
#      BENCH_BIG=1 adds the 4M runs (the table and windows that big take minutes to build).
# Knobs: BENCH_BUILD (default build), BENCH_KEEP=1 keeps the data.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup export
CH=${BENCH_LOG_CHANGES:-5000000}
W=${BENCH_WINDOW:-10000}
for p in tidemark tidemark-export tidemark-import pigz zstd; do
  command -v $p >/dev/null || { log "$p is missing"; exit 1; }
done
unset TIDEMARK_CLOCK

# best2 VAR cmd...: runs cmd twice, keeps the faster time in VAR (and its RSS in VAR_rss).
best2() {
  local var=$1; shift
  timed _b1 "$@"
  timed _b2 "$@"
  if [ "$(echo "$_b1 <= $_b2" | bc)" = 1 ]; then
    printf -v "$var" '%s' "$_b1"; printf -v "${var}_rss" '%s' "$_b1_rss"
  else
    printf -v "$var" '%s' "$_b2"; printf -v "${var}_rss" '%s' "$_b2_rss"
  fi
}

# ================================================================ 1. full exports
# full N TAG: builds a table of N items (tidemark-import: the quickest way to a table), then
# measures; sets F_* variables.
full() {
  local n=$1 tag=$2 h=$D/home-$2 items=$BENCH_OUT/items-$1.jsonl
  gen_items "$n" "$items"
  tidemark-import --data "$h" --from "$items" --table Chat --key user_id:S --sort-key sk:S 2>/dev/null
  # Warm-up export: also gives the JSON lines the compressors get (exactly the export's lines).
  tidemark-export --data "$h" --table Chat --to "$D/warm-$tag" --jobs 2 >/dev/null 2>&1
  cat "$D/warm-$tag"/AWSDynamoDB/*/data/*.json.gz | gzip -dc >"$D/lines-$tag.json"
  local lines; lines=$(wc -l <"$D/lines-$tag.json")
  [ "$lines" = "$n" ] || { log "warm-up export has $lines lines, not $n"; exit 1; }
  rm -rf "$D/warm-$tag"
  sync
  log "$tag: $n items, $(du -h "$D/lines-$tag.json" | cut -f1) of JSON lines"
  best2 F_gz sh -c "rm -rf '$D/gz-$tag' && tidemark-export --data '$h' --table Chat --to '$D/gz-$tag' --jobs 2 >/dev/null 2>&1"
  F_gz_bytes=$(cat "$D/gz-$tag"/AWSDynamoDB/*/data/*.json.gz | wc -c)
  tidemark-export verify "$(ls -d "$D/gz-$tag"/AWSDynamoDB/*/)" >/dev/null || { log "gzip export does not verify"; exit 1; }
  # One gzip member per data file: a reader that stops after the first gets every line.
  python3 -c 'import sys, zlib
for p in sys.argv[1:]:
    d = zlib.decompressobj(31); d.decompress(open(p, "rb").read())
    if not d.eof or d.unused_data: sys.exit(p + ": more than one gzip member")' "$D/gz-$tag"/AWSDynamoDB/*/data/*.json.gz ||
    { log "gzip data files are not single-member"; exit 1; }
  best2 F_pigz sh -c "pigz -p 2 -6 < '$D/lines-$tag.json' > '$D/lines-$tag.json.gz'"
  F_pigz_bytes=$(stat -c %s "$D/lines-$tag.json.gz")
  best2 F_zs sh -c "rm -rf '$D/zs-$tag' && tidemark-export --data '$h' --table Chat --to '$D/zs-$tag' --jobs 2 --compression zstd >/dev/null 2>&1"
  F_zs_bytes=$(cat "$D/zs-$tag"/AWSDynamoDB/*/data/*.json.zst | wc -c)
  best2 F_zstd sh -c "zstd -q -T2 -3 < '$D/lines-$tag.json' > '$D/lines-$tag.json.zst'"
  F_zstd_bytes=$(stat -c %s "$D/lines-$tag.json.zst")
  F_items_bytes=$(du -s -B1 "$h/tables/Chat/items" | cut -f1)   # on disk (data.mdb is sparse)
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$h" "$D/gz-$tag" "$D/zs-$tag" "$D/lines-$tag".json*
}

mb() { echo "scale=1; $1 / 1048576" | bc; }
full "$N" base
row "full export $N items, gzip, --jobs 2 (time)" "$F_gz" "$F_pigz" \
  "vs pigz -p 2 -6 on the same JSON lines; goal <= 1x. Sizes: $(mb "$F_gz_bytes") MiB (libdeflate 6, 1 MiB chunks joined into one gzip member per file) vs $(mb "$F_pigz_bytes") MiB" \
  "op=full export $N items, gzip" "ref=pigz -p 2 -6" goal=1 "rss=$F_gz_rss" "ref_rss=$F_pigz_rss"
row "full export $N items, zstd, --jobs 2 (time)" "$F_zs" "$F_zstd" \
  "vs zstd -T2 -3 on the same JSON lines; goal <= 1.25x. Sizes: $(mb "$F_zs_bytes") MiB vs $(mb "$F_zstd_bytes") MiB" \
  "op=full export $N items, zstd" "ref=zstd -T2 -3" goal=1.25 "rss=$F_zs_rss" "ref_rss=$F_zstd_rss"
mem_full="${F_gz_rss} KiB at $N items (zstd ${F_zs_rss} KiB; LMDB file $(mb "$F_items_bytes") MiB)"
if [ "${BENCH_BIG:-0}" = 1 ]; then
  full $((4 * N)) big
  row "full export $((4 * N)) items, gzip, --jobs 2 (time)" "$F_gz" "$F_pigz" "vs pigz -p 2 -6; goal <= 1x" \
    "op=full export $((4 * N)) items, gzip" "ref=pigz -p 2 -6" goal=1 "rss=$F_gz_rss" "ref_rss=$F_pigz_rss"
  row "full export $((4 * N)) items, zstd, --jobs 2 (time)" "$F_zs" "$F_zstd" "vs zstd -T2 -3; goal <= 1.25x" \
    "op=full export $((4 * N)) items, zstd" "ref=zstd -T2 -3" goal=1.25 "rss=$F_zs_rss" "ref_rss=$F_zstd_rss"
  mem_full="$mem_full; ${F_gz_rss} KiB at $((4 * N)) items (zstd ${F_zs_rss} KiB; LMDB file $(mb "$F_items_bytes") MiB)"
fi
note "full export: peak RSS" "$mem_full" "must not grow with the table: bounded by jobs x 1 MiB chunks; LMDB pages are dropped behind the scan"

# ================================================================ 2. incremental exports
T0=2025-11-12T00:00:00Z
at() { local h=$1; shift; TIDEMARK_CLOCK=$(printf '2025-11-12T%02d:00:00Z' "$h") "$@"; }
BASE=$BENCH_OUT/items-100000.jsonl
gen_items 100000 "$BASE"
# changes FROM COUNT: puts of new versions of the 100,000 base items, change i -> item i % 100000.
changes() {
  python3 - "$BASE" "$1" "$2" <<'PY'
import sys
src, start, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = open(src).read().splitlines()
w = sys.stdout.write
for i in range(start, start + count):
    l = lines[i % len(lines)]
    # a new "tokens" value per version: {"N":"<v>"} -> the version number
    a = l.index('"tokens":{"N":"') + 15
    b = l.index('"', a)
    w(l[:a] + str(i // len(lines) + 1) + l[b:] + "\n")
PY
}
load() {  # home hour from count
  TIDEMARK_CLOCK=$(printf '2025-11-12T%02d:00:00Z' "$2") tidemark --data "$1" batch-write \
    --table Log --file <(changes "$3" "$4") --batch-size 10000 >/dev/null 2>&1
}
new_log_table() {
  at 0 tidemark --data "$1" create-table --table Log --key user_id:S --sort-key sk:S --durability none >/dev/null
  at 0 tidemark --data "$1" pitr enable --table Log >/dev/null
}
HB=$D/home-log-big HS=$D/home-log-small
new_log_table "$HB"
new_log_table "$HS"
# The big log: a million changes per simulated hour, the last W changes alone at hour H.
H=$(( (CH - W + 999999) / 1000000 + 1 ))
log "loading $CH changes into the big log (this takes a few minutes)"
t_load0=$(date +%s)
done_n=0 hour=1
while [ "$done_n" -lt $((CH - W)) ]; do
  n=$((CH - W - done_n)); [ "$n" -gt 1000000 ] && n=1000000
  load "$HB" "$hour" "$done_n" "$n"
  done_n=$((done_n + n)); hour=$((hour + 1))
done
load "$HB" "$H" "$done_n" "$W"
load "$HS" "$H" "$done_n" "$W"
log "loaded in $(( $(date +%s) - t_load0 )) s; big log $(du -sh "$HB/tables/Log/log" | cut -f1), small log $(du -sh "$HS/tables/Log/log" | cut -f1)"
NOW=$(printf '2025-11-12T%02d:30:00Z' "$H")
FROM=$(printf '2025-11-12T%02d:00:00Z' "$H")
inc() {  # VAR home from: best of 3 (short runs are noisy)
  # (r1..r3, not t1..t3: bench/lib.sh's timed keeps locals of those names)
  local var=$1 h=$2 from=$3 r1 r2 r3
  TIDEMARK_CLOCK=$NOW timed r1 tidemark-export --data "$h" --table Log --to "$D/inc" --incremental --from "$from" --until "$NOW"
  TIDEMARK_CLOCK=$NOW timed r2 tidemark-export --data "$h" --table Log --to "$D/inc" --incremental --from "$from" --until "$NOW"
  TIDEMARK_CLOCK=$NOW timed r3 tidemark-export --data "$h" --table Log --to "$D/inc" --incremental --from "$from" --until "$NOW"
  local best=$r1 rss=$r1_rss
  if [ "$(echo "$r2 < $best" | bc)" = 1 ]; then best=$r2; rss=$r2_rss; fi
  if [ "$(echo "$r3 < $best" | bc)" = 1 ]; then best=$r3; rss=$r3_rss; fi
  printf -v "$var" '%s' "$best"; printf -v "${var}_rss" '%s' "$rss"
  rm -rf "$D/inc"
} >/dev/null 2>&1
inc I_big "$HB" "$FROM"
inc I_small "$HS" "$FROM"
# The record count of the window: every change of the window is one distinct item here.
TIDEMARK_CLOCK=$NOW tidemark-export --data "$HB" --table Log --to "$D/inc-check" --incremental --from "$FROM" --until "$NOW" --json 2>/dev/null |
  python3 -c 'import sys,json; n=json.load(sys.stdin)["ExportDescription"]["ItemCount"]; sys.exit(0 if n == int(sys.argv[1]) else "window holds %d records" % n)' "$W"
rm -rf "$D/inc-check"
row "incremental export of the last $W changes, log of $CH changes (time)" "$I_big" "$I_small" \
  "vs the same window on a log holding only those $W changes; goal <= 2x (cost follows the window)" \
  "op=incremental export, $W of $CH changes" "ref=same window, log of $W" goal=2 "rss=$I_big_rss" "ref_rss=$I_small_rss"
mem_inc="window $W: ${I_big_rss} KiB (log of $CH), ${I_small_rss} KiB (log of $W)"
if [ "${BENCH_BIG:-0}" = 1 ]; then
  # Windows of 1M and 4M changes (the last hours of the big log): netchange groups ~100,000
  # distinct keys per window here; the grouping memory is bounded and spills past it.
  for m in 1 4; do
    [ $((m * 1000000)) -le "$CH" ] || continue
    from=$(printf '2025-11-12T%02d:00:00Z' $((H - m)))
    TIDEMARK_CLOCK=$NOW timed I_w tidemark-export --data "$HB" --table Log --to "$D/inc" --incremental --from "$from" --until "$NOW" >/dev/null 2>&1
    rm -rf "$D/inc"
    mem_inc="$mem_inc; window ~${m}M changes: ${I_w_rss} KiB in ${I_w} s"
  done
fi
note "incremental export: peak RSS" "$mem_inc" "bounded by the netchange limit (64 MiB, spills past it) and jobs x chunks, not by the log"
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$HB" "$HS"
