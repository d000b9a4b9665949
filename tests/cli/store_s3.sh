#!/usr/bin/env bash
# store_s3.sh: the store contract suite against a real S3-compatible server, read back by real
# S3 clients.
#
#   s3rver (127.0.0.1, free port) <- strict SigV4 proxy <- the store under test, aws-cli, boto3
#                                                       <- fault proxies (25% faults; 100%; part 3)
#
# 1. aws-cli uploads an object (multipart); the suite reads it back (TM_S3_FOREIGN).
# 2. The contract suite runs with TM_S3_* set: local and S3 backends, fault injection, abort.
# 3. aws-cli (s3 ls, s3 cp) and boto3 list and download what the suite wrote; MD5s must match.
# 4. The same suite with a wrong secret must FAIL, refused by the proxy (SignatureDoesNotMatch).
# Env: TM_BIN (build/bin) and TM_ROOT (the repository) from scripts/run-tests.sh.
set -euo pipefail
ROOT=${TM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${TM_BIN:-$ROOT/build/bin}
TEST="$BIN/../tests/store_test"
AWS=/usr/bin/aws
. "$ROOT/tests/s3/lib.sh"
PY=/usr/bin/python3

[ -x "$TEST" ] || { echo "store_s3: $TEST is not built" >&2; exit 1; }
work=$(mktemp -d /tmp/store_s3.XXXXXX)
trap 'rc=$?; s3_cleanup; rm -rf "$work"; exit $rc' EXIT
fail() { echo "store_s3: FAIL: $*" >&2; exit 1; }

# Only the variables we set: nothing from the caller's AWS setup may leak in.
for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""

bucket=tidemark-test
s3_start_s3rver "$work/s3rver" "$bucket"
s3_start_sigv4 "$S3RVER_PORT" "$work/sigv4.log"
EP=http://127.0.0.1:$SIGV4_PORT
s3_start_fault "$SIGV4_PORT" "$work/fault.log" --rate 0.25 --seed 7
FLAKY=http://127.0.0.1:$FAULT_PORT
s3_start_fault "$SIGV4_PORT" "$work/dead.log" --rate 1 --seed 1 --faults 500,503,slowdown,429,drop
DEAD=http://127.0.0.1:$FAULT_PORT
s3_start_fault "$SIGV4_PORT" "$work/partfail.log" --rate 1 --match 'partNumber=3&' --faults 503
PARTFAIL=http://127.0.0.1:$FAULT_PORT
s3_start_fault "$SIGV4_PORT" "$work/cut.log" --every 2 --match '^GET /[^?]*/cut/' --faults cut
CUT=http://127.0.0.1:$FAULT_PORT
token=tok-$RANDOM-$RANDOM
s3_start_sigv4 "$S3RVER_PORT" "$work/token.log" --token "$token"
TOKEN_EP=http://127.0.0.1:$SIGV4_PORT
SIGV4_PORT=${EP##*:}
# HTTPS: a throwaway CA signs a certificate for 127.0.0.1; s3rver serves it.
tls=$work/tls && mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tidemark-test-ca \
  -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$tls/srv.key" -out "$tls/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/ext"
openssl x509 -req -in "$tls/srv.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
  -days 2 -extfile "$tls/ext" -out "$tls/srv.pem" 2>/dev/null
plain_port=$S3RVER_PORT
s3_start_s3rver "$work/s3rver-tls" "$bucket" --key "$tls/srv.key" --cert "$tls/srv.pem"
TLS_EP=https://127.0.0.1:$S3RVER_PORT
S3RVER_PORT=$plain_port
echo "store_s3: s3rver :$S3RVER_PORT, sigv4 proxy :$SIGV4_PORT"

# 1. An object written by aws-cli (20 MiB: aws-cli goes multipart above 8 MiB).
head -c $((20 << 20)) /dev/urandom >"$work/foreign.bin"
fkey="foreign-$$/from aws+cli=1.bin"
"$AWS" --endpoint-url "$EP" s3 cp --only-show-errors "$work/foreign.bin" "s3://$bucket/$fkey"
fmd5=$(md5sum <"$work/foreign.bin" | cut -d' ' -f1)

# 2. The contract suite.
t0=$(date +%s.%N)
TM_S3_ENDPOINT=$EP TM_S3_BUCKET=$bucket TM_S3_FAULT_ENDPOINT=$FLAKY TM_S3_DEAD_ENDPOINT=$DEAD \
TM_S3_PARTFAIL_ENDPOINT=$PARTFAIL TM_S3_CUT_ENDPOINT=$CUT TM_S3_TOKEN_ENDPOINT=$TOKEN_EP \
TM_S3_TOKEN=$token TM_S3_TLS_ENDPOINT=$TLS_EP TM_S3_TLS_CA="$tls/ca.pem" TM_S3_MANIFEST="$work/manifest.tsv" \
TM_S3_FOREIGN="$fkey $fmd5" TM_S3_S3RVER=1 TM_S3_RETRIES_FILE="$work/retries" \
  "$TEST" 2>&1 | tee "$work/suite.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "contract suite"
echo "store_s3: suite took $(echo "$(date +%s.%N) - $t0" | bc) s"
grep -q 'test_s3_foreign_object' "$work/suite.log" || fail "the S3 group did not run"
if grep -q '^\[  SKIPPED \]' "$work/suite.log"; then fail "S3 tests were skipped"; fi
read -r requests retries <"$work/retries"
echo "store_s3: fault injection: $requests requests, $retries retried"
[ "$retries" -gt 0 ] || fail "no retries counted under fault injection"
echo "store_s3: faults injected: $(cut -d' ' -f1 "$work/fault.log" | sort | uniq -c | tr -s ' \n' ' ')"

# Every request the suite made passed the strict check, except the two the wrong-secret test
# makes on purpose.
rejects=$(grep -c '^REJECT' "$work/sigv4.log" || true)
bad=$(grep '^REJECT' "$work/sigv4.log" | grep -vc 'SignatureDoesNotMatch' || true)
[ "$bad" -eq 0 ] || { grep '^REJECT' "$work/sigv4.log" >&2; fail "requests refused by the SigV4 proxy"; }
[ "$rejects" -eq 2 ] || fail "expected 2 refused requests (wrong-secret test), saw $rejects"
echo "store_s3: sigv4 proxy: $(grep -c '^OK' "$work/sigv4.log") requests verified"
# SSE reached the wire, signed: on the single PUTs, the multipart starts and the copies.
for want in 'PUT [^ ]*/sse/0/small.json .*x-amz-server-side-encryption;' \
            'POST [^ ]*/sse/0/big.bin?uploads= .*x-amz-server-side-encryption;' \
            'PUT [^ ]*/sse/1/small.json .*x-amz-server-side-encryption-aws-kms-key-id' \
            'POST [^ ]*/sse/1/big.bin?uploads= .*x-amz-server-side-encryption-aws-kms-key-id' \
            'PUT [^ ]*/sse/1/copied.json .*x-amz-copy-source;.*x-amz-server-side-encryption-aws-kms-key-id'; do
  grep -q "^OK $want" "$work/sigv4.log" || fail "no signed request matching: $want"
done

# Memory stays bounded while 128 MiB stream up (multipart) and back down.
TM_STORE_MEMTEST=128 TM_S3_ENDPOINT=$EP TM_S3_BUCKET=$bucket "$TEST" || fail "memory bound"

# 3. Real clients read what tidemark wrote.
[ -s "$work/manifest.tsv" ] || fail "no interop manifest"
prefix=$(head -n1 "$work/manifest.tsv" | cut -f1)
prefix=${prefix%%/interop/*}/interop/
"$AWS" --endpoint-url "$EP" s3 ls --recursive "s3://$bucket/$prefix" >"$work/ls.txt"
cat "$work/ls.txt"
n=0
while IFS=$'\t' read -r key size md5 parts; do
  # aws s3 ls: "DATE TIME SIZE KEY"
  awk -v k="$key" -v s="$size" '{ line=$0; sub(/^[^ ]+ +[^ ]+ +[0-9]+ /, "", line);
       if (line == k && $3 == s) f=1 } END { exit !f }' "$work/ls.txt" ||
    fail "aws s3 ls does not show '$key' with $size bytes"
  "$AWS" --endpoint-url "$EP" s3 cp --only-show-errors "s3://$bucket/$key" "$work/dl.bin"
  got=$(md5sum <"$work/dl.bin" | cut -d' ' -f1)
  [ "$got" = "$md5" ] || fail "aws s3 cp '$key': md5 $got, want $md5"
  [ "$(stat -c %s "$work/dl.bin")" = "$size" ] || fail "aws s3 cp '$key': size"
  echo "aws-cli: ok '$key' $size bytes $md5 (parts $parts)"
  n=$((n + 1))
done <"$work/manifest.tsv"
[ "$n" -ge 6 ] || fail "only $n interop objects"
"$PY" "$ROOT/tests/s3/boto3_check.py" "$EP" "$bucket" "$work/manifest.tsv" || fail "boto3 check"

# 4. Prove the gate: the same suite with a wrong secret must fail, refused by the proxy.
before=$(grep -c 'SignatureDoesNotMatch' "$work/sigv4.log" || true)
if AWS_SECRET_ACCESS_KEY=not-the-secret TM_S3_WRONG_SECRET=1 TM_S3_ENDPOINT=$EP TM_S3_BUCKET=$bucket \
    "$TEST" >"$work/wrong.log" 2>&1; then
  cat "$work/wrong.log"
  fail "the suite passed with a wrong secret"
fi
after=$(grep -c 'SignatureDoesNotMatch' "$work/sigv4.log" || true)
[ "$after" -gt "$before" ] || fail "the wrong-secret run was not refused with SignatureDoesNotMatch"
grep -q 'SignatureDoesNotMatch' "$work/wrong.log" || fail "the wrong-secret error does not name the S3 code"
if grep -q 'not-the-secret' "$work/wrong.log"; then fail "the secret appears in the output"; fi
echo "store_s3: wrong secret refused: $(grep -m1 'SignatureDoesNotMatch' "$work/wrong.log")"
echo "store_s3: all good"
