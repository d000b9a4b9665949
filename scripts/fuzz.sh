#!/usr/bin/env bash
# make fuzz: builds every tests/fuzz/*_fuzz.c with clang's libFuzzer (+ASan/UBSan) and runs each
# for N seconds (default 60) over a scratch copy of its corpus; new crashers land in build-fuzz/.
# The saved corpus is replayed without libFuzzer by `make test` (tests/fuzz/driver.c).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang)" >&2; exit 1; }
make --no-print-directory BUILD=build-fuzz CC=clang WERROR= OPT=-O1 \
  CFLAGS_EXTRA="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
  build-fuzz/libengine.a build-fuzz/libstore.a build-fuzz/libimport.a >/dev/null
libs=$(ls build-fuzz/lib*.a)
for src in tests/fuzz/*_fuzz.c; do
  name=$(basename "$src" _fuzz.c)
  bin=build-fuzz/${name}_libfuzzer
  clang -std=c11 -O1 -g -D_GNU_SOURCE -I. $(pkg-config --cflags libcjson) \
    -fsanitize=fuzzer,address,undefined "$src" -o "$bin" \
    -Wl,--start-group $libs -Wl,--end-group \
    $(pkg-config --libs lmdb libzstd liblz4 libxxhash libcjson libcurl libarchive libcrypto zlib libdeflate) -lpthread -lm
  work=build-fuzz/corpus-$name; mkdir -p "$work"
  [ -d tests/fuzz/corpus/$name ] && cp -n tests/fuzz/corpus/$name/* "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s" >&2
  (cd build-fuzz && "./${name}_libfuzzer" -max_total_time="$secs" -artifact_prefix="crash-$name-" "corpus-$name")
done
