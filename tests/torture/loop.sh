#!/usr/bin/env bash
# loop.sh: one writer of torture.sh's crash.put-loops scenario: put-item and update-item in turn
# on five keys of its own, forever (it is killed). Each attempt is logged before it starts and
# its outcome after it ends, so the log says what was acknowledged (exit 0) and what was in
# flight at the kill.   loop.sh HOME TABLE WRITER LOG
home=$1 table=$2 w=$3 log=$4
i=$(awk '$1 == "try" { n = $3 } END { print n + 0 }' "$log" 2>/dev/null || echo 0)
while :; do
  i=$((i + 1))
  key="w$w-$((i % 5))"
  echo "try $key $i" >> "$log"
  if [ $((i % 2)) -eq 1 ]; then
    tidemark --data "$home" put-item --table "$table" --item "{\"k\":{\"S\":\"$key\"},\"v\":{\"N\":\"$i\"},\"w\":{\"N\":\"$w\"}}" >/dev/null 2>>"$log.err"
  else
    tidemark --data "$home" update-item --table "$table" --key "{\"k\":{\"S\":\"$key\"}}" \
      --update-expression 'SET v = :v' --expression-attribute-values "{\":v\":{\"N\":\"$i\"}}" >/dev/null 2>>"$log.err"
  fi
  rc=$?
  if [ $rc -eq 0 ]; then echo "ack $key $i" >> "$log"; else echo "err $key $i $rc" >> "$log"; fi
done
