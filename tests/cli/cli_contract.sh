#!/usr/bin/env bash
# cli_contract.sh: what every program promises a person at a terminal or in cron (issue 12):
#   - `make install` puts the programs, a man page each (help2man, from --help) and a bash
#     completion made from --help under DESTDIR/PREFIX;
#   - typos in --to/--from are refused, naming the string and the accepted forms, and create
#     nothing ("s3:/bucket/x" once wrote a local directory named "s3:");
#   - the progress line fits the terminal: every redraw is shorter than COLUMNS (in 80 columns
#     each redraw once became a new line), and batch-write of a file shows a percentage;
#   - without a terminal, one summary line and no redraws.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
cd "$TM_HOME"

# ---- make install ----------------------------------------------------------------------------
build=$(dirname "$TM_BIN")
dest=$TM_HOME/dest
make -s -C "$TM_ROOT" -o all BUILD="$build" DESTDIR="$dest" PREFIX=/usr install >/dev/null ||
  fail "make install"
for p in tidemark tidemark-export tidemark-import tidemark-restore; do
  [ -x "$dest/usr/bin/$p" ] || fail "$p not installed"
  page=$dest/usr/share/man/man1/$p.1
  [ -s "$page" ] || fail "no man page for $p"
  assert_contains "$(cat "$page")" ".SH NAME" "$p.1"
  assert_contains "$(cat "$page")" "\-\-data" "$p.1 (from --help)"
  if [ "$p" = tidemark ]; then   # each command's own --help is in tidemark's page
    assert_contains "$(cat "$page")" "COMMANDS IN DETAIL" "$p.1"
    assert_contains "$(cat "$page")" "Usage: tidemark [--data DIR] batch-write" "$p.1"
  else
    assert_contains "$(cat "$page")" "\\fB\\-\\-table\\fR" "$p.1 (its options, from --help)"
  fi
  [ -e "$dest/usr/share/bash-completion/completions/$p" ] || fail "no completion for $p"
done
# the pages render, and say what --help says
if command -v man >/dev/null; then
  page=$(MANWIDTH=100 man -l "$dest/usr/share/man/man1/tidemark-export.1" 2>/dev/null | col -b)
  assert_contains "$page" "tidemark-export" "man tidemark-export"
  assert_contains "$page" "--to" "man tidemark-export"
fi
# completion: commands, a command's own options, sub-commands, other programs' options
comp() {  # words... -> the completions of the last word
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tidemark_complete
           printf "%s\n" "${COMPREPLY[@]}"' _ "$dest/usr/share/bash-completion/completions/tidemark" "$@"
}
assert_eq "describe-table" "$(comp tidemark describe-t)" "completion of 'tidemark describe-t'"
assert_eq "--update-expression" "$(comp tidemark update-item --table T --update-e)" "update-item option"
assert_eq "$(printf 'enable\ndisable\nstatus')" "$(comp tidemark pitr '')" "pitr sub-commands"
assert_eq "--recovery-period-in-days" "$(comp tidemark pitr enable --rec)" "pitr enable option"
assert_contains "$(comp tidemark-export --ta)" "--table" "tidemark-export options"
assert_eq "list" "$(comp tidemark-export li)" "tidemark-export sub-command"
assert_eq "--latest" "$(comp tidemark-restore --la)" "tidemark-restore option"

# ---- --to / --from typos ---------------------------------------------------------------------
tidemark create-table --table Chat --key pk:S >/dev/null
for bad in s3:/bucket/x s3:bucket S3://bucket s3:// s3:///x gs://bucket/x; do
  rc=0
  tidemark-export --table Chat --to "$bad" >/dev/null 2>err || rc=$?
  [ "$rc" -ne 0 ] || fail "export --to $bad succeeded"
  assert_contains "$(cat err)" "\"$bad\"" "export --to $bad names it"
  assert_contains "$(cat err)" "s3://BUCKET[/PREFIX]" "export --to $bad gives the accepted forms"
  rc=0
  tidemark-import --from "$bad" --table Other >/dev/null 2>err || rc=$?
  [ "$rc" -ne 0 ] || fail "import --from $bad succeeded"
  assert_contains "$(cat err)" "\"$bad\"" "import --from $bad names it"
done
[ ! -e s3: ] && [ ! -e S3: ] && [ ! -e gs: ] || fail "a typo made a local directory: $(ls)"

# ---- size options: one parser (text_parse_size), one message, one exit status -----------------
# export once took "-1" (as 2^64-1) and "8iB" and refused "1T"; import refused "8iB" and took "1T"
for bad in -1 1.5G 12X 8iB 8KK 0x10 "" 99999999999T; do
  expect_exit 2 tidemark-export --table Chat --to sized --max-file-size "$bad"
  e=${ERR%%$'\n'*}; e=${e#tidemark-export: --max-file-size: }
  expect_exit 2 tidemark-import --from sized --table Sized --max-decompressed "$bad"
  i=${ERR%%$'\n'*}; i=${i#tidemark-import: --max-decompressed: }
  assert_eq "$e" "$i" "the message for size '$bad'"
  assert_contains "$e" "bad size '$bad': " "export --max-file-size '$bad'"
done
expect_exit 2 tidemark-export --table Chat --to sized --checkpoint-size 0
assert_contains "$ERR" "tidemark-export: --checkpoint-size must be at least 1, not '0'" "size 0"
expect_exit 2 tidemark-import --from sized --table Sized --max-line-bytes 2G
assert_contains "$ERR" "tidemark-import: --max-line-bytes must be from 16 to 1G, not '2G'" "range"
expect_exit 0 tidemark-export --table Chat --to sized --max-file-size 1TiB -q
[ ! -e sized ] || [ -n "$(ls sized)" ] || fail "export with a 1TiB file size"

# ---- progress on a terminal (forced) and in cron ----------------------------------------------
pad=$(printf 'x%.0s' {1..60})
awk -v pad="$pad" 'BEGIN { for (i = 1; i <= 30000; i++) printf "{\"pk\":{\"S\":\"k%d\"},\"v\":{\"S\":\"%s\"}}\n", i, pad }' > items.jsonl
TIDEMARK_PROGRESS=1 COLUMNS=40 tidemark batch-write --table Chat --file items.jsonl --batch-size 100 \
  2>err >/dev/null
# every redraw ends with "\r" or "ESC[K": split on both; no piece but the summary may be >= 40
pieces=$(tr '\r' '\n' < err | sed 's/\x1b\[K//g')
longest=$(printf '%s\n' "$pieces" | grep -v '^tidemark: loaded' | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
[ "$longest" -lt 40 ] || fail "a progress redraw of $longest characters in 40 columns: $(printf '%s\n' "$pieces" | head -3)"
[ "$(printf '%s\n' "$pieces" | grep -c '^tidemark: batch-write')" -ge 1 ] || fail "no progress line drawn"
assert_contains "$(tr '\r' '\n' < err)" "tidemark: loaded 30000 items" "summary"
TIDEMARK_PROGRESS=1 COLUMNS=200 tidemark batch-write --table Chat --file items.jsonl --batch-size 100 \
  2>err >/dev/null
assert_contains "$(tr '\r' '\n' < err)" "%)" "batch-write of a file shows a percentage"
# cron: no terminal, no redraw, one summary line
TIDEMARK_PROGRESS=0 tidemark batch-write --table Chat --file items.jsonl 2>err >/dev/null
assert_eq 1 "$(wc -l < err)" "lines on stderr without a terminal"
[ "$(tr -cd '\r' < err | wc -c)" -eq 0 ] || fail "a redraw without a terminal"

echo "cli_contract: ok"
