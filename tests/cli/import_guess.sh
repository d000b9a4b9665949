#!/usr/bin/env bash
# import_guess.sh: the input format is guessed from the name (a .csv file is CSV), and a wrong
# guess stops at once naming the option that fixes it, leaving no table (old code: users.csv
# without --input-format CSV rejected every line as bad JSON and left an empty table, exit 3).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
W="$TM_HOME/w"; mkdir -p "$W"; cd "$W"

printf 'id,name\n1,ann\n2,bob\n' > users.csv
expect_exit 0 tidemark-import --from users.csv --table Users --key id:N --json
assert_contains "$(printf '%s' "$OUT" | tr -d ' \n')" '"InputFormat":"CSV"'
assert_eq 2 "$(tidemark scan --table Users | wc -l)"
gzip -c users.csv > users.csv.gz
expect_exit 0 tidemark-import --from users.csv.gz --table UsersGz --key id:N

# a .csv without --key: says what CSV needs and how to say it is not CSV (usage, 2)
expect_exit 2 tidemark-import --from users.csv --table NoKey
assert_contains "$ERR" "looks like CSV"
assert_contains "$ERR" "--input-format DYNAMODB_JSON"

# CSV under another name: guessed DYNAMODB_JSON; every line fails -> stops, names the option
cp users.csv users.txt
expect_exit 1 tidemark-import --from users.txt --table Wrong --key id:N
assert_contains "$ERR" "none of the first 3 lines is DynamoDB JSON"
assert_contains "$ERR" "give --input-format CSV"
tidemark describe-table --table Wrong >/dev/null 2>&1 && fail "a wrong guess left a table"
# many lines: it stops after the first IMPORT_GUESS_LINES (10), not at the end
for i in $(seq 1 5000); do echo "$i,x"; done > many.jsonl
expect_exit 1 tidemark-import --from many.jsonl --table Many --key id:S --json
assert_contains "$ERR" "none of the first 10 lines"
assert_contains "$(printf '%s' "$OUT" | tr -d ' \n')" '"FailureCode":"InvalidInputFormat"'
# the option fixes it
expect_exit 0 tidemark-import --from users.txt --input-format CSV --table Right --key id:N
# one good line among bad ones is not a wrong format: rejected items, exit 3
{ echo 'not json'; echo '{"Item":{"id":{"S":"a"}}}'; } > mixed.jsonl
expect_exit 3 tidemark-import --from mixed.jsonl --table Mixed --key id:S
echo "import_guess: ok"
