# scripts/demo.d/20-export.sh (sourced by scripts/demo.sh after 10-foundation.sh): the nightly
# backup and the first step of an undo. A FULL export of the table to $DEMO_DIR/exports, an
# INCREMENTAL export of exactly the bad load's window (its net change, old and new images),
# verify both, and show the files, AWS's layout byte for byte.
# Uses DEMO_HOME, DEMO_TABLE, DEMO_BAD_START, DEMO_NOW; exports DEMO_EXPORT_DIR (the full
# export's AWSDynamoDB/<ExportId> directory, for the import step) and DEMO_INCR_DIR.
: "${DEMO_HOME:?10-foundation.sh sets DEMO_HOME}" "${DEMO_TABLE:?}" "${DEMO_BAD_START:?}" "${DEMO_NOW:?}"
_x20_dest="$DEMO_DIR/exports"
_x20() {  # shows the command, runs it at the demo's simulated now
  printf '\033[2m[%s]\033[0m $ %s\n' "$DEMO_NOW" "$*" >&2   # stderr: stdout is captured
  TIDEMARK_CLOCK=$DEMO_NOW "$@"
}

step "Export: a FULL export of $DEMO_TABLE (one consistent moment, 2 compression jobs)"
DEMO_EXPORT_DIR=$(_x20 tidemark-export --data "$DEMO_HOME" --table "$DEMO_TABLE" \
  --to "$_x20_dest" --jobs 2)
export DEMO_EXPORT_DIR
echo "DEMO_EXPORT_DIR=$DEMO_EXPORT_DIR"

step "Export: the files, as Amazon DynamoDB lays them out"
(cd "$_x20_dest" && find AWSDynamoDB -type f | sort | sed 's/^/  /')
echo "  manifest-summary.json:"
python3 -m json.tool "$DEMO_EXPORT_DIR/manifest-summary.json" | sed 's/^/    /'
echo "  manifest-files.json (first line):"
head -n 1 "$DEMO_EXPORT_DIR/manifest-files.json" | sed 's/^/    /'
echo "  a data line:"
(zcat "$DEMO_EXPORT_DIR"/data/*.json.gz || true) | head -n 1 | cut -c1-160 | sed 's/^/    /'

step "Export: the bad load's window as an INCREMENTAL export (its net change per item)"
_x20_last=$(TIDEMARK_CLOCK=$DEMO_NOW tidemark --data "$DEMO_HOME" timeline --table "$DEMO_TABLE" \
  --from "$DEMO_BAD_START" --json |
  python3 -c 'import sys,json; print(json.load(sys.stdin)["Bursts"][0]["LastWrite"])')
_x20_until=$(python3 -c 'import sys,datetime as d
t = d.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")) + d.timedelta(microseconds=1)
print(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))' "$_x20_last")
DEMO_INCR_DIR=$(_x20 tidemark-export --data "$DEMO_HOME" --table "$DEMO_TABLE" --to "$_x20_dest" \
  --incremental --from "$DEMO_BAD_START" --until "$_x20_until")
export DEMO_INCR_DIR
echo "  window [$DEMO_BAD_START, $_x20_until): $(python3 -c 'import sys,json; print(json.load(open(sys.argv[1]))["itemCount"])' \
  "$DEMO_INCR_DIR/manifest-summary.json") records in the shared folder AWSDynamoDB/data/"
echo "  an overwritten message (OldImage = before the load, NewImage = the broken template):"
(zcat $(sed -n 's/.*"dataFileS3Key":"\([^"]*\)".*/\1/p' "$DEMO_INCR_DIR/manifest-files.json" |
        sed "s|^|$_x20_dest/|") || true) | grep -m 1 '"OldImage"' | cut -c1-400 | sed 's/^/    /'

step "Export: verify every checksum, etag, count and line of both exports"
tidemark-export verify "$DEMO_EXPORT_DIR"
tidemark-export verify "$DEMO_INCR_DIR"
tidemark-export list "$_x20_dest"
unset -f _x20; unset _x20_dest _x20_last _x20_until
