#!/usr/bin/env bash
# export_damage.sh: tidemark's own file in an export, tidemark-schema.json, is under a checksum
# (torture: damage.export-schema). A flipped key type or a truncation fails `verify`, naming the
# file, and tidemark-import refuses it, naming it (it used to build the table with a wrong key
# type, or fail obscurely). A version 1 schema (older tidemark, no checksum) still verifies, with
# a note, and imports. An export killed before it recorded its state (only _started) is refused
# by --resume saying so and what to do (torture: crash.export-resume.finishes), fails verify and
# is never COMPLETED.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
make_home
work=$TM_HOME/work
mkdir -p "$work"
tidemark create-table --table Tsch --key pk:S --sort-key sk:N >/dev/null
for i in 1 2 3; do
  tidemark put-item --table Tsch --item "{\"pk\":{\"S\":\"u$i\"},\"sk\":{\"N\":\"$i\"},\"v\":{\"S\":\"x\"}}"
done
dir=$(tidemark-export --table Tsch --to "$work/exp" 2>/dev/null)
schema=$dir/tidemark-schema.json
cp "$schema" "$work/good"
expect_exit 0 tidemark-export verify "$dir" --json
assert_contains "$(jc "$OUT")" '"Schema":"CHECKED"'
assert_contains "$(cat "$schema")" '{"SchemaVersion":2,"TableName":"Tsch",'

# 1. the sort key's type S->N... here N->S: still valid JSON, a wrong table if trusted
sed -i 's/"AttributeName":"sk","AttributeType":"N"/"AttributeName":"sk","AttributeType":"S"/' "$schema"
expect_exit 1 tidemark-export verify "$dir"
assert_contains "$OUT" "PROBLEM tidemark-schema.json: damaged: its Checksum"
expect_exit 1 tidemark-import --from "$dir" --table Imp1
assert_contains "$ERR" "tidemark-schema.json is damaged: its Checksum"
expect_exit 1 tidemark describe-table --table Imp1

# 2. truncated (the checksum is cut off: the rest still parses as nothing)
head -c 150 "$work/good" >"$schema"
expect_exit 1 tidemark-export verify "$dir"
assert_contains "$OUT" "PROBLEM tidemark-schema.json: damaged or truncated"
expect_exit 1 tidemark-import --from "$dir" --table Imp2
assert_contains "$ERR" "tidemark-schema.json is damaged or truncated"

# 3. only the last newline lost
head -c -1 "$work/good" >"$schema"
expect_exit 1 tidemark-export verify "$dir"
assert_contains "$OUT" "PROBLEM tidemark-schema.json"

# 4. deleted: this export's data file names say tidemark wrote it
rm "$schema"
expect_exit 1 tidemark-export verify "$dir"
assert_contains "$OUT" "PROBLEM tidemark-schema.json: missing"

# 5. version 1, as an older tidemark wrote it: verifies with a note, imports
/usr/bin/python3 - "$work/good" "$schema" <<'PY'
import json, sys
o = json.loads(open(sys.argv[1]).read())
del o["SchemaVersion"], o["Checksum"]
open(sys.argv[2], "w").write(json.dumps(o, separators=(",", ":")) + "\n")
PY
expect_exit 0 tidemark-export verify "$dir"
assert_contains "$OUT" "NOTE tidemark-schema.json has no checksum (schema version 1"
expect_exit 0 tidemark-import --from "$dir" --table Imp5
expect_exit 0 tidemark describe-table --table Imp5 --json
assert_contains "$OUT" '"AttributeName": "sk"'
cp "$work/good" "$schema"
expect_exit 0 tidemark-import --from "$dir" --table Imp6

# 6. killed between _started and its state file: only _started is there
id=01700000000000-0badc0de
part=$work/exp/AWSDynamoDB/$id
mkdir -p "$part"
: >"$part/_started"
expect_exit 1 tidemark-export --resume "$part"
assert_contains "$ERR" "cannot resume $part: the export was stopped before it recorded its state (_started but no tidemark-export-state.json): nothing of it can be reused; run the export again"
expect_exit 1 tidemark-export verify "$part"
assert_contains "$OUT" "PROBLEM manifest-summary.json: missing: the export is still starting, or was stopped before it recorded its state"
expect_exit 0 tidemark-export describe "$part" --json
assert_contains "$(jc "$OUT")" '"ExportStatus":"IN_PROGRESS"'
touch -d '-2 minutes' "$part/_started"     # a minute on, it is not starting any more
expect_exit 0 tidemark-export describe "$part" --json
assert_contains "$(jc "$OUT")" '"ExportStatus":"FAILED"'
assert_contains "$OUT" "stopped before it recorded its state"
# a directory with nothing of an export is a different refusal
mkdir -p "$work/exp/AWSDynamoDB/01700000000001-00000000"
expect_exit 1 tidemark-export --resume "$work/exp/AWSDynamoDB/01700000000001-00000000"
assert_contains "$ERR" "no export to resume there"
echo "export_damage: ok"
