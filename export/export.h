/* export.h: full and incremental exports of a table in Amazon DynamoDB's export format
 * (FORMATS.md sections 2 and 3) to a local directory or an S3 bucket (store.h), and the readers
 * of exports of any origin (tidemark's or AWS's): list, describe, verify.
 *
 * The layout and every file written are specified at the top of export/export.c.
 *
 * Errors: 0 or a negative TM_E* code with the detail in err_msg():
 *   TM_ENOTFOUND  no such table / export; PITR disabled for an incremental export
 *   TM_ERANGE     a time outside the PITR window (or in the future)
 *   TM_EINVAL     bad option (e.g. an empty or reversed window); cannot resume
 *   TM_EREMOTE    the store failed (S3)
 *   TM_ECORRUPT   verify found a problem (each one went to the report callback)
 * An export that fails, whatever the reason, never leaves a manifest-summary.json: a reader
 * never takes a partial export for a complete one; export_resume() continues it. */
#ifndef TIDEMARK_EXPORT_H
#define TIDEMARK_EXPORT_H

#include "engine/buf.h"
#include "store/store.h"
#include <stddef.h>
#include <stdint.h>

typedef struct progress progress;    /* engine/progress.h */

typedef enum export_type { EXPORT_FULL = 0, EXPORT_INCREMENTAL = 1 } export_type;
typedef enum export_view { EXPORT_VIEW_NEW_AND_OLD = 0, EXPORT_VIEW_NEW = 1 } export_view;
typedef enum export_compression { EXPORT_GZIP = 0, EXPORT_ZSTD = 1 } export_compression;

#define EXPORT_VERSION "0.1.0"

/* ARN defaults when neither an option nor the environment gives one. */
#define EXPORT_DEFAULT_MAX_FILE_BYTES ((uint64_t)256 << 20)   /* split data files past this */
#define EXPORT_JOBS_MAX 64

typedef struct export_options {
    const char *home;              /* data directory (cli_home) */
    const char *table;
    const char *dest;              /* "s3://bucket/prefix" or a directory */
    export_type type;
    int64_t time_us;               /* FULL: 0 = now, one consistent moment while writers go on;
                                      else the state at this time (in the PITR window) */
    int64_t from_us, to_us;        /* INCREMENTAL: [from, to); to_us 0 = now */
    export_view view;
    export_compression compression;
    int level;                     /* compression level; 0: gzip 6, zstd 3 */
    int jobs;                      /* compression threads (1..EXPORT_JOBS_MAX); 0: 1 */
    const char *region;            /* ARN region; NULL: as table_arn_region (us-east-1) */
    const char *account;           /* ARN account; NULL: as table_arn_account (000000000000) */
    uint64_t max_file_bytes;       /* 0: EXPORT_DEFAULT_MAX_FILE_BYTES */
    size_t netchange_mem;          /* incremental grouping memory; 0: netchange's default */
    const char *tmp_dir;           /* spill files; NULL: $TMPDIR or /tmp */
    const store_options *store;    /* NULL: defaults (environment) */
    progress *prog;                /* optional; export_run only adds to it */
    const char *id;                /* the ExportId to use (a server answered with it before the
                                      run: api tm_export_begin); NULL: a new one */
    const char *s3_bucket;         /* a local export: the bucket and prefix it will be copied */
    const char *s3_prefix;         /* to (s3Bucket, s3Prefix, the keys); NULL: the directory's
                                      name, no prefix. An s3:// destination records its own. */
} export_options;

#define EXPORT_OPTIONS_INIT {NULL, NULL, NULL, EXPORT_FULL, 0, 0, 0, EXPORT_VIEW_NEW_AND_OLD, \
                             EXPORT_GZIP, 0, 1, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, \
                             NULL}

/* What an export is, as describe reports it (ExportDescription). Strings are "" when unknown. */
typedef struct export_desc {
    char id[40];                   /* ExportId */
    char status[16];               /* COMPLETED, IN_PROGRESS, FAILED */
    char failure[256];             /* why FAILED */
    char export_arn[600], table_arn[560], table_id[64], table_name[256];
    export_type type;
    export_view view;
    int64_t start_us, end_us;      /* 0 when unknown (end: not finished) */
    int64_t export_time_us;        /* FULL */
    int64_t from_us, to_us;        /* INCREMENTAL */
    uint64_t item_count, billed_bytes;
    uint64_t files;                /* data files listed (or done so far) */
    char bucket[256], prefix[1024], manifest_key[1200], sse[16];
    char format[32];               /* DYNAMODB_JSON */
    char dir[2048];                /* where it is: dest + "/AWSDynamoDB/" + id */
} export_desc;

/* Runs an export. res (optional) describes it when done (status COMPLETED). */
int export_run(const export_options *o, export_desc *res);

/* Continues an interrupted export (dir = DEST/AWSDynamoDB/<ID>) with the parameters it was
 * started with; of o only home, jobs, tmp_dir, netchange_mem, store and prog are used. Data files
 * already written are kept when their size and checksum match. TM_EINVAL with the reason when it
 * cannot be resumed (the table moved on and PITR cannot reproduce the moment; killed before it
 * recorded its state, when nothing says what it was exporting). */
int export_resume(const char *dir, const export_options *o, export_desc *res);

/* Describes the export at dir (DEST/AWSDynamoDB/<ID>, or any directory holding its manifests).
 * TM_ENOTFOUND if there is no export there. */
int export_describe(const char *dir, const store_options *so, export_desc *out);

/* Every export under DEST/AWSDynamoDB/, oldest first. *out malloc'd (free()). */
int export_list(const char *dest, const store_options *so, export_desc **out, size_t *n);

/* Checks an export: both .md5 files, the summary's members and item count, for every data
 * file its presence, size, md5Checksum, etag, decompression and every line (a full export's
 * {"Item":{...}}, an incremental's records), and tidemark-schema.json's checksum (st->schema). Each problem goes to report() (may be NULL).
 * Returns 0 when all is well, TM_ECORRUPT when a problem was reported, TM_ENOTFOUND when dir
 * holds no manifests. */
typedef void (*export_report_fn)(void *ctx, const char *what, const char *detail);
typedef enum export_schema_state {
    EXPORT_SCHEMA_NONE = 0,        /* no tidemark-schema.json (an AWS export) */
    EXPORT_SCHEMA_CHECKED,         /* its checksum holds */
    EXPORT_SCHEMA_UNCHECKED,       /* version 1 (older tidemark): no checksum, shape only */
    EXPORT_SCHEMA_BAD,             /* damaged or missing: reported as a problem */
} export_schema_state;
typedef struct export_verify_stats {
    uint64_t files, files_ok, lines, items, bytes, problems;
    export_schema_state schema;
    int summary_checksum_ignored;  /* the summary did not match its .md5, and was told to pass */
} export_verify_stats;
int export_verify(const char *dir, const store_options *so, export_report_fn report, void *ctx,
                  export_verify_stats *st);
typedef struct export_verify_options {
    int ignore_summary_checksum;   /* a summary edited by hand (its .md5 no longer matches) is
                                      not a problem; everything else is checked as always */
} export_verify_options;
#define EXPORT_VERIFY_OPTIONS_INIT {0}
/* export_verify with options (o NULL: the defaults). */
int export_verify_with(const char *dir, const store_options *so, const export_verify_options *o,
                       export_report_fn report, void *ctx, export_verify_stats *st);

const char *export_type_name(export_type t);            /* FULL_EXPORT, INCREMENTAL_EXPORT */
const char *export_view_name(export_view v);            /* NEW_AND_OLD_IMAGES, NEW_IMAGE */

#endif
