#!/usr/bin/env bash
# torture_short.sh: the short form of the torture harness (tests/torture/torture.sh, `make
# torture`) in make test: a few kills of every crash scenario, one fault of each kind, one flip
# and one truncation of every file kind. Seeded (TORTURE_SEED, default 1), under 2 minutes.
# Bugs of issue 11 not yet fixed are listed below as known failures: they are reported, not
# failed. TORTURE_KNOWN overrides the list; TORTURE_STRICT=1 empties it (every failure counts).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=$(basename "$(dirname "$TM_BIN")")
known=(
)
if [ "${TORTURE_STRICT:-0}" = 1 ]; then export TORTURE_KNOWN=""; else export TORTURE_KNOWN=${TORTURE_KNOWN-${known[*]}}; fi
TORTURE_SHORT=1 TM_BIN=$TM_BIN bash "$TM_ROOT/tests/torture/torture.sh" "$build"
