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
  # 1: a reader after a writer's crash misses batches that live only in the log
  'crash.batch-write.fresh.*' 'crash.retention.fresh.*' 'fault.inject.batch-write.fsync.readers.*'
  'fault.tmpfs.batch-write.readers.*'
  # 2: a full disk: SIGBUS in writers; import and snapshot say "Input/output error"
  'fault.tmpfs.batch-write.writer-while-full' 'fault.tmpfs.put-item.no-signal'
  'fault.tmpfs.put-item.writer-while-full' 'fault.tmpfs.import.message' 'fault.tmpfs.snapshot.message'
  # 4/5: a truncated active segment: log verify says OK, the writer blames durability 'none'
  'damage.log-active.log-verify' 'damage.log-active.writer'
  # export: verify does not check tidemark-schema.json; a bad manifest-summary.md5 is called
  # manifest-summary.json.md5; a kill at the right moment leaves an export --resume cannot
  # finish, or a manifest-summary.json that fails verify (both timing-dependent)
  'damage.export-schema.export-verify' 'damage.export-summary-md5.import'
  'crash.export-resume.finishes' 'crash.export.complete-verifies'
)
if [ "${TORTURE_STRICT:-0}" = 1 ]; then export TORTURE_KNOWN=""; else export TORTURE_KNOWN=${TORTURE_KNOWN-${known[*]}}; fi
TORTURE_SHORT=1 TM_BIN=$TM_BIN bash "$TM_ROOT/tests/torture/torture.sh" "$build"
