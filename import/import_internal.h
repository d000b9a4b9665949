/* import_internal.h: what the files of import/ share. Not public (bin/ uses import.h only).
 *
 * The pipeline of one import:
 *   source (import_src.c)   export dir / prefix / single object / archive, local or S3
 *     -> raw bytes of one data file (store reader or archive entry), MD5 of them on the way
 *     -> decoder (export/layout_dec.c)  gzip / zstd / none, auto-detected, bounded output
 *     -> lines (import_lines.c) or CSV records (import_csv.c), bounded length
 *     -> item validation and key encoding (import.c)
 *     -> sorter (import_sort.c)    sorted runs spilled to disk, k-way merge, last write wins
 *     -> table_builder_put_bin_sized in key order -> table_builder_commit (the table appears)
 * Manifests (import_manifest.c, over export/layout.h) say which files to read and what each must hash and count to;
 * the error log (import_errlog.c) records every rejected item AWS-style. */
#ifndef TIDEMARK_IMPORT_INTERNAL_H
#define TIDEMARK_IMPORT_INTERNAL_H

#include "engine/buf.h"
#include "export/layout.h"
#include "import/import.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* ---- byte streams and the decoder: the export layout's (export/layout.h) ---------------- */

/* Reads up to n bytes; *got is 0 only at the end. Returns 0 or a negative TM_E* code. */
typedef layout_read_fn import_read_fn;
/* Bounds shared by every decoder of one import (layout_dec_open). */
typedef layout_dec_budget import_dec_budget;

/* ---- a UTF-8 byte order mark at a stream's start (import_lines.c) ------------------------ */

/* A UTF-8 BOM (EF BB BF) at the very start of an input is not data (Excel and Windows tools
 * write one, in CSV and JSON alike). Matched byte by byte, so that a BOM split across reads is
 * still found; the bytes of a partial match that turns out not to be one are given back. Used
 * by import_lines (JSON lines) and import_csv. */
#define IMPORT_BOM_LEN 3
extern const unsigned char import_utf8_bom[IMPORT_BOM_LEN];
typedef struct import_bom {
    int matched;   /* BOM bytes taken so far; -1: past the start (decided) */
} import_bom;
#define IMPORT_BOM_INIT {0}
/* Takes the BOM bytes at the front of the next n bytes of the stream: returns how many
 * of p's bytes were taken (skip them). *back is how many bytes taken by earlier calls were data
 * after all: hand import_utf8_bom[0..*back) on before p + the return value. */
size_t import_bom_take(import_bom *b, const void *p, size_t n, size_t *back);
/* At the end of the input: how many bytes taken (a lone partial BOM) were data after all. */
size_t import_bom_end(import_bom *b);

/* ---- lines with a maximum length (import_lines.c) --------------------------------------- */

typedef struct import_lines import_lines;

int import_lines_new(size_t max_line, import_lines **out);
void import_lines_free(import_lines *l);
/* Starts a new stream (keeps the memory). */
void import_lines_reset(import_lines *l);
/* Next line without its "\n" (and "\r"; a UTF-8 BOM at the stream's start is dropped: see
 * import_bom): returns 1 with *line and *len (valid until the next call),
 * 0 at the end, IMPORT_LINE_TOO_LONG when a line is longer than max_line (*len then holds how
 * much of it was seen before it was dropped; the rest of it is skipped), or a negative code from
 * rd. A last line without "\n" is still a line. */
#define IMPORT_LINE_TOO_LONG 2
int import_lines_next(import_lines *l, import_read_fn rd, void *ctx, const char **line,
                      size_t *len);
/* Lines returned so far, including the one just returned (1-based number of that line). */
uint64_t import_lines_count(const import_lines *l);

/* ---- CSV records, RFC 4180, streaming (import_csv.c) ------------------------------------- */

typedef struct import_csv import_csv;

typedef struct import_csv_rec {
    size_t nfields;
    const char *const *fields;  /* each NUL-terminated too; valid during the callback */
    const size_t *lens;
    uint64_t index;             /* 0-based ordinal among the records of this stream */
    uint64_t line;              /* 1-based line where the record starts */
    const char *error;          /* non-NULL: the record is malformed (why); fields are empty */
} import_csv_rec;

/* Called once per record (blank lines are not records). Non-zero return stops the feed and is
 * returned by it. */
typedef int (*import_csv_fn)(void *ctx, const import_csv_rec *rec);

#define IMPORT_CSV_MAX_FIELDS 4096
/* delim: one of , ; : | \t and space. max_record bounds a record's bytes. */
int import_csv_new(char delim, size_t max_record, import_csv **out);
void import_csv_free(import_csv *c);
void import_csv_reset(import_csv *c);   /* a new stream: record index and line back to 0 */
int import_csv_feed(import_csv *c, const void *p, size_t n, import_csv_fn fn, void *ctx);
/* End of input: emits the last record if it had no line end; an open quote is an error record. */
int import_csv_finish(import_csv *c, import_csv_fn fn, void *ctx);
/* 1 if d is an accepted delimiter. */
int import_csv_delim_ok(char d);

/* ---- manifests and the tidemark schema file (import_manifest.c) ------------------------ */

typedef struct import_mfile {
    char *key;                  /* dataFileS3Key as written (from the bucket root) */
    char *rel;                  /* the same key relative to the export directory */
    uint64_t item_count;
    unsigned char md5[16];
    int have_md5;
} import_mfile;

typedef struct import_manifest {
    char *export_prefix;        /* "<prefix>/AWSDynamoDB/<id>/" from the bucket root */
    char *export_root;          /* "<prefix>/" ("" when none): what stands before AWSDynamoDB/ */
    char *export_id;
    char *table_arn;
    char *output_format;        /* "DYNAMODB_JSON", "ION" */
    char *export_type;          /* NULL for real full exports */
    uint64_t item_count;        /* manifest-summary itemCount */
    import_mfile *files;
    size_t nfiles;
} import_manifest;

/* Parses manifest-summary.json (one JSON object). Fills export_prefix from manifestFilesS3Key
 * (else s3Prefix + exportArn), export_id, table_arn, output_format, item_count. */
int import_manifest_parse_summary(import_manifest *m, const char *text, size_t n);
/* Parses manifest-files.json (one object a line) against m->export_prefix: a dataFileS3Key
 * outside it, or with an empty, "." or ".." segment, is TM_ECORRUPT ("refused"). Checks that the
 * counts add up to the summary's itemCount. */
int import_manifest_parse_files(import_manifest *m, const char *text, size_t n);
void import_manifest_free(import_manifest *m);   /* frees the members; m stays usable */
/* The index of the file with rel == rel, or -1. */
long import_manifest_find(const import_manifest *m, const char *rel);

/* Parses tidemark-schema.json into ks (key.h's key_schema, filled by name and type). */
struct key_schema;
int import_schema_parse(const char *text, size_t n, struct key_schema *ks, buf *table_name);

/* Names that are never data when found next to data: _started, manifest-*, *.md5,
 * tidemark-schema.json, and hidden (".") or "_"-prefixed base names. */
int import_is_marker(const char *key);

/* ---- error log (import_errlog.c) --------------------------------------------------------- */

typedef struct import_errlog import_errlog;

/* path NULL: nothing is written (counts only). */
int import_errlog_open(const char *path, import_errlog **out);
/* One line: {"itemS3Pointer":{"bucket":..,"key":..,"itemIndex":N},"errorMessages":[msg]} */
int import_errlog_add(import_errlog *l, const char *bucket, const char *key, uint64_t index,
                      const char *msg);
/* Flushes and fsyncs; frees l whatever the outcome. Accepts NULL. */
int import_errlog_close(import_errlog *l);

/* ---- external sort of (key, value) records (import_sort.c) ------------------------------ */

typedef struct import_sorter import_sorter;

/* Records are kept in memory up to mem bytes, then sorted and spilled as a run into an unlinked
 * temp file in tmpdir. */
int import_sorter_new(const char *tmpdir, size_t mem, import_sorter **out);
/* seq orders records with equal keys: the highest seq wins. Thread-safe: no (one producer). */
int import_sorter_add(import_sorter *s, const void *key, size_t kn, const void *val, size_t vn,
                      uint64_t seq);
/* Sorts what is in memory now (a producer thread does it before handing over to the merge). */
void import_sorter_seal(import_sorter *s);
typedef int (*import_sorter_fn)(void *ctx, const void *key, size_t kn, const void *val,
                                size_t vn);
/* Calls fn once per distinct key, in key order (memcmp, shorter first), with the value of the
 * highest seq. Non-zero from fn stops and is returned. */
int import_sorter_finish(import_sorter *s, import_sorter_fn fn, void *ctx);
/* The same over several sorters at once (one per producer thread); consumes them. */
int import_sorter_merge(import_sorter **s, size_t n, import_sorter_fn fn, void *ctx);
uint64_t import_sorter_runs(const import_sorter *s);      /* runs spilled to disk */
uint64_t import_sorter_spilled(const import_sorter *s);   /* bytes spilled */
void import_sorter_free(import_sorter *s);   /* accepts NULL */

#endif
