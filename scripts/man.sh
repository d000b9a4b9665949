#!/usr/bin/env bash
# Makes a man page per program from its --help and --version with help2man, so the pages never
# drift from the programs.   man.sh BINDIR OUTDIR   (writes OUTDIR/<program>.1)
set -euo pipefail
bindir=$1 out=$2
command -v help2man >/dev/null || { echo "man.sh: help2man is missing (scripts/deps.sh installs it)" >&2; exit 1; }
mkdir -p "$out"
desc() {
  case $1 in
    tidemark) echo "DynamoDB-style tables with a continuously retained change log";;
    tidemark-export) echo "full and incremental exports in DynamoDB's export format";;
    tidemark-import) echo "import exports, JSON lines or CSV into a new table";;
    tidemark-restore) echo "restore a table to any second of its window into a new table";;
    tidemark-rollback) echo "undo the changes of an incremental export";;
    tidemark-lifecycle) echo "retention of logs and snapshots, rules for exports";;
    *) echo "part of tidemark";;
  esac
}
# tidemark's page also carries each command's own --help (its top-level --help lists them only).
commands_section() {
  local cmds c
  cmds=$("$1" --help 2>&1 | awk '/^Commands:/{on=1;next} on&&/^$/{on=0}
    on&&/^  [a-z]/{print $1 ($2 ~ /^(enable|disable|status|verify|list)$/ ? " " $2 : "")}')
  echo "[COMMANDS IN DETAIL]"
  while IFS= read -r c; do
    [ -n "$c" ] || continue
    echo ".SS \"$c\""
    echo ".nf"
    # shellcheck disable=SC2086
    "$1" $c --help 2>&1 | sed -e 's/\\/\\e/g' -e 's/^[.'"'"']/\\\&&/'
    echo ".fi"
  done <<< "$cmds"
}
for p in "$bindir"/tidemark*; do
  [ -x "$p" ] && [ -f "$p" ] || continue
  case $p in *.o|*.d) continue;; esac
  n=$(basename "$p")
  inc=()
  if [ "$n" = tidemark ]; then
    commands_section "$p" > "$out/$n.h2m"
    inc=(--include="$out/$n.h2m")
  fi
  help2man --no-info --no-discard-stderr --section=1 --name="$(desc "$n")" "${inc[@]}" \
    --output="$out/$n.1" "$p"
done
