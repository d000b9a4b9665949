# scripts/demo.d/40-import.sh (sourced by scripts/demo.sh after 20-export.sh): a developer seeds
# a fresh table from last night's full export, the way one would from an S3 dump of production:
# no key flags (the export carries tidemark-schema.json), manifests and MD5s checked, and the
# table appears only once complete. Uses DEMO_HOME, DEMO_TABLE and DEMO_EXPORT_DIR (the full
# export's AWSDynamoDB/<ExportId> directory; exported here if an earlier step did not);
# exports DEMO_IMPORTED.
: "${DEMO_HOME:?10-foundation.sh sets DEMO_HOME}" "${DEMO_TABLE:?}"
DEMO_IMPORTED="${DEMO_TABLE}_imported"
export DEMO_IMPORTED
if [ -z "${DEMO_EXPORT_DIR:-}" ] || [ ! -d "$DEMO_EXPORT_DIR" ]; then
  step "Import: no full export from an earlier step; exporting $DEMO_TABLE first"
  tidemark-export --data "$DEMO_HOME" --table "$DEMO_TABLE" --to "$DEMO_DIR/import-src" >/dev/null
  DEMO_EXPORT_DIR=$(ls -d "$DEMO_DIR"/import-src/AWSDynamoDB/*/ | head -n 1)
  DEMO_EXPORT_DIR=${DEMO_EXPORT_DIR%/}
fi

step "Import: the full export into the new table $DEMO_IMPORTED (key schema from the export)"
echo "\$ tidemark-import --from $DEMO_EXPORT_DIR --table $DEMO_IMPORTED --json"
tidemark-import --data "$DEMO_HOME" --from "$DEMO_EXPORT_DIR" --table "$DEMO_IMPORTED" --json |
  python3 -c 'import json,sys
d = json.load(sys.stdin)["ImportTableDescription"]
print("  %s: %s, %d items processed, %d imported, %d errors, %d bytes (%s, %s)" % (
      d["TableCreationParameters"]["TableName"], d["ImportStatus"], d["ProcessedItemCount"],
      d["ImportedItemCount"], d["ErrorCount"], d["ProcessedSizeBytes"], d["InputFormat"],
      d["InputCompressionType"]))'

step "Import: counts (export manifest vs the imported table)"
_i40_export=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["itemCount"])' \
  "$DEMO_EXPORT_DIR/manifest-summary.json")
_i40_table=$(tidemark --data "$DEMO_HOME" describe-table --table "$DEMO_IMPORTED" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Table"]["ItemCount"])')
printf '  %-32s %10s items (manifest-summary.json itemCount)\n' "export" "$_i40_export"
printf '  %-32s %10s items\n' "$DEMO_IMPORTED" "$_i40_table"
if [ "$_i40_export" != "$_i40_table" ]; then
  echo "  MISMATCH: the imported table does not hold what the export holds" >&2
  false
fi
echo "  counts match"
