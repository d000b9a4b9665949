/* layout.h: the AWS DynamoDB export layout (FORMATS.md sections 2 and 3), one reader and the
 * key scheme of the one writer: keys and names, manifests, their .md5 files, where a data file
 * named by a manifest lies, the data-file codecs (gzip, zstd, none: one streaming decoder) and
 * the record lines of full and incremental exports. export (writer, verify), import and
 * rollback all go through it, so that they agree on what an export is.
 *
 * Keys here are relative to a store opened at the export's destination (DEST in
 * "DEST/AWSDynamoDB/<ExportId>"); manifests name files from the bucket root, prefix included. */
#ifndef TIDEMARK_LAYOUT_H
#define TIDEMARK_LAYOUT_H

#include "engine/buf.h"
#include "engine/item.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* ---- names and keys (writer and readers) ------------------------------------------------- */

#define LAYOUT_ROOT        "AWSDynamoDB/"
#define LAYOUT_STARTED     "_started"
#define LAYOUT_SUMMARY     "manifest-summary.json"
#define LAYOUT_SUMMARY_MD5 "manifest-summary.md5"
#define LAYOUT_FILES       "manifest-files.json"
#define LAYOUT_FILES_MD5   "manifest-files.md5"
#define LAYOUT_SUMMARY_MAX ((size_t)1 << 20)
#define LAYOUT_FILES_MAX   ((size_t)256 << 20)

/* "AWSDynamoDB/<id>/<name>" */
void layout_export_key(const char *id, const char *name, char *out, size_t n);
/* The data folder: "AWSDynamoDB/<id>/data/" (full) or the shared "AWSDynamoDB/data/"
 * (incremental). */
void layout_data_prefix(const char *id, int incremental, char *out, size_t n);
/* The .md5 beside a JSON file, as AWS names it: manifest-files.json -> manifest-files.md5. */
void layout_md5_name(const char *json_name, char *out, size_t n);
/* Splits "DEST/AWSDynamoDB/<ID>[/]" into DEST ("." when empty) and ID; -1 if dir is not of
 * that form. */
int layout_split_dir(const char *dir, char *dest, size_t dn, char *id, size_t in);
/* 1 if a relative path has no empty, "." or ".." segment, no '\\' and no leading '/'. */
int layout_path_safe(const char *path);

/* ---- checksums --------------------------------------------------------------------------- */

/* Checks text against the content of its .md5 file (24 base64 characters; trailing white
 * space allowed). TM_ECORRUPT naming both files. */
int layout_check_md5(const char *json_name, const char *text, size_t n, const char *md5,
                     size_t md5n);
/* The same for manifest-summary.json and manifest-summary.md5, the refusal saying what to do
 * about a summary edited by hand (anonymised account ids are common in bug reports and
 * fixtures): --ignore-summary-checksum, which every reader takes, accepts it once
 * manifest-files.json and every data file verify. */
int layout_check_summary_md5(const char *text, size_t n, const char *md5, size_t md5n);
#define LAYOUT_IGNORE_SUMMARY_HINT "edited by hand? --ignore-summary-checksum accepts it when " \
    LAYOUT_FILES " and every data file verify"

/* ---- tidemark-schema.json (tidemark's own, beside the manifests; specified in export.c) --- */

#define LAYOUT_SCHEMA "tidemark-schema.json"
/* Version 2 ends with ,"Checksum":"<base64 MD5 of what precedes it>"}\n */
#define LAYOUT_SCHEMA_SUM_HEAD ",\"Checksum\":\""
#define LAYOUT_SCHEMA_SUM_TAIL "\"}\n"
#define LAYOUT_SCHEMA_SUM_LEN \
    (sizeof LAYOUT_SCHEMA_SUM_HEAD - 1 + 24 + sizeof LAYOUT_SCHEMA_SUM_TAIL - 1)

/* Checks a tidemark-schema.json: 0 when its Checksum holds, 1 for a version 1 file (no
 * checksum; only its JSON shape could be checked), -1 damaged (why says how: "damaged: ..." or
 * "damaged or truncated: ..."). Verify reports it, import refuses the file. */
int layout_schema_check(const char *text, size_t n, char *why, size_t wn);

/* ---- manifest-summary.json --------------------------------------------------------------- */

typedef struct layout_summary {
    char version[16];
    char export_arn[512], export_id[64], table_arn[400], table_id[64];
    char start_time[40], end_time[40], export_time[40], from_time[40], to_time[40];
    char bucket[256], prefix[1024], sse[16];
    int prefix_null;              /* s3Prefix is null (or absent) */
    char files_key[1200];         /* manifestFilesS3Key ("" when absent) */
    char folder[1200];            /* "<prefix>/AWSDynamoDB/<id>/" from the bucket root */
    char root[1024];              /* the part of folder before "AWSDynamoDB/" */
    char output_format[32], output_view[32], export_type[32];   /* "" when absent */
    int incremental;
    uint64_t billed_bytes, item_count;
    int have_item_count;
    int aws_order;                /* members exactly as AWS writes them, in its order */
    int object;                   /* the text is a JSON object: the members above are read */
} layout_summary;

/* Parses one summary. Where the export lives comes from manifestFilesS3Key (which must name a
 * manifest-files.json), else s3Prefix + the ExportId of exportArn. TM_ECORRUPT when it is not
 * a JSON object, or nothing says where the export lives (then s->object is set and the members
 * are read all the same: describe still describes, verify reports it); everything else is for
 * the caller to judge (verify reports, import refuses). */
int layout_summary_parse(const char *text, size_t n, layout_summary *s);

/* ---- manifest-files.json ----------------------------------------------------------------- */

/* Where a data file lies. */
typedef enum layout_where {
    LAYOUT_IN_EXPORT = 1,         /* "<root>AWSDynamoDB/<id>/<rel>": rel from the export folder */
    LAYOUT_IN_SHARED = 2,         /* "<root>AWSDynamoDB/data/<rel>": the incremental data folder */
} layout_where;

typedef struct layout_file {
    uint64_t item_count;
    int have_count;
    char md5_b64[32];
    unsigned char md5[16];
    int have_md5;                 /* md5Checksum is a canonical base64 MD5 */
    char etag[80];
    char key[1200];               /* dataFileS3Key as written */
    int aws_order;                /* {itemCount, md5Checksum, etag, dataFileS3Key} in order */
    layout_where where;           /* 0: not resolved (see layout_file_resolve) */
    char rel[1200];
} layout_file;

/* Parses one manifest-files.json line. TM_ECORRUPT when it is not an object with a non-empty
 * dataFileS3Key (why says so); missing counts or checksums are left to the caller (have_*). */
int layout_file_parse(const char *line, size_t n, layout_file *f);

/* THE path rule. A dataFileS3Key is a key from the bucket root. With the summary's root and id
 * (root NULL: unknown, no summary; then the last "AWSDynamoDB/" segment of the key counts), it
 * must read root + "AWSDynamoDB/" + id + "/" + rel, or (incremental exports) root +
 * "AWSDynamoDB/data/" + rel, with rel free of empty, "." and ".." segments. Else TM_ECORRUPT
 * "points outside the export": a reader never follows a manifest elsewhere. So an export moved
 * to another prefix, or copied to a local directory, still resolves: the keys are taken
 * relative to where the manifests were found. */
int layout_file_resolve(layout_file *f, const char *root, const char *id);

/* Where an export was found: a store and the key of its folder in it. */
typedef struct layout_loc {
    store *st;
    store *parent;          /* opened at the folder itself: the directory above, for data/ */
    char base[128];         /* "AWSDynamoDB/<ID>/" (st at DEST), or "" (st at the folder) */
    char id[64];            /* "" when the folder's name is not the ExportId */
    char dir[4096];
    const store_options *so;
    int borrowed;           /* st belongs to the caller */
} layout_loc;

/* dir: "DEST/AWSDynamoDB/<ID>" (the store is opened at DEST), or any directory holding the
 * manifests themselves (an AWS export copied somewhere: the store is opened there). */
int layout_loc_open(const char *dir, const store_options *so, layout_loc *l);
/* The same over a store already open at DEST (borrowed: not closed by layout_loc_close). */
void layout_loc_at(store *st, const store_options *so, const char *id, layout_loc *l);
void layout_loc_close(layout_loc *l);
/* Reads one object of the export folder (a manifest, _started, ...) into out. */
int layout_loc_get(layout_loc *l, const char *name, size_t max, buf *out);
/* The store and key of a resolved data file. */
int layout_loc_data(layout_loc *l, const layout_file *f, store **st, char *key, size_t kn);

/* ---- data files: one streaming decoder --------------------------------------------------- */

typedef enum layout_codec {
    LAYOUT_CODEC_AUTO = 0,        /* by magic bytes (and the name's extension) */
    LAYOUT_CODEC_NONE = 1,
    LAYOUT_CODEC_GZIP = 2,
    LAYOUT_CODEC_ZSTD = 3,
} layout_codec;

/* Reads up to n bytes; *got is 0 only at the end. Returns 0 or a negative TM_E* code. */
typedef int (*layout_read_fn)(void *ctx, void *p, size_t n, size_t *got);
/* A store_reader as a layout_read_fn (ctx: the store_reader). */
int layout_store_read(void *ctx, void *p, size_t n, size_t *got);

/* Bounds shared by every decoder of one run: the total is summed over all of them. */
typedef struct layout_dec_budget {
    uint64_t max_total;       /* decompressed bytes over the whole run; 0: no limit */
    uint64_t max_ratio;       /* decompressed / compressed, per file; 0: no limit */
    uint64_t ratio_grace;     /* the ratio is checked only past this many output bytes */
    uint64_t total;           /* decompressed so far (updated by the decoders) */
} layout_dec_budget;

typedef struct layout_dec layout_dec;

/* Opens a decoder over rd. want AUTO detects by magic bytes (gzip 1f 8b, zstd 28 b5 2f fd,
 * else none), except that a name ending in .gz/.gzip or .zst/.zstd must then hold that format.
 * Concatenated gzip members and zstd frames are one stream. Every raw byte read is also fed to
 * an MD5 (layout_dec_md5). budget may be NULL. Errors (not gzip, truncated, limits) are
 * TM_ECORRUPT / TM_ELIMIT with the detail; the caller adds the file name. */
int layout_dec_open(layout_codec want, const char *name, layout_read_fn rd, void *ctx,
                    layout_dec_budget *budget, layout_dec **out);
int layout_dec_read(layout_dec *d, void *p, size_t n, size_t *got);
/* The format found (after the first read): GZIP, ZSTD or NONE. */
layout_codec layout_dec_kind(const layout_dec *d);
uint64_t layout_dec_in_bytes(const layout_dec *d);    /* raw bytes read so far */
uint64_t layout_dec_out_bytes(const layout_dec *d);   /* decoded bytes returned so far */
/* Reads the rest of the raw stream without decoding it (for the MD5 of a file stopped early). */
int layout_dec_drain(layout_dec *d);
/* MD5 of every raw byte read; call once, at the end. */
void layout_dec_md5(layout_dec *d, unsigned char out[16]);
void layout_dec_close(layout_dec *d);   /* accepts NULL */

/* ---- record lines ------------------------------------------------------------------------ */

/* One data line. Full export: {"Item":{...}} -> new_image. Incremental: {"Metadata":
 * {"WriteTimestampMicros":{"N":"<µs>"}},"Keys":{..}[,"OldImage":{..}][,"NewImage":{..}]} in
 * that order -> keys, old_image, new_image (NULL when absent), write_us. */
typedef struct layout_record {
    item *keys, *old_image, *new_image;
    int64_t write_us;
} layout_record;

/* TM_EINVAL (why says what is wrong) for a line that is not a valid record. */
int layout_record_parse(int incremental, const char *line, size_t n, layout_record *r,
                        char *why, size_t wn);
void layout_record_clear(layout_record *r);   /* frees the items; r can be reused */

/* ---- archive bundles (layout_bundle.c) --------------------------------------------------- */

/* tidemark-lifecycle apply bundles an export of a local destination into
 * DEST/AWSDynamoDB/<ExportId>.tar.zst (its folder's files, keys as in the store). */
#define LAYOUT_BUNDLE_EXT ".tar.zst"
/* 1 with the bundle's path in out if dir (local) is a bundle, or the folder of an export that
 * is gone with its bundle beside it; 0 otherwise. */
int layout_bundle_find(const char *dir, char *out, size_t n);
/* Extracts a bundle into dir (created); entries with unsafe paths are skipped. */
int layout_unbundle(const char *archive, const char *dir);
/* Unpacks a bundle into a new temporary directory tmp (the caller removes it with
 * fsx_rmtree); dir gets the export's folder in it. */
int layout_bundle_open(const char *bundle, char *tmp, size_t tn, char *dir, size_t dn);

/* ---- reading an export's records (rollback, forward apply) ------------------------------- */

typedef struct layout_reader layout_reader;

/* Opens the export at dir ("DEST/AWSDynamoDB/<ID>" or the folder of the manifests, local or
 * s3://) and checks, before any record is handed out: manifest-summary.json is there
 * (complete export) and matches its .md5, manifest-files.json matches its .md5, every
 * dataFileS3Key resolves inside the export, the counts add up, and every data file's bytes
 * hash to its md5Checksum. TM_ECORRUPT (naming the file) on any failure, TM_ENOTFOUND when
 * there is no complete export there. A bundle (see above) is read through a temporary
 * directory removed on close. */
int layout_reader_open(const char *dir, const store_options *so, layout_reader **out);

typedef struct layout_reader_options {
    int ignore_summary_checksum;  /* a summary that does not match (or lacks) its .md5 is read
                                     all the same; manifest-files.json, the counts and every
                                     data file are still checked */
} layout_reader_options;
#define LAYOUT_READER_OPTIONS_INIT {0}
/* layout_reader_open with options (o NULL: the defaults). */
int layout_reader_open_with(const char *dir, const store_options *so,
                            const layout_reader_options *o, layout_reader **out);
/* The summary read at open (valid until close). */
const layout_summary *layout_reader_summary(const layout_reader *r);
/* The next record: 1 with *rec filled (its items valid until the next call), 0 at the end,
 * or an error (a damaged line, or a file whose line count is not its itemCount). */
int layout_reader_next(layout_reader *r, layout_record *rec);
void layout_reader_close(layout_reader *r);   /* accepts NULL */

#endif
