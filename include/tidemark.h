/* tidemark.h: the operations layer, the one API every front end calls (the programs in bin/,
 * `tidemark serve`, tests).
 *
 * A database handle (tm_db) and one function per operation. Requests and responses are cJSON
 * objects in the DynamoDB JSON 1.0 wire shapes: what the HTTP body of that operation holds
 * (timestamps are epoch seconds as JSON numbers, fractions allowed). tidemark's own operations
 * have "Tidemark..." names and shapes in the same style.
 *
 * Errors: an operation returns 0, or the error's kind (> 0) with e->kind and e->message set.
 * Each kind has one row in the error table (api/errors.c): its short name, the wire `__type`,
 * the HTTP status and the exit status every program uses:
 *   0 done, 1 failed, 2 usage (a bad parameter: table name, malformed option value),
 *   3 done with item-level errors or conflicts (a failed condition is a conflict).
 *
 * Ownership: *resp is the caller's (cJSON_Delete); on failure *resp is NULL. The request is
 * borrowed for the call only. */
#ifndef TIDEMARK_H
#define TIDEMARK_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* ================================================================ errors */

/* Append-only (exit and HTTP statuses live in the table, not in the numbers). */
enum tm_err_kind {
    TM_ERR_NONE = 0,
    TM_ERR_VALIDATION,              /* the request's content was refused (item, expression) */
    TM_ERR_BAD_PARAMETER,           /* ValidationException from a parameter: exit 2 (usage) */
    TM_ERR_SERIALIZATION,
    TM_ERR_RESOURCE_NOT_FOUND,
    TM_ERR_RESOURCE_IN_USE,
    TM_ERR_CONDITIONAL_CHECK_FAILED,
    TM_ERR_TRANSACTION_CONFLICT,
    TM_ERR_THROUGHPUT_EXCEEDED,
    TM_ERR_ITEM_COLLECTION_SIZE,
    TM_ERR_PITR_UNAVAILABLE,
    TM_ERR_CONTINUOUS_BACKUPS_UNAVAILABLE,
    TM_ERR_INVALID_RESTORE_TIME,
    TM_ERR_TABLE_ALREADY_EXISTS,
    TM_ERR_TABLE_NOT_FOUND,
    TM_ERR_TABLE_IN_USE,
    TM_ERR_INVALID_EXPORT_TIME,
    TM_ERR_EXPORT_CONFLICT,
    TM_ERR_EXPORT_NOT_FOUND,
    TM_ERR_IMPORT_CONFLICT,
    TM_ERR_IMPORT_NOT_FOUND,
    TM_ERR_LIMIT_EXCEEDED,
    TM_ERR_UNKNOWN_OPERATION,
    TM_ERR_MISSING_AUTH_TOKEN,
    TM_ERR_UNRECOGNIZED_CLIENT,
    TM_ERR_INVALID_SIGNATURE,
    TM_ERR_ACCESS_DENIED,
    TM_ERR_INTERNAL,
    /* tidemark's own, for local failures that are not AWS exceptions */
    TM_ERR_IO,                      /* tidemark#IOException */
    TM_ERR_DATA_CORRUPTED,          /* tidemark#DataCorruptedException */
    TM_ERR_LOG_MISSING,             /* tidemark#MissingLogSegmentException */
    TM_ERR_BUSY,                    /* tidemark#BusyException */
    TM_ERR_WRITE_CONFLICT,          /* tidemark#WriteConflictException: a later write stands */
    TM_ERR_REMOTE,                  /* tidemark#RemoteStoreException: S3 refused or failed */
    TM_ERR__COUNT
};

typedef struct tm_error {
    int kind;                       /* enum tm_err_kind */
    char message[1024];             /* without the exception's name */
} tm_error;

/* The kind's row in the error table; unknown kinds read as TM_ERR_INTERNAL. */
const char *tm_err_name(int kind);      /* "ConditionalCheckFailedException" */
const char *tm_err_type(int kind);      /* "com.amazonaws.dynamodb.v20120810#ConditionalCheck..." */
int tm_err_http(int kind);              /* 400 */
int tm_err_exit(int kind);              /* 3 */
/* 1 if messages for people show the name ("ConditionalCheckFailedException: The conditional
 * request failed"): the AWS exceptions a user acts on by name; 0 for plain validation and
 * local failures, whose message says it all. */
int tm_err_named(int kind);
/* The kind whose short name (or full __type) is name; TM_ERR_NONE if none. */
int tm_err_kind_of(const char *name);

/* Sets e (may be NULL) and returns kind. */
int tm_error_set(tm_error *e, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Maps an engine code (engine/err.h TM_E*) and its err_msg() to a kind; fmt (may be NULL)
 * prefixes the message. Returns the kind (TM_ERR_NONE for 0). */
int tm_error_from(tm_error *e, int tm_code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The wire error body {"__type":…,"message":…} (caller frees). */
cJSON *tm_error_json(const tm_error *e);

/* ================================================================ the database */

typedef struct tm_db tm_db;

#define TM_DB_READONLY 0x1   /* refuse a home that does not exist (naming it); never create it */
/* A long-lived handle used by many threads (tidemark serve): the tables the data plane touches
 * stay open until tm_db_close, their table.json checked at each use (a table deleted, made
 * again or changed by another process is opened again). One operation per process (the CLI)
 * gains nothing from it. */
#define TM_DB_KEEP_OPEN 0x2
/* home: the data directory ($TIDEMARK_HOME). Without TM_DB_READONLY the directory is made
 * when a table is created. */
int tm_db_open(const char *home, unsigned flags, tm_db **out, tm_error *e);
void tm_db_close(tm_db *db);
const char *tm_db_home(const tm_db *db);
/* What an operation wants a person to know besides its response (recovery repaired a torn log
 * tail, writes are durable but not yet applied, a gap in the window): one line each, without a
 * program name. Default: nothing is shown. */
typedef void (*tm_notice_fn)(void *ctx, const char *line);
void tm_db_set_notice(tm_db *db, tm_notice_fn fn, void *ctx);

/* ================================================================ operations */

typedef int (*tm_op_fn)(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);

/* DynamoDB's */
int tm_put_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_get_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_update_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_delete_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_query(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_scan(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_batch_write_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_batch_get_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_create_table(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_describe_table(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_list_tables(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_delete_table(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_update_continuous_backups(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_describe_continuous_backups(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);

/* tidemark's own (shapes in api/tidemark_ops.c) */
int tm_snapshot(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);          /* TidemarkSnapshot */
int tm_log_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);        /* TidemarkLogVerify */
int tm_log_list(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);          /* TidemarkLogList */
int tm_items_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);      /* TidemarkItemsVerify */
int tm_snapshot_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);   /* TidemarkSnapshotVerify */
/* lifecycle (api/lifecycle.c): on a refusal or damage the response comes back beside the error */
int tm_lifecycle_run(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);     /* TidemarkLifecycleRun */
int tm_lifecycle_apply(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);   /* TidemarkLifecycleApply */
int tm_lifecycle_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);  /* TidemarkLifecycleVerify */
int tm_lifecycle_report(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);  /* TidemarkLifecycleReport */
int tm_list_deleted_tables(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e); /* TidemarkListDeletedTables */
int tm_timeline(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);         /* TidemarkTimeline (api/timeline.c) */

/* Query and Scan with each item handed to fn (its DynamoDB JSON, valid during the call) instead
 * of collected into Items: a front end prints a page of any size, read from one snapshot, in
 * bounded memory. *resp gets the rest of the response (Count, ScannedCount, LastEvaluatedKey).
 * fn returns 0 to go on, or a negative engine code to stop (err_msg() says why). */
typedef int (*tm_item_fn)(void *ctx, const char *json, size_t len);
int tm_query_each(tm_db *db, const cJSON *req, tm_item_fn fn, void *ctx, cJSON **resp, tm_error *e);
int tm_scan_each(tm_db *db, const cJSON *req, tm_item_fn fn, void *ctx, cJSON **resp, tm_error *e);

/* Calls the operation named as on the wire ("PutItem", "TidemarkSnapshot"); an unknown name
 * is TM_ERR_UNKNOWN_OPERATION. */
int tm_call(tm_db *db, const char *operation, const cJSON *req, cJSON **resp, tm_error *e);
/* The operation's function, or NULL. */
tm_op_fn tm_op_find(const char *operation);

/* ---- TidemarkBatchLoad: the streaming bulk load of `tidemark batch-write` ----
 * Not a JSON request: items come from a line reader, one {"Item":{...}} or bare item per line
 * (blank lines skipped), in batches of batch_size, each atomic and durable before the next.
 * next(ctx, &line, &len) returns 1 with a line (valid until the next call), 0 at the end, or a
 * negative engine code (err_msg() says why). After each durable batch, ack(ctx, &stats). A bad
 * line stops the load: every batch before it stays (its earlier lines are committed first);
 * e->message names "<source>:<line>: ". */
typedef struct tm_load_stats {
    uint64_t items, batches, lines, bytes;
    uint64_t acked_line;            /* input lines 1..acked_line are loaded and durable */
    uint64_t batch_items;           /* items in the batch just acknowledged */
} tm_load_stats;
typedef struct tm_batch_load_opts {
    const char *table;
    const char *source;             /* name for messages ("stdin", a file name) */
    uint64_t batch_size;            /* 0: 1000 */
    int (*next)(void *ctx, const char **line, size_t *len);
    void (*ack)(void *ctx, const tm_load_stats *st);
    void *ctx;
} tm_batch_load_opts;
int tm_batch_load(tm_db *db, const tm_batch_load_opts *o, tm_load_stats *st, tm_error *e);

/* ================================================================ shapes and output */

/* Adds name: epoch seconds (a number with up to 6 decimals) for us µs since the epoch. */
void tm_json_time(cJSON *obj, const char *name, int64_t us);
/* The time a wire timestamp number stands for, in µs, rounded as botocore reads it (the
 * fraction's microseconds half-to-even). */
int64_t tm_json_time_us(double epoch_s);
/* A wire response -> what `aws dynamodb <operation>` prints for it with --output json (aws CLI
 * v2): the members of the operation's timestamps become isoformat() strings in local time
 * ("2026-12-06T03:49:28.550000+00:00"; no fraction when the microseconds are 0). The text is
 * indented with 4 spaces, ends with "\n", and is "" for an empty response ({}), as the CLI
 * prints nothing then. Caller frees. */
char *tm_awscli_json(const char *operation, const cJSON *resp);
/* Any response as indented text (4 spaces, "\n" at the end, "{}" for an empty object), its
 * timestamps (as tm_awscli_json finds them) written per times: */
enum { TM_TIMES_AWSCLI = 0,      /* isoformat() in local time, as the aws CLI */
       TM_TIMES_UTC = 1 };       /* ISO-8601 UTC with µs: 2026-12-06T03:49:28.550000Z */
char *tm_json_text(const cJSON *resp, int times);
/* The isoformat() text of one timestamp (out: at least 40 bytes). */
void tm_awscli_time(int64_t us, char *out, size_t n);

#endif
