#!/usr/bin/env bash
# Installs what tidemark needs to build and test, on Debian 12: libraries with apt-get, the test
# peers (s3rver, DuckDB's node API) with npm into .deps/. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(build-essential pkg-config liblmdb-dev lmdb-utils libzstd-dev liblz4-dev libxxhash-dev
      libcjson-dev libcurl4-openssl-dev libarchive-dev libssl-dev zlib1g-dev libdeflate-dev
      libcmocka-dev libmicrohttpd-dev valgrind python3 python3-boto3 awscli nodejs npm sqlite3 pigz zstd lz4 gzip
      curl ca-certificates time bc help2man bash-completion
      default-jdk-headless)   # tests/java: GZIPInputStream reads exports as AWS's Java readers do
missing=()
for d in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
# nodejs from another source may ship npm itself; do not fight it.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
fi
want=()
for m in "${missing[@]}"; do [ -n "$m" ] && want+=("$m"); done
if [ ${#want[@]} -gt 0 ]; then
  echo "deps: installing ${want[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${want[@]}" >/dev/null
fi

# Test peers, pinned. Only needed by tests; never by tidemark itself. dynalite is the DynamoDB
# endpoint the remote/ client is tested against.
if [ ! -f .deps/node_modules/s3rver/package.json ] || [ ! -d .deps/node_modules/@duckdb/node-api ] ||
   [ ! -f .deps/node_modules/dynalite/cli.js ]; then
  echo "deps: installing s3rver@3.7.1, @duckdb/node-api and dynalite@4.0.0 into .deps/" >&2
  mkdir -p .deps
  (cd .deps && [ -f package.json ] || echo '{"name":"tidemark-test-peers","private":true}' > package.json)
  (cd .deps && npm install --silent --no-audit --no-fund s3rver@3.7.1 @duckdb/node-api \
     dynalite@4.0.0 >/dev/null 2>&1) ||
    echo "deps: warning: npm install of test peers failed; S3 and DynamoDB endpoint tests will fail" >&2
fi
# The JavaScript SDK (tests/cli/serve_jssdk.sh): its model has what Debian's awscli and botocore
# lack (ExportType, IncrementalExportSpecification, RecoveryPeriodInDays). Not pinned: the test is
# that the current SDK works against tidemark serve.
if [ ! -f .deps/node_modules/@aws-sdk/client-dynamodb/package.json ]; then
  echo "deps: installing @aws-sdk/client-dynamodb into .deps/" >&2
  mkdir -p .deps
  (cd .deps && [ -f package.json ] || echo '{"name":"tidemark-test-peers","private":true}' > package.json)
  (cd .deps && npm install --silent --no-audit --no-fund @aws-sdk/client-dynamodb >/dev/null 2>&1) ||
    echo "deps: warning: npm install of @aws-sdk/client-dynamodb failed; serve_jssdk will fail" >&2
fi
