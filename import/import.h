/* import.h: import an export or a dump of data files into a NEW table (FORMATS.md section 4).
 *
 * SOURCES (import_options.from)
 *   an export directory  ".../AWSDynamoDB/<ExportId>/" with its manifests, tidemark's or AWS's,
 *                        local or "s3://bucket/.../AWSDynamoDB/<ExportId>/"; a directory that holds
 *                        exactly one such export below it works too
 *   a prefix             a directory (or "s3://bucket/prefix/") of data files, or a plain string
 *                        prefix of keys ("s3://bucket/dump/part-"); marker and manifest files are
 *                        skipped (_started, manifest-*, *.md5, tidemark-schema.json, names
 *                        starting with '.' or '_')
 *   one file or object   "dump.json.gz", "s3://bucket/items.csv"
 *   an archive           .tar, .tar.gz/.tgz, .tar.zst/.tzst, .zip: read with libarchive as a
 *                        stream, never extracted; entries with an absolute path or a ".." segment
 *                        are refused; an archive may hold a whole export (manifests included);
 *                        links are never followed, in tar and zip alike: a symbolic link that
 *                        would be data is refused, hard links and links the manifest does not
 *                        list are skipped and named on stderr and in the result (import_src.c)
 *
 * WHAT IS CHECKED
 *   With manifests, only the files listed in manifest-files.json are read; each must exist, hash
 *   to its md5Checksum and hold its itemCount items, and the counts must add up to the summary's
 *   itemCount: anything else fails the import (no table). A dataFileS3Key outside the export
 *   directory is refused. Each *.md5 must match the JSON beside it. An export without
 *   manifest-summary.json is incomplete and refused.
 *
 * ITEM ERRORS
 *   A bad item (not JSON, invalid value, missing or mistyped key, too big) is skipped, counted in
 *   error_count and logged (error_log) as one line:
 *     {"itemS3Pointer":{"bucket":"B","key":"K","itemIndex":N},"errorMessages":["..."]}
 *   S3: B the bucket, K the object's key from the bucket root. Local: B the base name of the
 *   directory the store was opened on (store.h's convention), K the file's path. Archive entry:
 *   K is "<archive key>!/<entry path>". N is 0-based: the line number - 1 for JSON lines (blank
 *   lines count), the record number after the header for CSV. Duplicate keys are not errors: the
 *   later item wins (later line, later file in listing order).
 *
 * THE TABLE
 *   Built by a table_builder under a hidden name, in key order, and published only by the final
 *   commit: a failed, interrupted or killed import leaves no table. PITR starts disabled. A
 *   tidemark export imported with its own key schema is already in key order (files in manifest
 *   order): it is built while it is parsed. Anything else goes through an external sort whose
 *   runs spill to unlinked files in the staging directory. Either way memory does not grow with
 *   the input (ordered: ~15 MB of queues and buffers; sorted: sort_memory plus ~60 MB).
 *
 * LIMITS
 *   A line (or CSV record) longer than max_line is a rejected item. Decompressed bytes are
 *   capped over the whole import (max_decompressed) and per file by ratio (max_ratio, checked
 *   past 64 MiB of output), for data files and for archives alike.
 */
#ifndef TIDEMARK_IMPORT_H
#define TIDEMARK_IMPORT_H

#include "engine/progress.h"
#include "engine/key.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define IMPORT_VERSION "0.1.0"

typedef enum import_format {
    IMPORT_FMT_DYNAMODB_JSON = 0,
    IMPORT_FMT_CSV = 1,
    IMPORT_FMT_AUTO = 2,      /* guessed: see import_guess_format */
} import_format;

typedef enum import_compression {
    IMPORT_COMP_AUTO = 0,     /* by magic bytes */
    IMPORT_COMP_NONE = 1,
    IMPORT_COMP_GZIP = 2,
    IMPORT_COMP_ZSTD = 3,
} import_compression;

/* Where the items go instead of a new local table (a remote table: api/backup_remote.c).
 * begin is called once the key schema is known, before any item; put with each accepted item
 * (canonical binary, engine/item.h), from one thread, in key order for the SORTED and ORDERED
 * paths alike (a key equal to the one before replaces it: the later item wins); commit after
 * the last. A failed import may have put items already: the target is not atomic. */
typedef struct import_sink {
    int (*begin)(void *ctx, const key_schema *ks);
    int (*put)(void *ctx, const void *key, size_t kn, const void *img, size_t n);
    int (*commit)(void *ctx);
    void *ctx;
    const char *tmp_dir;             /* the sorter's spill files; NULL: $TMPDIR or /tmp */
} import_sink;

typedef struct import_options {
    const char *home;                /* data directory */
    const char *from;                /* SOURCE */
    const char *table;               /* the new table */
    const key_schema *ks;            /* NULL: from the export's tidemark-schema.json */
    import_format format;            /* IMPORT_FMT_AUTO (default): guessed from the names */
    import_compression compression;
    const char *const *csv_header;   /* NULL: the first line of each CSV file is its header */
    size_t csv_header_n;
    char csv_delimiter;              /* ',' by default */
    const char *error_log;           /* file for the JSON-lines error log; NULL: none */
    uint64_t max_errors;             /* fail (no table) once more items than this are rejected;
                                        UINT64_MAX: no limit */
    size_t max_line;                 /* longest line / CSV record in bytes (1 MiB) */
    uint64_t max_decompressed;       /* over the whole import; 0: no limit (1 TiB) */
    uint64_t max_ratio;              /* decompressed/compressed per file past 64 MiB; 0: none */
    size_t sort_memory;              /* sorter's in-memory bytes before it spills (256 MiB) */
    int threads;                     /* parser threads; 0: one per core, at most 4 */
    const char *endpoint_url;        /* S3 sources: see store.h CONFIGURATION; NULL: default */
    const char *profile;
    const char *region;              /* ARNs in the result; NULL: TIDEMARK_REGION, AWS_REGION,
                                        AWS_DEFAULT_REGION, else us-east-1 (as tidemark-export) */
    const char *account;             /* NULL: TIDEMARK_ACCOUNT, AWS_ACCOUNT_ID, else 000000000000 */
    progress *prog;                  /* items and bytes are added as they are read; NULL: none */
    volatile sig_atomic_t *cancel;   /* set non-zero (signal) to stop: FAILED, no table */
    int ignore_summary_checksum;     /* an export's manifest-summary.json that does not match
                                        its .md5 (edited by hand) is accepted; manifest-files.json
                                        and every data file are still checked */
    const import_sink *sink;         /* NULL: a new table in home; else no table is built (home
                                        and the table's existence are not checked) */
} import_options;

#define IMPORT_OPTIONS_INIT {NULL, NULL, NULL, NULL, IMPORT_FMT_AUTO, IMPORT_COMP_AUTO, \
    NULL, 0, ',', NULL, UINT64_MAX, (size_t)1 << 20, (uint64_t)1 << 40, 1000, \
    (size_t)256 << 20, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL}

#define IMPORT_MAX_ERROR_SAMPLES 10
#define IMPORT_MAX_SKIPPED 16

/* An archive entry that was not read (a link), as named on stderr. */
typedef struct import_skipped {
    char entry[512];                 /* its path in the archive */
    char reason[512];                /* "hard link of d/a.json: its data is read once, ..." */
} import_skipped;

/* The outcome, in ImportTableDescription terms. */
typedef struct import_result {
    int completed;                   /* ImportStatus COMPLETED (1) or FAILED (0) */
    char failure_code[48];           /* FailureCode when FAILED */
    char failure_message[1024];      /* FailureMessage when FAILED */
    uint64_t processed_items;        /* ProcessedItemCount: items read, bad ones included */
    uint64_t imported_items;         /* ImportedItemCount: items accepted */
    uint64_t error_count;            /* ErrorCount */
    uint64_t processed_bytes;        /* ProcessedSizeBytes: decoded bytes read */
    uint64_t source_bytes;           /* raw (compressed) bytes read */
    uint64_t table_items;            /* items in the new table (duplicates merged) */
    uint64_t files;                  /* data files read */
    int64_t start_us, end_us;
    import_format format;
    import_compression compression;  /* what was found (first compressed file wins) */
    key_schema ks;                   /* the key schema used */
    char table_id[40];
    char bucket[256];                /* S3BucketSource */
    char key_prefix[1024];
    char samples[IMPORT_MAX_ERROR_SAMPLES][512];  /* the first item errors, "<key>[N]: msg" */
    int nsamples;
    uint64_t skipped_count;          /* archive entries skipped (links), all of them */
    import_skipped skipped[IMPORT_MAX_SKIPPED];   /* the first ones, in archive order */
} import_result;

/* Runs one import. Returns 0 when the table was created (res->completed = 1; item errors may
 * have been skipped: res->error_count), else a negative TM_E* code with the detail in err_msg()
 * and res->completed = 0, failure_code / failure_message set (when res got that far):
 *   TM_EEXIST     the table exists
 *   TM_EINVAL     bad options; no key schema (an AWS export needs --key)
 *   TM_ENOTFOUND  the source or a listed data file is missing
 *   TM_ECORRUPT   a data file is not what it claims (not gzip, truncated, MD5 or count mismatch)
 *   TM_ELIMIT     max_errors exceeded, decompression limits
 *   TM_EREMOTE, TM_EIO */
int import_run(const import_options *opt, import_result *res);

const char *import_format_name(import_format f);            /* "DYNAMODB_JSON", "CSV" */
const char *import_compression_name(import_compression c);  /* "GZIP", "ZSTD", "NONE", "AUTO" */
/* IMPORT_FMT_AUTO's guess for a data file's name: CSV for .csv (also .csv.gz, .csv.zst),
 * DYNAMODB_JSON for anything else (.json, .jsonl, an export's data files). An export (with
 * manifests) is always DYNAMODB_JSON. A wrong guess shows at once: when none of the first
 * IMPORT_GUESS_LINES lines parses, the import stops naming --input-format (import.c). */
import_format import_guess_format(const char *name);
#define IMPORT_GUESS_LINES 10
/* Parses names case-insensitively; -1 when unknown. */
int import_format_parse(const char *s);
int import_compression_parse(const char *s);

#endif
