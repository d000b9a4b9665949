/* lifecycle.h: the life of a table's history and of its exports (issue 15).
 *
 *   run     per table: delete the log segments and snapshots no second of the PITR window needs
 *           (pitr_retention decides; before anything goes, the planner must find a plan for
 *           every second of [earliest, latest] without it, else the run refuses naming the
 *           second), never what a running reader holds (engine/hold.h); take a new base
 *           snapshot when replaying the log from the newest one would cost more than a budget;
 *           recompress sealed segments older than N days from LZ4 to zstd.
 *   apply   S3 lifecycle rules (Rules[]: ID, Prefix | Filter.Prefix, Status, Transitions[] of
 *           Days + StorageClass, Expiration.Days) to whole exports by their export time.
 *   verify  every segment and record, every snapshot, every export's checksums; incremental.
 *   report  per table the window, log bytes per day, snapshots and what the next run would
 *           delete; per destination the exports by age and storage class.
 *
 * Results are cJSON objects (the api layer returns them as its responses); every destructive
 * step is listed in the result ("Actions") whether done or, with dry_run, only planned. */
#ifndef TIDEMARK_LIFECYCLE_H
#define TIDEMARK_LIFECYCLE_H

#include "store/store.h"
#include <cjson/cJSON.h>
#include <stdint.h>

/* Defaults, chosen for a backup tool's user (README of the program says them):
 * replay budget: a new base snapshot once 256 MiB of log records lie after the newest one (at
 *   the planner's measured 400 MB/s read and 150k records/s apply, a few seconds of replay);
 * recompress: sealed segments whose last record is older than 7 days go LZ4 -> zstd. */
#define LIFECYCLE_REPLAY_BUDGET (256ull << 20)
#define LIFECYCLE_RECOMPRESS_DAYS 7

typedef struct lifecycle_run_opts {
    const char *home;
    const char *table;              /* NULL: every table */
    int dry_run;
    uint64_t replay_budget;         /* log bytes after the newest base; 0: default */
    int recompress_days;            /* <0: never; 0: default */
    /* Tests: stop (as if killed) after this many deletions; 0: never. */
    unsigned kill_after;
} lifecycle_run_opts;
#define LIFECYCLE_RUN_OPTS_INIT {NULL, NULL, 0, 0, 0, 0}

/* Runs (or, dry, plans) retention for one table or all. *out: {"Tables":[{TableName, Window,
 * Actions:[{Action, Object, Reason}], Refused, ...}], "Deleted":n, "Refused":n}. Returns 0, or
 * TM_ECONFLICT when a table's deletions were refused (a second would lose its plan: the result
 * says which, and nothing of that table was deleted), or the error that stopped the run. */
int lifecycle_run(const lifecycle_run_opts *o, cJSON **out);

/* The report: {"Tables":[{TableName, Window, LogBytesPerDay:[{Day, Bytes, Segments}],
 * Snapshots:[...], NextRun:[{Action, Object, Reason}]}]}. */
int lifecycle_report(const char *home, const char *table, cJSON **out);
/* Exports of a destination by age and storage class (apply's view, without rules). */
int lifecycle_report_dest(const char *dest, const store_options *so, cJSON **out);

typedef struct lifecycle_apply_opts {
    const char *dest;               /* a local directory or s3://bucket/prefix */
    const store_options *so;        /* NULL: defaults */
    const char *rules_json;         /* the configuration's text */
    int dry_run;
    int64_t now_us;                 /* 0: clock_now_us() */
} lifecycle_apply_opts;
/* Applies lifecycle rules to the exports at dest. *out: {"Exports":[{ExportId, Age, Chain,
 * StorageClass, Action, Rule, Reason}], "Actions":n}. TM_EINVAL (detail names the member) for
 * rules that do not parse. */
int lifecycle_apply(const lifecycle_apply_opts *o, cJSON **out);

typedef struct lifecycle_verify_opts {
    const char *home;               /* tables (NULL: none) */
    const char *table;              /* NULL: every table */
    const char *dest;               /* exports (NULL: none) */
    const store_options *so;
    int full;                       /* re-read everything */
    const char *state;              /* state file; NULL: <home>/lifecycle/verify-state.json, or
                                       <dest>/.tidemark-verify-state.json for a local dest */
} lifecycle_verify_opts;
/* *out: {"Problems":[{Where, What}], "Checked":{Segments, Records, Snapshots, Exports},
 * "Skipped":{...unchanged}, "BytesRead":n}. Returns 0, or TM_ECORRUPT when a problem was found. */
int lifecycle_verify(const lifecycle_verify_opts *o, cJSON **out);

/* Deleted tables. With PITR on, deleting a table keeps its history for its recovery period:
 * tables/<name> moves to deleted/<name>@<deletion µs, 16 hex>/tables/<name> (a data directory
 * of its own, so that the planner and the materializer read it as any table) beside
 * deleted.json ({"TableName","DeletionTime","RecoveryPeriodInDays"}, µs). Until deletion +
 * period it can be restored at any time of [max(earliest, now - period), deletion]; then
 * lifecycle run removes it. With PITR off the table goes at once (table_delete). */
typedef struct lifecycle_deleted {
    char name[256];
    char home[4096];              /* the deleted table's own data directory */
    int64_t deleted_us;
    int period_days;
    int64_t earliest_us;          /* what can be restored now: [earliest, deleted] */
    int64_t keep_until_us;        /* deleted + period */
} lifecycle_deleted;
/* *kept: 1 when the history was kept. TM_ENOTFOUND for a missing table. */
int lifecycle_delete_table(const char *home, const char *name, int *kept);
/* Every deleted table still kept, oldest deletion first. *out malloc'd (free()). */
int lifecycle_deleted_list(const char *home, lifecycle_deleted **out, size_t *n);
/* The newest deletion of name (TM_ENOTFOUND: none kept). */
int lifecycle_deleted_find(const char *home, const char *name, lifecycle_deleted *out);

/* Adds "DeletedTables":[{TableName, DeletionTime, RecoveryPeriodInDays,
 * EarliestRestorableDateTime, LatestRestorableDateTime, KeptUntil}] to res. */
void lifecycle_deleted_json(const char *home, cJSON *res);

/* Archive bundles (local destinations): AWSDynamoDB/<id>.tar.zst holding the export's folder
 * (and, for an incremental export, the data files of the shared folder it names). */
int lifecycle_bundle(store *st, const char *id, int incremental, uint64_t *bytes);

#endif
