/* export_seg.h: a full export whose items arrive from elsewhere, segment by segment -- a
 * remote table's parallel Scan (api/backup_remote.c) -- written in the AWS export layout by the
 * same pipeline, manifests and schema file as a local export (export/export.c specifies them),
 * memory bounded by the segments in flight, and resumable at page boundaries.
 *
 * USE
 *   export_seg_open; then one thread per segment: export_seg_start (where to begin), pages of
 *   export_seg_item, each page followed by export_seg_mark with the position after it (the
 *   Scan's LastEvaluatedKey as JSON text; NULL after the last page); then export_seg_finish;
 *   export_seg_close always. A segment is fed by one thread at a time.
 *
 * RESUME
 *   Each segment writes its items in units (partition numbers segment + S * unit, files named
 *   as export.c names them): a unit ends at a mark once it holds unit_bytes (or unit_ms have
 *   passed), and when its files are committed the state file records the unit's files, the
 *   position after its last page and the next unit number. export_seg_open finds the unfinished
 *   export of the same table and source under dest (its tidemark-export-state.json) and
 *   continues it: each segment restarts at its recorded position with its next unit, so pages
 *   after the last committed unit are read again and written under the same file names (a
 *   half-written or committed-but-unrecorded file is overwritten, never listed twice; files of
 *   later units that a killed run left are deleted). A segment recorded done is not read again.
 *
 * ERRORS: 0 or a negative TM_E* code, the detail in err_msg(); TM_EINVAL for bad options or an
 * unfinished export that does not match (another key schema, segment count). */
#ifndef TIDEMARK_EXPORT_SEG_H
#define TIDEMARK_EXPORT_SEG_H

#include "engine/key.h"
#include "export/export.h"

#include <stddef.h>
#include <stdint.h>

#define EXPORT_SEG_MAX 256

typedef struct export_seg export_seg;

typedef struct export_seg_options {
    const char *dest;              /* "s3://bucket/prefix" or a directory */
    const store_options *store;    /* NULL: defaults (environment) */
    const char *source;            /* what is read (the endpoint URL): a run resumes only an
                                      export of the same source and table */
    const char *table, *table_id;  /* table_id "" or NULL when the source has none */
    key_schema ks;
    const char *region, *account;  /* ARNs; NULL: table_arn_region / table_arn_account */
    int segments;                  /* 1..EXPORT_SEG_MAX */
    export_compression compression;
    int level;
    uint64_t max_file_bytes;       /* 0: EXPORT_DEFAULT_MAX_FILE_BYTES */
    uint64_t unit_bytes;           /* item bytes per unit; 0: 32 MiB */
    int unit_ms;                   /* a unit also ends at the first mark after this; 0: 10 s */
    const char *s3_bucket, *s3_prefix;   /* as export_options' */
    progress *prog;
} export_seg_options;

#define EXPORT_SEG_OPTIONS_INIT {NULL, NULL, NULL, NULL, NULL, {{0}, 0, {0}, 0}, NULL, NULL, 1, \
                                 EXPORT_GZIP, 0, 0, 0, 0, NULL, NULL, NULL}

int export_seg_open(const export_seg_options *o, export_seg **out);
/* 1 when the run continues an earlier one (*id its ExportId), else 0. */
int export_seg_resumed(const export_seg *x, const char **id);
/* The segments: the options', or a continued export's own. */
int export_seg_count(const export_seg *x);
/* Where segment seg starts: 1 when it is done already (nothing to read), else 0 with *pos the
 * position to scan from (JSON text, borrowed until the segment's next call; NULL: the start). */
int export_seg_start(export_seg *x, int seg, const char **pos);
/* One item (canonical binary encoding, engine/item.h) of segment seg. */
int export_seg_item(export_seg *x, int seg, const void *bin, size_t n);
/* Every item given for seg so far lies before pos (NULL: the segment is complete). */
int export_seg_mark(export_seg *x, int seg, const char *pos);
/* After every segment is complete: the manifests and the summary. res (optional). */
int export_seg_finish(export_seg *x, export_desc *res);
/* Unfinished: stops the pipelines (the state file says FAILED, resumable). Accepts NULL. No
 * thread may be feeding a segment. */
void export_seg_close(export_seg *x);

#endif
