/* rollback.h: undo what an incremental export (NEW_AND_OLD_IMAGES) records, on a tidemark table
 * or on a table of any DynamoDB-API endpoint; forward apply is the same engine with the images
 * swapped (ROLLBACK_APPLY: expect OldImage, write NewImage).
 *
 * THE RULE, per record chosen (the latest per key: an incremental export holds one net record
 * per key, FORMATS.md section 3; should a key appear twice, the later WriteTimestampMicros wins):
 *   current == target (absent == absent)  ALREADY: nothing to write (a re-run is a no-op)
 *   current == expect                     RESTORE: write target, or DELETE when target is absent
 *   otherwise                             CONFLICT: the item was written after the window;
 *                                         skipped, or OVERWRITE (written anyway), or with
 *                                         ROLLBACK_FAIL nothing at all is written
 * where, undoing, expect = NewImage and target = OldImage. Images compare by their canonical
 * encoding (item.h): attribute order and set order do not matter, every attribute does.
 *
 * ATOMICITY. The check travels with the write: on a tidemark table it runs inside the write
 * transaction (table_check_fn); on an endpoint the write carries a ConditionExpression built
 * from expect (see target_ddb.c for what DynamoDB cannot say). A write landing between the
 * check and the write is a conflict, never a loss. On a tidemark table every write goes through
 * the engine and its log: a rollback can itself be exported and rolled back.
 *
 * ORDER OF WORK. Every record is read (layout_reader: the whole export is checked before the
 * first record, so a damaged data file stops the run before any write), filtered, and kept in
 * memory (about key + both images per chosen record: the size of the bad load, not of the
 * table), sorted by key. ROLLBACK_FAIL and dry runs then read every current item; a dry run
 * stops there. Then the writes, from `jobs` threads. Each item's outcome is reported in key
 * order at the end (rollback_event).
 *
 * ERRORS: 0 (conflicts skipped are counted, not errors); TM_ECONFLICT with ROLLBACK_FAIL when
 * conflicts were found (nothing written; the events say which); TM_EINVAL for an export that is
 * not incremental, a NEW_IMAGE export (no OldImage to roll back to), a record whose Keys are not
 * the table's key, a bad filter; the reader's TM_ECORRUPT / TM_ENOTFOUND; a target's errors. */
#ifndef TIDEMARK_ROLLBACK_H
#define TIDEMARK_ROLLBACK_H

#include "engine/item.h"
#include "engine/progress.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define ROLLBACK_VERSION "0.1.0"
#define ROLLBACK_MAX_JOBS 256

typedef enum rollback_direction {
    ROLLBACK_UNDO = 0,            /* expect NewImage, write OldImage */
    ROLLBACK_APPLY = 1,           /* expect OldImage, write NewImage (replay) */
} rollback_direction;

typedef enum rollback_on_conflict {
    ROLLBACK_SKIP = 0,
    ROLLBACK_OVERWRITE = 1,
    ROLLBACK_FAIL = 2,
} rollback_on_conflict;

/* Stable names ("RESTORE", ...) in reports: never renumber. */
typedef enum rollback_action {
    ROLLBACK_RESTORE = 1,         /* current == expect: target written */
    ROLLBACK_DELETE = 2,          /* current == expect, target absent: deleted */
    ROLLBACK_ALREADY = 3,         /* current == target: nothing to do */
    ROLLBACK_CONFLICT = 4,        /* neither: left alone */
    ROLLBACK_OVERWRITTEN = 5,     /* neither, written anyway (ROLLBACK_OVERWRITE) */
} rollback_action;
const char *rollback_action_name(rollback_action a);   /* "RESTORE", "ALREADY_ROLLED_BACK", ... */

/* Which records: every filter given must hold (AND). */
typedef struct rollback_filter {
    const char *const *key_values;  /* partition-key values as text (N compared by value, B as
                                       base64); NULL: any */
    size_t nkey_values;
    const char *key_prefix;         /* the partition key's text starts with it (S, N text) */
    int64_t since_us, until_us;     /* WriteTimestampMicros in [since, until); 0: unbounded */
    const char *condition;          /* ConditionExpression on the NewImage (absent: no item) */
    const char *names_json, *values_json;   /* its #names and :values */
} rollback_filter;

/* One item's outcome. Images are NULL when absent; valid during the call only. */
typedef struct rollback_event {
    rollback_action action;
    int dry_run;                    /* would be: nothing was written */
    const item *keys;
    const item *current;            /* the item as found (for RESTORE/DELETE: == expect) */
    const item *old_image, *new_image;   /* the record's, as in the export */
    const item *target;             /* what is (or would be) written: NULL = deleted */
    int64_t write_us;
} rollback_event;
/* Return 0 to go on; an error stops the reporting (returned by rollback_run). */
typedef int (*rollback_event_fn)(void *ctx, const rollback_event *ev);

typedef struct rollback_options {
    const char *from;               /* the export: DEST/AWSDynamoDB/<ID>, or s3://... */
    const store_options *so;        /* for an s3:// export; NULL: defaults */
    /* the target: a tidemark table (home + table) or an endpoint (endpoint_url + table) */
    const char *home;
    const char *table;
    const char *endpoint_url;       /* NULL: a tidemark table */
    const char *region, *profile;   /* endpoint: NULL for the AWS chain */
    rollback_direction direction;
    rollback_filter filter;
    rollback_on_conflict on_conflict;
    int dry_run;
    int jobs;                       /* writer threads (endpoint: connections); 0: 8 */
    rollback_event_fn on_item;      /* every chosen record's outcome, key order; may be NULL */
    void *ctx;
    progress *prog;                 /* may be NULL */
    int conflicts_only;             /* on_item gets only CONFLICT and OVERWRITTEN */
    int ignore_summary_checksum;    /* a summary edited by hand (its .md5 no longer matches) is
                                       read; manifest-files and data files are still checked */
} rollback_options;

#define ROLLBACK_OPTIONS_INIT {NULL, NULL, NULL, NULL, NULL, NULL, NULL, ROLLBACK_UNDO, \
                               {NULL, 0, NULL, 0, 0, NULL, NULL, NULL}, ROLLBACK_SKIP, 0, 0, \
                               NULL, NULL, NULL, 0, 0}

typedef struct rollback_stats {
    uint64_t records;               /* in the export */
    uint64_t chosen;                /* after filters and one per key */
    uint64_t restored, deleted, already, conflicts, overwritten;
    uint64_t seq_before, seq_after; /* tidemark table: the log's last seq around the run */
    char export_arn[512], export_from[40], export_to[40];
    double seconds;
} rollback_stats;

/* Forward apply on a tidemark table also checks and records the chain of exports applied
 * (chain.c): an export that does not start where the table is (the last one applied ended) is
 * refused before any write, TM_EINVAL naming both times; one applied without conflicts is
 * recorded. */
int rollback_run(const rollback_options *o, rollback_stats *st);

/* ---- the chain of applied exports (chain.c: the file and its rules) ---- */
struct layout_summary;
/* 0 when the export s may be applied next to the table (or no chain is recorded);
 * TM_EINVAL for a gap, an overlap or a repeat, with the times that do not meet. */
int rollback_chain_check(const char *home, const char *table, const struct layout_summary *s);
/* Records s as applied: the table is now at its end time. */
int rollback_chain_record(const char *home, const char *table, const struct layout_summary *s);
/* After tidemark-import of from into table: a FULL export starts the chain at its ExportTime
 * (anything else records nothing). 0, or the error writing the file. */
int rollback_chain_start(const char *home, const char *table, const char *from,
                         const store_options *so);

/* The attributes that differ from a to b (either may be NULL: absent), in name order: fn gets
 * each name with its value in a and in b (NULL where absent). */
typedef void (*rollback_change_fn)(void *ctx, const char *name, const av *from, const av *to);
void rollback_changes(const item *a, const item *b, rollback_change_fn fn, void *ctx);

#endif
