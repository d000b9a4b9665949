/* export_internal.h: what the files of export/ share. Not public.
 *
 *   codec.c     chunk compression (joinable deflate / zstd frames), MD5, base32 file names,
 *               etags (data files are read by layout_dec.c)
 *   manifest.c  the JSON texts: manifest lines, summaries, schema file, ExportDescription
 *   pipeline.c  the producer -> N compressors -> one writer pipeline that makes data files
 *   export.c    full and incremental exports, resume (the format is specified there)
 *   verify.c    list, describe, verify */
#ifndef TIDEMARK_EXPORT_INTERNAL_H
#define TIDEMARK_EXPORT_INTERNAL_H

#include "engine/buf.h"
#include "engine/key.h"
#include "export/export.h"
#include "export/layout.h"
#include "store/store.h"
#include <stddef.h>
#include <stdint.h>

/* ---- codec.c ------------------------------------------------------------------------------ */

typedef struct xp_codec xp_codec;
/* A compressor for one thread. level 0: the default of the codec. */
int xp_codec_new(export_compression c, int level, xp_codec **out);
/* Appends in[0..n) to out: gzip, raw deflate blocks (none final, ending on a byte boundary)
 * that join into the file's one member between xp_file_head and xp_file_tail, *crc (may be
 * NULL) their CRC-32; zstd, one independent frame (*crc 0). */
int xp_codec_compress(xp_codec *c, const void *in, size_t n, buf *out, uint32_t *crc);
void xp_codec_free(xp_codec *c);
/* The bytes of an empty data file: AWS's 20-byte empty gzip (head + tail of nothing), or an
 * empty zstd frame. */
const unsigned char *xp_empty_file(export_compression c, size_t *n);
/* What a data file starts and ends with around its chunks (gzip: header; final empty block,
 * CRC-32 and length; zstd: nothing). Return the number of bytes written to out. */
#define XP_HEAD_MAX 10
#define XP_TAIL_MAX 10
size_t xp_file_head(export_compression c, unsigned char out[XP_HEAD_MAX]);
size_t xp_file_tail(export_compression c, uint32_t crc, uint64_t len,
                    unsigned char out[XP_TAIL_MAX]);
/* CRC-32 of A then B, from their CRCs and B's length. */
uint32_t xp_crc_combine(uint32_t a, uint32_t b, uint64_t blen);
const char *xp_ext(export_compression c);                /* ".json.gz" / ".json.zst" */

/* Incremental MD5, base64 and hex come from store/store.h (store_md5_*, store_hex; base64 from engine/text.h). */
void xp_md5_b64(const void *p, size_t n, char out[25]);   /* base64(MD5(p)) */
/* S3's ETag of a one-part multipart upload, as AWS exports record it: hex(MD5(md5)) + "-1". */
void xp_etag1(const unsigned char md5[16], char out[40]);
/* "<26 lowercase base32 characters>", stable for (id, part, index): a regenerated file gets
 * the same name, so resume overwrites instead of leaving strays. */
void xp_file_name(const char *id, int part, int index, char out[27]);
/* 14-digit ms + '-' + 8 random lowercase hex. */
void xp_export_id(int64_t start_us, char out[24]);

/* ---- manifest.c --------------------------------------------------------------------------- */

typedef struct xp_file {
    int part, index;
    char key[160];                 /* store key, relative to the store's prefix */
    char full_key[1200];           /* dataFileS3Key */
    uint64_t items, size, json_bytes;
    char md5_b64[25];
    char etag[80];
} xp_file;

/* Everything a summary, the schema file and the state file say about one export. */
typedef struct xp_meta {
    char id[24];
    export_type type;
    export_view view;
    export_compression compression;
    char table[256], table_id[64];
    key_schema ks;
    char region[64], account[64];
    char bucket[256], prefix[1024];    /* prefix "" when none (s3Prefix null) */
    int64_t start_us, end_us, export_time_us, from_us, to_us;
    uint64_t snap_seq;                 /* FULL: log position of the data (resume) */
    int64_t snap_time_us;              /* FULL: time of that write (resume) */
    int timed;                         /* FULL: --time given */
    int parts;                         /* partitions of the hash space */
    uint64_t max_file_bytes;
    int level;
} xp_meta;

void xp_table_arn(const xp_meta *m, char *out, size_t n);
void xp_export_arn(const xp_meta *m, char *out, size_t n);
/* What an export's meta says of its ExportDescription: names, ARNs, type, view, start and
 * export times, where it lives (end time, status and counts are the caller's). */
void xp_desc_from_meta(const xp_meta *m, export_desc *d);
/* "AWSDynamoDB/<id>" and the data folder ("AWSDynamoDB/<id>/data/" or "AWSDynamoDB/data/"). */
void xp_export_key(const xp_meta *m, const char *name, char *out, size_t n);
void xp_data_prefix(const xp_meta *m, char *out, size_t n);
/* Where the export lives, recorded as s3Bucket/s3Prefix and in every key from the bucket
 * root: an S3 store's own bucket and prefix; a local directory's base name and no prefix,
 * unless bucket/prefix (either may be NULL) say where it will be copied. TM_EINVAL for a bad
 * name, or one that contradicts an S3 destination. */
int xp_set_location(xp_meta *m, const store *st, const char *bucket, const char *prefix);
/* A key from the bucket root (dataFileS3Key, manifestFilesS3Key): m->prefix + "/" + key. */
int xp_full_key(const xp_meta *m, const char *key, buf *out);
/* Appends f to the growing array *files (*n used of *cap; doubled from 64). 0 or TM_ENOMEM. */
int xp_files_add(xp_file **files, size_t *n, size_t *cap, const xp_file *f);
/* One manifest-files.json line, '\n' included. */
int xp_manifest_line(const xp_file *f, buf *out);
/* manifest-summary.json: one line, no newline. */
int xp_summary_json(const xp_meta *m, const char *manifest_key, uint64_t items, uint64_t billed,
                    buf *out);
/* tidemark-schema.json (specified in export.c), its checksum appended. */
int xp_schema_json(const xp_meta *m, buf *out);
/* The resume state: meta + partitions done with their files. */
int xp_state_json(const xp_meta *m, const char *status, const char *failure,
                  const xp_file *files, size_t nfiles, const unsigned char *done, buf *out);
int xp_state_parse(const char *json, size_t n, xp_meta *m, char *status, size_t sn,
                   xp_file **files, size_t *nfiles, unsigned char **done);
/* 2020-11-11T21:33:52.834Z */
void xp_time(int64_t us, char out[32]);
/* Parses the above (or any ISO-8601 UTC clock_parse takes); 0 on failure. */
int64_t xp_parse_time(const char *s);
const char *xp_type_text(export_type t);
int xp_type_parse(const char *s, export_type *t);
int xp_view_parse(const char *s, export_view *v);


/* Puts a small file of the export (AWSDynamoDB/<id>/<name>) whole. */
int xp_put_text(store *st, const xp_meta *m, const char *name, const void *p, size_t n);
/* Ends an export whose data files are all committed: manifest-files.json and .md5, the schema
 * file, manifest-summary.md5 and .json (in that order; m->end_us set), then deletes the state
 * file. files are sorted in place. res (may be NULL) describes it COMPLETED. */
int xp_finish(store *st, xp_meta *m, xp_file *files, size_t nfiles, export_desc *res);

#define XP_STATE_NAME  "tidemark-export-state.json"
/* The state member naming the remote table an export reads (export_seg.c): such an export is
 * continued by running its command again, not by export_resume. */
#define XP_STATE_REMOTE "remoteSource"
/* An export with _started but no state file: killed in the moment between the two (or still
 * starting). Nothing records its table, moment or options, so it cannot be resumed. */
#define XP_UNRECORDED  "was stopped before it recorded its state (_started but no " \
                       XP_STATE_NAME "): nothing of it can be reused; run the export again " \
                       "(and delete this directory)"
#define XP_SCHEMA_NAME LAYOUT_SCHEMA
#define XP_SCHEMA_VERSION 2   /* tidemark-schema.json (export.c; its checksum: layout.h) */

/* ---- pipeline.c --------------------------------------------------------------------------- */

typedef struct xp_pipe xp_pipe;
/* Called by the writer thread once every file of a partition is committed. */
typedef int (*xp_part_fn)(void *ctx, int part, const xp_file *files, size_t n);

typedef struct xp_config {
    store *st;
    const xp_meta *meta;           /* type, view, compression, level, id, max_file_bytes */
    int jobs;
    progress *prog;
    xp_part_fn on_part;            /* optional */
    void *ctx;
} xp_config;

int xp_open(const xp_config *c, xp_pipe **out);
/* Producer side (one thread). Partitions come in ascending order; items of a partition in
 * key order; every partition given is closed with xp_end_part (also when empty). */
int xp_item(xp_pipe *p, int part, const void *img, size_t n);
int xp_change(xp_pipe *p, int part, const void *key, size_t kn, const void *old, size_t on,
              const void *nw, size_t nn, int64_t t_us);
int xp_end_part(xp_pipe *p, int part);
/* Waits for the writer, joins the threads. With ok == 0 (the producer failed) the file being
 * written is dropped. Returns the first error of any thread (its detail re-set on this thread).
 * *files (malloc'd, free()) receives every file committed, in order. */
int xp_close(xp_pipe *p, int ok, xp_file **files, size_t *n);
/* The first error any stage hit so far (0 if none); producers check it to stop early. */
int xp_failed(xp_pipe *p);

/* Partition of a key hash among n equal ranges, and the range of a partition. */
static inline int xp_part_of(uint32_t h, int n) { return (int)(((uint64_t)h * (uint64_t)n) >> 32); }
void xp_part_range(int part, int n, uint32_t *lo, uint32_t *hi);

#endif
