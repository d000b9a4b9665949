/* materialize.h: the state of a table at a time T, built as a table.
 *
 * Gathers what the planner needs from a table (snapshots, log segments, live position, PITR
 * window), asks pitr_plan_make (plan.h) for the cheapest plan and executes it with a
 * table_builder: seed (a snapshot's data.mdb, or a consistent copy of the live table), then
 * the log records between the seed and T: new images forward, old images in reverse order
 * backward. The source table may keep taking writes meanwhile: a live seed is a consistent copy
 * at some seq L and only log records <= L are read.
 *
 * State at T = every write with time <= T (µs). T must lie in the PITR window
 * [earliest, latest] of the source (TM_ERANGE otherwise, detail
 * "InvalidRestoreTime: <T> is outside the restorable window [<earliest>, <latest>]").
 *
 * Two users:
 *   - restore (restore/): pitr_materialize() into a NEW named table, published atomically.
 *   - export at a time (export/): pitr_materialize_temp() into a hidden temporary table that
 *     the caller reads like any table and then drops with pitr_temp_drop(). */
#ifndef TIDEMARK_PITR_MATERIALIZE_H
#define TIDEMARK_PITR_MATERIALIZE_H

#include "engine/table.h"
#include "pitr/plan.h"
#include <stddef.h>
#include <stdint.h>

/* Time sentinel: "the latest restorable time" (resolved when the plan is made). */
#define PITR_LATEST INT64_MAX

typedef struct progress progress;   /* engine/progress.h */

typedef struct pitr_opts {
    pitr_dir direction;      /* PITR_AUTO, or force PITR_FORWARD / PITR_BACKWARD (tests) */
    progress *prog;          /* optional: items/bytes applied are reported here */
    int copy_settings;       /* 1: copy durability and snapshot policy of the source */
    /* Told each damaged snapshot that was skipped (one line naming it and the damage); NULL:
     * the line goes to stderr as "<program>: <line>". */
    void (*warn)(void *ctx, const char *line);
    void *warn_ctx;
} pitr_opts;
#define PITR_OPTS_INIT {PITR_AUTO, NULL, 1, NULL, NULL}

/* What was done. */
typedef struct pitr_stats {
    int64_t t_us;            /* the time restored to (resolved when PITR_LATEST) */
    uint64_t target_seq;     /* S_T: the last seq with time <= T */
    pitr_dir direction;
    int seed;                /* PITR_SEED_* */
    uint64_t seed_seq;       /* actual seed position (a live seed may be later than planned) */
    uint64_t records;        /* log records applied */
    uint64_t log_bytes;      /* record bytes read */
    uint64_t item_count;     /* items in the result */
    uint64_t size_bytes;
    double seconds;
    unsigned snaps_skipped;  /* damaged snapshots found and planned around */
} pitr_stats;

/* Collects the planner's input for table `name` at time t_us (or PITR_LATEST) and makes the
 * plan. Read-only; nothing is written. TM_ENOTFOUND (no such table, or PITR disabled),
 * TM_ERANGE, TM_EMISSING (detail names the missing seqs / segments). *out: pitr_plan_free. */
int pitr_plan_table(const char *home, const char *name, int64_t t_us, pitr_dir direction,
                    pitr_plan **out);

/* Builds table `target` (must not exist: TM_EEXIST, nothing created) holding exactly the
 * items of `source` at t_us, with source's key schema; PITR disabled on it. Staged under a
 * hidden name; appears only when complete; on any failure nothing is left behind. If a
 * segment or snapshot the plan needs vanishes meanwhile (retention), plans again once.
 * Snapshots are trusted only through their checksum (table.c): one without is never a seed;
 * one found damaged while it is copied (size, XXH3_64, seq) is reported through opts->warn and
 * the plan is made again without it; when no plan is left, TM_ECORRUPT names the snapshot's
 * file and the damage, followed by what the planner found missing.
 * info (optional) receives the new table's description; st (optional) what was done. */
int pitr_materialize(const char *home, const char *source, int64_t t_us, const char *target,
                     const pitr_opts *opts, table_info *info, pitr_stats *st);

/* As pitr_materialize into a hidden temporary table (tables/.tmp-*): *out is that table opened
 * read-only, dir (dirn bytes) receives its directory. Call pitr_temp_drop(*out, dir) when done
 * (closes and removes it). On failure *out is NULL and nothing is left. st is optional. */
int pitr_materialize_temp(const char *home, const char *source, int64_t t_us, table **out,
                          char *dir, size_t dirn);
int pitr_materialize_temp_ex(const char *home, const char *source, int64_t t_us,
                             const pitr_opts *opts, table **out, char *dir, size_t dirn,
                             pitr_stats *st);
/* Closes t (may be NULL) and removes the temporary table directory dir (may be NULL/""). */
void pitr_temp_drop(table *t, const char *dir);

#endif
