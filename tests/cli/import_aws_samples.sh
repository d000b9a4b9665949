#!/usr/bin/env bash
# import_aws_samples.sh: the real Amazon DynamoDB exports in ../shared/aws-samples (relative to
# the repository; CI has them). The full export imports with --key (3 items in 4 files, 2 of
# them empty gzips); without --key the error says an AWS export needs it; the manifests-only
# export fails naming its missing data file, and leaves no table.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
S="$TM_ROOT/../shared/aws-samples"
if [ ! -d "$S" ]; then echo "import_aws_samples: $S absent: nothing to check here"; exit 0; fi
make_home
E="$S/full-export-with-prefix-2020/demo_prefix/AWSDynamoDB/01605130432834-8a918b87"

expect_exit 2 tidemark-import --from "$E" --table Aws2020
assert_contains "$ERR" "carries no key schema (an AWS export has no tidemark-schema.json): give --key NAME:TYPE [--sort-key NAME:TYPE]"
assert_eq '{"TableNames":[]}' "$(tidemark --json list-tables | tr -d ' \n')" "no table after a failure"

expect_exit 0 tidemark-import --from "$E" --table Aws2020 --key pk:S --sort-key sk:S --json
assert_contains "$(jc "$OUT")" '"ImportStatus":"COMPLETED"'
assert_contains "$(jc "$OUT")" '"ProcessedItemCount":3,'
assert_contains "$(jc "$OUT")" '"InputCompressionType":"GZIP"'
assert_contains "$ERR" "imported 3 items into Aws2020 (3 in the table, 0 rejected) from 4 files"
got=$(tidemark scan --table Aws2020 | python3 -c '
import sys, json
print(" ".join(sorted(json.loads(l)["Item"]["pk"]["S"] + "/" + json.loads(l)["Item"]["sk"]["S"] for l in sys.stdin)))')
assert_eq "pk001-1605121017583/sk001 pk002-1605121017583/sk002 pk003-1605121017583/sk003" "$got"
# from the directory above the export (it holds exactly one), and with a partition key only
expect_exit 0 tidemark-import --from "$S/full-export-with-prefix-2020" --table Aws2020b --key pk:S
assert_eq 3 "$(tidemark scan --table Aws2020b | wc -l)"

expect_exit 1 tidemark-import --from "$S/manifests-only-2022" --table Aws2022 --key pk:S --json
assert_contains "$ERR" "data file data/enpvklgbwq7gta42yshirxd6ea.json.gz listed in manifest-files.json is missing from $S/manifests-only-2022 (dataFileS3Key AWSDynamoDB/01668227450456-b6733290/data/enpvklgbwq7gta42yshirxd6ea.json.gz)"
assert_contains "$(jc "$OUT")" '"ImportStatus":"FAILED","TableArn"'
assert_contains "$(jc "$OUT")" '"FailureCode":"DataFileNotFound"'
expect_exit 1 tidemark describe-table --table Aws2022
[ -z "$(ls -A "$TM_HOME/tables" | grep -v -e '^Aws2020$' -e '^Aws2020b$')" ] || fail "leftovers: $(ls -A "$TM_HOME/tables")"
echo "import_aws_samples: ok"
