/* window.h: the restorable window [earliest, latest] of a table, as a pure function beside the
 * planner: pitr_window() and its input (engine/pitr_policy.h has the rules).
 *
 * Where the policy lives, and why (issue 12 asked to choose):
 *   (a) the engine keeps only the mechanism (list, delete) and the pitr functions decide, called
 *       from above the engine; or
 *   (b) the pure functions sit in engine/ and pitr/ re-exports them.
 * tidemark takes (b). The engine applies the policy itself in two places that have nothing
 * above them: retention after a commit that sealed a segment (the write path of batch-write,
 * the bulk loader of import and its forward apply of incrementals, the engine's own tests; with
 * PITR off that is what keeps the write-ahead log from growing without end, and the torture's
 * retention scenario relies on it with PITR on), and table_pitr_window, which export, the
 * materializer and the programs ask. Driving those from above would make every writer
 * responsible for calling retention, and an engine that silently stops trimming when one
 * forgets; the dependency rule (engine/ never includes pitr/) then leaves (b). The functions
 * are still pure (no I/O, no clock, plain structs in, numbers out), unit-tested on their own
 * (tests/unit/pitr_policy_test.c), and these headers are their names for code above the
 * engine (the api layer, lifecycle), so that moving them later changes no caller. */
#ifndef TIDEMARK_PITR_WINDOW_H
#define TIDEMARK_PITR_WINDOW_H

#include "engine/pitr_policy.h"

#endif
